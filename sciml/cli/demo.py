"""``sciml demo``: what ``make demo`` runs (generate Darcy data, plot a sample, train an FNO).

The demo itself is :mod:`sciml.demo`; this module declares and checks its options.
"""
from __future__ import annotations

from .._util.validation import check_int, converter, nonnegative_int, positive_float, positive_int

__all__ = ["add_parser"]


def add_parser(subparsers, argv=()):
    p = subparsers.add_parser("demo", help="the main job on a small default: generate Darcy data, plot it, "
                                           "train an FNO",
                              description="Generate a small Darcy dataset with the FNO recipe, print its "
                                          "statistics, plot one sample and train an FNO, printing its test error. "
                                          "Everything goes into --out.")
    p.add_argument("--out", default="demo_out", help="output directory (default demo_out)")
    p.add_argument("--n", type=positive_int, default=None, help="number of Darcy samples (default: the demo's)")
    p.add_argument("--resolution", type=converter(int, lambda v, n: check_int(v, n, min=8)), default=None,
                   help="solve resolution, stored at every 2nd node (default: the demo's)")
    p.add_argument("--train-seconds", type=positive_float, default=None, help="training budget in seconds")
    p.add_argument("--seed", type=nonnegative_int, default=None)
    p.set_defaults(func=run)
    return p


def run(args) -> int:
    from .. import demo
    from .._util.io import check_output, lock_outputs

    out = check_output(args.out, name="--out", directory=True, exist_ok=True)
    argv = ["--out", str(out)]
    for opt in ("n", "resolution", "train_seconds", "seed"):
        value = getattr(args, opt)
        if value is not None:
            argv += ["--" + opt.replace("_", "-"), str(value)]
    with lock_outputs(out):
        return int(demo.main(argv) or 0)
