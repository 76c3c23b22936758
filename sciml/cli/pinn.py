"""``sciml pinn PROBLEM``: train one of the ready PINN problems and report its error.

Examples::

    sciml pinn burgers --plot burgers.png
    sciml pinn convection --beta 50 --lagrangian --plot lpinn.png
    sciml pinn allen-cahn --adam-iterations 2000
    sciml pinn poisson-lshape --lbfgs-iterations 500 --checkpoint lshape.pt
"""
from __future__ import annotations

import os

from .._util.validation import nonnegative_int, positive_float

__all__ = ["add_parser", "run"]

PROBLEMS = ("burgers", "convection", "allen-cahn", "poisson-lshape")
IMAGE_SUFFIXES = (".png", ".pdf", ".svg", ".jpg")


def add_parser(subparsers, argv=()):
    """Register ``pinn`` on the ``sciml`` subcommands."""
    p = subparsers.add_parser("pinn", help="train a ready-made PINN problem (burgers, convection, allen-cahn, "
                                           "poisson-lshape)",
                              description="Train a PINN problem with Adam, L-BFGS and/or dense BFGS (strong Wolfe) "
                                          "and print the relative L2 error against its exact / reference solution.")
    p.add_argument("problem", choices=PROBLEMS)
    p.add_argument("--beta", type=float, default=50.0, help="convection speed (convection only)")
    p.add_argument("--lagrangian", action="store_true", help="Lagrangian PINN (convection only)")
    p.add_argument("--iterations", "--adam-iterations", dest="adam_iterations", type=nonnegative_int, default=None,
                   help="Adam iterations (default: the problem's)")
    p.add_argument("--lbfgs-iterations", type=nonnegative_int, default=None,
                   help="L-BFGS iterations (default: the problem's)")
    p.add_argument("--bfgs-iterations", type=nonnegative_int, default=None,
                   help="dense self-scaled BFGS iterations after L-BFGS (float64; default: the problem's)")
    p.add_argument("--lr", type=positive_float, default=None, help="Adam learning rate")
    p.add_argument("--history-size", type=nonnegative_int, default=None, help="L-BFGS history size")
    p.add_argument("--adaptive-weights", choices=("none", "lr_annealing"), default=None)
    p.add_argument("--dtype", choices=("float32", "float64"), default="float64")
    p.add_argument("--seed", type=nonnegative_int, default=0)
    p.add_argument("--checkpoint", default=None, help="checkpoint file (.pt), resumed if it exists")
    p.add_argument("--plot", default=None, help="write prediction / reference / error figure (.png, .pdf, .svg)")
    p.add_argument("--json", default=None, help="write the final errors and timings as JSON")
    p.add_argument("--overwrite", action="store_true", help="replace existing --plot / --json files")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)
    return p


def _outputs(args) -> dict:
    """Check --plot / --json / --checkpoint before any work; ``{option: resolved path}``."""
    from .._util.io import check_output

    if args.plot is not None and os.path.splitext(args.plot)[1].lower() not in IMAGE_SUFFIXES:
        raise ValueError(f"--plot must end in .png, .pdf, .svg or .jpg, got {args.plot!r}")
    if args.json is not None and os.path.splitext(args.json)[1].lower() != ".json":
        raise ValueError(f"--json must end in .json, got {args.json!r}")
    out = {}
    if args.plot is not None:
        out["--plot"] = check_output(args.plot, name="--plot", overwrite=args.overwrite)
    if args.json is not None:
        out["--json"] = check_output(args.json, name="--json", overwrite=args.overwrite)
    if args.checkpoint is not None:
        ck = os.path.abspath(args.checkpoint)
        if os.path.isdir(ck) or not os.path.exists(ck):
            if not os.path.isdir(os.path.dirname(ck)):
                raise ValueError(f"--checkpoint: directory {os.path.dirname(ck)!r} does not exist")
            out["--checkpoint"] = ck
        else:  # an existing checkpoint is resumed: it must be one (a torch zip file), not other data
            out["--checkpoint"] = check_output(args.checkpoint, name="--checkpoint", exist_ok=True,
                                               kinds=("zip",))
    seen = {}
    for opt, path in out.items():
        key = os.path.realpath(path)
        if key in seen:
            raise ValueError(f"{opt} and {seen[key]} name the same file {path}")
        seen[key] = opt
    return out


def run(args) -> int:
    """Handler of ``sciml pinn``: checks, builds, trains, reports; user mistakes raise ValueError."""
    from .._util.io import lock_outputs, write_json

    if args.problem != "convection" and (args.lagrangian or args.beta != 50.0):
        raise ValueError("--beta and --lagrangian apply to the convection problem only")
    outs = _outputs(args)
    from ..pinns.problems import PROBLEMS as _P

    with lock_outputs(*outs.values()):
        kw = dict(dtype=args.dtype, seed=args.seed)
        if args.problem == "convection":
            kw.update(beta=args.beta, lagrangian=args.lagrangian)
        problem = _P[args.problem](**kw)
        overrides = {k: v for k, v in dict(adam_iterations=args.adam_iterations,
                                           lbfgs_iterations=args.lbfgs_iterations,
                                           bfgs_iterations=args.bfgs_iterations, lr=args.lr,
                                           history_size=args.history_size,
                                           adaptive_weights=args.adaptive_weights).items() if v is not None}
        if args.checkpoint:
            overrides.update(checkpoint=args.checkpoint, resume=True)
        result = problem.train(progress=not args.no_progress, **overrides)
        err = problem.relative_l2()
        print(f"{problem.name}: relative L2 error {err:.3e} (final loss {result.final_loss:.3e}"
              + (f"; {result.stopped}" if result.stopped else "") + ")")
        for phase, t in result.timings.items():
            if t["iterations"]:
                print(f"  {phase}: {t['iterations']} iterations, "
                      f"{t['seconds'] / t['iterations'] * 1e3:.1f} ms/iteration")
        if args.plot:
            print(f"wrote {problem.plot(outs['--plot'])}")
        if args.json:
            write_json(outs["--json"], {"problem": problem.name, "relative_l2": err, "final_loss": result.final_loss,
                                        "timings": result.timings, "stopped": result.stopped}, indent=1)
            print(f"wrote {args.json}")
    return 0
