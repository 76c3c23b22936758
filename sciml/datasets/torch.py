"""Deprecated alias of :mod:`sciml.datasets.loaders` (a module named ``torch`` shadowed the package)."""
import warnings

from .loaders import *  # noqa: F401,F403
from .loaders import __all__  # noqa: F401

warnings.warn("sciml.datasets.torch was renamed sciml.datasets.loaders; the old name will be removed",
              DeprecationWarning, stacklevel=2)
