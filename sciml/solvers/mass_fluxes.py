"""Air-mass fluxes for the finite-volume transport of :mod:`sciml.solvers.transport`.

Fluxes are the air mass (kg) crossing each face during a whole step, on the staggering that
``transport`` documents: ``U (..., nlat, nlon)`` east faces, ``V (..., nlat + 1, nlon)`` south
faces (zero at the poles), ``W (nlev + 1, nlat, nlon)`` layer interfaces (zero at the surface and
the top). This module builds them from winds or a stream function, closes them with continuity
(``vertical_mass_fluxes``, ``diagnose_surface_pressure``) and balances them against a prescribed
air-mass change (``balance_mass_fluxes``, TM5's potential-flow correction).
"""
from __future__ import annotations

import numpy as np

from ..grids import GRAVITY, LatLonGrid

__all__ = [
    "balance_mass_fluxes",
    "diagnose_surface_pressure",
    "fluxes_from_streamfunction",
    "vertical_mass_fluxes",
    "winds_to_mass_fluxes",
]


def winds_to_mass_fluxes(u, v, grid: LatLonGrid, ps, dt: float):
    """Face mass fluxes from cell-centred winds on model levels.

    u, v : eastward / northward wind (m/s), ``(nlev, nlat, nlon)``; ps : surface pressure (Pa),
    ``(nlat, nlon)`` (take both at the middle of the step); dt : step (s).
    Face winds and layer thicknesses are averages of the two neighbouring cells;
    returns ``(U, V)`` in kg per step with ``U (nlev, nlat, nlon)``, ``V (nlev, nlat + 1, nlon)``.
    """
    if grid.nlev == 0:
        raise ValueError("winds_to_mass_fluxes needs a grid with levels")
    u = np.asarray(u, dtype=np.float64)
    v = np.asarray(v, dtype=np.float64)
    if u.shape != grid.shape or v.shape != grid.shape:
        raise ValueError(f"u and v must have shape {grid.shape}, got {u.shape} and {v.shape}")
    if not dt > 0:
        raise ValueError(f"dt must be positive, got {dt!r}")
    dp = grid.dp(ps)
    uf = 0.5 * (u + np.roll(u, -1, axis=-1))
    dpx = 0.5 * (dp + np.roll(dp, -1, axis=-1))
    U = uf * dpx * (grid.x_face_length * dt / GRAVITY)
    V = np.zeros((grid.nlev, grid.nlat + 1, grid.nlon))
    vf = 0.5 * (v[:, 1:] + v[:, :-1])
    dpy = 0.5 * (dp[:, 1:] + dp[:, :-1])
    V[:, 1:-1] = vf * dpy * (grid.y_face_length[1:-1, None] * dt / GRAVITY)
    return U, V


def fluxes_from_streamfunction(psi_corners, density=1.0):
    """Discretely non-divergent face fluxes from a stream function at the cell corners.

    psi_corners : ``(..., nlat + 1, nlon)`` time-integrated stream function (m^2, i.e.
    ``int psi dt`` with ``u = -(1/R) dpsi/dlat``, ``v = 1/(R cos lat) dpsi/dlon``) at the
    corners ``(lat_bounds[j], lon_bounds[i])``; corner ``i`` is the south-west corner of cell ``i``.
    density : column density (kg m-2), scalar or broadcastable to the fluxes.
    Returns ``(U, V)`` with ``sum of inflows = 0`` in every cell (to round-off).
    """
    psi = np.asarray(psi_corners, dtype=np.float64)
    # east face of cell (j, i): from corner (j, i+1) [south-east] to (j+1, i+1) [north-east]
    pe = np.roll(psi, -1, axis=-1)
    U = (pe[..., :-1, :] - pe[..., 1:, :]) * density
    # south face of row j: from corner (j, i) [west] to (j, i+1) [east]
    V = (pe - psi) * density
    V[..., 0, :] = 0.0
    V[..., -1, :] = 0.0
    return U, V


def vertical_mass_fluxes(U, V, m0, m1):
    """Vertical fluxes from continuity: ``W_{k+1} = W_k + conv_h(k) - (m1_k - m0_k)``, ``W_0 = 0``.

    U, V : horizontal fluxes (kg per step), m0, m1 : air mass at the start / end of the step
    ``(nlev, nlat, nlon)``. Returns ``(W, residual)``: ``W (nlev + 1, nlat, nlon)`` with the top
    interface set to zero and ``residual (nlat, nlon)`` the column imbalance that was dropped
    (zero to round-off when the column mass change equals the column flux convergence,
    e.g. after ``balance_mass_fluxes``).
    """
    U = np.asarray(U, dtype=np.float64)
    V = np.asarray(V, dtype=np.float64)
    conv = (np.roll(U, 1, axis=-1) - U) + (V[:, :-1] - V[:, 1:])
    dm = np.asarray(m1, dtype=np.float64) - np.asarray(m0, dtype=np.float64)
    nlev = U.shape[0]
    W = np.zeros((nlev + 1,) + U.shape[1:])
    W[1:] = np.cumsum(conv - dm, axis=0)
    residual = W[-1].copy()
    W[-1] = 0.0
    return W, residual


