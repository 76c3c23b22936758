"""Verification cases of the tracer transport: solid-body rotation (Williamson et al. 1992, test 1)
and the Nair-Lauritzen (2010) deformational flow, with their initial fields, stream functions
and the normalised error norms, and :func:`run_2d_case`, which runs one case over a period.

Each case's exact solution after one period is its initial field, so the error norms measure
the scheme's error and their ratio across resolutions its order (``tests/solvers/test_transport.py``,
``benchmarks/transport.py``).
"""
from __future__ import annotations

import numpy as np

from ..grids import LatLonGrid
from .mass_fluxes import fluxes_from_streamfunction
from .transport import advect

__all__ = [
    "DAY",
    "cosine_bell",
    "error_norms",
    "gaussian_hills",
    "nair_lauritzen_cosine_bells",
    "nair_lauritzen_streamfunction",
    "run_2d_case",
    "williamson1_streamfunction",
]

DAY = 86400.0


def error_norms(h, h_exact, area):
    """Williamson et al. (1992) normalised errors with area-weighted integrals ``I``:
    ``l1 = I|h - hT| / I|hT|``, ``l2 = sqrt(I (h - hT)^2) / sqrt(I hT^2)``,
    ``linf = max|h - hT| / max|hT|``. Returns a dict."""
    h, he, w = (np.asarray(x, dtype=np.float64) for x in (h, h_exact, area))
    d = h - he
    return {
        "l1": float((np.abs(d) * w).sum() / (np.abs(he) * w).sum()),
        "l2": float(np.sqrt((d * d * w).sum() / (he * he * w).sum())),
        "linf": float(np.abs(d).max() / np.abs(he).max()),
    }


def _great_circle(lon, lat, lon_c, lat_c):
    c = np.sin(lat_c) * np.sin(lat) + np.cos(lat_c) * np.cos(lat) * np.cos(lon - lon_c)
    return np.arccos(np.clip(c, -1.0, 1.0))


def cosine_bell(grid: LatLonGrid, *, lon_c: float = 1.5 * np.pi, lat_c: float = 0.0, h0: float = 1000.0,
                radius=None):
    """Williamson test-1 cosine bell ``h = h0/2 (1 + cos(pi r / R))`` for ``r < R = a/3``, at the
    cell centres, ``(nlat, nlon)``."""
    lon, lat = np.meshgrid(grid.lon_rad, grid.lat_rad)
    R = grid.radius / 3.0 if radius is None else radius
    r = grid.radius * _great_circle(lon, lat, lon_c, lat_c)
    return np.where(r < R, 0.5 * h0 * (1.0 + np.cos(np.pi * r / R)), 0.0)


def gaussian_hills(grid: LatLonGrid, *, centres=((5 * np.pi / 6, 0.0), (7 * np.pi / 6, 0.0)),
                   h_max: float = 0.95, b0: float = 5.0):
    """Nair-Lauritzen (2010) Gaussian hills ``h = sum h_max exp(-b0 |x - x_i|^2)`` (unit sphere)."""
    lon, lat = np.meshgrid(grid.lon_rad, grid.lat_rad)
    x = np.stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)])
    h = np.zeros_like(lon)
    for lc, pc in centres:
        xc = np.array([np.cos(pc) * np.cos(lc), np.cos(pc) * np.sin(lc), np.sin(pc)])[:, None, None]
        h += h_max * np.exp(-b0 * ((x - xc) ** 2).sum(axis=0))
    return h


def nair_lauritzen_cosine_bells(grid: LatLonGrid, *, b: float = 0.1, c: float = 0.9):
    """Nair-Lauritzen (2010) two cosine bells (radius a/2, background ``b``, height ``b + c``)."""
    lon, lat = np.meshgrid(grid.lon_rad, grid.lat_rad)
    h = np.full_like(lon, b)
    for lc in (5 * np.pi / 6, 7 * np.pi / 6):
        r = _great_circle(lon, lat, lc, 0.0)
        h = np.where(r < 0.5, b + c * 0.5 * (1.0 + np.cos(2 * np.pi * r)), h)
    return h


def williamson1_streamfunction(grid: LatLonGrid, alpha: float, period: float = 12 * DAY):
    """Stream function (m^2/s) of Williamson test 1 at the cell corners, ``(nlat + 1, nlon)``:
    ``psi = -a u0 (sin th cos al - cos lam cos th sin al)``, ``u0 = 2 pi a / period``."""
    a = grid.radius
    u0 = 2 * np.pi * a / period
    lon, lat = np.meshgrid(grid.lon_bounds_rad[:-1], grid.lat_bounds_rad)
    return -a * u0 * (np.sin(lat) * np.cos(alpha) - np.cos(lon) * np.cos(lat) * np.sin(alpha))


