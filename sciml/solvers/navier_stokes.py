"""2D incompressible Navier-Stokes in vorticity form on the unit torus, pseudo-spectral, batched in torch.

Equation (dimensionless, periodic on ``[0, 1)^2``)::

    w_t + u . grad w = nu Laplace w + f,    u = (psi_y, -psi_x),    -Laplace psi = w.

Space: Fourier pseudo-spectral (``torch.fft.rfft2``) on an ``n x n`` grid, the advection
term ``u . grad w`` formed in physical space and truncated with the 2/3 rule (modes with
``|k_x| <= n/3`` and ``|k_y| <= n/3`` kept, as in the FNO data scripts). Axis ``-2`` of a field
is ``x`` and axis ``-1`` is ``y``: ``w[..., i, j] = w(x_i, y_j)`` with ``x_i = i / n``.

Time (``scheme=``):

* ``"etdrk4"`` (default): exponential time differencing RK4 of Cox & Matthews (2002); the
  phi-function coefficients are evaluated by the contour integrals of Kassam & Trefethen
  (2005). Diffusion is integrated exactly; order 4.
* ``"rk4-cn"``: integrating-factor RK4 (Lawson): classical RK4 applied to ``exp(-t L) w_hat``,
  so diffusion is again exact (the name keeps the family of implicit-diffusion RK4 schemes;
  this one uses the exact exponential instead of a Crank-Nicolson factor); order 4.
* ``"imex-euler"``: the scheme of the FNO data generator (Li et al. 2021): explicit Euler for
  advection and forcing, Crank-Nicolson for diffusion, the advection term dealiased, with
  the operations in the published order (stream function, velocity ``psi_y, -psi_x``,
  gradient of ``w``, product, FFT, dealias, CN update). Order 1. ``dt=1e-4`` regenerates
  the published data (up to floating-point round-off).

Step size: a fixed ``dt``, or ``dt=None`` for a CFL-adaptive step chosen **per sample**
(see :meth:`NavierStokes2D.cfl_dt`), drawn from a geometric ladder ``max_dt * 2^(-j/8)``
so that coefficient sets are reused, and shortened to land exactly on every record time.
Each sample of a batch advances with its own step sequence, which depends on that sample
alone, so a batched solve returns for each sample what a solve of that sample alone returns.
On CPU the transforms run sample by sample (MKL's batched FFT rounds differently for different
batch sizes; one at a time it is no slower on CPU, measured), which makes the agreement
bit-for-bit (tested). On CUDA the FFTs are batched (that is where batching pays) and a
sample agrees with its lone solve to round-off; datasets stay bit-identical whatever the
executor because the recipe solves fixed chunks.
"""
from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch

from .exponential import (  # noqa: F401 (re-exported)
    CFL_LIMITS,
    DEFAULT_CFL,
    MAX_STEPS,
    SCHEMES,
    _check_record_times,
    _check_resolution,
    _ExponentialStepper,
    phi_coefficients,
)

__all__ = ["NavierStokes2D", "fno_forcing", "taylor_green_vorticity", "enstrophy", "energy", "SCHEMES",
           "CFL_LIMITS", "phi_coefficients"]


