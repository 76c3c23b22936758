"""Spatially homogeneous Landau equation: kernel, BKW exact solution, particle methods.

The equation (velocity ``v`` in R^d, d = 2 or 3)::

    f_t = div_v  integral A(v - w) (f(w) grad f(v) - f(v) grad f(w)) dw,
    A(z) = C |z|^gamma (|z|^2 I - z z^T),

with Maxwell molecules ``gamma = 0`` and Coulomb ``gamma = -3`` (regularised as
``(|z|^2 + delta^2)^(gamma/2)`` so that ``A(z) z = 0`` and ``A = A^T`` still hold).

Contents (all batched torch, CPU or CUDA, keeping the caller's dtype; numpy inputs
become float64 tensors):

* :func:`landau_kernel`, :func:`landau_velocity` (the particle velocity field
  ``U_i = -sum_j w_j A(v_i - v_j)(g_i - g_j)``, O(N^2) in row chunks);
* :func:`bkw_density`, :func:`bkw_score`, :func:`bkw_K`, :func:`sample_bkw` (exact BKW
  solution for Maxwell molecules);
* :func:`landau_operator_grid` (collocation Landau operator of a density on a grid,
  FFT convolutions; used to verify the kernel against BKW);
* :func:`blob_method` (deterministic regularised particle method of Carrillo, Hu,
  Wang & Wu 2020) and :func:`~sciml.pinns.score_method.score_method` (score-based particle method of Huang &
  Wang 2024, which trains a network: it lives in :mod:`sciml.pinns`, importable from here too);
* :func:`kde_density`, :func:`blob_density`, :func:`moments`, :func:`grid_entropy`,
  :func:`relative_l2` (reconstruction and diagnostics).

Units: dimensionless velocity; densities integrate to one (mass), BKW has
``E|v|^2 = d``.
"""
from __future__ import annotations

import math
import time as _time
from collections.abc import Callable, Sequence

import numpy as np
import torch

from .._util.validation import check_step_count

__all__ = [
    "landau_kernel", "landau_velocity", "bkw_K", "bkw_density", "bkw_score", "bkw_dfdt", "bkw_min_time",
    "sample_bkw", "velocity_grid", "landau_operator_grid", "blob_method", "blob_density", "blob_entropy",
    "blob_eps", "score_method", "implicit_score_matching_loss", "kde_density", "kde_bandwidth",  # noqa: F822
    "moments", "grid_entropy", "relative_l2",
]

_CHUNK_ELEMS = 1 << 22  # pairwise entries per chunk (x d components) -> a few tens of MB in float64


# ----------------------------------------------------------------------------- helpers

def _as_tensor(x, dtype=None, device=None) -> torch.Tensor:
    if isinstance(x, torch.Tensor):
        return x.to(dtype=dtype or x.dtype, device=device or x.device)
    return torch.as_tensor(np.asarray(x), dtype=dtype or torch.float64, device=device)


def _check_dim(dim) -> int:
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)) or dim not in (2, 3):
        raise ValueError(f"dim must be 2 or 3, got {dim!r}")
    return int(dim)


def _check_positive(name, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)) \
            or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    return float(value)


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


# ----------------------------------------------------------------------------- kernel

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


# ----------------------------------------------------------------------------- BKW

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


def _bkw_coeffs(t, dim, C, like):
    K = bkw_K(torch.as_tensor(t, dtype=like.dtype, device=like.device), dim, C)
    a = ((dim + 2) * K - dim) / (2 * K)
    b = (1 - K) / (2 * K * K)
    return K, a, b


