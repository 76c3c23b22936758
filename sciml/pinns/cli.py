"""``sciml pinn PROBLEM``: train one of the ready PINN problems and report its error.

Examples::

    sciml pinn burgers --plot burgers.png
    sciml pinn convection --beta 50 --lagrangian --plot lpinn.png
    sciml pinn allen-cahn --adam-iterations 2000
    sciml pinn poisson-lshape --lbfgs-iterations 500 --checkpoint lshape.pt
"""
from __future__ import annotations

import argparse
import json
import math
import os

__all__ = ["add_parser", "run"]

_PROBLEMS = ("burgers", "convection", "allen-cahn", "poisson-lshape")


def _nonneg_int(text):
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {text!r}") from None
    if v < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {v}")
    return v


def _positive_float(text):
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not (v > 0 and math.isfinite(v)):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return v


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register ``pinn`` on an argparse sub-parser collection (called by :mod:`sciml.cli`)."""
    p = subparsers.add_parser("pinn", help="train a ready-made PINN problem (burgers, convection, allen-cahn, "
                                           "poisson-lshape)",
                              description="Train a PINN problem with Adam, L-BFGS and/or dense BFGS (strong Wolfe) and print the "
                                          "relative L2 error against its exact / reference solution.")
    p.add_argument("problem", choices=_PROBLEMS)
    p.add_argument("--beta", type=float, default=50.0, help="convection speed (convection only)")
    p.add_argument("--lagrangian", action="store_true", help="Lagrangian PINN (convection only)")
    p.add_argument("--iterations", "--adam-iterations", dest="adam_iterations", type=_nonneg_int, default=None,
                   help="Adam iterations (default: the problem's)")
    p.add_argument("--lbfgs-iterations", type=_nonneg_int, default=None, help="L-BFGS iterations (default: the problem's)")
    p.add_argument("--bfgs-iterations", type=_nonneg_int, default=None,
                   help="dense self-scaled BFGS iterations after L-BFGS (float64; default: the problem's)")
    p.add_argument("--lr", type=_positive_float, default=None, help="Adam learning rate")
    p.add_argument("--history-size", type=_nonneg_int, default=None, help="L-BFGS history size")
    p.add_argument("--adaptive-weights", choices=("none", "lr_annealing"), default=None)
    p.add_argument("--dtype", choices=("float32", "float64"), default="float64")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--checkpoint", default=None, help="checkpoint file (.pt), resumed if it exists")
    p.add_argument("--plot", default=None, help="write prediction / reference / error figure (.png, .pdf, .svg)")
    p.add_argument("--json", default=None, help="write the final errors and timings as JSON")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)
    return p


def run(args) -> int:
    """Handler of ``sciml pinn``: builds, trains, reports; user mistakes raise ValueError."""
    from .problems import PROBLEMS

    if args.problem != "convection" and (args.lagrangian or args.beta != 50.0):
        raise ValueError("--beta and --lagrangian apply to the convection problem only")
    for name in ("plot", "json", "checkpoint"):
        path = getattr(args, name)
        if path is not None:
            d = os.path.dirname(os.path.abspath(path))
            if not os.path.isdir(d):
                raise ValueError(f"--{name}: directory {d!r} does not exist")
    if args.plot is not None and os.path.splitext(args.plot)[1].lower() not in (".png", ".pdf", ".svg", ".jpg"):
        raise ValueError(f"--plot must end in .png, .pdf, .svg or .jpg, got {args.plot!r}")
    kw = dict(dtype=args.dtype, seed=args.seed)
    if args.problem == "convection":
        kw.update(beta=args.beta, lagrangian=args.lagrangian)
    problem = PROBLEMS[args.problem](**kw)
    overrides = {k: v for k, v in dict(adam_iterations=args.adam_iterations, lbfgs_iterations=args.lbfgs_iterations,
                                       bfgs_iterations=args.bfgs_iterations, lr=args.lr, history_size=args.history_size,
                                       adaptive_weights=args.adaptive_weights).items() if v is not None}
    if args.checkpoint:
        overrides.update(checkpoint=args.checkpoint, resume=True)
    result = problem.train(progress=not args.no_progress, **overrides)
    err = problem.relative_l2()
    print(f"{problem.name}: relative L2 error {err:.3e} (final loss {result.final_loss:.3e}"
          + (f"; {result.stopped}" if result.stopped else "") + ")")
    for phase, t in result.timings.items():
        if t["iterations"]:
            print(f"  {phase}: {t['iterations']} iterations, {t['seconds'] / t['iterations'] * 1e3:.1f} ms/iteration")
    if args.plot:
        print(f"wrote {problem.plot(args.plot)}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"problem": problem.name, "relative_l2": err, "final_loss": result.final_loss,
                       "timings": result.timings, "stopped": result.stopped}, fh, indent=1)
        print(f"wrote {args.json}")
    return 0
