"""The one ``sciml`` parser and the one error path.

Every subcommand lives in a module of this package with ``add_parser(subparsers, argv)``
(``argv``: the whole command line, for commands whose options depend on a positional such as
``generate RECIPE``), which creates its parser and sets ``func`` (called with the parsed args) as a default. Command
modules import only argparse and the validators at import time; the library code they
drive is imported inside ``func``. Only the module of the command being run is imported,
so ``sciml --help`` stays fast (the others appear through the summaries of
:data:`COMMANDS`).

Exit status: 0 success; 2 a user mistake (bad option, missing or conflicting file, an
output that is locked by another writer), one line on stderr; 1 a fault (disk full,
read-only file system, permission denied, lost worker, a run that diverged), one line
naming the file or resource; 130 interrupted. Tracebacks only with ``SCIML_DEBUG=1``.
"""
from __future__ import annotations

import argparse
import errno
import importlib
import os
import sys

__all__ = ["COMMANDS", "UserError", "Parser", "build_parser", "main", "exit_status", "error_line"]

# name -> (module of this package, one-line summary)
COMMANDS: dict[str, tuple[str, str]] = {
    "generate": ("generate", "generate a dataset from a recipe (`sciml generate RECIPE --help` lists its parameters)"),
    "info": ("info", "describe a dataset file"),
    "plot": ("plot", "plot one sample of a dataset file"),
    "train": ("train", "train a neural operator on a dataset file"),
    "bench": ("bench", "leaderboard: run a task, render the table"),
    "pinn": ("pinn", "train a ready-made PINN problem (burgers, convection, allen-cahn, poisson-lshape)"),
    "landau": ("landau", "Landau equation particle methods on the BKW solution"),
    "demo": ("demo", "the main job on a small default: generate Darcy data, plot it, train an FNO"),
    "export": ("convert", "write a store (or an FNO checkpoint) for The Well, PDEBench or neuraloperator"),
    "import": ("convert", "read a Well / PDEBench file or a neuraloperator checkpoint into sciml"),
}


class UserError(Exception):
    """A mistake in the command line or its inputs (exit status 2)."""


class Parser(argparse.ArgumentParser):
    """argparse parser whose errors are :class:`UserError` (one line, exit 2) instead of usage + exit."""

    def error(self, message):
        raise UserError(message)


def register(name: str, module: str, summary: str) -> None:
    """Add a subcommand implemented by ``sciml.cli.<module>`` (for packages that extend the CLI)."""
    COMMANDS[name] = (module, summary)


def build_parser(argv=()) -> argparse.ArgumentParser:
    """The ``sciml`` parser for the command line ``argv``; only the named command's module is imported."""
    argv = [argv] if isinstance(argv, str) else list(argv)
    command = _first_command(argv)
    from .. import __version__

    parser = Parser(prog="sciml", description="sciml: PDE data generation, neural operators and PINNs")
    parser.add_argument("--version", action="version", version=f"sciml {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    sub.required = True
    for name, (module, summary) in COMMANDS.items():
        if command == name:
            mod = importlib.import_module(module if "." in module else f"{__package__}.{module}")
            mod.add_parser(sub, argv)
        else:
            sub.add_parser(name, help=summary, add_help=False)
    return parser


class options_named:
    """Context manager: a library ``ValueError``/``TypeError`` whose message starts with one of
    ``names`` (a keyword argument, e.g. ``resolution must be ...``) is re-raised naming the
    option (``--resolution must be ...``), so every message names what the user typed."""

    def __init__(self, names):
        self.names = sorted(names, key=len, reverse=True)

    def __enter__(self):
        return self

    def __exit__(self, typ, exc, tb):
        if exc is None or type(exc) not in (ValueError, TypeError) or not exc.args or not isinstance(exc.args[0], str):
            return False
        msg = exc.args[0]
        for name in self.names:
            if msg.startswith(name) and msg[len(name):len(name) + 1] in (" ", "[", "=", ":"):
                exc.args = ("--" + name.replace("_", "-") + msg[len(name):], *exc.args[1:])
                break
        return False


def _first_command(argv) -> str | None:
    return next((a for a in argv if not a.startswith("-")), None)


# Exceptions that are the user's doing: one line, exit 2.
def _user_error_types():
    from .._util.io import OutputLockedError

    return (UserError, ValueError, TypeError, FileNotFoundError, FileExistsError, NotADirectoryError,
            IsADirectoryError, OutputLockedError)


# OSError numbers that are faults of the machine rather than of the command line.
_FAULT_ERRNOS = {errno.ENOSPC, errno.EROFS, errno.EACCES, errno.EPERM, errno.EDQUOT, errno.EIO,
                 errno.ECONNREFUSED, errno.ETIMEDOUT, errno.EHOSTUNREACH, errno.ENETUNREACH}


def error_line(exc: BaseException) -> str:
    """The one line shown for ``exc``: its message (first line), naming the file where known."""
    if isinstance(exc, OSError) and exc.strerror and exc.errno in _FAULT_ERRNOS:
        where = exc.filename if exc.filename is not None else None
        msg = f"{exc.strerror}: {where}" if where is not None else exc.strerror
        text = str(exc).strip()
        if where is None and text and text != exc.strerror:
            msg = text
        return msg.splitlines()[0]
    if isinstance(exc, KeyError) and exc.args:
        text = str(exc.args[0])
    else:
        text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def exit_status(exc: BaseException) -> int | None:
    """2 for a user mistake, 1 for a fault, 130 for an interrupt, None for a bug (traceback)."""
    if isinstance(exc, KeyboardInterrupt):
        return 130
    if isinstance(exc, OSError) and getattr(exc, "errno", None) in _FAULT_ERRNOS:
        return 1
    if isinstance(exc, _user_error_types()):
        return 2
    if isinstance(exc, (OSError, FloatingPointError, MemoryError, TimeoutError, ConnectionError)):
        return 1
    if type(exc).__module__.startswith("sciml.") or type(exc).__name__ in ("BrokenProcessPool", "CancelledError",
                                                                          "KilledWorker", "CommClosedError"):
        return 1
    return None


def main(argv: list[str] | None = None) -> int:
    """Run ``sciml ARGS``; returns the exit status (see the module docstring)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        parser = build_parser(argv)
        args = parser.parse_args(argv)
        return int(args.func(args) or 0)
    except BrokenPipeError:  # the reader of stdout went away (`sciml ... | head`): not an error of the command
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at interpreter exit
        return 141
    except (Exception, KeyboardInterrupt) as exc:  # noqa: BLE001 - the one error path
        status = exit_status(exc)
        if status is None or os.environ.get("SCIML_DEBUG"):
            raise
        if status == 130:
            print("sciml: interrupted", file=sys.stderr)
        else:
            print(f"sciml: error: {error_line(exc)}", file=sys.stderr)
        return status
