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
from collections import OrderedDict
from typing import Callable

import numpy as np
import torch

__all__ = ["NavierStokes2D", "fno_forcing", "taylor_green_vorticity", "enstrophy", "energy", "SCHEMES",
           "CFL_LIMITS", "phi_coefficients"]

SCHEMES = ("etdrk4", "rk4-cn", "imex-euler")

#: Largest allowed CFL number ``dt * max(|u| + |v|) * k_eff`` for a *fixed* ``dt`` (see
#: :meth:`NavierStokes2D.cfl_number`); a larger one raises ValueError before any step. RK4-type
#: schemes are stable on the imaginary axis up to ``2 sqrt 2``. Explicit Euler is not stable there
#: at all: with Crank-Nicolson diffusion its frozen-coefficient (von Neumann) bound is
#: ``dt <= 2 nu / max(|u| + |v|)^2``, which the FNO data themselves exceed at nu = 1e-5, so the
#: enforced limit is the advective one and a blow-up during the run raises FloatingPointError.
CFL_LIMITS = {"etdrk4": 2.8, "rk4-cn": 2.8, "imex-euler": 0.25}
#: Default target CFL number of the adaptive step.
DEFAULT_CFL = {"etdrk4": 1.5, "rk4-cn": 1.5, "imex-euler": 0.1}
_LADDER = 8  # adaptive steps are max_dt * 2**(-j / _LADDER)
_CACHE_SIZE = 48  # coefficient sets kept per solver (ladder steps recur; record-time steps do not)
_SMALL_FFT = 2 ** 19  # batch * grid points below which CPU transforms run single-threaded


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


def phi_coefficients(z: torch.Tensor, contour_points: int = 32) -> dict[str, torch.Tensor]:
    """ETDRK4 coefficient functions of ``z = h L`` (real, ``<= 0``), by Kassam-Trefethen contour means.

    Returns ``{"E": e^z, "E2": e^(z/2), "Q": (e^(z/2) - 1)/z, "f1", "f2", "f3"}`` (to be multiplied
    by ``h``), each the shape of ``z``: ``f1 = (-4 - z + e^z (4 - 3z + z^2)) / z^3``,
    ``f2 = (2 + z + e^z (z - 2)) / z^3``, ``f3 = (-4 - 3z - z^2 + e^z (4 - z)) / z^3``. Each is the
    mean over ``contour_points`` points of the upper unit half circle around ``z`` (real part),
    which avoids the cancellation near ``z = 0``.
    """
    r = torch.exp(1j * math.pi * (torch.arange(1, contour_points + 1, dtype=torch.float64, device=z.device) - 0.5)
                  / contour_points)
    zc = z.to(torch.complex128)[..., None] + r
    ez, ez2 = torch.exp(zc), torch.exp(zc / 2)
    z3 = zc ** 3
    out = {
        "E": torch.exp(z.to(torch.float64)),
        "E2": torch.exp(z.to(torch.float64) / 2),
        "Q": ((ez2 - 1) / zc).mean(-1).real,
        "f1": ((-4 - zc + ez * (4 - 3 * zc + zc ** 2)) / z3).mean(-1).real,
        "f2": ((2 + zc + ez * (zc - 2)) / z3).mean(-1).real,
        "f3": ((-4 - 3 * zc - zc ** 2 + ez * (4 - zc)) / z3).mean(-1).real,
    }
    return out


def _check_number(name, value, *, positive=True, allow_none=False):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) or not np.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    if positive and value <= 0:
        raise ValueError(f"{name} must be positive, got {value!r}")
    return float(value)


def _check_resolution(resolution, minimum=4):
    if isinstance(resolution, bool) or not isinstance(resolution, (int, np.integer)):
        raise TypeError(f"resolution must be an integer, got {type(resolution).__name__}")
    if resolution < minimum or resolution % 2:
        raise ValueError(f"resolution must be an even integer >= {minimum}, got {resolution!r}")
    return int(resolution)


