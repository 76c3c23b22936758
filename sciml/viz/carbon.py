"""Figures for CO2 transport emulators: maps, error maps, rollout curves, mass drift, 3D column.

Fields follow the CarbonBench layout: ``q`` (L, lat, lon) mixing ratio in 1e-6 kg/kg (shown in
ppm), latitudes south -> north in degrees, longitudes east from 0, level 0 at the surface.
Every function returns the matplotlib figure, and writes it when ``out`` is given (PNG/PDF/SVG
from the suffix). :func:`render_co2_column_3d` renders off-screen with pyvista (optional extra
``viz3d``) and raises ImportError / RuntimeError with the reason when that is not possible.
"""
from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np

from .._util.extras import require
from ..bench.carbonbench import to_ppm
from .fields import save_figure

__all__ = ["column_mean", "plot_co2_map", "plot_error_map", "plot_rollout_curves", "plot_mass_drift",
           "render_co2_column_3d", "pyvista_offscreen_available"]


def _plt():
    import matplotlib

    if matplotlib.get_backend().lower() not in ("agg", "pdf", "svg", "cairo") and not _has_display():
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _has_display():
    import os

    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def _check_field(q, lat, lon, name="q"):
    q = np.asarray(q, dtype=np.float64)
    if q.ndim != 3:
        raise ValueError(f"{name} must have shape (L, lat, lon), got {q.shape}")
    lat, lon = np.asarray(lat, dtype=np.float64), np.asarray(lon, dtype=np.float64)
    if lat.shape != (q.shape[1],) or lon.shape != (q.shape[2],):
        raise ValueError(f"lat/lon must have {q.shape[1]}/{q.shape[2]} entries, got {lat.shape}/{lon.shape}")
    return q, lat, lon


def column_mean(q, air_mass=None):
    """Column mean over levels (axis -3), air-mass weighted when ``air_mass`` is given."""
    q = np.asarray(q, dtype=np.float64)
    if air_mass is None:
        return q.mean(axis=-3)
    m = np.asarray(air_mass, dtype=np.float64)
    return (q * m).sum(axis=-3) / m.sum(axis=-3)


def _select(q, level, air_mass):
    if level is None:
        return column_mean(q, air_mass), "column mean"
    if not -q.shape[0] <= int(level) < q.shape[0]:
        raise ValueError(f"level must be in [0, {q.shape[0]}), got {level}")
    return q[int(level)], f"level {int(level)}"


def _extent(lat, lon):
    dlon = lon[1] - lon[0] if lon.size > 1 else 360.0
    dlat = lat[1] - lat[0] if lat.size > 1 else 180.0
    return (lon[0] - dlon / 2, lon[-1] + dlon / 2, lat[0] - dlat / 2, lat[-1] + dlat / 2)


def plot_co2_map(q, lat, lon, *, level: int | None = None, air_mass=None, title: str | None = None,
                 mass_mix_unit: float = 1e-6, cmap: str = "viridis", out=None):
    """Map of CO2 (ppm) at ``level`` or the (air-mass weighted) column mean when ``level`` is None."""
    q, lat, lon = _check_field(q, lat, lon)
    field, what = _select(to_ppm(q, mass_mix_unit), level, air_mass)
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 3.6))
    im = ax.imshow(field, origin="lower", extent=_extent(lat, lon), cmap=cmap, aspect="auto")
    fig.colorbar(im, ax=ax, label="CO$_2$ (ppm)")
    ax.set_xlabel("longitude (deg E)")
    ax.set_ylabel("latitude (deg N)")
    ax.set_title(title or f"CO$_2$, {what}")
    if out is not None:
        save_figure(fig, out)
    return fig