def fno_forcing(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The FNO forcing ``0.1 (sin(2 pi (x + y)) + cos(2 pi (x + y)))`` (dimensionless)."""
    return 0.1 * (np.sin(2 * np.pi * (x + y)) + np.cos(2 * np.pi * (x + y)))


def taylor_green_vorticity(resolution: int, m: int = 1, t: float = 0.0, viscosity: float = 0.0) -> np.ndarray:
    """Taylor-Green vorticity ``2 k^2 cos(k x) cos(k y) exp(-2 nu k^2 t)``, ``k = 2 pi m``, on the ``n x n`` grid.

    With ``f = 0`` it is an exact solution (the advection term vanishes). Returns ``(n, n)`` float64.
    """
    x = np.arange(resolution) / resolution
    k = 2 * np.pi * m
    return 2 * k ** 2 * np.cos(k * x)[:, None] * np.cos(k * x)[None, :] * np.exp(-2 * viscosity * k ** 2 * t)


class NavierStokes2D(_ExponentialStepper):
    """Batched pseudo-spectral solver of 2D incompressible Navier-Stokes (vorticity form) on ``[0, 1)^2``.

    resolution: grid points per side ``n`` (even).
    viscosity: ``nu > 0`` (dimensionless, ``1/Re``).
    forcing: ``None`` (zero), ``"fno"`` (:func:`fno_forcing`), a callable ``f(x, y)`` on broadcast grid
        arrays (``x`` along axis 0), or an ``(n, n)`` array / tensor.
    scheme: ``"etdrk4"``, ``"rk4-cn"`` or ``"imex-euler"`` (see the module docstring).
    dt: fixed step, or ``None`` for the per-sample CFL-adaptive step.
    cfl: target CFL number ``dt * max(|u| + |v|) * k_c`` of the adaptive step (scheme default
        :data:`DEFAULT_CFL`). ``max_dt``: upper bound of the adaptive step (default 0.05).
    device, dtype: where and in what precision to compute (float64 or float32).

    :meth:`solve` maps initial vorticity ``(B, n, n)`` or ``(n, n)`` to ``(B, T, n, n)``.
    """

    _fno_mean_mode = True

    def __init__(self, resolution: int, viscosity: float, forcing=None, *, scheme: str = "etdrk4",
                 dt: float | None = None, cfl: float | None = None, max_dt: float = 0.05, device=None,
                 dtype: torch.dtype = torch.float64):
        n = self._configure(resolution, viscosity, scheme, dt, cfl, max_dt, device, dtype, ndim=2)
        self._complex_dtype = torch.complex128 if dtype == torch.float64 else torch.complex64
        rdt, dev = dtype, self.device
        kx = torch.fft.fftfreq(n, d=1.0 / n, dtype=torch.float64, device=dev)  # ..., -n/2 at index n/2 (as FNO)
        ky = torch.fft.rfftfreq(n, d=1.0 / n, dtype=torch.float64, device=dev)
        KX, KY = torch.meshgrid(kx, ky, indexing="ij")
        self.kx, self.ky = (2 * math.pi * KX).to(rdt), (2 * math.pi * KY).to(rdt)
        lap = 4 * math.pi ** 2 * (KX ** 2 + KY ** 2)  # -Laplacian symbol
        lap[0, 0] = 1.0  # as in the FNO script: the mean mode's stream function is never differentiated
        self.lap = lap.to(rdt)
        self.inv_lap = (1.0 / lap).to(rdt)
        kmax = n // 2
        self.dealias = ((KX.abs() <= (2.0 / 3.0) * kmax) & (KY.abs() <= (2.0 / 3.0) * kmax)).to(rdt)
        Lfull = -self.viscosity * 4 * math.pi ** 2 * (KX ** 2 + KY ** 2)
        self.L = Lfull.to(rdt)
        self.k_c = 2 * math.pi * math.floor((2.0 / 3.0) * kmax)  # largest kept angular wavenumber per axis
        self.forcing = self._forcing_grid(forcing)
        self.f_h = None if self.forcing is None else torch.fft.rfft2(self.forcing)
        self.last_steps = None

    # -- setup helpers --------------------------------------------------------------------------------
    def _forcing_grid(self, forcing):
        n = self.n
        if forcing is None:
            return None
        if isinstance(forcing, str):
            if forcing != "fno":
                raise ValueError(f"forcing must be None, 'fno', a callable or an (n, n) array, got {forcing!r}")
            forcing = fno_forcing
        if callable(forcing):
            x = np.arange(n) / n
            arr = np.asarray(forcing(x[:, None], x[None, :]), dtype=np.float64)
            arr = np.broadcast_to(arr, (n, n))
        else:
            arr = forcing.detach().cpu().numpy() if isinstance(forcing, torch.Tensor) else np.asarray(forcing)
        if arr.shape != (n, n) or not np.all(np.isfinite(arr)):
            raise ValueError(f"forcing must give finite values of shape {(n, n)}, got shape {arr.shape}")
        return torch.tensor(np.array(arr, dtype=np.float64), dtype=self._real_dtype, device=self.device)

    # -- spectral pieces ------------------------------------------------------------------------------
    def _to_spectral(self, w):
        return self._each_sample(torch.fft.rfft2, w)

    def _to_physical(self, wh):
        return self._each_sample(lambda v: torch.fft.irfft2(v, s=(self.n, self.n)), wh)

    def velocity(self, w) -> tuple[torch.Tensor, torch.Tensor]:
        """Velocity ``(u, v) = (psi_y, -psi_x)`` of vorticity ``w`` (..., n, n); each (..., n, n)."""
        wh = self._to_spectral(torch.as_tensor(w, dtype=self._real_dtype, device=self.device))
        psi = wh * self.inv_lap
        uv = self._to_physical(torch.stack([1j * self.ky * psi, -1j * self.kx * psi]))
        return uv[0], uv[1]

    def _advection(self, wh, need_speed):
        """Dealiased spectrum of ``u . grad w`` (FNO ordering) and per-sample ``max(|u| + |v|)``."""
        if self._per_sample and wh.shape[0] > 1:
            parts = [self._advection(wh[b:b + 1], need_speed) for b in range(wh.shape[0])]
            return torch.cat([p[0] for p in parts]), (torch.cat([p[1] for p in parts]) if need_speed else None)
        psi = wh * self.inv_lap
        spec = torch.stack([1j * self.ky * psi, -1j * self.kx * psi, 1j * self.kx * wh, 1j * self.ky * wh])
        u, v, wx, wy = torch.fft.irfft2(spec, s=(self.n, self.n))  # (4, B, n, n); B = 1 on CPU
        adv = torch.fft.rfft2(u * wx + v * wy) * self.dealias
        speed = (u.abs() + v.abs()).amax(dim=(-2, -1)) if need_speed else None
        return adv, speed

    def _rhs(self, wh, need_speed):
        adv, speed = self._advection(wh, need_speed)
        nh = -adv if self.f_h is None else self.f_h - adv
        return nh, speed

    def _k_eff(self, speed):
        # modes with nu k^2 >= speed k are damped by the exactly integrated diffusion faster than they
        # are advected, so the CFL step is set by min(k_c, speed / nu) (never below 2 pi, the lowest mode)
        return torch.clamp(torch.minimum(torch.full_like(speed, self.k_c), speed / self.viscosity),
                           min=2 * math.pi) if self.scheme != "imex-euler" else torch.full_like(speed, self.k_c)

    # -- public ---------------------------------------------------------------------------------------
    def cfl_number(self, w, dt: float) -> torch.Tensor:
        """Per-sample CFL number ``dt * max(|u| + |v|) * k_eff`` of vorticity ``w`` (B, n, n) for step ``dt``.

        ``k_eff = k_c = 2 pi floor(n/3)`` (the largest resolved wavenumber) for ``imex-euler``; for the
        exponential schemes ``min(k_c, max(|u|+|v|)/nu)``, since faster modes are damped exactly.
        """
        wh = self._to_spectral(self._as_batch(w))
        _, speed = self._rhs(wh, True)
        return dt * speed * self._k_eff(speed)

    def cfl_dt(self, w) -> torch.Tensor:
        """The adaptive step ``min(max_dt, cfl / (max(|u|+|v|) k_eff))`` per sample, before the ladder rounding."""
        wh = self._to_spectral(self._as_batch(w))
        _, speed = self._rhs(wh, True)
        return torch.clamp(self.cfl / (speed * self._k_eff(speed)), max=self.max_dt)

    def _as_batch(self, w0):
        w = torch.as_tensor(w0)
        if w.ndim == 2:
            w = w[None]
        if w.ndim != 3 or tuple(w.shape[-2:]) != (self.n, self.n):
            raise ValueError(f"w0 must have shape (B, {self.n}, {self.n}) or ({self.n}, {self.n}), "
                             f"got {tuple(w.shape)}")
        if not torch.is_floating_point(w):
            w = w.to(torch.float64)
        if not bool(torch.isfinite(w).all()):
            raise ValueError("w0 must be finite")
        return w.to(device=self.device, dtype=self._real_dtype)

    def solve(self, w0, record_times, *, t0: float = 0.0, callback: Callable | None = None):
        """Vorticity at ``record_times``.

        w0: initial vorticity ``(B, n, n)`` or ``(n, n)`` (numpy or torch; dimensionless).
        record_times: strictly increasing times ``>= t0``; a time equal to ``t0`` records ``w0``.
        callback: optional ``callback(sample, frames_done)`` after each recorded frame.

        Returns ``(B, T, n, n)``: a torch tensor with ``w0``'s dtype and device when ``w0`` is a tensor,
        a float64 numpy array when it is not. ``self.last_steps`` holds the steps taken per sample.
        """
        is_tensor = isinstance(w0, torch.Tensor)
        w = self._as_batch(w0)
        rt = _check_record_times(record_times, t0)
        wh = self._to_spectral(w)
        self._check_fixed_dt(wh)
        out = self._integrate(wh, rt, float(t0), callback)
        if is_tensor:
            return out.to(dtype=w0.dtype if torch.is_floating_point(w0) else out.dtype, device=w0.device)
        return out.double().cpu().numpy()


def enstrophy(w) -> np.ndarray:
    """Enstrophy ``(1/2) * mean(w^2)`` over the unit torus per sample; ``w`` (..., n, n)."""
    w = np.asarray(w)
    return 0.5 * np.mean(w ** 2, axis=(-2, -1))


def energy(w) -> np.ndarray:
    """Kinetic energy ``(1/2) * mean(|u|^2) = (1/2) sum |w_k|^2 / |2 pi k|^2`` per sample; ``w`` (..., n, n)."""
    w = np.asarray(w)
    n = w.shape[-1]
    wh = np.fft.fft2(w) / n ** 2
    k = np.fft.fftfreq(n, 1.0 / n)
    k2 = 4 * np.pi ** 2 * (k[:, None] ** 2 + k[None, :] ** 2)
    k2[0, 0] = np.inf
    return 0.5 * np.sum(np.abs(wh) ** 2 / k2, axis=(-2, -1))
