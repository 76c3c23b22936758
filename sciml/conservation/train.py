"""Deprecated alias: emulator training moved to :mod:`sciml.training.emulator`.

``conservation/`` holds the conservation layer only (centering, increments, fixers, flux head,
the emulator module); the training loop lives with the other loops in ``sciml.training``.
"""
import warnings

from ..training.emulator import *  # noqa: F401,F403
from ..training.emulator import __all__  # noqa: F401

warnings.warn("sciml.conservation.train moved to sciml.training.emulator; the old name will be removed",
              DeprecationWarning, stacklevel=2)