def plot_error_map(pred, true, lat, lon, *, level: int | None = None, air_mass=None, title: str | None = None,
                   mass_mix_unit: float = 1e-6, out=None):
    """Three panels: truth, prediction (shared colour scale, ppm) and prediction - truth (diverging)."""
    pred, lat, lon = _check_field(pred, lat, lon, "pred")
    true, _, _ = _check_field(true, lat, lon, "true")
    if pred.shape != true.shape:
        raise ValueError(f"pred shape {pred.shape} differs from true shape {true.shape}")
    p, what = _select(to_ppm(pred, mass_mix_unit), level, air_mass)
    t, _ = _select(to_ppm(true, mass_mix_unit), level, air_mass)
    err = p - t
    plt = _plt()
    fig, axes = plt.subplots(1, 3, figsize=(15, 3.6), constrained_layout=True)
    vmin, vmax = min(p.min(), t.min()), max(p.max(), t.max())
    ext = _extent(lat, lon)
    for ax, f, name in ((axes[0], t, "truth"), (axes[1], p, "prediction")):
        im = ax.imshow(f, origin="lower", extent=ext, vmin=vmin, vmax=vmax, cmap="viridis", aspect="auto")
        ax.set_title(f"{name}, {what}")
        fig.colorbar(im, ax=ax, label="ppm")
    e = max(np.abs(err).max(), 1e-12)
    im = axes[2].imshow(err, origin="lower", extent=ext, vmin=-e, vmax=e, cmap="RdBu_r", aspect="auto")
    axes[2].set_title(f"error (RMSE {np.sqrt(np.mean(err ** 2)):.3g} ppm)")
    fig.colorbar(im, ax=axes[2], label="ppm")
    for ax in axes:
        ax.set_xlabel("longitude (deg E)")
    axes[0].set_ylabel("latitude (deg N)")
    if title:
        fig.suptitle(title)
    if out is not None:
        save_figure(fig, out)
    return fig


def plot_rollout_curves(scores: dict, *, threshold: float = 0.9, out=None):
    """R^2 and RMSE (ppm) against lead time for each model; ``scores`` maps a name to an object with
    ``days``, ``r2``, ``rmse_ppm`` arrays (e.g. :class:`sciml.bench.carbonbench.RolloutScores`)."""
    if not scores:
        raise ValueError("scores is empty")
    plt = _plt()
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 3.8), constrained_layout=True)
    for name, s in scores.items():
        a1.plot(s.days, s.r2, label=name)
        a2.plot(s.days, s.rmse_ppm, label=name)
    a1.axhline(threshold, color="k", ls="--", lw=0.8, label=f"R$^2$ = {threshold}")
    a1.set_ylabel("R$^2$ (cos-lat weighted)")
    a2.set_ylabel("RMSE (ppm)")
    for a in (a1, a2):
        a.set_xlabel("lead time (days)")
        a.grid(alpha=0.3)
    a1.legend(fontsize=8)
    if out is not None:
        save_figure(fig, out)
    return fig


def plot_mass_drift(runs: dict, *, out=None):
    """Relative mass error ``(mass - expected) / expected`` against days for each run;
    ``runs`` maps a name to ``(days, mass, expected)`` arrays."""
    if not runs:
        raise ValueError("runs is empty")
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.5, 3.6), constrained_layout=True)
    for name, (days, mass, expected) in runs.items():
        rel = (np.asarray(mass) - np.asarray(expected)) / np.asarray(expected)
        ax.plot(days, np.abs(rel) + 1e-18, label=name)
    ax.set_yscale("log")
    ax.set_xlabel("days")
    ax.set_ylabel("|relative mass error|")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    if out is not None:
        save_figure(fig, out)
    return fig


def _quiet_vtk(pv):
    """VTK's logger at errors only: without a display it prints a "bad X server connection" warning
    before it falls back to off-screen rendering, which then works."""
    quiet = getattr(pv, "vtk_verbosity", None)  # pyvista >= 0.44
    return quiet("error") if quiet is not None else contextlib.nullcontext()


def pyvista_offscreen_available() -> tuple[bool, str]:
    """``(True, "")`` if pyvista can render off-screen here, else ``(False, reason)``."""
    try:
        import pyvista as pv
    except ImportError as e:  # pragma: no cover - depends on the environment
        return False, f"pyvista is not installed (pip install 'sciml[viz3d]'): {e}"
    try:
        with _quiet_vtk(pv):
            p = pv.Plotter(off_screen=True, window_size=(32, 32))
            p.add_mesh(pv.Sphere(theta_resolution=8, phi_resolution=8))
            img = p.screenshot(return_img=True)
            p.close()
        if img is None or img.size == 0:
            return False, "vtk off-screen rendering returned an empty image"
    except Exception as e:  # pragma: no cover
        return False, f"vtk off-screen rendering failed: {e}"
    return True, ""


