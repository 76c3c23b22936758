"""Density reconstruction (kernel density estimate, blobs) and diagnostics of particle clouds and
grid densities: moments, entropy, relative L2 error."""
from __future__ import annotations

import math

import torch

from ..._util.validation import check_float
from ._common import _CHUNK_ELEMS, _as_tensor, _check_particles, _sqdist


def kde_bandwidth(n_eff: float, dim: int, sigma: float = 1.0) -> float:
    """Scott's rule bandwidth (standard deviation) ``sigma * n^(-1/(d+4))``."""
    return float(sigma * n_eff ** (-1.0 / (dim + 4)))


def kde_density(points, x, w=None, bandwidth: float | None = None, *, chunk: int | None = None):
    """Gaussian kernel density estimate ``sum_j w_j N(x; v_j, bw^2 I)`` at query points.

    points: ``(N, d)`` / ``(B, N, d)`` particles; w: weights summing to one (default ``1/N``);
    x: ``(M, d)`` query points; bandwidth: kernel standard deviation (default: Scott's rule with
    the effective sample size ``1/sum w^2`` and the particle standard deviation).
    Returns ``(M,)`` / ``(B, M)``.
    """
    vb, wb, batched = _check_particles(points, w)
    x = _as_tensor(x, dtype=vb.dtype, device=vb.device)
    if x.ndim != 2 or x.shape[-1] != vb.shape[-1]:
        raise ValueError(f"x must have shape (M, {vb.shape[-1]}), got {tuple(x.shape)}")
    if bandwidth is None:
        n_eff = float((1.0 / (wb[0] ** 2).sum()).item())
        mean = (wb[0, :, None] * vb[0]).sum(0) / wb[0].sum()
        sigma = math.sqrt(float(((wb[0, :, None] * (vb[0] - mean) ** 2).sum() / wb[0].sum() / vb.shape[-1]).item()))
        bandwidth = kde_bandwidth(n_eff, vb.shape[-1], sigma)
    bandwidth = check_float(bandwidth, "bandwidth", min=0, min_open=True)
    M = x.shape[0]
    rows = chunk or max(1, _CHUNK_ELEMS // max(1, vb.shape[1] * vb.shape[0]))
    out = torch.empty(vb.shape[0], M, dtype=vb.dtype, device=vb.device)
    norm = (2 * math.pi * bandwidth ** 2) ** (-vb.shape[-1] / 2)
    for s in range(0, M, rows):
        r2 = _sqdist(vb, x[s:s + rows])                                    # (B, N, m)
        out[:, s:s + rows] = torch.einsum("bnm,bn->bm", norm * torch.exp(-r2 / (2 * bandwidth ** 2)), wb)
    return out if batched else out[0]


def blob_density(points, w, x, eps: float, *, chunk: int | None = None):
    """Blob reconstruction ``f_eps(x) = sum_j w_j psi_eps(x - v_j)`` (Gaussian of *variance* ``eps``)."""
    return kde_density(points, x, w, bandwidth=math.sqrt(check_float(eps, "eps", min=0, min_open=True)), chunk=chunk)


def moments(v, w=None) -> dict:
    """Mass ``sum w``, momentum ``sum w v`` (d,), energy ``sum w |v|^2`` of a weighted particle cloud."""
    vb, wb, batched = _check_particles(v, w)
    out = {"mass": wb.sum(-1), "momentum": (wb[..., None] * vb).sum(-2), "energy": (wb * (vb * vb).sum(-1)).sum(-1)}
    return out if batched else {k: val[0] for k, val in out.items()}


def grid_entropy(f, h: float, dim: int) -> float:
    """``integral f log f dv`` of grid values (cell volume ``h^d``; f <= 0 contributes 0)."""
    f = _as_tensor(f)
    pos = f > 0
    val = torch.where(pos, f * torch.log(torch.where(pos, f, torch.ones_like(f))), torch.zeros_like(f))
    return float(val.sum() * h ** dim)


def relative_l2(f_approx, f_exact) -> float:
    """``||f_approx - f_exact||_2 / ||f_exact||_2`` on a common uniform grid."""
    a = _as_tensor(f_approx)
    b = _as_tensor(f_exact, dtype=a.dtype, device=a.device)
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {tuple(a.shape)} vs {tuple(b.shape)}")
    return float(torch.linalg.vector_norm(a - b) / torch.linalg.vector_norm(b))