def _check_record_times(record_times, t0=0.0) -> np.ndarray:
    rt = np.atleast_1d(np.asarray(record_times, dtype=np.float64))
    if rt.ndim != 1 or rt.size == 0 or not np.all(np.isfinite(rt)):
        raise ValueError("record_times must be a non-empty 1D sequence of finite times")
    if rt[0] < t0 or np.any(np.diff(rt) <= 0):
        raise ValueError(f"record_times must be strictly increasing and >= {t0}, got {rt[:5]}...")
    return rt


class _ExponentialStepper:
    """Batched time stepping of ``v_t = L v + N(v)`` with diagonal real ``L`` in spectral space.

    Subclasses set ``self.L`` (real tensor, the spectral shape), ``self.scheme``, ``self.dt``,
    ``self.cfl``, ``self.max_dt``, ``self.device``, ``self.dtype``, and implement
    ``_rhs(vh, need_speed) -> (N(vh), speed per sample or None)``, ``_k_eff(speed)`` (the
    angular wavenumber that sets the CFL step), ``_to_spectral`` and ``_to_physical``.
    """

    contour_points = 32
    _fno_mean_mode = False  # NS: the FNO script's lap[0, 0] = 1 in the Crank-Nicolson factors

    def _configure(self, resolution, viscosity, scheme, dt, cfl, max_dt, device, dtype, ndim: int) -> int:
        """Validate and store the arguments every stepper shares; returns the resolution ``n``."""
        n = _check_resolution(resolution)
        self.n = n
        self.viscosity = _check_number("viscosity", viscosity)
        if scheme not in SCHEMES:
            raise ValueError(f"scheme must be one of {SCHEMES}, got {scheme!r}")
        self.scheme = scheme
        self.dt = _check_number("dt", dt, allow_none=True)
        self.cfl = _check_number("cfl", DEFAULT_CFL[scheme] if cfl is None else cfl)
        if self.dt is None and self.cfl > CFL_LIMITS[scheme]:
            raise ValueError(f"cfl must be <= {CFL_LIMITS[scheme]} for scheme {scheme!r}, got {cfl!r}")
        self.max_dt = _check_number("max_dt", max_dt)
        if dtype not in (torch.float64, torch.float32):
            raise TypeError(f"dtype must be torch.float64 or torch.float32, got {dtype!r}")
        self._real_dtype = dtype
        self.device = torch.device(device) if device is not None else torch.device("cpu")
        # on CPU transforms run sample by sample so that a batched solve is bit-identical to lone solves
        self._per_sample = self.device.type == "cpu"
        self._grid_shape = (n,) * ndim
        return n

    def _each_sample(self, fn, x):
        """``fn(x)``, applied sample by sample on CPU (bit-identical to lone solves), batched elsewhere."""
        if self._per_sample and x.shape[0] > 1:
            return torch.cat([fn(x[b:b + 1]) for b in range(x.shape[0])])
        return fn(x)

    def _coefficients(self, dt: float) -> dict:
        """Coefficient set for step ``dt`` (cached; computed on the distinct values of ``L``)."""
        cache = self.__dict__.setdefault("_coef_cache", OrderedDict())
        c = cache.get(dt)
        if c is not None:
            cache.move_to_end(dt)
            return c
        while len(cache) >= _CACHE_SIZE:  # least recently used out (a set is 6 arrays of the grid's size)
            cache.popitem(last=False)
        lu, inv = self._L_unique
        z = dt * lu
        if self.scheme == "etdrk4":
            ph = phi_coefficients(z, self.contour_points)
            c = {"E": ph["E"], "E2": ph["E2"], "Q": dt * ph["Q"], "f1": dt * ph["f1"], "f2": dt * ph["f2"],
                 "f3": dt * ph["f3"]}
        elif self.scheme == "rk4-cn":
            c = {"E": torch.exp(z), "E2": torch.exp(z / 2)}
        else:  # imex-euler: the Crank-Nicolson factors (1 -+ dt nu lap / 2) of the FNO script
            half = 0.5 * dt * self.viscosity * self._lap_unique
            c = {"cn_num": 1.0 - half, "cn_den": 1.0 + half}
        rdt = self._real_dtype
        c = {k: v.to(rdt)[inv] for k, v in c.items()}
        c["dt"] = dt
        cache[dt] = c
        return c

    @property
    def _lap_unique(self):
        """``-L / nu`` on the distinct values of ``L``, except 1 for the mean mode (the FNO ``lap[0, 0] = 1``)."""
        lu, _ = self._L_unique
        lap = -lu / self.viscosity
        if not self._fno_mean_mode:
            return lap
        return torch.where(lu == 0, torch.ones_like(lap), lap)

    @property
    def _L_unique(self):
        if "_lu" not in self.__dict__:
            lu, inv = torch.unique(self.L.to(torch.float64), return_inverse=True)
            self.__dict__["_lu"] = (lu, inv)
        return self.__dict__["_lu"]

    # -- one step for a group of samples sharing (or not) a step size --------------------------------
    def _step(self, vh, n1, coefs):
        """Advance ``vh`` one step; ``n1 = N(vh)`` already evaluated; ``coefs`` per-sample stacked or shared."""
        s = self.scheme
        if s == "etdrk4":
            E, E2, Q = coefs["E"], coefs["E2"], coefs["Q"]
            a = E2 * vh + Q * n1
            na, _ = self._rhs(a, False)
            b = E2 * vh + Q * na
            nb, _ = self._rhs(b, False)
            c = E2 * a + Q * (2 * nb - n1)
            nc, _ = self._rhs(c, False)
            return E * vh + coefs["f1"] * n1 + 2 * coefs["f2"] * (na + nb) + coefs["f3"] * nc
        if s == "rk4-cn":
            E, E2, h = coefs["E"], coefs["E2"], coefs["h"]
            k2, _ = self._rhs(E2 * (vh + (h / 2) * n1), False)
            k3, _ = self._rhs(E2 * vh + (h / 2) * k2, False)
            k4, _ = self._rhs(E * vh + h * (E2 * k3), False)
            return E * vh + (h / 6) * (E * n1 + 2 * E2 * (k2 + k3) + k4)
        return (coefs["h"] * n1 + coefs["cn_num"] * vh) / coefs["cn_den"]

    def _gather(self, dts: list[float]):
        """Coefficients for samples with steps ``dts``: shared tensors if all equal, else stacked per sample."""
        rdt = self._real_dtype
        if all(d == dts[0] for d in dts):
            c = dict(self._coefficients(dts[0]))
            c["h"] = torch.tensor(dts[0], dtype=rdt, device=self.device)
            return c
        sets = [self._coefficients(d) for d in dts]
        c = {k: torch.stack([s[k] for s in sets]) for k in sets[0] if k != "dt"}
        c["h"] = torch.tensor(dts, dtype=rdt, device=self.device).reshape((-1,) + (1,) * (self.L.ndim))
        return c

    def _ladder_dt(self, dt_cfl: float) -> float:
        """Largest ``max_dt * 2^(-j/8)`` not above ``dt_cfl``."""
        if dt_cfl >= self.max_dt:
            return self.max_dt
        j = math.ceil(_LADDER * math.log2(self.max_dt / dt_cfl) - 1e-12)
        return self.max_dt * 2.0 ** (-j / _LADDER)

    def _check_fixed_dt(self, vh):
        """ValueError if a fixed ``dt`` exceeds the scheme's CFL limit for the initial state."""
        if self.dt is None:
            return
        _, speed = self._rhs(vh, True)
        cfl = self.dt * speed * self._k_eff(speed)
        worst = float(cfl.max())
        if worst > CFL_LIMITS[self.scheme]:
            raise ValueError(
                f"dt={self.dt:g} violates the stability limit of scheme {self.scheme!r}: CFL number "
                f"dt*max(|u|)*k_c = {worst:.3g} > {CFL_LIMITS[self.scheme]} for the initial state; "
                f"use dt <= {self.dt * CFL_LIMITS[self.scheme] / worst:.3g} or dt=None (adaptive)")

    def _integrate(self, vh: torch.Tensor, record_times: np.ndarray, t0: float, callback=None) -> torch.Tensor:
        """March every sample of ``vh`` (B, *spectral) and return physical records ``(B, T, *grid)``.

        On CPU, transforms smaller than ``_SMALL_FFT`` values run on one thread: multi-threaded small
        FFTs are up to 100x slower on a busy machine (measured), so the thread count is set to 1 for
        the solve and restored afterwards.
        """
        small = self.device.type == "cpu" and vh.shape[0] * math.prod(self._grid_shape) < _SMALL_FFT
        threads = torch.get_num_threads()
        if small and threads > 1:
            torch.set_num_threads(1)
        try:
            return self._march(vh, record_times, t0, callback)
        finally:
            if small and threads > 1:
                torch.set_num_threads(threads)

    def _march(self, vh, record_times, t0, callback):
        B = vh.shape[0]
        T = record_times.size
        out = torch.empty((B, T) + self._grid_shape, dtype=self._real_dtype, device=self.device)
        t = [float(t0)] * B
        nxt = [0] * B  # next record index per sample
        steps = [0] * B
        # frames at the initial time
        for b in range(B):
            while nxt[b] < T and record_times[nxt[b]] <= t[b]:
                out[b, nxt[b]] = self._to_physical(vh[b:b + 1])[0]
                nxt[b] += 1
        fixed = self.dt
        nstep = 0
        while True:
            active = [b for b in range(B) if nxt[b] < T]
            if not active:
                break
            idx = None if len(active) == B else torch.tensor(active, device=self.device)
            sub = vh if idx is None else vh.index_select(0, idx)
            n1, speed = self._rhs(sub, fixed is None)
            dts, hits = [], []
            if fixed is None:
                sp = speed.double().cpu().numpy()
                keff = self._k_eff(speed).double().cpu().numpy()
            for j, b in enumerate(active):
                if fixed is None:
                    target = self.cfl / (sp[j] * keff[j]) if sp[j] * keff[j] > 0 else self.max_dt
                    h = self._ladder_dt(target)
                else:
                    h = fixed
                rem = record_times[nxt[b]] - t[b]
                hit = False
                if rem <= h * (1 + 1e-6):  # (1e-6: summed fixed steps drift by ~1e-9 dt over 10^4 steps)
                    h, hit = (h if abs(rem - h) <= 1e-6 * h else rem), True
                elif fixed is None and rem < 2 * h:
                    h = rem / 2  # two equal steps to the record time rather than a full one and a sliver
                dts.append(h)
                hits.append(hit)
            new = self._step(sub, n1, self._gather(dts))
            nstep += 1
            if (nstep % 16 == 0 or any(hits)) and not bool(torch.isfinite(new.real).all()):
                raise FloatingPointError(
                    f"{type(self).__name__}: the solution became non-finite near t={min(t[b] for b in active):.4g} "
                    f"(scheme {self.scheme!r}, dt={dts[0]:.3g}); decrease dt or cfl")
            if idx is None:
                vh = new
            else:
                vh = vh.index_copy(0, idx, new)
            for j, b in enumerate(active):
                steps[b] += 1
                if hits[j]:
                    t[b] = float(record_times[nxt[b]])
                    out[b, nxt[b]] = self._to_physical(new[j:j + 1])[0]
                    nxt[b] += 1
                    if callback is not None:
                        callback(b, nxt[b])
                else:
                    t[b] += dts[j]
        self.last_steps = steps
        return out


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
            raise ValueError(f"w0 must have shape (B, {self.n}, {self.n}) or ({self.n}, {self.n}), got {tuple(w.shape)}")
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
