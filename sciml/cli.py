"""Command line: ``sciml generate | info | plot`` and the subcommands other modules add.

A user mistake (bad argument, missing file, conflicting output) prints one line
on stderr and exits with status 2; it never shows a traceback.
"""
from __future__ import annotations

import argparse
import ast
import importlib
import os
import sys

from ._argtypes import positive_int as _positive_int

# Subcommands other modules add: each module has ``add_parser(subparsers)`` which creates its
# parser and sets ``func`` (called with the parsed args) as a default. They import torch, so
# only the module of the command being run is imported; the others appear in ``--help``
# through the one-line summaries here.
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "train": ("sciml.training.cli", "train a neural operator on a dataset file"),
    "bench": ("sciml.bench.cli", "leaderboard: run a task, render the table"),
    "landau": ("sciml.landau_cli", "Landau equation particle methods on the BKW solution"),
    "pinn": ("sciml.pinns.cli", "train a ready-made PINN problem (burgers, convection, allen-cahn, poisson-lshape)"),
}


class UserError(Exception):
    """A mistake in the command line or its inputs (exit status 2)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2 (argparse prints usage too; keep it short)
        raise UserError(message)


def _literal(text: str):
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def _recipe_params(extra: list[str]) -> dict:
    """``--key value`` / ``--flag`` pairs left over by argparse -> recipe parameters."""
    params, i = {}, 0
    while i < len(extra):
        tok = extra[i]
        if not tok.startswith("--") or tok == "--":
            raise UserError(f"unexpected argument {tok!r}")
        key = tok[2:]
        if "=" in key:
            key, value = key.split("=", 1)
            i += 1
        elif i + 1 < len(extra) and not extra[i + 1].startswith("--"):
            value = extra[i + 1]
            i += 2
        else:
            value = "True"
            i += 1
        params[key.replace("-", "_")] = _literal(value)
    return params


def _cmd_generate(args, extra):
    if args.recipe == "carbonbench":
        from .datasets.carbonbench import cli_generate

        return cli_generate(extra + _passthrough(args))
    from .datasets import generate, get_recipe

    get_recipe(args.recipe)  # unknown recipe -> ValueError before anything else
    params = _recipe_params(extra)
    if args.out is None:
        raise UserError("--out is required")
    path = generate(args.recipe, args.n, seed=args.seed, out=args.out, workers=args.workers,
                    scheduler=args.scheduler, progress=not args.no_progress, **params)
    print(f"wrote {path}")
    return 0


def _passthrough(args) -> list[str]:
    out = []
    if args.out is not None:
        out += ["--out", args.out]
    out += ["--seed", str(args.seed)]
    if args.no_progress:
        out.append("--no-progress")
    return out


def _cmd_info(args, extra):
    _no_extra(extra)
    from .datasets.store import describe

    print(describe(args.file))
    return 0


def _cmd_plot(args, extra):
    _no_extra(extra)
    from .viz.fields import plot_sample

    path = plot_sample(args.file, sample=args.sample, out=args.out, time_index=args.time)
    print(f"wrote {path}")
    return 0


def _no_extra(extra):
    if extra:
        raise UserError(f"unrecognized arguments: {' '.join(extra)}")


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The ``sciml`` parser; of the modules in SUBCOMMANDS only ``command``'s is imported."""
    parser = _Parser(prog="sciml", description="sciml: PDE data generation, neural operators and PINNs")
    from . import __version__

    parser.add_argument("--version", action="version", version=f"sciml {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    g = sub.add_parser("generate", help="generate a dataset from a recipe (recipe parameters as --name value)",
                       description="Generate NAME into an HDF5 store. Recipe parameters are passed as "
                                   "--name value (e.g. --resolution 421 --subsample 5); `sciml info` lists them.")
    g.add_argument("recipe", help="recipe name (darcy, ns2d, burgers, ..., carbonbench)")
    g.add_argument("--n", type=_positive_int, default=None, help="number of samples")
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--out", default=None, help="output file (.h5)")
    g.add_argument("--workers", type=_positive_int, default=1, help="worker processes")
    g.add_argument("--scheduler", default=None,
                   help="dask.distributed scheduler address, or 'local' for a LocalCluster")
    g.add_argument("--no-progress", action="store_true", help="no progress bar")
    g.set_defaults(func=_cmd_generate)

    i = sub.add_parser("info", help="describe a dataset file")
    i.add_argument("file")
    i.set_defaults(func=_cmd_info)

    p = sub.add_parser("plot", help="plot one sample of a dataset file")
    p.add_argument("file")
    p.add_argument("--sample", type=int, default=0)
    p.add_argument("--time", type=int, default=None, help="time index for trajectories (default: a few frames)")
    p.add_argument("--out", required=True, help="output image (.png, .pdf, .svg)")
    p.set_defaults(func=_cmd_plot)

    for name, (module, summary) in SUBCOMMANDS.items():
        if command == name:
            importlib.import_module(module).add_parser(sub)
        else:
            sub.add_parser(name, help=summary, add_help=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        command = next((a for a in argv if not a.startswith("-")), None)
        parser = build_parser(command)
        args, extra = parser.parse_known_args(argv)
        if args.command == "generate" and args.recipe != "carbonbench" and args.n is None:
            raise UserError("--n is required (a positive number of samples)")
        func = args.func
        if getattr(func, "__module__", "") == __name__:
            return int(func(args, extra) or 0)
        _no_extra(extra)
        return int(func(args) or 0)
    except (UserError, ValueError, TypeError, FileNotFoundError, FileExistsError, NotADirectoryError,
            IsADirectoryError, PermissionError) as exc:
        if os.environ.get("SCIML_DEBUG"):
            raise
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        print(f"sciml: error: {msg}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("sciml: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # faults (disk, lost workers, a locked output): one line, exit 1
        from ._util.io import OutputLockedError
        from .datasets.generate import GenerationError

        if os.environ.get("SCIML_DEBUG") or not isinstance(exc, (OSError, GenerationError, OutputLockedError)):
            raise
        print(f"sciml: error: {str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__}",
              file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