def bkw_density(v, t, dim: int, C: float = 1.0 / 16):
    """Exact BKW solution for Maxwell molecules (gamma = 0) with kernel constant ``C``.

    ``f(t, v) = (2 pi K)^(-d/2) exp(-|v|^2/(2K)) [((d+2)K - d)/(2K) + (1-K)/(2K^2) |v|^2]``,
    ``K = bkw_K(t, dim, C)``. Mass 1, mean 0, ``E|v|^2 = d``.

    v: ``(..., d)`` (numpy or torch); t: scalar or broadcastable to ``v.shape[:-1]``.
    Returns ``(...)`` in the input's array type (numpy in -> numpy out, float64).
    """
    dim = _check_dim(dim)
    was_np = not isinstance(v, torch.Tensor)
    vt = _as_tensor(v)
    if vt.shape[-1] != dim:
        raise ValueError(f"v must have last axis of length dim={dim}, got shape {tuple(vt.shape)}")
    K, a, b = _bkw_coeffs(t, dim, C, vt)
    r2 = (vt * vt).sum(-1)
    f = (2 * math.pi * K) ** (-dim / 2) * torch.exp(-r2 / (2 * K)) * (a + b * r2)
    return f.cpu().numpy() if was_np else f


def bkw_score(v, t, dim: int, C: float = 1.0 / 16):
    """``grad_v log f`` of the BKW density, ``(..., d)`` (singular where f = 0)."""
    dim = _check_dim(dim)
    was_np = not isinstance(v, torch.Tensor)
    vt = _as_tensor(v)
    K, a, b = _bkw_coeffs(t, dim, C, vt)
    r2 = (vt * vt).sum(-1, keepdim=True)
    s = vt * (-1 / K + 2 * b / (a + b * r2))
    return s.cpu().numpy() if was_np else s


def bkw_dfdt(v, t, dim: int, C: float = 1.0 / 16):
    """Exact ``df/dt`` of the BKW solution, ``(...)`` (chain rule through ``K(t)``, ``K' = 2C(d-1)(1-K)``)."""
    dim = _check_dim(dim)
    was_np = not isinstance(v, torch.Tensor)
    vt = _as_tensor(v)
    K, a, b = _bkw_coeffs(t, dim, C, vt)
    r2 = (vt * vt).sum(-1)
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


# ----------------------------------------------------------------------------- grids, operator

def velocity_grid(n: int, L: float, dim: int, *, dtype=torch.float64, device=None):
    """Cell centres of the uniform grid of ``n^d`` cells on ``[-L, L]^d``.

    Returns ``(points (n^d, d), axis (n,), h)`` with ``points`` in C order (last axis fastest,
    i.e. ``points.reshape(n, ..., n, d)[i, j] = (axis[i], axis[j])``).
    """
    dim = _check_dim(dim)
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 2:
        raise ValueError(f"n must be an integer >= 2, got {n!r}")
    L = _check_positive("L", L)
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
    h = _check_positive("h", h)
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


# ----------------------------------------------------------------------------- reconstruction, diagnostics

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
    bandwidth = _check_positive("bandwidth", bandwidth)
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
    return kde_density(points, x, w, bandwidth=math.sqrt(_check_positive("eps", eps)), chunk=chunk)


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


# ----------------------------------------------------------------------------- blob method

def blob_eps(h: float) -> float:
    """Mollifier variance ``eps = 0.64 h^1.98`` (the choice of Carrillo, Hu, Wang & Wu 2020)."""
    return 0.64 * _check_positive("h", h) ** 1.98


def _sqdist(x, y):
    """``|x_i - y_l|^2`` for x (B, n, d), y (m, d) -> (B, n, m), via matrix products (clamped at 0)."""
    r2 = (x * x).sum(-1)[..., None] + (y * y).sum(-1)[None, None, :] - 2 * torch.einsum("bnd,md->bnm", x, y)
    return r2.clamp_min(0)


