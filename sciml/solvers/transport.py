"""Conservative finite-volume tracer transport on a latitude-longitude grid (mass form, as TM5).

State: tracer mass ``r = q m`` (kg) and air mass ``m`` (kg) per cell, both ``(nlat, nlon)``
(single layer) or ``(nlev, nlat, nlon)``. Winds enter as *mass fluxes*: the air mass (kg)
crossing each face during the whole step ``dt``:

- ``U (..., nlat, nlon)``: through the east face of cell ``i`` (towards ``i + 1``, periodic);
- ``V (..., nlat + 1, nlon)``: through the south face of row ``j`` (northward positive);
  ``V[..., 0, :]`` and ``V[..., nlat, :]`` are the poles and must be zero;
- ``W (nlev + 1, nlat, nlon)``: through the bottom interface of layer ``k`` (upward positive,
  from layer ``k - 1`` into ``k``); ``W[0]`` (surface) and ``W[nlev]`` (top) are zero.

Each 1D operator updates both masses with the same face fluxes,
``r_i += F_{i-1/2} - F_{i+1/2}``, ``m_i += U_{i-1/2} - U_{i+1/2}``, with the van Leer
(Russell-Lerner type) limited-slope flux ``F = U [q_d + 1/2 (1 - C) dq_d]``, ``C = |U| / m_d``
(``d`` the donor cell, ``dq`` its limited slope, signed for the outflow side). Global tracer
mass is therefore conserved to round-off, a uniform mixing ratio stays uniform, and with
Courant numbers ``<= 1`` per sub-step the mixing ratio keeps no new extrema (positivity).

Operators are Strang split X-Y-Z-Z-Y-X, each with half the step's fluxes. Every line
(a latitude row of one layer for X, a meridian for Y, a column for Z) is sub-cycled with its
own number of sub-steps chosen from its largest outflow Courant number: this is the polar
treatment (the pole rows at 5.625 deg take ~20-40 sub-steps at 6 h, equatorial rows 1-2) and
it is exactly mass conserving. A step whose split air mass would become non-positive is
halved recursively.

The fluxes are built and balanced in :mod:`sciml.solvers.mass_fluxes` (re-exported here); the
verification cases (Williamson test 1, Nair-Lauritzen) are in :mod:`sciml.solvers.transport_cases`.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..grids import LatLonGrid
from .mass_fluxes import (  # re-exported: part of transport's public API
    balance_mass_fluxes,
    diagnose_surface_pressure,
    fluxes_from_streamfunction,
    vertical_mass_fluxes,
    winds_to_mass_fluxes,
)

__all__ = [
    "LIMITERS",
    "MassFluxes",
    "TransportModel",
    "add_surface_flux",
    "advect",
    "balance_mass_fluxes",
    "diagnose_surface_pressure",
    "fluxes_from_streamfunction",
    "mix_columns",
    "vertical_mass_fluxes",
    "winds_to_mass_fluxes",
]

LIMITERS = ("vanleer", "mc", "minmod", "centered", "upwind")


@dataclass
class MassFluxes:
    """Face mass fluxes (kg per step) for one transport step; see the module docstring for shapes."""

    U: np.ndarray
    V: np.ndarray
    W: np.ndarray | None = None


@dataclass
class AdvectInfo:
    """Diagnostics of one ``advect`` call."""

    splits: int = 1  # the step was cut into this many equal parts (air-mass positivity)
    max_substeps: dict = field(default_factory=dict)  # operator -> largest sub-step count of a line
    max_courant: dict = field(default_factory=dict)  # operator -> largest outflow Courant number (whole op)


# ----------------------------------------------------------------------------- slopes
def _limited_slope(dl, dr, limiter):
    """Limited total difference across a cell from left/right differences ``dl, dr``."""
    if limiter == "vanleer":
        prod = dl * dr
        s = dl + dr
        with np.errstate(invalid="ignore", divide="ignore"):
            out = np.where(prod > 0.0, 2.0 * prod / np.where(s == 0.0, 1.0, s), 0.0)
        return out
    if limiter == "mc":
        c = 0.5 * (dl + dr)
        mag = np.minimum(np.minimum(2.0 * np.abs(dl), 2.0 * np.abs(dr)), np.abs(c))
        return np.where(dl * dr > 0.0, np.sign(c) * mag, 0.0)
    if limiter == "minmod":
        return np.where(dl * dr > 0.0, np.sign(dl) * np.minimum(np.abs(dl), np.abs(dr)), 0.0)
    if limiter == "centered":
        return 0.5 * (dl + dr)
    if limiter == "upwind":
        return np.zeros_like(dl)
    raise ValueError(f"limiter must be one of {LIMITERS}, got {limiter!r}")


# ----------------------------------------------------------------------------- 1D kernels
def _substep_periodic(r, m, U, limiter):
    """One sub-step on periodic lines. r, m: (L, n); U: (L, n) east-face fluxes. In place."""
    q = r / m
    qp = np.roll(q, -1, axis=1)
    qm = np.roll(q, 1, axis=1)
    dq = _limited_slope(q - qm, qp - q, limiter)
    mp = np.roll(m, -1, axis=1)
    dqp = np.roll(dq, -1, axis=1)
    pos = U >= 0.0
    F = np.where(pos, U * (q + 0.5 * (1.0 - U / m) * dq), U * (qp - 0.5 * (1.0 + U / mp) * dqp))
    r += np.roll(F, 1, axis=1) - F
    m += np.roll(U, 1, axis=1) - U


def _substep_bounded(r, m, U, limiter):
    """One sub-step on closed lines. r, m: (L, n); U: (L, n + 1) with U[:, 0] = U[:, n] = 0. In place."""
    q = r / m
    d = np.diff(q, axis=1)
    dq = np.zeros_like(q)
    if q.shape[1] > 2:
        dq[:, 1:-1] = _limited_slope(d[:, :-1], d[:, 1:], limiter)
    Ui = U[:, 1:-1]
    qL, qR = q[:, :-1], q[:, 1:]
    mL, mR = m[:, :-1], m[:, 1:]
    F = np.where(Ui >= 0.0, Ui * (qL + 0.5 * (1.0 - Ui / mL) * dq[:, :-1]),
                 Ui * (qR - 0.5 * (1.0 + Ui / mR) * dq[:, 1:]))
    r[:, :-1] -= F
    r[:, 1:] += F
    m[:, :-1] -= Ui
    m[:, 1:] += Ui


def _line_substeps(m, U, periodic, cfl):
    """Sub-step count per line so that every cell's total outflow per sub-step is <= cfl times its
    air mass at the start of that sub-step. With n equal sub-steps the air mass moves linearly
    from m to m_end, so the smallest start-of-sub-step mass is min(m, m_end + (m - m_end) / n):
    n >= out / (cfl m) and, where the cell loses mass, n >= (out / cfl - (m - m_end)) / m_end."""
    if periodic:
        Uw = np.roll(U, 1, axis=1)  # west face of each cell
        Ue = U
    else:
        Uw, Ue = U[:, :-1], U[:, 1:]
    out = np.maximum(Ue, 0.0) + np.maximum(-Uw, 0.0)
    dm = Uw - Ue
    m_end = m + dm
    if np.any(m_end <= 0.0):
        return None, None
    courant = out / m
    need = courant / cfl
    losing = dm < 0.0
    if np.any(losing):
        need = np.where(losing, np.maximum(need, (out / cfl + dm) / m_end), need)
    n = np.maximum(1, np.ceil(need.max(axis=1) - 1e-12)).astype(np.int64)
    return n, float(courant.max()) if courant.size else 0.0


def _sweep(r, m, U, periodic, limiter, cfl, subcycling="line"):
    """Apply one 1D operator to lines r, m (L, n) with whole-operator fluxes U. In place.
    Returns (max sub-steps, max Courant) or None if the air mass would become non-positive."""
    n, cmax = _line_substeps(m, U, periodic, cfl)
    if n is None:
        return None
    if subcycling == "global":
        n = np.full_like(n, n.max())
    nmax = int(n.max())
    if nmax == 1:
        (_substep_periodic if periodic else _substep_bounded)(r, m, U, limiter)
        return 1, cmax
    # Lines sorted by decreasing sub-step count: at sub-step s the active lines are a prefix.
    order = np.argsort(-n, kind="stable")
    ns = n[order]
    rs, ms = r[order], m[order]
    Us = U[order] / ns[:, None]
    counts = np.searchsorted(-ns, -np.arange(nmax), side="left")  # number of lines with ns > s
    kernel = _substep_periodic if periodic else _substep_bounded
    for s in range(nmax):
        k = int(counts[s])
        if k == rs.shape[0]:
            kernel(rs, ms, Us, limiter)
        else:
            kernel(rs[:k], ms[:k], Us[:k], limiter)
    r[order] = rs
    m[order] = ms
    return nmax, cmax


# ----------------------------------------------------------------------------- layouts
def _as_lines(a, axis):
    """Move ``axis`` last and flatten the rest: (L, n) contiguous copy."""
    a = np.moveaxis(a, axis, -1)
    return np.ascontiguousarray(a).reshape(-1, a.shape[-1])


def _from_lines(lines, shape, axis):
    moved = list(shape)
    n = moved.pop(axis)
    out = lines.reshape(*moved, n)
    return np.moveaxis(out, -1, axis)


def _divergence_update(m, U, V, W, frac):
    """Air mass after an operator sequence (used for the positivity pre-check)."""
    out = []
    cur = m
    for op in ("x", "y", "z", "z", "y", "x"):
        if op == "x":
            cur = cur + frac * (np.roll(U, 1, axis=-1) - U)
        elif op == "y":
            cur = cur + frac * (V[..., :-1, :] - V[..., 1:, :])
        elif W is not None:
            cur = cur + frac * (W[:-1] - W[1:])
        out.append(cur)
    return out


def _check_fluxes(r, m, U, V, W, grid):
    r = np.asarray(r, dtype=np.float64)
    m = np.asarray(m, dtype=np.float64)
    if r.shape != m.shape or r.ndim not in (2, 3):
        raise ValueError(f"r and m must have the same shape (nlat, nlon) or (nlev, nlat, nlon), "
                         f"got {r.shape} and {m.shape}")
    if grid is not None and r.shape[-2:] != (grid.nlat, grid.nlon):
        raise ValueError(f"r has horizontal shape {r.shape[-2:]}, grid is {(grid.nlat, grid.nlon)}")
    nlat, nlon = r.shape[-2:]
    U = np.asarray(U, dtype=np.float64)
    V = np.asarray(V, dtype=np.float64)
    if U.shape != r.shape:
        raise ValueError(f"U must have shape {r.shape} (east faces), got {U.shape}")
    if V.shape != r.shape[:-2] + (nlat + 1, nlon):
        raise ValueError(f"V must have shape {r.shape[:-2] + (nlat + 1, nlon)} (south faces + north pole), "
                         f"got {V.shape}")
    if np.any(V[..., 0, :] != 0.0) or np.any(V[..., -1, :] != 0.0):
        raise ValueError("V must be zero through the poles (V[..., 0, :] and V[..., nlat, :])")
    if W is not None:
        if r.ndim != 3:
            raise ValueError("W (vertical fluxes) needs 3D fields (nlev, nlat, nlon)")
        W = np.asarray(W, dtype=np.float64)
        if W.shape != (r.shape[0] + 1, nlat, nlon):
            raise ValueError(f"W must have shape {(r.shape[0] + 1, nlat, nlon)}, got {W.shape}")
        if np.any(W[0] != 0.0) or np.any(W[-1] != 0.0):
            raise ValueError("W must be zero at the surface (W[0]) and the model top (W[nlev])")
    if not np.all(m > 0.0):
        raise ValueError("m (air mass) must be positive everywhere")
    for name, a in (("r", r), ("U", U), ("V", V)) + ((("W", W),) if W is not None else ()):
        if not np.all(np.isfinite(a)):
            raise ValueError(f"{name} contains non-finite values")
    return r, m, U, V, W


def advect(r, m, U, V, W=None, *, grid: LatLonGrid | None = None, limiter: str = "mc",
           cfl: float = 1.0, max_splits: int = 64, subcycling: str = "line"):
    """One Strang-split (X-Y-Z-Z-Y-X) mass-form transport step.

    Parameters
    ----------
    r, m : tracer mass and air mass (kg), ``(nlat, nlon)`` or ``(nlev, nlat, nlon)``, float64.
    U, V, W : face mass fluxes (kg per step), see the module docstring; ``W`` only for 3D.
    grid : optional ``LatLonGrid`` to check the horizontal shape against.
    limiter : slope limiter, one of ``LIMITERS`` (``"vanleer"`` harmonic, ``"mc"`` monotonized
        central, ``"minmod"``, ``"centered"`` (unlimited, not monotone), ``"upwind"`` (first order)).
    cfl : largest outflow Courant number per sub-step (``<= 1`` keeps positivity / monotonicity).
    subcycling : ``"line"`` (each row / meridian / column takes its own number of sub-steps, the
        polar treatment) or ``"global"`` (every line of an operator takes the largest count).

    Returns ``(r_new, m_new, info)`` with ``info`` an ``AdvectInfo``. The inputs are not modified.
    """
    if limiter not in LIMITERS:
        raise ValueError(f"limiter must be one of {LIMITERS}, got {limiter!r}")
    if not (isinstance(cfl, (int, float)) and 0.0 < cfl <= 1.0):
        raise ValueError(f"cfl must be in (0, 1], got {cfl!r}")
    if subcycling not in ("line", "global"):
        raise ValueError(f"subcycling must be 'line' or 'global', got {subcycling!r}")
    r, m, U, V, W = _check_fluxes(r, m, U, V, W, grid)
    r, m = r.copy(), m.copy()
    info = AdvectInfo()
    splits = 1
    while True:
        frac = 0.5 / splits
        seq = _divergence_update(m, U, V, W, frac)
        ok = all(np.all(s > 0.0) for s in seq)
        if ok and splits == 1:
            break
        if ok:
            # also the later parts: each part starts from the previous part's end state
            cur, good = m, True
            for _ in range(splits):
                seq = _divergence_update(cur, U, V, W, frac)
                if not all(np.all(s > 0.0) for s in seq):
                    good = False
                    break
                cur = seq[-1]
            if good:
                break
        splits *= 2
        if splits > max_splits:
            raise ValueError("the mass fluxes empty a cell within one step even after "
                             f"{max_splits} splits: check U, V, W against m")
    info.splits = splits
    for _ in range(splits):
        for op in ("x", "y", "z", "z", "y", "x"):
            if op == "z" and W is None:
                continue
            res = _apply_op(r, m, U, V, W, op, 0.5 / splits, limiter, cfl, subcycling)
            if res is None:  # cannot happen after the pre-check; defensive
                raise ValueError(f"non-positive air mass in the {op} operator")
            ns, c = res
            info.max_substeps[op] = max(info.max_substeps.get(op, 0), ns)
            info.max_courant[op] = max(info.max_courant.get(op, 0.0), c)
    return r, m, info


def _apply_op(r, m, U, V, W, op, frac, limiter, cfl, subcycling="line"):
    shape = r.shape
    if op == "x":
        axis, flux, periodic = r.ndim - 1, U, True
    elif op == "y":
        axis, flux, periodic = r.ndim - 2, V, False
    else:
        axis, flux, periodic = 0, W, False
    rl, ml = _as_lines(r, axis), _as_lines(m, axis)
    fl = _as_lines(flux, axis) * frac
    res = _sweep(rl, ml, fl, periodic, limiter, cfl, subcycling)
    if res is None:
        return None
    r[...] = _from_lines(rl, shape, axis)
    m[...] = _from_lines(ml, shape, axis)
    return res


def add_surface_flux(r, flux, grid: LatLonGrid, dt: float):
    """Add a surface flux (kg m-2 s-1, ``(nlat, nlon)``) to the lowest layer of the tracer mass
    ``r`` (kg, ``(nlev, nlat, nlon)`` or ``(nlat, nlon)``): ``r_0 += F A dt``. Returns a new array."""
    r = np.array(r, dtype=np.float64)
    flux = np.asarray(flux, dtype=np.float64)
    if flux.shape != (grid.nlat, grid.nlon):
        raise ValueError(f"surface flux must have shape {(grid.nlat, grid.nlon)}, got {flux.shape}")
    if r.ndim == 3:
        r[0] += flux * grid.cell_area * dt
    else:
        r += flux * grid.cell_area * dt
    return r


def mix_columns(r, m, mask, fraction=1.0):
    """Mass-conserving partial mixing within each column (boundary-layer / convective mixing).

    r, m : tracer and air mass (kg), ``(nlev, nlat, nlon)``; mask : bool ``(nlev, nlat, nlon)``, the
    layers of each column that take part (e.g. those below the boundary-layer top); fraction : in
    ``[0, 1]``, scalar or ``(nlat, nlon)``: ``q_k <- (1 - f) q_k + f qbar`` on the masked layers, with
    ``qbar = sum r / sum m`` over them. Column tracer mass is unchanged (to round-off) and the new
    mixing ratios are convex combinations of the old ones (positivity, no new extrema).
    Returns the new tracer mass.
    """
    r = np.asarray(r, dtype=np.float64)
    m = np.asarray(m, dtype=np.float64)
    mask = np.asarray(mask, dtype=bool)
    if r.ndim != 3 or m.shape != r.shape or mask.shape != r.shape:
        raise ValueError(f"r, m and mask must have the same shape (nlev, nlat, nlon), "
                         f"got {r.shape}, {m.shape}, {mask.shape}")
    f = np.asarray(fraction, dtype=np.float64)
    if np.any(f < 0.0) or np.any(f > 1.0):
        raise ValueError("fraction must lie in [0, 1]")
    rm = np.where(mask, r, 0.0).sum(axis=0)
    mm = np.where(mask, m, 0.0).sum(axis=0)
    qbar = np.divide(rm, mm, out=np.zeros_like(rm), where=mm > 0)
    return np.where(mask, (1.0 - f) * r + f * qbar * m, r)


class TransportModel:
    """Mass-form FV transport on ``grid`` (float64, numpy).

    ``step(q, m, fluxes, dt, surface_flux=None, m_next=None)`` advances the mixing ratio ``q``
    (kg/kg) and air mass ``m`` (kg) over ``dt`` (s) with ``fluxes`` a ``MassFluxes`` (kg per
    step), then adds ``surface_flux`` (kg m-2 s-1, ``(nlat, nlon)``) to the lowest layer.
    When ``m_next`` (the prescribed air mass at the end of the step) is given, the returned air
    mass is ``m_next`` and the tracer mass is kept (the two agree to round-off when the fluxes
    are mass consistent, see ``balance_mass_fluxes`` / ``vertical_mass_fluxes``).
    Returns ``(q_new, m_new)``; ``last_info`` holds the ``AdvectInfo``.
    """

    def __init__(self, grid: LatLonGrid, *, limiter: str = "mc", cfl: float = 1.0):
        if not isinstance(grid, LatLonGrid):
            raise TypeError(f"grid must be a LatLonGrid, got {type(grid).__name__}")
        if limiter not in LIMITERS:
            raise ValueError(f"limiter must be one of {LIMITERS}, got {limiter!r}")
        self.grid, self.limiter, self.cfl = grid, limiter, cfl
        self.last_info = None

    def step(self, q, m, fluxes: MassFluxes, dt: float, surface_flux=None, m_next=None):
        q = np.asarray(q, dtype=np.float64)
        m = np.asarray(m, dtype=np.float64)
        r1, m1, self.last_info = advect(q * m, m, fluxes.U, fluxes.V, fluxes.W, grid=self.grid,
                                        limiter=self.limiter, cfl=self.cfl)
        if m_next is not None:
            m_next = np.asarray(m_next, dtype=np.float64)
            if m_next.shape != m1.shape:
                raise ValueError(f"m_next must have shape {m1.shape}, got {m_next.shape}")
            m1 = m_next
        if surface_flux is not None:
            r1 = add_surface_flux(r1, surface_flux, self.grid, dt)
        return r1 / m1, m1
