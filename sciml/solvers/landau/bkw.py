"""The exact BKW solution of the Landau equation for Maxwell molecules: density, score, time
derivative and exact sampling (Bobylev 1975; Krook & Wu 1977)."""
from __future__ import annotations

import math

import numpy as np
import torch

from ._common import _as_tensor, _check_dim


def bkw_K(t, dim: int, C: float = 1.0 / 16):
    """``K(t) = 1 - exp(-2 C (d - 1) t) / 2`` (in 2D with C = 1/16: ``1 - exp(-t/8)/2``)."""
    dim = _check_dim(dim)
    if isinstance(t, torch.Tensor):
        return 1 - 0.5 * torch.exp(-2 * C * (dim - 1) * t)
    return 1 - 0.5 * np.exp(-2 * C * (dim - 1) * np.asarray(t, dtype=float))


def bkw_min_time(dim: int, C: float = 1.0 / 16) -> float:
    """Earliest t with a non-negative BKW density: ``K >= d/(d+2)`` (0 in 2D; in 3D t = ln(5/4)/(4C))."""
    dim = _check_dim(dim)
    kmin = dim / (dim + 2)
    if kmin <= 0.5:
        return 0.0
    return float(-math.log(2 * (1 - kmin)) / (2 * C * (dim - 1)))


def _bkw_args(v, t, dim, C):
    """The checked inputs of the BKW functions: ``(dim, numpy_in, v, |v|^2, K, a, b)`` with
    ``f = (2 pi K)^(-d/2) exp(-|v|^2/(2K)) (a + b |v|^2)``."""
    dim = _check_dim(dim)
    was_np = not isinstance(v, torch.Tensor)
    vt = _as_tensor(v)
    if vt.shape[-1] != dim:
        raise ValueError(f"v must have last axis of length dim={dim}, got shape {tuple(vt.shape)}")
    K = bkw_K(torch.as_tensor(t, dtype=vt.dtype, device=vt.device), dim, C)
    a = ((dim + 2) * K - dim) / (2 * K)
    b = (1 - K) / (2 * K * K)
    return dim, was_np, vt, (vt * vt).sum(-1), K, a, b


def bkw_density(v, t, dim: int, C: float = 1.0 / 16):
    """Exact BKW solution for Maxwell molecules (gamma = 0) with kernel constant ``C``.

    ``f(t, v) = (2 pi K)^(-d/2) exp(-|v|^2/(2K)) [((d+2)K - d)/(2K) + (1-K)/(2K^2) |v|^2]``,
    ``K = bkw_K(t, dim, C)``. Mass 1, mean 0, ``E|v|^2 = d``.

    v: ``(..., d)`` (numpy or torch); t: scalar or broadcastable to ``v.shape[:-1]``.
    Returns ``(...)`` in the input's array type (numpy in -> numpy out, float64).
    """
    dim, was_np, vt, r2, K, a, b = _bkw_args(v, t, dim, C)
    f = (2 * math.pi * K) ** (-dim / 2) * torch.exp(-r2 / (2 * K)) * (a + b * r2)
    return f.cpu().numpy() if was_np else f


def bkw_score(v, t, dim: int, C: float = 1.0 / 16):
    """``grad_v log f`` of the BKW density, ``(..., d)`` (singular where f = 0)."""
    _, was_np, vt, r2, K, a, b = _bkw_args(v, t, dim, C)
    s = vt * (-1 / K + 2 * b / (a + b * r2[..., None]))
    return s.cpu().numpy() if was_np else s


def bkw_dfdt(v, t, dim: int, C: float = 1.0 / 16):
    """Exact ``df/dt`` of the BKW solution, ``(...)`` (chain rule through ``K(t)``, ``K' = 2C(d-1)(1-K)``)."""
    dim, was_np, vt, r2, K, a, b = _bkw_args(v, t, dim, C)
    G = (2 * math.pi * K) ** (-dim / 2) * torch.exp(-r2 / (2 * K))
    dfdK = G * ((-dim / (2 * K) + r2 / (2 * K * K)) * (a + b * r2) + dim / (2 * K * K)
                + r2 * (-1 / K ** 3 + 1 / (2 * K * K)))
    out = dfdK * 2 * C * (dim - 1) * (1 - K)
    return out.cpu().numpy() if was_np else out


def sample_bkw(n: int, t, dim: int, C: float = 1.0 / 16, *, rng=None) -> np.ndarray:
    """``n`` i.i.d. samples of the BKW density at time ``t`` (exact mixture sampling), ``(n, d)``.

    ``f = alpha N(0, K I) + (1 - alpha) |v|^2 N(0, K I)/(dK)`` with ``alpha = ((d+2)K - d)/(2K)``;
    the second component is ``sqrt(K) * r * direction`` with ``r^2 ~ chi^2(d + 2)``.
    rng: ``numpy.random.Generator`` or seed.
    """
    dim = _check_dim(dim)
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    K = float(bkw_K(float(t), dim, C))
    alpha = ((dim + 2) * K - dim) / (2 * K)
    if alpha < -1e-12:
        raise ValueError(f"BKW density is negative at t={t} in {dim}D (K={K:.4f} < {dim}/{dim + 2}); "
                         f"use t >= {bkw_min_time(dim, C):.4f}")
    rng = np.random.default_rng(rng)
    comp = rng.random(n) < max(alpha, 0.0)
    gauss = rng.standard_normal((n, dim)) * math.sqrt(K)
    direction = rng.standard_normal((n, dim))
    direction /= np.linalg.norm(direction, axis=1, keepdims=True)
    r = np.sqrt(rng.chisquare(dim + 2, size=n) * K)
    return np.where(comp[:, None], gauss, r[:, None] * direction)