def diagnose_surface_pressure(U, V, ps0, grid: LatLonGrid):
    """Surface pressure at the end of the step from column continuity (the alternative to
    prescribing it): ``ps1 = ps0 + g sum_k conv_h(k) / A`` (Pa, ``(nlat, nlon)``). With
    ``m1 = grid.air_mass(ps1)``, ``vertical_mass_fluxes(U, V, m0, m1)`` closes every column."""
    U = np.asarray(U, dtype=np.float64)
    V = np.asarray(V, dtype=np.float64)
    ps0 = grid._check_ps(ps0)
    conv = ((np.roll(U, 1, axis=-1) - U) + (V[:, :-1] - V[:, 1:])).sum(axis=0)
    db = grid.b[0] - grid.b[-1]  # column mass = (a_0 - a_top + (b_0 - b_top) ps) A / g
    return ps0 + conv * GRAVITY / (grid.cell_area * db)


class _Balancer:
    """Sparse factorisation of the weighted cell-graph Laplacian of a lat-lon grid (cached)."""

    _cache: dict = {}

    def __init__(self, grid: LatLonGrid):
        import scipy.sparse as sp
        from scipy.sparse.linalg import splu

        nlat, nlon = grid.nlat, grid.nlon
        N = nlat * nlon
        idx = np.arange(N).reshape(nlat, nlon)
        # weights ~ face length / centre distance
        wx = np.full(nlat, grid.dlat) / (np.cos(grid.lat_rad) * grid.dlon)  # (nlat,)
        wy = grid.cos_lat_bounds[1:-1] * grid.dlon / grid.dlat  # (nlat - 1,)
        self.wx, self.wy = wx, wy
        rows, cols, vals = [], [], []
        a = idx.ravel()
        b = np.roll(idx, -1, axis=1).ravel()
        w = np.repeat(wx, nlon)
        c = idx[:-1].ravel()
        d = idx[1:].ravel()
        w2 = np.repeat(wy, nlon)
        for (p, q, ww) in ((a, b, w), (c, d, w2)):
            rows += [p, q, p, q]
            cols += [q, p, p, q]
            vals += [-ww, -ww, ww, ww]
        L = sp.csc_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(N, N))
        self.lu = splu(L[1:, 1:].tocsc())
        self.N = N

    @classmethod
    def get(cls, grid):
        key = (grid.nlat, grid.nlon)
        if key not in cls._cache:
            cls._cache[key] = cls(grid)
        return cls._cache[key]

    def solve(self, rhs):
        chi = np.zeros(self.N)
        chi[1:] = self.lu.solve(rhs.ravel()[1:])
        return chi


def balance_mass_fluxes(U, V, m0, m1, grid: LatLonGrid, *, rtol: float = 1e-9):
    """Correct the horizontal fluxes so each column's flux convergence equals its prescribed
    air-mass change ``sum_k (m1 - m0)`` (TM5-style balancing with a discrete potential flow).

    A potential ``chi`` solves ``L chi = -(dM - conv)`` on the cell graph (weights face length /
    centre distance), and the column correction ``-grad chi`` is distributed over the layers in
    proportion to the layer mass at each face. Requires ``sum m1 = sum m0`` (relative ``rtol``).
    Returns corrected ``(U, V)`` (new arrays).
    """
    U = np.array(U, dtype=np.float64)
    V = np.array(V, dtype=np.float64)
    m0 = np.asarray(m0, dtype=np.float64)
    m1 = np.asarray(m1, dtype=np.float64)
    if U.ndim != 3 or m0.shape != U.shape or m1.shape != U.shape:
        raise ValueError(f"U, m0 and m1 must all have shape (nlev, nlat, nlon) = {grid.shape}")
    dM = (m1 - m0).sum(axis=0)
    total = m0.sum()
    if abs(dM.sum()) > rtol * total:
        raise ValueError(f"global air mass changes by {dM.sum() / total:.3e} (relative) in one step: "
                         "the prescribed surface pressure must keep the global air mass constant")
    bal = _Balancer.get(grid)
    col = m1.sum(axis=0)
    # distribute over layers with the layer-mass fraction at the face
    mf = 0.5 * (m0 + m1)
    fx = 0.5 * (mf + np.roll(mf, -1, axis=-1))
    fx = fx / fx.sum(axis=0, keepdims=True)
    fy = 0.5 * (mf[:, 1:] + mf[:, :-1])
    fy = fy / fy.sum(axis=0, keepdims=True)
    for _ in range(4):  # solve + iterative refinement (the polar rows make L ill-conditioned)
        conv = ((np.roll(U, 1, axis=-1) - U) + (V[:, :-1] - V[:, 1:])).sum(axis=0)
        res = dM - conv
        res -= res.sum() * (col / col.sum())  # round-off global mismatch: spread in proportion to column mass
        if np.abs(res / col).max() < 1e-15:
            break
        chi = bal.solve(-res).reshape(grid.nlat, grid.nlon)
        Ucol = bal.wx[:, None] * (chi - np.roll(chi, -1, axis=1))
        Vcol = bal.wy[:, None] * (chi[:-1] - chi[1:])
        U += fx * Ucol[None]
        V[:, 1:-1] += fy * Vcol[None]
    return U, V
