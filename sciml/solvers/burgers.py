"""1D viscous Burgers: batched periodic pseudo-spectral solver and the exact Cole-Hopf solution.

* :class:`Burgers1D` solves ``u_t + (u^2 / 2)_x = nu u_xx`` on the periodic unit interval
  ``[0, 1)`` (the FNO setting: ``nu = 0.1``, GRF initial data, 8192 points), Fourier
  pseudo-spectral with the 2/3 rule on ``u^2`` and the time schemes of
  :mod:`sciml.solvers.navier_stokes` (ETDRK4 by default; the shared engine is :mod:`sciml.solvers.exponential`).
* :func:`burgers_exact` is the exact solution of the Raissi et al. benchmark
  ``u_t + u u_x = nu u_xx`` on ``[-1, 1]``, ``u(x, 0) = -sin(pi x)``, ``u(+-1, t) = 0``, by the
  Cole-Hopf transform evaluated with Gauss-Hermite quadrature in log-sum-exp form.
"""
from __future__ import annotations

import math

import numpy as np
import scipy.special
import torch

from .._util.validation import check_float
from .exponential import _check_record_times, _ExponentialStepper

__all__ = ["Burgers1D", "burgers_exact", "burgers_grid"]


def burgers_grid(resolution: int) -> np.ndarray:
    """Periodic grid ``x_i = i / n`` on ``[0, 1)``, ``(n,)``."""
    return np.arange(resolution) / resolution


