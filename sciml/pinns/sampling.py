"""Collocation sampling: uniform, Latin hypercube, Sobol, and residual-based adaptive resampling.

Points are numpy float64 arrays of shape ``(n, d)``. Every sampler takes a
``numpy.random.Generator`` (or an integer seed, or ``None``).

Adaptive refinement (Wu et al. 2023, "A comprehensive study of non-adaptive and
residual-based adaptive sampling for PINNs"):

* RAR (residual-based adaptive refinement): add the ``m`` candidate points with
  the largest absolute residual (:func:`rar_select`).
* RAD (residual-based adaptive distribution): draw points from the candidates
  with probability ``p ∝ |r|^k / mean(|r|^k) + c`` (:func:`rad_sample`).
"""
from __future__ import annotations

import warnings

import numpy as np
from scipy.stats import qmc

from .._util.validation import check_int

__all__ = ["METHODS", "as_rng", "sample_unit_cube", "sample_box", "rar_select", "rad_sample"]

METHODS = ("uniform", "lhs", "sobol")


def as_rng(rng) -> np.random.Generator:
    """``None`` / int seed / Generator -> ``numpy.random.Generator``."""
    if rng is None or isinstance(rng, (int, np.integer)):
        return np.random.default_rng(rng)
    if isinstance(rng, np.random.Generator):
        return rng
    raise TypeError(f"rng must be None, an int seed or a numpy.random.Generator, got {type(rng).__name__}")


def sample_unit_cube(n: int, d: int, method: str = "uniform", rng=None) -> np.ndarray:
    """``n`` points in ``[0, 1)^d``, shape ``(n, d)`` float64.

    method: ``"uniform"`` (i.i.d.), ``"lhs"`` (Latin hypercube, one point per
    stratum in every coordinate) or ``"sobol"`` (scrambled Sobol sequence; any
    ``n`` is accepted, powers of two keep the balance properties).
    """
    n = check_int(n, "n", min=0)
    d = check_int(d, "d", min=0)
    if d < 1:
        raise ValueError(f"d must be >= 1, got {d}")
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    rng = as_rng(rng)
    if n == 0:
        return np.zeros((0, d))
    if method == "uniform":
        return rng.random((n, d))
    if method == "lhs":
        return qmc.LatinHypercube(d, rng=rng).random(n)
    with warnings.catch_warnings():  # "balance properties ... power of 2": documented above
        warnings.simplefilter("ignore", UserWarning)
        return qmc.Sobol(d, scramble=True, rng=rng).random(n)


def sample_box(lo, hi, n: int, method: str = "uniform", rng=None) -> np.ndarray:
    """``n`` points in the box ``[lo, hi)``, shape ``(n, d)`` with ``d = len(lo)``.

    ``method`` and ``rng`` as :func:`sample_unit_cube`.

    Examples
    --------
    >>> x = sample_box([-1, 0], [1, 1], 256, "sobol", rng=0)   # (x, t) collocation points
    >>> x.shape, bool((x.min(axis=0) >= [-1, 0]).all() and (x.max(axis=0) < [1, 1]).all())
    ((256, 2), True)
    """
    lo = np.atleast_1d(np.asarray(lo, dtype=float))
    hi = np.atleast_1d(np.asarray(hi, dtype=float))
    if lo.shape != hi.shape or lo.ndim != 1:
        raise ValueError(f"lo and hi must be 1D of the same length, got {lo.shape} and {hi.shape}")
    if not np.all(hi > lo):
        raise ValueError(f"hi must exceed lo in every coordinate, got lo={lo}, hi={hi}")
    return lo + (hi - lo) * sample_unit_cube(n, lo.size, method, rng)


def _residual_magnitude(points, residuals):
    points = np.asarray(points)
    if points.ndim != 2:
        raise ValueError(f"points must be (n, d), got shape {points.shape}")
    r = np.asarray(residuals.detach().cpu() if hasattr(residuals, "detach") else residuals, dtype=float)
    r = np.atleast_1d(r)
    if r.shape[0] != points.shape[0]:
        raise ValueError(f"residuals must have one value (or row) per point: {r.shape[0]} vs {points.shape[0]}")
    r = np.abs(r.reshape(points.shape[0], -1)).sum(axis=1)
    if not np.all(np.isfinite(r)):
        raise ValueError("residuals contain non-finite values")
    return points, r


def rar_select(points, residuals, m: int) -> np.ndarray:
    """RAR: the ``m`` candidate points with the largest ``|residual|``.

    points: ``(n, d)`` candidates; residuals: ``(n,)`` or ``(n, k)`` (rows are summed in
    absolute value). Returns ``(m, d)``, largest residual first.
    """
    points, r = _residual_magnitude(points, residuals)
    m = check_int(m, "m", min=0)
    if m > points.shape[0]:
        raise ValueError(f"m={m} exceeds the number of candidates {points.shape[0]}")
    idx = np.argsort(-r, kind="stable")[:m]
    return points[idx]


def rad_sample(points, residuals, m: int, *, k: float = 1.0, c: float = 1.0, rng=None,
               replace: bool = False) -> np.ndarray:
    """RAD: ``m`` points drawn from the candidates with ``p ∝ |r|^k / mean(|r|^k) + c``.

    ``k`` sharpens the density towards large residuals, ``c >= 0`` keeps a uniform
    floor (``c -> inf`` is uniform sampling). Returns ``(m, d)``.
    """
    points, r = _residual_magnitude(points, residuals)
    m = check_int(m, "m", min=0)
    if k < 0:
        raise ValueError(f"k must be >= 0, got {k}")
    if c < 0:
        raise ValueError(f"c must be >= 0, got {c}")
    if not replace and m > points.shape[0]:
        raise ValueError(f"m={m} exceeds the number of candidates {points.shape[0]} (use replace=True)")
    w = r ** k
    mean = w.mean() if w.size else 0.0
    p = (w / mean if mean > 0 else np.zeros_like(w)) + c
    if p.sum() <= 0:
        p = np.ones_like(p)
    p = p / p.sum()
    idx = as_rng(rng).choice(points.shape[0], size=m, replace=replace, p=p)
    return points[idx]