def nair_lauritzen_streamfunction(grid: LatLonGrid, t: float, period: float = 12 * DAY):
    """Stream function (m^2/s) at the corners of the Nair-Lauritzen (2010) non-divergent
    deformational flow with background rotation (``k = 10 a / T``), ``(nlat + 1, nlon)``:
    ``psi = a k sin^2(lam') cos^2(th) cos(pi t/T) - 2 pi a^2 sin(th) / T``, ``lam' = lam - 2 pi t/T``."""
    a = grid.radius
    k = 10.0 * a / period
    lon, lat = np.meshgrid(grid.lon_bounds_rad[:-1], grid.lat_bounds_rad)
    lp = lon - 2 * np.pi * t / period
    return (a * k * np.sin(lp) ** 2 * np.cos(lat) ** 2 * np.cos(np.pi * t / period)
            - 2 * np.pi * a * a * np.sin(lat) / period)


_GL3 = (np.array([-np.sqrt(0.6), 0.0, np.sqrt(0.6)]), np.array([5.0, 8.0, 5.0]) / 9.0)


def run_2d_case(case: str, nlat: int, *, alpha: float = 0.0, nsteps: int | None = None, courant: float = 0.5,
                limiter: str = "mc", initial: str | None = None, period: float = 12 * DAY,
                check_mass: bool = False):
    """Run a single-layer verification case over one period and compare with the initial field.

    case : ``"williamson1"`` (solid-body rotation of the cosine bell, ``alpha``) or
        ``"nair_lauritzen"`` (deformational flow; ``initial`` = ``"gaussian"`` or ``"cosine"``).
    nlat : rows of the ``nlat x 2 nlat`` grid; nsteps : number of steps (default: equatorial
        Courant number ``courant`` of the background rotation).
    Returns a dict with ``l1, l2, linf``, ``min``, ``max`` (of the final field), ``mass_drift``
    (max per-step relative tracer-mass change), ``nsteps``, ``dt`` and ``grid``.

    Examples
    --------
    >>> res = run_2d_case("williamson1", 16, courant=1.0, check_mass=True)  # 16 x 32 cells, 32 steps
    >>> res["nsteps"], res["mass_drift"] < 1e-14, res["min"] >= 0.0
    (32, True, True)
    """
    grid = LatLonGrid(nlat, 2 * nlat)
    if case == "williamson1":
        h0 = cosine_bell(grid) if initial in (None, "cosine_bell") else gaussian_hills(grid)
        u_eq = 2 * np.pi * grid.radius / period
    elif case == "nair_lauritzen":
        h0 = nair_lauritzen_cosine_bells(grid) if initial == "cosine" else gaussian_hills(grid)
        u_eq = 2 * np.pi * grid.radius / period + 10.0 * grid.radius / period
    else:
        raise ValueError(f"case must be 'williamson1' or 'nair_lauritzen', got {case!r}")
    if nsteps is None:
        dx = grid.radius * grid.dlon
        nsteps = int(np.ceil(period * u_eq / (courant * dx)))
    dt = period / nsteps
    m = grid.cell_area.copy()  # column density 1 kg m-2
    r = h0 * m
    drift = 0.0
    for n in range(nsteps):
        if case == "williamson1":
            if n == 0:
                U, V = fluxes_from_streamfunction(williamson1_streamfunction(grid, alpha, period) * dt)
        else:
            t0 = n * dt
            psi = sum(w * nair_lauritzen_streamfunction(grid, t0 + 0.5 * dt * (1 + x), period)
                      for x, w in zip(*_GL3)) * (0.5 * dt)
            U, V = fluxes_from_streamfunction(psi)
        mass0 = r.sum() if check_mass else 0.0
        r, m, _ = advect(r, m, U, V, limiter=limiter)
        if check_mass:
            drift = max(drift, abs(r.sum() - mass0) / abs(mass0))
    h = r / m
    out = error_norms(h, h0, grid.cell_area)
    out.update(min=float(h.min()), max=float(h.max()), mass_drift=float(drift), nsteps=nsteps, dt=dt, grid=grid,
               h=h, h0=h0, airmass_drift=float(np.abs(m / grid.cell_area - 1).max()))
    return out
