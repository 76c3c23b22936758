"""The deterministic blob particle method of Carrillo, Hu, Wang & Wu (2020) and the time-step checks
shared by the particle methods."""
from __future__ import annotations

import math
import time as _time
from collections.abc import Sequence

import torch

from ..._util.validation import check_float, check_step_count
from ._common import _CHUNK_ELEMS, _as_tensor, _check_particles
from .diagnostics import moments
from .kernel import landau_velocity


def blob_eps(h: float) -> float:
    """Mollifier variance ``eps = 0.64 h^1.98`` (the choice of Carrillo, Hu, Wang & Wu 2020)."""
    return 0.64 * check_float(h, "h", min=0, min_open=True) ** 1.98




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
    eps = check_float(eps, "eps", min=0, min_open=True)
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
    t_end = check_float(t_end, "t_end", min=0, min_open=True)
    dt = check_float(dt, "dt", min=0, min_open=True)
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
    eps = check_float(eps, "eps", min=0, min_open=True)
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
    from ..._util.progress import progress as _bar

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
