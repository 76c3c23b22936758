"""Shared argument checks and helpers of the Landau solvers (tensors, particles, chunking)."""
from __future__ import annotations

import numpy as np
import torch

_CHUNK_ELEMS = 1 << 22  # pairwise entries per chunk (x d components) -> a few tens of MB in float64



def _as_tensor(x, dtype=None, device=None) -> torch.Tensor:
    if isinstance(x, torch.Tensor):
        return x.to(dtype=dtype or x.dtype, device=device or x.device)
    return torch.as_tensor(np.asarray(x), dtype=dtype or torch.float64, device=device)


def _check_dim(dim) -> int:
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)) or dim not in (2, 3):
        raise ValueError(f"dim must be 2 or 3, got {dim!r}")
    return int(dim)


def _check_particles(v, w=None):
    """v: (N, d) or (B, N, d) -> (B, N, d) tensor, weights (B, N), batched flag."""
    v = _as_tensor(v)
    if not v.is_floating_point():
        raise TypeError(f"v must be a floating-point array, got dtype {v.dtype}")
    if v.ndim not in (2, 3) or v.shape[-1] not in (2, 3):
        raise ValueError(f"v must have shape (N, d) or (B, N, d) with d in (2, 3), got {tuple(v.shape)}")
    batched = v.ndim == 3
    vb = v if batched else v[None]
    if w is None:
        wb = torch.full(vb.shape[:2], 1.0 / vb.shape[1], dtype=vb.dtype, device=vb.device)
    else:
        w = _as_tensor(w, dtype=vb.dtype, device=vb.device)
        wb = w if w.ndim == 2 else w[None]
        if wb.shape[-1] != vb.shape[1] or wb.ndim != 2 or (wb.shape[0] not in (1, vb.shape[0])):
            raise ValueError(f"weights w must have shape (N,) or (B, N) matching v {tuple(v.shape)}, "
                             f"got {tuple(w.shape)}")
        if torch.any(wb < 0):
            raise ValueError("weights w must be non-negative")
        wb = wb.expand(vb.shape[0], -1)
    return vb, wb, batched



def _sqdist(x, y):
    """``|x_i - y_l|^2`` for x (B, n, d), y (m, d) -> (B, n, m), via matrix products (clamped at 0)."""
    r2 = (x * x).sum(-1)[..., None] + (y * y).sum(-1)[None, None, :] - 2 * torch.einsum("bnd,md->bnm", x, y)
    return r2.clamp_min(0)
