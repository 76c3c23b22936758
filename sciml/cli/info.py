"""``sciml info FILE``: describe a dataset file."""
from __future__ import annotations

__all__ = ["add_parser"]


def add_parser(subparsers, argv=()):
    p = subparsers.add_parser("info", help="describe a dataset file",
                              description="Print the recipe, parameters, fields (shapes, units, ranges) of a store.")
    p.add_argument("file")
    p.set_defaults(func=run)
    return p


def run(args) -> int:
    from ..datasets.store import describe

    print(describe(args.file))
    return 0