def render_co2_column_3d(q, lat, lon, out, *, height_km=None, mass_mix_unit: float = 1e-6,
                         exaggeration: float = 40.0, cmap: str = "viridis", window_size=(1000, 800),
                         camera_lon: float = 0.0, camera_lat: float = 25.0, clim=None) -> Path:
    """Off-screen 3D render of the CO2 column on the sphere, written as a PNG.

    q : (L, lat, lon) mixing ratio; lat, lon : cell centres (deg); height_km : (L+1,) interface heights
    (default: 0..L km uniformly). Cells become hexahedra between spherical shells of radius
    ``1 + exaggeration * h / 6371 km``; the CO2 (ppm) colours the cells, and the upper half of the
    column is cut away over a quarter of the globe so the vertical structure is visible.

    Raises ImportError when pyvista is missing and RuntimeError when vtk cannot render off-screen.
    """
    q, lat, lon = _check_field(q, lat, lon)
    pv = require("pyvista", "viz3d", "render_co2_column_3d")
    L, nlat, nlon = q.shape
    h = np.linspace(0.0, float(L), L + 1) if height_km is None else np.asarray(height_km, dtype=np.float64)
    if h.shape != (L + 1,) or np.any(np.diff(h) <= 0):
        raise ValueError(f"height_km must be {L + 1} increasing interface heights")
    out = Path(out)
    if not out.parent.exists():
        raise FileNotFoundError(f"output directory {out.parent} does not exist")
    dlat = lat[1] - lat[0] if nlat > 1 else 180.0
    dlon = lon[1] - lon[0] if nlon > 1 else 360.0
    latb = np.deg2rad(np.clip(np.concatenate([lat - dlat / 2, [lat[-1] + dlat / 2]]), -90, 90))
    lonb = np.deg2rad(np.concatenate([lon - dlon / 2, [lon[-1] + dlon / 2]]))
    r = 1.0 + exaggeration * h / 6371.0
    R, LAT, LON = np.meshgrid(r, latb, lonb, indexing="ij")  # (L+1, nlat+1, nlon+1)
    x = R * np.cos(LAT) * np.cos(LON)
    y = R * np.cos(LAT) * np.sin(LON)
    z = R * np.sin(LAT)
    grid = pv.StructuredGrid(x.transpose(2, 1, 0), y.transpose(2, 1, 0), z.transpose(2, 1, 0))
    ppm = to_ppm(q, mass_mix_unit)
    grid.cell_data["CO2 (ppm)"] = ppm.transpose(2, 1, 0).ravel(order="F")
    # cut a wedge out of the upper layers facing the camera to show the column structure
    lon_c = np.deg2rad(camera_lon)
    cen = np.stack(np.meshgrid(np.arange(L), np.deg2rad(lat), np.deg2rad(lon), indexing="ij"))
    dl = np.angle(np.exp(1j * (cen[2] - lon_c)))
    keep = ~((np.abs(dl) < np.pi / 4) & (cen[1] > 0) & (cen[0] >= L // 2))
    grid.cell_data["keep"] = keep.transpose(2, 1, 0).ravel(order="F").astype(np.uint8)
    shown = grid.threshold(0.5, scalars="keep")
    try:
        with _quiet_vtk(pv):
            pl = pv.Plotter(off_screen=True, window_size=tuple(window_size))
            pl.add_mesh(shown, scalars="CO2 (ppm)", cmap=cmap, clim=clim or (float(ppm.min()), float(ppm.max())),
                        show_edges=False, scalar_bar_args={"title": "CO2 (ppm)"})
            d = 4.6
            cl, cla = np.deg2rad(camera_lon), np.deg2rad(camera_lat)
            pl.camera_position = [(d * np.cos(cla) * np.cos(cl), d * np.cos(cla) * np.sin(cl), d * np.sin(cla)),
                                  (0, 0, 0), (0, 0, 1)]
            tmp = out.with_name(out.stem + ".tmp" + (out.suffix or ".png"))
            pl.screenshot(str(tmp))
            pl.close()
    except Exception as e:
        raise RuntimeError(f"vtk off-screen rendering failed on this machine: {e}") from e
    tmp.replace(out)
    return out
