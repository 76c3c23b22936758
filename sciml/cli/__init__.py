"""The ``sciml`` command line: one parser, one error path.

``sciml generate RECIPE | info | plot | train | bench | pinn | landau | demo``; run
``sciml COMMAND --help`` for each command's options (``sciml generate RECIPE --help`` lists
the recipe's parameters, generated from the recipe's own declaration).

A user mistake prints one line on stderr and exits with status 2; a fault of the machine
(disk full, read-only file system, lost worker) one line naming the file or resource and
status 1; never a traceback (set ``SCIML_DEBUG=1`` to see one).

Examples
--------
>>> from sciml.cli import main
>>> main(["generate", "darcy", "--n", "0", "--out", "x.h5"])
2
"""
from ._core import COMMANDS, Parser, UserError, build_parser, main, register

__all__ = ["main", "build_parser", "UserError", "Parser", "COMMANDS", "register"]
