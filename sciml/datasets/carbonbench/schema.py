"""CarbonBench store layout: variable names, units, CF names, splits, paths, times.

Layout (as published by ``neural_transport``, Benson et al. 2024)::

    ROOT/Carbontracker/{train,val,test}/carbontracker_{grid}_{levels}_{freq}.zarr
    ROOT/Carbontracker/{split}/carbontracker_{grid}_{levels}_{freq}_stats.zarr

Each split store holds ``variables_3d (time, vari_3d, level, lat, lon)`` and
``variables_2d (time, vari_2d, lat, lon)`` (float32) with the variable names as the
coordinates ``vari_3d`` / ``vari_2d``; ``level`` is the layer-bottom pressure (hPa) at a
1013 hPa surface, level 0 at the surface. The stats store (computed on the train split) has,
per variable ``v``: ``v (stats)`` over time/level/lat/lon, ``v_delta (stats[, level])`` of the
one-step differences over time/lat/lon, and ``v_next`` (= ``v``); ``stats = [min, mean, max, std]``.

Time ``n`` holds the state at ``t_n`` and the surface fluxes applied during ``[t_n, t_{n+1}]``,
so that ``sum M(t_{n+1}) = sum M(t_n) + sum F_n A dt`` with ``M = co2massmix * 1e-6 * airmass``.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from ...solvers.atmosphere import M_AIR, M_CO2, MASSMIX_TO_PPM, PGC_PER_KG_CO2, SECONDS_PER_DAY  # noqa: F401

__all__ = ["VARIABLES_3D", "VARIABLES_2D", "UNITS", "STANDARD_NAMES", "PUBLISHED_SPLITS", "MASSMIX_TO_PPM",
           "PGC_PER_KG_CO2", "store_path", "stats_path", "default_splits"]

# Variable order of the published stores (vari_3d / vari_2d coordinates).
VARIABLES_3D = ("co2massmix", "airmass", "p_bottom", "p_top", "gph_bottom", "gph_top", "t", "q", "u", "v")
VARIABLES_2D = ("cell_area", "blh", "orography", "co2flux_land", "co2flux_ocean", "co2flux_anthro", "tisr")

UNITS = {
    "co2massmix": "1e-6 kg kg-1", "airmass": "Pg", "p_bottom": "hPa", "p_top": "hPa",
    "gph_bottom": "km", "gph_top": "km", "t": "K", "q": "kg kg-1", "u": "m s-1", "v": "m s-1",
    "co2flux_land": "kg m-2 s-1", "co2flux_ocean": "kg m-2 s-1", "co2flux_anthro": "kg m-2 s-1",
    "blh": "m", "orography": "m", "cell_area": "m2", "tisr": "J m-2",
}
STANDARD_NAMES = {
    "co2massmix": "mass_fraction_of_carbon_dioxide_in_air", "airmass": "atmosphere_mass_of_air_in_grid_cell",
    "p_bottom": "air_pressure_at_layer_bottom", "p_top": "air_pressure_at_layer_top",
    "gph_bottom": "geopotential_height_at_layer_bottom", "gph_top": "geopotential_height_at_layer_top",
    "t": "air_temperature", "q": "specific_humidity", "u": "eastward_wind", "v": "northward_wind",
    "co2flux_land": "surface_upward_mass_flux_of_carbon_dioxide_expressed_as_carbon_dioxide_due_to_land",
    "co2flux_ocean": "surface_upward_mass_flux_of_carbon_dioxide_expressed_as_carbon_dioxide_due_to_ocean",
    "co2flux_anthro": "surface_upward_mass_flux_of_carbon_dioxide_expressed_as_carbon_dioxide_due_to_emission",
    "blh": "atmosphere_boundary_layer_thickness", "orography": "surface_altitude", "cell_area": "cell_area",
    "tisr": "integral_wrt_time_of_toa_incoming_shortwave_flux",
}
# Non-CF quantities get a long_name only; CF standard names must come from the table, so the
# few above that are not in the CF table are marked and exported as long_name instead.
_NOT_CF = {"airmass", "p_bottom", "p_top", "gph_bottom", "gph_top", "co2flux_land", "co2flux_ocean",
           "co2flux_anthro"}


PUBLISHED_SPLITS = {"train": (2000, 2016), "val": (2017, 2017), "test": (2018, 2020)}


def _check_split(split):
    if split not in PUBLISHED_SPLITS:
        raise ValueError(f"split must be one of {tuple(PUBLISHED_SPLITS)}, got {split!r}")


def store_path(root, split: str, grid: str = "latlon5.625", levels: str = "l10", freq: str = "6h") -> Path:
    """``ROOT/Carbontracker/{split}/carbontracker_{grid}_{levels}_{freq}.zarr``."""
    _check_split(split)
    return Path(root) / "Carbontracker" / split / f"carbontracker_{grid}_{levels}_{freq}.zarr"


def stats_path(root, split: str, grid: str = "latlon5.625", levels: str = "l10", freq: str = "6h") -> Path:
    """The ``_stats`` store next to a split store."""
    p = store_path(root, split, grid, levels, freq)
    return p.with_name(p.name[:-5] + "_stats.zarr")


_STORE_RE = re.compile(r"carbontracker_(?P<grid>[^_]+)_(?P<levels>l\d+)_(?P<freq>[^_]+)\.zarr")


def _find_store(root, split, grid, levels, freq) -> Path:
    root = Path(root)
    if root.suffix == ".zarr" and root.is_dir():
        return root
    if not root.exists():
        raise FileNotFoundError(f"CarbonBench root {str(root)!r} does not exist")
    _check_split(split)
    d = root / "Carbontracker" / split
    if not d.is_dir():
        d = root / split if (root / split).is_dir() else d
    if not d.is_dir():
        raise FileNotFoundError(f"no split directory {str(root / 'Carbontracker' / split)!r}")
    cands = sorted(p for p in d.glob("carbontracker_*.zarr") if _STORE_RE.fullmatch(p.name))
    if grid is not None:
        cands = [p for p in cands if _STORE_RE.fullmatch(p.name)["grid"] == grid]
    if levels is not None:
        cands = [p for p in cands if _STORE_RE.fullmatch(p.name)["levels"] == levels]
    if freq is not None:
        cands = [p for p in cands if _STORE_RE.fullmatch(p.name)["freq"] == freq]
    if not cands:
        want = f"carbontracker_{grid or '*'}_{levels or '*'}_{freq or '*'}.zarr"
        raise FileNotFoundError(f"no store {want} in {str(d)!r}")
    if len(cands) > 1:
        raise ValueError(f"several stores in {str(d)!r} ({', '.join(p.name for p in cands)}): pass grid=/levels=")
    return cands[0]


_HOURS_EPOCH = "hours since 2000-01-01 00:00:00"


def _seconds_since_2000(year: int, day: int = 0) -> float:
    return float((np.datetime64(f"{year:04d}-01-01") - np.datetime64("2000-01-01")) / np.timedelta64(1, "s")) \
        + day * SECONDS_PER_DAY


def _days_in_year(year: int) -> int:
    return int((np.datetime64(f"{year + 1:04d}-01-01") - np.datetime64(f"{year:04d}-01-01")) / np.timedelta64(1, "D"))


def default_splits(years) -> dict:
    """Split years: the published train 2000-2016 / val 2017 / test 2018-2020 when ``years``
    covers 2017 and 2018; otherwise the last year is ``test``, the one before ``val`` and the
    rest ``train`` (with two years: train + test; with one: train). Returns ``{split: (y0, y1)}``."""
    y0, y1 = years
    if y0 <= 2016 and y1 >= 2018:
        return {k: (max(a, y0), min(b, y1)) for k, (a, b) in PUBLISHED_SPLITS.items() if max(a, y0) <= min(b, y1)}
    n = y1 - y0 + 1
    if n == 1:
        return {"train": (y0, y1)}
    if n == 2:
        return {"train": (y0, y0), "test": (y1, y1)}
    return {"train": (y0, y1 - 2), "val": (y1 - 1, y1 - 1), "test": (y1, y1)}