class Burgers1D(_ExponentialStepper):
    """Batched periodic viscous Burgers solver on ``[0, 1)``.

    resolution: grid points ``n`` (even). viscosity: ``nu > 0``.
    scheme: ``"etdrk4"`` (default), ``"rk4-cn"`` (integrating-factor RK4) or ``"imex-euler"``.
    dt: fixed step or ``None`` (per-sample CFL-adaptive, ``dt * max|u| * k_eff <= cfl`` with
    ``k_eff = min(k_c, max|u| / nu)``: faster modes are damped by the exact diffusion). ``max_dt``
    bounds the adaptive step. device / dtype: where and in what precision to compute.

    :meth:`solve` maps ``u0`` ``(B, n)`` or ``(n,)`` to ``(B, T, n)``.
    """

    def __init__(self, resolution: int, viscosity: float, *, scheme: str = "etdrk4", dt: float | None = None,
                 cfl: float | None = None, max_dt: float = 0.01, device=None, dtype: torch.dtype = torch.float64):
        n = self._configure(resolution, viscosity, scheme, dt, cfl, max_dt, device, dtype, ndim=1)
        k = torch.fft.rfftfreq(n, d=1.0 / n, dtype=torch.float64, device=self.device)
        self.k = (2 * math.pi * k).to(dtype)
        self.dealias = (k <= (2.0 / 3.0) * (n // 2)).to(dtype)
        self.L = (-self.viscosity * (2 * math.pi * k) ** 2).to(dtype)
        self.k_c = 2 * math.pi * math.floor((2.0 / 3.0) * (n // 2))
        self.last_steps = None

    def _to_spectral(self, u):
        return self._each_sample(torch.fft.rfft, u)

    def _to_physical(self, uh):
        return self._each_sample(lambda v: torch.fft.irfft(v, n=self.n), uh)

    def _rhs(self, uh, need_speed):
        if self._per_sample and uh.shape[0] > 1:
            parts = [self._rhs(uh[b:b + 1], need_speed) for b in range(uh.shape[0])]
            return torch.cat([p[0] for p in parts]), (torch.cat([p[1] for p in parts]) if need_speed else None)
        u = self._to_physical(uh)
        nh = (-0.5j * self.k * self.dealias) * torch.fft.rfft(u * u)
        return nh, (u.abs().amax(dim=-1) if need_speed else None)

    def _k_eff(self, speed):
        if self.scheme == "imex-euler":
            return torch.full_like(speed, self.k_c)
        return torch.clamp(torch.minimum(torch.full_like(speed, self.k_c), speed / self.viscosity), min=2 * math.pi)

    def _as_batch(self, u0):
        u = torch.as_tensor(u0)
        if u.ndim == 1:
            u = u[None]
        if u.ndim != 2 or u.shape[-1] != self.n:
            raise ValueError(f"u0 must have shape (B, {self.n}) or ({self.n},), got {tuple(u.shape)}")
        if not torch.is_floating_point(u):
            u = u.to(torch.float64)
        if not bool(torch.isfinite(u).all()):
            raise ValueError("u0 must be finite")
        return u.to(device=self.device, dtype=self._real_dtype)

    def solve(self, u0, record_times, *, t0: float = 0.0, callback=None):
        """Solution at ``record_times`` (strictly increasing, ``>= t0``).

        u0: ``(B, n)`` or ``(n,)``. Returns ``(B, T, n)``: a tensor with ``u0``'s dtype/device when
        ``u0`` is a tensor, else a float64 numpy array. ``self.last_steps``: steps per sample.
        """
        is_tensor = isinstance(u0, torch.Tensor)
        u = self._as_batch(u0)
        rt = _check_record_times(record_times, t0)
        uh = self._to_spectral(u)
        self._check_fixed_dt(uh)
        out = self._integrate(uh, rt, float(t0), callback)
        if is_tensor:
            return out.to(dtype=u0.dtype if torch.is_floating_point(u0) else out.dtype, device=u0.device)
        return out.double().cpu().numpy()


def burgers_exact(x, t, viscosity: float = 0.01 / np.pi, *, n_nodes: int = 400) -> np.ndarray:
    """Exact solution of ``u_t + u u_x = nu u_xx`` on ``[-1, 1]``, ``u0 = -sin(pi x)``, ``u(+-1) = 0``.

    Cole-Hopf: with ``eta = 2 sqrt(nu t) z``,
    ``u = -int sin(pi (x - eta)) g(x - eta) e^{-z^2} dz / int g(x - eta) e^{-z^2} dz``,
    ``g(y) = exp(-cos(pi y) / (2 pi nu))``, evaluated with ``n_nodes`` Gauss-Hermite nodes; the
    weights ``e^{+-1/(2 pi nu)}`` (``e^{+-50}`` at the benchmark's ``nu = 0.01/pi``) are combined
    in log-sum-exp form, so nothing overflows. ``u(x, 0) = -sin(pi x)`` exactly.

    x, t: broadcastable arrays (``x`` in ``[-1, 1]``, ``t >= 0``, dimensionless). Returns their
    broadcast shape, float64.
    """
    nu = check_float(viscosity, "viscosity", min=0, min_open=True)
    if isinstance(n_nodes, bool) or not isinstance(n_nodes, (int, np.integer)) or n_nodes < 8:
        raise ValueError(f"n_nodes must be an integer >= 8, got {n_nodes!r}")
    x = np.asarray(x, dtype=np.float64)
    t = np.asarray(t, dtype=np.float64)
    if np.any(t < 0) or not np.all(np.isfinite(t)):
        raise ValueError("t must be finite and >= 0")
    xb, tb = np.broadcast_arrays(x, t)
    out = -np.sin(np.pi * xb)
    pos = tb > 0
    if not np.any(pos):
        return out.copy()
    z, w = scipy.special.roots_hermite(int(n_nodes))
    keep = w > 0
    z, logw = z[keep], np.log(w[keep])
    xs, ts = xb[pos].ravel(), tb[pos].ravel()
    res = np.empty(xs.size)
    step = max(1, 2_000_000 // z.size)
    for s in range(0, xs.size, step):
        xx, tt = xs[s:s + step, None], ts[s:s + step, None]
        y = xx - 2.0 * np.sqrt(nu * tt) * z[None, :]
        g = logw[None, :] - np.cos(np.pi * y) / (2 * np.pi * nu)
        g -= g.max(axis=1, keepdims=True)
        e = np.exp(g)
        res[s:s + step] = -np.sum(np.sin(np.pi * y) * e, axis=1) / np.sum(e, axis=1)
    out = np.array(out)
    out[pos] = res.reshape(xb[pos].shape)
    return out