def _blob_field(v, w, axis, eps, floor=1e-300):
    """Blob-method gradient field on a tensor-product quadrature grid.

    ``F_i = grad (dE_eps/df)(v_i) = sum_l hq grad psi_eps(v_i - u_l) log f_eps(u_l)`` and
    ``f_eps(u_l) = sum_k w_k psi_eps(u_l - v_k)`` with nodes ``u_l`` the tensor grid ``axis^d``
    (cell volume ``hq = h^d``). The Gaussian factorises over axes, so both sums are matrix
    products of the ``(N, n)`` one-dimensional kernels: O(N n d) exponentials instead of O(N n^d).

    v (B, N, d), w (B, N), axis (n,) uniform. Returns ``F`` (B, N, d) and ``f_eps`` (B, n, ..., n).
    """
    B, N, d = v.shape
    n = axis.shape[0]
    h = float(axis[1] - axis[0])
    hq = h ** d
    norm = (2 * math.pi * eps) ** (-d / 2)
    E = [torch.exp(-(v[..., k, None] - axis) ** 2 / (2 * eps)) for k in range(d)]      # d x (B, N, n)
    if d == 2:
        feps = norm * torch.einsum("bia,bic->bac", E[0] * w[..., None], E[1])
    else:
        feps = norm * torch.einsum("bia,bic,bie->bace", E[0] * w[..., None], E[1], E[2])
    logf = torch.log(feps.clamp_min(floor))
    F = torch.empty_like(v)
    rows = max(1, _CHUNK_ELEMS // max(1, B * n ** (d - 1)))
    for s in range(0, N, rows):
        e = [Ek[:, s:s + rows] for Ek in E]
        ex = [Ek * axis for Ek in e]
        if d == 2:
            G = torch.einsum("bia,bac->bic", e[0], logf)
            Gx = torch.einsum("bia,bac->bic", ex[0], logf)
            S0 = (G * e[1]).sum(-1)
            S1 = torch.stack([(Gx * e[1]).sum(-1), (G * ex[1]).sum(-1)], -1)
        else:
            G = torch.einsum("bia,bace->bice", e[0], logf)
            Gx = torch.einsum("bia,bace->bice", ex[0], logf)
            S0 = torch.einsum("bice,bic,bie->bi", G, e[1], e[2])
            S1 = torch.stack([torch.einsum("bice,bic,bie->bi", Gx, e[1], e[2]),
                              torch.einsum("bice,bic,bie->bi", G, ex[1], e[2]),
                              torch.einsum("bice,bic,bie->bi", G, e[1], ex[2])], -1)
        F[:, s:s + rows] = -(hq * norm / eps) * (v[:, s:s + rows] * S0[..., None] - S1)
    return F, feps


def _check_axis(axis, like):
    axis = _as_tensor(axis, dtype=like.dtype, device=like.device)
    if axis.ndim != 1 or axis.shape[0] < 2:
        raise ValueError(f"quad_axis must be a 1-D array of at least 2 node coordinates, got shape {tuple(axis.shape)}")
    dif = torch.diff(axis)
    if torch.any(dif <= 0) or float((dif - dif[0]).abs().max()) > 1e-9 * float(dif[0]):
        raise ValueError("quad_axis must be uniformly spaced and increasing")
    return axis


def blob_entropy(v, w, quad_axis, eps: float) -> torch.Tensor:
    """Discrete regularised entropy ``sum_l h^d f_eps(u_l) log f_eps(u_l)`` on the grid ``quad_axis^d``.

    Non-increasing under the continuous-time blob flow. v ``(N, d)``/``(B, N, d)``; returns ``()``/``(B,)``.
    """
    vb, wb, batched = _check_particles(v, w)
    axis = _check_axis(quad_axis, vb)
    eps = _check_positive("eps", eps)
    _, feps = _blob_field(vb, wb, axis, eps)
    hq = float(axis[1] - axis[0]) ** vb.shape[-1]
    pos = feps > 0
    ent = (torch.where(pos, feps * torch.log(torch.where(pos, feps, torch.ones_like(feps))), torch.zeros_like(feps))
           ).flatten(1).sum(-1) * hq
    return ent if batched else ent[0]


def _energy_projection(v, w, E0):
    """Rescale ``v`` about its mean so the centred energy equals ``E0`` (mass, momentum unchanged)."""
    m = (w[..., None] * v).sum(-2, keepdim=True) / w.sum(-1)[..., None, None]
    c = v - m
    E = (w * (c * c).sum(-1)).sum(-1)
    lam = torch.sqrt(E0 / E)
    return m + lam[:, None, None] * c


#: Largest number of time steps of one particle run (a fixed ``dt`` implying more is refused before work).
MAX_STEPS = 10_000_000


def check_time(t_end, dt) -> tuple[float, float, int]:
    """``(t_end, dt, steps)`` for a particle run; ValueError (naming the argument) before any work when
    either is not a positive finite number, ``t_end`` is not a multiple of ``dt``, or the run would take
    more than :data:`MAX_STEPS` steps."""
    t_end = _check_positive("t_end", t_end)
    dt = _check_positive("dt", dt)
    check_step_count(t_end, dt, max_steps=MAX_STEPS, name="dt")
    nsteps = int(round(t_end / dt))
    if nsteps < 1 or abs(nsteps * dt - t_end) > 1e-9 * max(1.0, t_end):
        raise ValueError(f"t_end={t_end} must be a positive integer multiple of dt={dt}")
    return t_end, dt, nsteps


def _save_indices(save_times, dt, nsteps, t_end):
    if save_times is None:
        return {}
    out = {}
    for ts in save_times:
        k = int(round(float(ts) / dt))
        if not (0 <= float(ts) <= t_end + 1e-12) or abs(k * dt - float(ts)) > 1e-9 * max(1.0, t_end):
            raise ValueError(f"save_times must be multiples of dt in [0, t_end]; got {ts}")
        out.setdefault(k, []).append(float(ts))
    return out


def blob_method(v0, w, t_end: float, dt: float, *, eps: float, quad_axis,
                gamma: float = 0.0, C: float = 1.0 / 16, delta: float = 0.0, scheme: str = "rk4",
                energy_fix: bool = True, save_times: Sequence[float] | None = None, diagnostics_every: int = 1,
                progress: bool = False):
    """Deterministic blob particle method (Carrillo, Hu, Wang & Wu 2020).

    The regularised entropy ``E_eps = sum_l h^d G(f_eps(u_l))``, ``f_eps = sum_k w_k psi_eps(. - v_k)``,
    ``G(x) = x log x``, is evaluated by quadrature on the fixed tensor grid ``u_l in quad_axis^d``;
    particles move with ``dv_i/dt = -sum_j w_j A(v_i - v_j)(F_i - F_j)``, ``F_i = grad dE_eps/df (v_i)``.
    In continuous time mass, momentum and energy are conserved and ``E_eps`` is non-increasing
    (``dE/dt = -1/2 sum w_i w_j (F_i - F_j).A_ij(F_i - F_j) <= 0``). Time stepping: ``scheme`` =
    'rk4' or 'euler'; momentum is conserved to round-off by every stage; with ``energy_fix`` the
    velocities are rescaled about the mean after each step (a conservative projection: energy to
    round-off, mass and momentum untouched).

    v0: ``(N, d)`` or ``(B, N, d)`` initial particles; w: weights ``(N,)``/``(B, N)`` (for grid
    initialisation ``h^d f0(v_i)``); eps: mollifier variance (see :func:`blob_eps`); quad_axis:
    ``(n,)`` uniform node coordinates of the quadrature grid (typically the axis of the initial
    particle grid from :func:`velocity_grid`); it must cover the support of the particles.

    Returns ``(v, info)``: final particles (shape of ``v0``) and a dict with ``t`` (K,), ``mass``,
    ``momentum`` (K, [B,] d), ``energy``, ``entropy`` histories (torch tensors), ``snapshots``
    ``{t: particles}`` at ``save_times``, ``steps``, ``wall_time`` (s), ``energy_drift`` (max relative),
    ``momentum_drift`` (max abs).
    """
    vb, wb, batched = _check_particles(v0, w)
    eps = _check_positive("eps", eps)
    t_end, dt, nsteps = check_time(t_end, dt)
    if scheme not in ("rk4", "euler"):
        raise ValueError(f"scheme must be 'rk4' or 'euler', got {scheme!r}")
    u = _check_axis(quad_axis, vb)
    if not isinstance(diagnostics_every, int) or diagnostics_every < 1:
        raise ValueError(f"diagnostics_every must be a positive integer, got {diagnostics_every!r}")
    saves = _save_indices(save_times, dt, nsteps, t_end)

    def rhs(x):
        F, _ = _blob_field(x, wb, u, eps)
        return landau_velocity(x, F, wb, gamma=gamma, C=C, delta=delta)

    mass0 = wb.sum(-1)
    m0 = (wb[..., None] * vb).sum(-2, keepdim=True) / mass0[..., None, None]
    E0c = (wb * ((vb - m0) ** 2).sum(-1)).sum(-1)
    hist = {"t": [], "mass": [], "momentum": [], "energy": [], "entropy": []}

    def record(k, x):
        mo = moments(x, wb)
        hist["t"].append(k * dt)
        hist["mass"].append(mo["mass"])
        hist["momentum"].append(mo["momentum"])
        hist["energy"].append(mo["energy"])
        hist["entropy"].append(blob_entropy(x, wb, u, eps))

    snaps = {}
    x = vb.clone()
    t0 = _time.perf_counter()
    record(0, x)
    for ts in saves.get(0, []):
        snaps[ts] = (x if batched else x[0]).clone()
    from .._util.progress import progress as _bar

    with _bar(nsteps, "blob", enabled=bool(progress), unit="steps") as bar:
        for k in range(1, nsteps + 1):
            if scheme == "euler":
                x = x + dt * rhs(x)
            else:
                k1 = rhs(x)
                k2 = rhs(x + 0.5 * dt * k1)
                k3 = rhs(x + 0.5 * dt * k2)
                k4 = rhs(x + dt * k3)
                x = x + (dt / 6) * (k1 + 2 * k2 + 2 * k3 + k4)
            if energy_fix:
                x = _energy_projection(x, wb, E0c)
            if k % diagnostics_every == 0 or k == nsteps:
                record(k, x)
            for ts in saves.get(k, []):
                snaps[ts] = (x if batched else x[0]).clone()
            bar.advance()
    info = _finish_info(hist, batched, snaps, nsteps, _time.perf_counter() - t0)
    return (x if batched else x[0]), info


def _finish_info(hist, batched, snaps, nsteps, wall):
    info = {}
    info["t"] = torch.tensor(hist["t"], dtype=torch.float64)
    for key in ("mass", "momentum", "energy", "entropy"):
        val = torch.stack(hist[key])
        info[key] = val if batched else val[:, 0]
    E = info["energy"]
    info["energy_drift"] = float(((E - E[0]).abs() / E[0].abs()).max())
    info["momentum_drift"] = float((info["momentum"] - info["momentum"][0]).abs().max())
    info["mass_drift"] = float(((info["mass"] - info["mass"][0]).abs() / info["mass"][0]).max())
    info["snapshots"] = snaps
    info["steps"] = nsteps
    info["wall_time"] = wall
    return info


# ----------------------------------------------------------------------------- score method

def _divergence(s: torch.Tensor, x: torch.Tensor, create_graph: bool = True) -> torch.Tensor:
    """``sum_k d s_k / d x_k`` for ``s = net(x)`` (x: (N, d)), exact by d reverse passes."""
    div = torch.zeros(x.shape[:-1], dtype=x.dtype, device=x.device)
    for k in range(x.shape[-1]):
        (g,) = torch.autograd.grad(s[..., k].sum(), x, create_graph=create_graph,
                                   retain_graph=create_graph or k < x.shape[-1] - 1)
        div = div + g[..., k]
    return div


def implicit_score_matching_loss(score_fn: Callable, v: torch.Tensor, w: torch.Tensor | None = None,
                                 create_graph: bool = True) -> torch.Tensor:
    """``sum_i w_i (|s(v_i)|^2 + 2 div s(v_i))`` (Hyvarinen): ``E_f |s - grad log f|^2 - E_f |grad log f|^2``.

    v: ``(N, d)`` particles (detached), w: ``(N,)`` weights summing to one (default ``1/N``).
    """
    x = v.detach().requires_grad_(True)
    s = score_fn(x)
    div = _divergence(s, x, create_graph=create_graph)
    per = (s * s).sum(-1) + 2 * div
    if w is None:
        return per.mean()
    return (w * per).sum() / w.sum()


def __getattr__(name):
    # learned models live outside solvers/: the score network is sciml.pinns.networks.ScoreMLP (an MLP)
    # and the score-based particle method, which trains it, sciml.pinns.score_method; imported
    # lazily (pinns imports this module)
    if name == "ScoreMLP":
        from ..pinns.networks import ScoreMLP

        return ScoreMLP
    if name == "score_method":
        from ..pinns.score_method import score_method

        return score_method
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
