"""One way to turn ``seed`` arguments into random generators."""
from __future__ import annotations

import numbers

import numpy as np

__all__ = ["as_generator", "check_seed"]


def check_seed(seed, name: str = "seed") -> int:
    """Return ``seed`` as a non-negative Python int or raise ``ValueError``/``TypeError``."""
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"{name} must be a non-negative integer, got {seed!r}")
    if seed < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {seed}")
    return int(seed)


def as_generator(seed=None, name: str = "seed") -> np.random.Generator:
    """A ``numpy.random.Generator`` from an int seed, a Generator (returned as is) or None."""
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None:
        return np.random.default_rng()
    return np.random.default_rng(check_seed(seed, name))
