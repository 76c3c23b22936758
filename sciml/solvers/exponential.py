"""Exponential time integration of ``v_t = L v + N(v)`` with diagonal ``L`` in spectral space.

The one exponential-integrator engine of sciml, shared by the pseudo-spectral solvers
(:class:`~sciml.solvers.navier_stokes.NavierStokes2D`, :class:`~sciml.solvers.burgers.Burgers1D`)
and by the Allen-Cahn reference of :mod:`sciml.pinns.problems`:

* :func:`phi_coefficients` -- the ETDRK4 coefficient functions of ``z = h L`` by the contour
  means of Kassam & Trefethen (2005), free of the cancellation near ``z = 0``;
* :func:`etdrk4_coefficients` and :func:`etdrk4_step` -- one step of ETDRK4 (Cox & Matthews
  2002) for numpy arrays or torch tensors, given the nonlinear term ``N``;
* :class:`_ExponentialStepper` -- the batched, CFL-adaptive time-marching engine of the spectral
  solvers (ETDRK4, integrating-factor RK4, the FNO IMEX-Euler scheme), with per-sample step
  sequences, record times hit exactly, and a bound on the number of steps (:data:`MAX_STEPS`)
  checked before any work.
"""
from __future__ import annotations

import math
from collections import OrderedDict

import numpy as np
import torch

from .._util.validation import check_float, check_step_count

__all__ = ["SCHEMES", "CFL_LIMITS", "DEFAULT_CFL", "MAX_STEPS", "phi_coefficients", "etdrk4_coefficients",
           "etdrk4_step"]

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
#: Largest number of time steps one sample may take (about a day of work at 10 ms a step); a
#: fixed ``dt`` (or ``max_dt``) implying more is refused before any work, an adaptive run that
#: reaches it stops with a RuntimeError.
MAX_STEPS = 10_000_000


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


def etdrk4_coefficients(z: torch.Tensor, h: float, contour_points: int = 32) -> dict[str, torch.Tensor]:
    """ETDRK4 step coefficients for ``z = h L``: ``E, E2`` and ``h`` times ``Q, f1, f2, f3``.

    z: real tensor (any shape), h: the step. Float64 tensors the shape of ``z``; see
    :func:`phi_coefficients` for the formulas.
    """
    ph = phi_coefficients(z, contour_points)
    return {"E": ph["E"], "E2": ph["E2"], "Q": h * ph["Q"], "f1": h * ph["f1"], "f2": h * ph["f2"],
            "f3": h * ph["f3"]}


def etdrk4_step(v, n1, N, c):
    """One ETDRK4 step (Cox & Matthews 2002) of ``v_t = L v + N(v)`` in spectral space.

    v: spectral state; n1: ``N(v)`` (already evaluated, e.g. together with a CFL speed);
    N: callable giving the nonlinear term of a state; c: :func:`etdrk4_coefficients` (arrays
    broadcastable against ``v``; numpy or torch, matching ``v``). Returns the new state.
    """
    E, E2, Q = c["E"], c["E2"], c["Q"]
    a = E2 * v + Q * n1
    na = N(a)
    b = E2 * v + Q * na
    nb = N(b)
    cc = E2 * a + Q * (2 * nb - n1)
    nc = N(cc)
    return E * v + c["f1"] * n1 + 2 * c["f2"] * (na + nb) + c["f3"] * nc


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
        self.viscosity = check_float(viscosity, "viscosity", min=0, min_open=True)
        if scheme not in SCHEMES:
            raise ValueError(f"scheme must be one of {SCHEMES}, got {scheme!r}")
        self.scheme = scheme
        self.dt = None if dt is None else check_float(dt, "dt", min=0, min_open=True)
        self.cfl = check_float(DEFAULT_CFL[scheme] if cfl is None else cfl, "cfl", min=0, min_open=True)
        if self.dt is None and self.cfl > CFL_LIMITS[scheme]:
            raise ValueError(f"cfl must be <= {CFL_LIMITS[scheme]} for scheme {scheme!r}, got {cfl!r}")
        self.max_dt = check_float(max_dt, "max_dt", min=0, min_open=True)
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
            c = etdrk4_coefficients(z, dt, self.contour_points)
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
            return etdrk4_step(vh, n1, lambda v: self._rhs(v, False)[0], coefs)
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

    def check_steps(self, t_end: float, t0: float = 0.0) -> int:
        """Fewest steps a solve from ``t0`` to ``t_end`` takes; ValueError above :data:`MAX_STEPS`.

        With a fixed ``dt`` the count is ``(t_end - t0) / dt`` (the error names ``dt``); with the
        adaptive step it is at least ``(t_end - t0) / max_dt`` (the error names ``max_dt``).
        Called by ``solve`` before any step, and usable on its own to validate parameters.
        """
        span = float(t_end) - float(t0)
        if not span > 0:
            return 0
        if self.dt is not None:
            return check_step_count(span, self.dt, max_steps=MAX_STEPS, name="dt", span_name="t_end - t0")
        return check_step_count(span, self.max_dt, max_steps=MAX_STEPS, name="max_dt", span_name="t_end - t0")

    def _integrate(self, vh: torch.Tensor, record_times: np.ndarray, t0: float, callback=None) -> torch.Tensor:
        """March every sample of ``vh`` (B, *spectral) and return physical records ``(B, T, *grid)``.

        On CPU, transforms smaller than ``_SMALL_FFT`` values run on one thread: multi-threaded small
        FFTs are up to 100x slower on a busy machine (measured), so the thread count is set to 1 for
        the solve and restored afterwards.
        """
        self.check_steps(record_times[-1], t0)
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
            if nstep > MAX_STEPS:
                raise RuntimeError(
                    f"{type(self).__name__}: more than MAX_STEPS={MAX_STEPS} steps before t={record_times[-1]:g} "
                    f"(the adaptive step fell to {min(dts):.3g}; scheme {self.scheme!r}); the flow is under-resolved")
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
