"""CarbonBench-style evaluation of CO2 transport emulators (Benson et al. 2024).

Units: mixing ratios ``q`` as stored in CarbonBench, ``1e-6 kg/kg`` (``mass_mix_unit=1e-6``),
air mass in Pg. Conversions:

- ppm (mole fraction, umol/mol) = ``q * mass_mix_unit * (M_air / M_CO2) * 1e6`` with
  ``M_air = 28.97`` and ``M_CO2 = 44.01`` g/mol;
- CO2 mass (Pg CO2) = ``q * mass_mix_unit * m``; carbon mass (PgC) = CO2 mass / 3.664.

Metrics (per sample; fields ``(..., L, lat, lon)``), all cos(lat)-weighted over lat, lon and level:

- ``rmse_ppm``: root mean square error in ppm;
- ``r2``: squared (weighted) Pearson correlation between prediction and truth;
- ``mass_rmse_pgc``: RMSE over restarts of the error of the global CO2 mass, in PgC.

Protocol: restarts at the first time step of each quarter of the test years
(:func:`quarter_restarts`), rollouts to 90 days, metrics at 7 / 30 / 60 / 90 days; the
decorrelation time is the lead (days) at which R^2 first drops below 0.9
(:func:`decorrelation_time`); multi-year runs measure the relative mass drift
(:func:`relative_mass_drift`).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "M_AIR", "M_CO2", "C_PER_CO2", "PAPER_FIGURES", "LEAD_DAYS",
    "to_ppm", "coslat_weights", "rmse_ppm", "r2", "global_co2_mass_pgc", "mass_rmse_pgc",
    "quarter_restarts", "decorrelation_time", "relative_mass_drift", "evaluate_rollouts", "RolloutScores",
]

M_AIR = 28.97  # g/mol
M_CO2 = 44.01  # g/mol
C_PER_CO2 = 3.664  # kg CO2 per kg C
LEAD_DAYS = (7, 30, 60, 90)

#: published LowRes figures at ~90 days (Benson et al. 2024; docs/references.md#carbonbench)
PAPER_FIGURES = {
    "UNet": {"params": 9.6e6, "r2": 0.98, "rmse_ppm": 0.52},
    "GraphCast": {"params": 5.2e6, "r2": 0.96, "rmse_ppm": 0.86},
    "SFNO": {"params": 35.7e6, "r2": 0.98, "rmse_ppm": 0.58},
    "SwinTransformer": {"params": 37.9e6, "r2": 0.99, "rmse_ppm": 0.34},
}


def to_ppm(q, mass_mix_unit: float = 1e-6):
    """Mass mixing ratio (in units of ``mass_mix_unit`` kg/kg) -> CO2 mole fraction in ppm.

    Examples
    --------
    >>> round(float(to_ppm(616.0)), 2)   # 616e-6 kg/kg of CO2 in dry air
    405.49
    """
    return np.asarray(q, dtype=np.float64) * (mass_mix_unit * 1e6 * M_AIR / M_CO2)


def coslat_weights(lat_deg) -> np.ndarray:
    """cos(latitude) weights (nlat,) from latitudes in degrees (must lie in [-90, 90])."""
    lat = np.asarray(lat_deg, dtype=np.float64)
    if lat.ndim != 1 or np.any(np.abs(lat) > 90):
        raise ValueError("lat must be a 1D array of latitudes in degrees within [-90, 90]")
    return np.cos(np.deg2rad(lat))


def _check(pred, true, lat):
    pred = np.asarray(pred, dtype=np.float64)
    true = np.asarray(true, dtype=np.float64)
    if pred.shape != true.shape:
        raise ValueError(f"pred shape {pred.shape} differs from true shape {true.shape}")
    if pred.ndim < 3:
        raise ValueError(f"fields must have shape (..., L, lat, lon), got {pred.shape}")
    w = coslat_weights(lat)
    if w.size != pred.shape[-2]:
        raise ValueError(f"lat has {w.size} entries but the fields have {pred.shape[-2]} latitudes")
    w = np.broadcast_to(w[:, None], pred.shape[-2:])
    w = np.broadcast_to(w, pred.shape[-3:])
    return pred, true, w


def _wmean(x, w):
    return (x * w).sum(axis=(-3, -2, -1)) / w.sum()


def rmse_ppm(pred, true, lat, mass_mix_unit: float = 1e-6):
    """cos-lat weighted RMSE in ppm over (L, lat, lon); returns shape ``pred.shape[:-3]``.

    Examples
    --------
    >>> lat = np.linspace(-60, 60, 4)
    >>> true = 616 + np.random.default_rng(0).standard_normal((2, 4, 8))   # (L, lat, lon)
    >>> round(float(rmse_ppm(true + 1.0, true, lat)), 4) == round(float(to_ppm(1.0)), 4)
    True
    >>> float(r2(true, true, lat))
    1.0
    """
    pred, true, w = _check(pred, true, lat)
    d = to_ppm(pred - true, mass_mix_unit)
    return np.sqrt(_wmean(d * d, w))


def r2(pred, true, lat):
    """Squared cos-lat weighted Pearson correlation over (L, lat, lon); shape ``pred.shape[:-3]``."""
    pred, true, w = _check(pred, true, lat)
    ex = pred - _wmean(pred, w)[..., None, None, None]
    ey = true - _wmean(true, w)[..., None, None, None]
    cov = _wmean(ex * ey, w)
    vx, vy = _wmean(ex * ex, w), _wmean(ey * ey, w)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = cov * cov / (vx * vy)
    # identical constant fields correlate perfectly
    return np.where((vx == 0) & (vy == 0), np.where(np.all(pred == true, axis=(-3, -2, -1)), 1.0, 0.0), out)


def global_co2_mass_pgc(q, air_mass, mass_mix_unit: float = 1e-6):
    """Global carbon mass in PgC of fields q (..., L, lat, lon) with air mass in Pg."""
    q = np.asarray(q, dtype=np.float64)
    return (q * mass_mix_unit * np.asarray(air_mass, dtype=np.float64)).sum(axis=(-3, -2, -1)) / C_PER_CO2


def mass_rmse_pgc(pred, true, air_mass, mass_mix_unit: float = 1e-6, axis=0):
    """RMSE (over ``axis``, the restarts) of the global CO2 mass error, in PgC."""
    d = global_co2_mass_pgc(pred, air_mass, mass_mix_unit) - global_co2_mass_pgc(true, air_mass, mass_mix_unit)
    return np.sqrt(np.mean(d * d, axis=axis))


def quarter_restarts(times, n_steps: int) -> np.ndarray:
    """Indices of the first time step of each calendar quarter (Jan/Apr/Jul/Oct 1) in ``times``
    (datetime64 array) from which ``n_steps`` further steps exist."""
    t = np.asarray(times).astype("datetime64[h]")
    if t.ndim != 1 or t.size == 0:
        raise ValueError("times must be a non-empty 1D datetime64 array")
    months = t.astype("datetime64[M]")
    month_num = (months.astype(int) % 12) + 1
    start_of_month = np.concatenate([[True], months[1:] != months[:-1]])
    idx = np.flatnonzero(start_of_month & np.isin(month_num, (1, 4, 7, 10)))
    return idx[idx + n_steps < t.size]


def decorrelation_time(days, r2_curve, threshold: float = 0.9) -> float:
    """Lead time (days) at which ``r2_curve`` first drops below ``threshold``, linearly interpolated
    between samples; ``inf`` if it never does."""
    days = np.asarray(days, dtype=np.float64)
    r = np.asarray(r2_curve, dtype=np.float64)
    if days.shape != r.shape or days.ndim != 1:
        raise ValueError("days and r2_curve must be 1D arrays of the same length")
    below = np.flatnonzero(r < threshold)
    if below.size == 0:
        return float("inf")
    k = int(below[0])
    if k == 0:
        return float(days[0])
    d0, d1, r0, r1 = days[k - 1], days[k], r[k - 1], r[k]
    return float(d0 + (r0 - threshold) / (r0 - r1) * (d1 - d0))


def relative_mass_drift(mass, expected=None):
    """Relative mass drift of a run: ``mass`` (T,) global tracer mass, ``expected`` (T,) the
    budget (initial mass plus integrated surface fluxes; default the initial mass).
    Returns ``(max_abs_rel, per_step_max)``: max over t of ``|mass - expected| / expected`` and the
    largest per-step relative change of ``mass - expected``."""
    mass = np.asarray(mass, dtype=np.float64)
    expected = np.full_like(mass, mass[0]) if expected is None else np.asarray(expected, dtype=np.float64)
    if mass.shape != expected.shape or mass.ndim != 1:
        raise ValueError("mass and expected must be 1D arrays of the same length")
    err = (mass - expected) / expected
    return float(np.abs(err).max()), float(np.abs(np.diff(err)).max()) if mass.size > 1 else 0.0


@dataclass
class RolloutScores:
    """Scores of rollouts from several restarts.

    days : (S+1,) lead times; r2, rmse_ppm : (S+1,) means over restarts; mass_rmse_pgc : (S+1,);
    at : {lead_day: {"r2", "rmse_ppm", "mass_rmse_pgc"}}; decorrelation_days : float.
    """

    days: np.ndarray
    r2: np.ndarray
    rmse_ppm: np.ndarray
    mass_rmse_pgc: np.ndarray
    at: dict = field(default_factory=dict)
    decorrelation_days: float = float("inf")
    n_restarts: int = 0


def evaluate_rollouts(rollout, q_true, air_mass, lat, starts, n_steps: int, dt_hours: float = 6.0,
                      lead_days=LEAD_DAYS, mass_mix_unit: float = 1e-6, progress: bool = False) -> RolloutScores:
    """Score an emulator on restarts.

    Parameters
    ----------
    rollout : callable ``rollout(start, n_steps) -> (n_steps + 1, L, lat, lon)`` predicted mixing
        ratio, starting from the true state at index ``start``.
    q_true, air_mass : (T, L, lat, lon) arrays (mixing ratio in ``mass_mix_unit`` kg/kg, Pg).
    lat : (nlat,) degrees. starts : restart indices (e.g. :func:`quarter_restarts`).
    n_steps : rollout length; dt_hours : model step.
    """
    starts = np.asarray(starts, dtype=int)
    if starts.size == 0:
        raise ValueError("starts is empty: the test period is shorter than the rollout")
    if np.any(starts + n_steps >= len(q_true)):
        raise ValueError("every start + n_steps must lie inside q_true")
    r2s, rm, mass_err = [], [], []
    from .._util.progress import progress as _bar

    with _bar(len(starts), "rollouts", enabled=bool(progress), unit="rollouts") as bar:
        for s in starts:
            pred = np.asarray(rollout(int(s), n_steps), dtype=np.float64)
            true = np.asarray(q_true[s:s + n_steps + 1], dtype=np.float64)
            am = np.asarray(air_mass[s:s + n_steps + 1], dtype=np.float64)
            if pred.shape != true.shape:
                raise ValueError(f"rollout returned shape {pred.shape}, expected {true.shape}")
            r2s.append(r2(pred, true, lat))
            rm.append(rmse_ppm(pred, true, lat, mass_mix_unit))
            mass_err.append(global_co2_mass_pgc(pred, am, mass_mix_unit)
                            - global_co2_mass_pgc(true, am, mass_mix_unit))
            bar.advance()
    days = np.arange(n_steps + 1) * dt_hours / 24.0
    r2m, rmm = np.mean(r2s, axis=0), np.mean(rm, axis=0)
    mrm = np.sqrt(np.mean(np.square(mass_err), axis=0))
    at = {}
    for d in lead_days:
        k = int(round(d * 24.0 / dt_hours))
        if k <= n_steps:
            at[d] = {"r2": float(r2m[k]), "rmse_ppm": float(rmm[k]), "mass_rmse_pgc": float(mrm[k])}
    return RolloutScores(days, r2m, rmm, mrm, at, decorrelation_time(days, r2m), int(starts.size))
