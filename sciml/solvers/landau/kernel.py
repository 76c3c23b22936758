"""The Landau collision kernel, the particle velocity field and the collocation operator on a grid."""
from __future__ import annotations

import numpy as np
import torch

from ..._util.validation import check_float
from ._common import _CHUNK_ELEMS, _as_tensor, _check_dim, _check_particles


def landau_kernel(z: torch.Tensor, gamma: float = 0.0, C: float = 1.0 / 16, delta: float = 0.0) -> torch.Tensor:
    """Landau collision kernel ``A(z) = C (|z|^2 + delta^2)^(gamma/2) (|z|^2 I - z z^T)``.

    z: ``(..., d)``; returns ``(..., d, d)``. ``gamma = 0``: Maxwell molecules;
    ``gamma = -3``: Coulomb (use ``delta > 0`` to regularise ``z = 0``).
    """
    z = _as_tensor(z)
    r2 = (z * z).sum(-1)
    eye = torch.eye(z.shape[-1], dtype=z.dtype, device=z.device)
    A = r2[..., None, None] * eye - z[..., :, None] * z[..., None, :]
    if gamma != 0:
        A = A * _radial(r2, gamma, delta)[..., None, None]
    return C * A


def _radial(r2, gamma, delta):
    if gamma == 0:
        return torch.ones_like(r2)
    base = r2 + delta * delta
    if delta == 0:
        out = torch.where(base > 0, base, torch.ones_like(base)) ** (gamma / 2)
        return torch.where(base > 0, out, torch.zeros_like(out))
    return base ** (gamma / 2)


def landau_velocity(v, g, w=None, *, gamma: float = 0.0, C: float = 1.0 / 16, delta: float = 0.0,
                    chunk: int | None = None, method: str = "auto") -> torch.Tensor:
    """Particle velocity ``U_i = -sum_j w_j A(v_i - v_j) (g_i - g_j)``.

    v, g: ``(N, d)`` or ``(B, N, d)`` particle positions and the gradient field at them
    (``grad log f`` for the score method, ``grad dE_eps/df`` for the blob method);
    w: ``(N,)`` / ``(B, N)`` weights (default ``1/N``). Returns ``U`` with the shape of ``v``.

    method: 'pairwise' sums over all pairs in row chunks (O(N^2) work, O(chunk N) memory; any
    gamma); 'moments' (Maxwell molecules only) expands the quadratic kernel into weighted
    moments of ``(v_j, g_j)``, O(N d^2) work and algebraically identical; 'auto' picks 'moments'
    for ``gamma == 0``. Antisymmetry in ``(i, j)`` gives momentum conservation and
    ``A(z) z = 0`` energy conservation.
    """
    vb, wb, batched = _check_particles(v, w)
    gb = _as_tensor(g, dtype=vb.dtype, device=vb.device)
    gb = gb if gb.ndim == 3 else gb[None]
    if gb.shape != vb.shape:
        raise ValueError(f"g must have the shape of v {tuple(vb.shape)}, got {tuple(gb.shape)}")
    if method not in ("auto", "pairwise", "moments"):
        raise ValueError(f"method must be 'auto', 'pairwise' or 'moments', got {method!r}")
    if method == "moments" and gamma != 0:
        raise ValueError("method='moments' needs Maxwell molecules (gamma=0)")
    if method == "moments" or (method == "auto" and gamma == 0):
        out = _velocity_moments(vb, gb, wb, C)
    else:
        out = _velocity_pairwise(vb, gb, wb, gamma, C, delta, chunk)
    return out if batched else out[0]


def _velocity_pairwise(vb, gb, wb, gamma, C, delta, chunk):
    B, N, d = vb.shape
    rows = chunk or max(1, _CHUNK_ELEMS // max(1, N * B))
    out = torch.empty_like(vb)
    for s in range(0, N, rows):
        e = min(N, s + rows)
        z = vb[:, s:e, None, :] - vb[:, None, :, :]          # (B, c, N, d)
        dg = gb[:, s:e, None, :] - gb[:, None, :, :]
        r2 = (z * z).sum(-1)
        zdg = (z * dg).sum(-1)
        Adg = r2[..., None] * dg - z * zdg[..., None]
        if gamma != 0:
            Adg = Adg * _radial(r2, gamma, delta)[..., None]
        out[:, s:e] = -C * torch.einsum("bcnd,bn->bcd", Adg, wb)
    return out


def _velocity_moments(a, p, w, C):
    """Maxwell case: ``sum_j w_j [|a-b|^2 (p-q) - (a-b)((a-b).(p-q))]`` through moments of (b, q) = (v_j, g_j)."""
    W = w.sum(-1)[:, None, None]                                  # (B,1,1)
    B1 = torch.einsum("bn,bnd->bd", w, a)[:, None, :]             # sum w b
    Q1 = torch.einsum("bn,bnd->bd", w, p)[:, None, :]             # sum w q
    b2 = (a * a).sum(-1)
    S2 = (w * b2).sum(-1)[:, None, None]                          # sum w |b|^2
    T = torch.einsum("bn,bnd->bd", w * b2, p)[:, None, :]         # sum w |b|^2 q
    R0 = (w * (a * p).sum(-1)).sum(-1)[:, None, None]             # sum w b.q
    Mqb = torch.einsum("bn,bni,bnj->bij", w, p, a)                # sum w q b^T
    Mbb = torch.einsum("bn,bni,bnj->bij", w, a, a)                # sum w b b^T
    V = torch.einsum("bn,bnd->bd", w * (a * p).sum(-1), a)[:, None, :]  # sum w b (b.q)
    a2 = b2[..., None]
    aB1 = (a * B1).sum(-1, keepdim=True)
    term1 = a2 * (W * p - Q1) - 2 * (aB1 * p - torch.einsum("bij,bnj->bni", Mqb, a)) + (S2 * p - T)
    ap = (a * p).sum(-1, keepdim=True)
    aQ1 = (a * Q1).sum(-1, keepdim=True)
    B1p = (B1 * p).sum(-1, keepdim=True)
    term2 = a * (W * ap - aQ1 - B1p + R0) \
        - (B1 * ap - torch.einsum("bji,bnj->bni", Mqb, a) - torch.einsum("bij,bnj->bni", Mbb, p) + V)
    return -C * (term1 - term2)




def velocity_grid(n: int, L: float, dim: int, *, dtype=torch.float64, device=None):
    """Cell centres of the uniform grid of ``n^d`` cells on ``[-L, L]^d``.

    Returns ``(points (n^d, d), axis (n,), h)`` with ``points`` in C order (last axis fastest,
    i.e. ``points.reshape(n, ..., n, d)[i, j] = (axis[i], axis[j])``).
    """
    dim = _check_dim(dim)
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 2:
        raise ValueError(f"n must be an integer >= 2, got {n!r}")
    L = check_float(L, "L", min=0, min_open=True)
    h = 2 * L / n
    axis = -L + h * (torch.arange(n, dtype=dtype, device=device) + 0.5)
    mesh = torch.meshgrid(*([axis] * dim), indexing="ij")
    return torch.stack(mesh, -1).reshape(-1, dim), axis, h


def landau_operator_grid(f, h: float, *, gamma: float = 0.0, C: float = 1.0 / 16, delta: float = 0.0):
    """Collocation Landau operator ``Q(f) = div(a grad f - f c)`` on a uniform grid.

    f: ``(n, n)`` or ``(n, n, n)`` (or with a leading batch axis) density values at cell centres of
    spacing ``h``; ``a = A * f`` and ``c = A * grad f`` are evaluated as discrete convolutions
    (FFT, exact sums over the grid), gradients and divergence by second-order central differences.
    Returns ``Q(f)`` with the shape of ``f`` (torch tensor; numpy in -> numpy out).
    """
    was_np = not isinstance(f, torch.Tensor)
    ft = _as_tensor(f)
    h = check_float(h, "h", min=0, min_open=True)
    nd = ft.ndim
    if nd in (2, 3) and len(set(ft.shape)) == 1:
        dim, fb = nd, ft[None]
    elif nd in (3, 4) and len(set(ft.shape[1:])) == 1:
        dim, fb = nd - 1, ft
    else:
        raise ValueError(f"f must be a square (n, n) / cubic (n, n, n) grid, optionally batched; got {tuple(ft.shape)}")
    n = fb.shape[-1]
    axes = tuple(range(-dim, 0))
    # kernel on the (2n-1)^d difference grid
    off = h * torch.arange(-(n - 1), n, dtype=ft.dtype, device=ft.device)
    z = torch.stack(torch.meshgrid(*([off] * dim), indexing="ij"), -1)
    A = landau_kernel(z, gamma, C, delta) * h ** dim       # (2n-1,)*d + (d, d)
    fsize = [3 * n - 2] * dim

    def conv(field, ker):  # field (B, n..), ker (2n-1..) -> (B, n..) "valid" part of the full convolution
        F = torch.fft.rfftn(field, s=fsize, dim=axes)
        Kf = torch.fft.rfftn(ker, s=fsize, dim=tuple(range(dim)))
        full = torch.fft.irfftn(F * Kf, s=fsize, dim=axes)
        sl = (slice(None),) + tuple(slice(n - 1, 2 * n - 1) for _ in range(dim))
        return full[sl]

    grad = torch.stack(torch.gradient(fb, spacing=h, dim=list(range(1, dim + 1))), -1)  # (B, n.., d)
    flux = torch.zeros_like(grad)
    for i in range(dim):
        for j in range(dim):
            Aij = A[..., i, j]
            flux[..., i] += conv(fb, Aij) * grad[..., j] - fb * conv(grad[..., j], Aij)
    Q = sum(torch.gradient(flux[..., i], spacing=h, dim=i + 1)[0] for i in range(dim))
    Q = Q[0] if nd == dim else Q
    return Q.cpu().numpy() if was_np else Q
