"""CarbonBench (Benson et al. 2024) stores: reader of the published zarr layout, CF-netCDF
export, and a synthetic generator that writes the same schema from the classical solver.

Layout (as published by ``neural_transport``)::

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

The synthetic generator advances CO2 every 6 h with ``sciml.solvers.transport``: analytic winds
-> face mass fluxes (balanced so the air mass follows the prescribed surface pressure) ->
vertical fluxes from continuity -> Strang-split mass-form advection -> surface fluxes into the
lowest layer -> mass-conserving mixing of the boundary layer (depth from the stored ``blh``),
tropical deep convection and synoptic-scale tropospheric mixing (storm tracks).

Magnitudes follow CarbonTracker: global fluxes fossil ~7-8, land -1.5 (monthly means swinging
between ~+15 and ~-18), ocean -2 PgC/yr; growth ~1.8-2 ppm/yr; a northern boundary-layer
seasonal range of ~12-15 ppm, ~2 ppm in the south; a spatial std of the field of a few ppm. Written as zarr format 2 (like the published stores); the reader
accepts format 2 or 3.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import time as _time
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..grids import GRAVITY, LatLonGrid

__all__ = [
    "VARIABLES_3D", "VARIABLES_2D", "UNITS", "STANDARD_NAMES", "PUBLISHED_SPLITS", "MASSMIX_TO_PPM",
    "PGC_PER_KG_CO2", "CarbonBenchStore", "open_carbonbench", "store_path", "stats_path",
    "generate_carbonbench", "generate_tiny_carbonbench", "cli_generate", "default_splits",
    "to_cf_dataset", "SyntheticAtmosphere",
]

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
M_AIR, M_CO2 = 28.9647, 44.0095  # g/mol
MASSMIX_TO_PPM = M_AIR / M_CO2  # co2massmix (1e-6 kg/kg) -> ppm (umol/mol)
PGC_PER_KG_CO2 = 1e-12 / (M_CO2 / 12.011)  # kg CO2 -> PgC
_PGC_YR_TO_KGCO2_S = 1e12 * (M_CO2 / 12.011) / (365.25 * 86400.0)
SECONDS_PER_DAY = 86400.0


# ============================================================================ paths
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


# ============================================================================ reader
class CarbonBenchStore:
    """One split of a CarbonBench store (lazy; nothing is read until asked).

    Attributes: ``ds`` (the xarray Dataset, dask-backed), ``path``, ``variables_3d`` /
    ``variables_2d`` (names in store order), ``time`` (datetime64), ``lat``, ``lon``, ``level``,
    ``grid`` (a ``LatLonGrid`` matching lat/lon; its level coefficients are the generator's for a
    synthetic store and the default ones otherwise: use the stored ``airmass`` / ``p_bottom`` /
    ``p_top`` for the exact vertical structure of a published store), ``attrs``.

    Access: ``store["co2massmix"]`` -> ``xarray.DataArray`` ``(time, level, lat, lon)`` (or
    ``(time, lat, lon)`` for 2D variables); ``store.read("co2massmix", slice(0, 10))`` -> numpy
    float32; ``store.sample(n)`` -> ``(x3d (C3, level, lat, lon), x2d (C2, lat, lon))`` numpy;
    ``store.stats`` -> the stats Dataset or ``None``; ``len(store)`` = number of times.
    """

    def __init__(self, path, *, expected_grid: LatLonGrid | None = None, stats=None):
        import xarray as xr
        import zarr

        self.path = Path(path)
        try:
            self.ds = xr.open_zarr(self.path, consolidated=None)
        except Exception as exc:  # noqa: BLE001 - rephrase as a user-facing error
            raise ValueError(f"{str(self.path)!r} is not a readable zarr store: {exc}") from None
        self._zgroup = zarr.open_group(str(self.path), mode="r")
        missing = [n for n in ("variables_3d", "variables_2d") if n not in self.ds]
        if missing:
            raise ValueError(f"{str(self.path)!r}: missing arrays {missing} (a CarbonBench store has "
                             "variables_3d (time, vari_3d, level, lat, lon) and variables_2d (time, vari_2d, lat, lon))")
        v3, v2 = self.ds["variables_3d"], self.ds["variables_2d"]
        if v3.dims != ("time", "vari_3d", "level", "lat", "lon"):
            raise ValueError(f"{str(self.path)!r}: variables_3d has dims {v3.dims}, expected (time, vari_3d, level, lat, lon)")
        if v2.dims != ("time", "vari_2d", "lat", "lon"):
            raise ValueError(f"{str(self.path)!r}: variables_2d has dims {v2.dims}, expected (time, vari_2d, lat, lon)")
        self.variables_3d = tuple(str(x) for x in self.ds["vari_3d"].values)
        self.variables_2d = tuple(str(x) for x in self.ds["vari_2d"].values)
        miss3 = [v for v in VARIABLES_3D if v not in self.variables_3d]
        miss2 = [v for v in VARIABLES_2D if v not in self.variables_2d]
        if miss3 or miss2:
            raise ValueError(f"{str(self.path)!r}: missing variables {miss3 + miss2} "
                             f"(has vari_3d={list(self.variables_3d)}, vari_2d={list(self.variables_2d)})")
        self.lat = np.asarray(self.ds["lat"].values, dtype=np.float64)
        self.lon = np.asarray(self.ds["lon"].values, dtype=np.float64)
        self.level = np.asarray(self.ds["level"].values, dtype=np.float64)
        self.time = self.ds["time"].values
        nlat, nlon = self.lat.size, self.lon.size
        levels = self.level.size if self.level.size else None
        ha, hb = self.ds.attrs.get("hybrid_a_Pa"), self.ds.attrs.get("hybrid_b")
        if ha is not None and hb is not None and len(ha) == self.level.size + 1:
            levels = (np.asarray(ha, dtype=np.float64), np.asarray(hb, dtype=np.float64))  # the generator's levels
        grid = LatLonGrid(nlat, nlon, levels)
        if nlon != 2 * nlat or not (np.allclose(self.lat, grid.lat, atol=1e-4) and np.allclose(self.lon % 360, grid.lon, atol=1e-4)):
            raise ValueError(f"{str(self.path)!r}: lat/lon ({nlat} x {nlon}, lat {self.lat[0]:g}..{self.lat[-1]:g}, "
                             f"lon {self.lon[0]:g}..{self.lon[-1]:g}) is not a regular CarbonBench lat-lon grid")
        if expected_grid is not None:
            if (expected_grid.nlat, expected_grid.nlon) != (nlat, nlon) or (
                    expected_grid.nlev and expected_grid.nlev != self.level.size):
                raise ValueError(f"{str(self.path)!r}: grid is {nlat} x {nlon} with {self.level.size} levels, "
                                 f"expected {expected_grid.nlat} x {expected_grid.nlon} with {expected_grid.nlev} levels")
        self.grid = grid
        self.attrs = dict(self.ds.attrs)
        self._stats_path = stats
        self._stats = None
        self._i3 = {n: i for i, n in enumerate(self.variables_3d)}
        self._i2 = {n: i for i, n in enumerate(self.variables_2d)}

    # ------------------------------------------------------------------ access
    def __len__(self) -> int:
        return int(self.ds.sizes["time"])

    def __contains__(self, name) -> bool:
        return name in self._i3 or name in self._i2

    def __getitem__(self, name: str):
        if name in self._i3:
            da = self.ds["variables_3d"].isel(vari_3d=self._i3[name], drop=True)
        elif name in self._i2:
            da = self.ds["variables_2d"].isel(vari_2d=self._i2[name], drop=True)
        else:
            raise KeyError(f"{name!r} is not a variable of this store (3D: {self.variables_3d}, 2D: {self.variables_2d})")
        return da.rename(name).assign_attrs(units=UNITS.get(name, ""), long_name=name)

    def read(self, name: str, time=slice(None)) -> np.ndarray:
        """Values of one variable (numpy float32), ``(T, level, lat, lon)`` / ``(T, lat, lon)``
        for a slice/array of time indices, without the time axis for an int."""
        if name in self._i3:
            return np.asarray(self._zgroup["variables_3d"][time, self._i3[name]])
        if name in self._i2:
            return np.asarray(self._zgroup["variables_2d"][time, self._i2[name]])
        raise KeyError(f"{name!r} is not a variable of this store (3D: {self.variables_3d}, 2D: {self.variables_2d})")

    def sample(self, n: int):
        """Both arrays at time index ``n``: ``(x3d (C3, level, lat, lon), x2d (C2, lat, lon))``, float32."""
        return (np.asarray(self._zgroup["variables_3d"][n]), np.asarray(self._zgroup["variables_2d"][n]))

    @property
    def array_3d(self):
        """The raw zarr array ``variables_3d`` (numpy slicing, e.g. for a torch Dataset)."""
        return self._zgroup["variables_3d"]

    @property
    def array_2d(self):
        """The raw zarr array ``variables_2d``."""
        return self._zgroup["variables_2d"]

    @property
    def cell_area(self) -> np.ndarray:
        """Cell areas (m^2) stored in the split, ``(lat, lon)`` float64."""
        return self.read("cell_area", 0).astype(np.float64)

    @property
    def stats(self):
        """The stats Dataset (``v``, ``v_delta``, ``v_next`` per variable, ``stats`` coordinate) or None."""
        if self._stats is None and self._stats_path is not None and Path(self._stats_path).is_dir():
            import xarray as xr

            self._stats = xr.open_zarr(self._stats_path).load()
        return self._stats

    def to_dataset(self):
        """One xarray Dataset with a data variable per field (CF attributes, lazy)."""
        return to_cf_dataset(self)

    def to_netcdf(self, path, time=slice(None)):
        """Export (a time slice of) the split to CF-netCDF (one variable per field). Returns the path."""
        ds = to_cf_dataset(self).isel(time=time)
        path = Path(path)
        tmp = path.with_name(f".{path.name}.tmp-{uuid.uuid4().hex[:8]}")
        try:
            ds.to_netcdf(tmp)
            os.replace(tmp, path)
        finally:
            if tmp.exists():
                tmp.unlink()
        return path

    def close(self):
        self.ds.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        return (f"CarbonBenchStore({str(self.path)!r}, time={len(self)}, grid={self.grid.nlat}x{self.grid.nlon}, "
                f"levels={self.level.size})")


def open_carbonbench(root, split: str = "train", *, grid: str | None = None, levels: str | None = None,
                     freq: str | None = "6h") -> CarbonBenchStore:
    """Open one split of a CarbonBench store (published or generated).

    root : the directory that holds ``Carbontracker/`` (or a ``.zarr`` store directly);
    split : ``"train" | "val" | "test"``; grid / levels / freq select the store when the split
    directory holds several (e.g. ``grid="latlon5.625", levels="l10"``) and are checked against it.
    Raises ``FileNotFoundError`` for a missing store and ``ValueError`` naming what is missing for
    a store without the required arrays / variables or on a different grid.
    """
    if grid is not None:
        LatLonGrid.from_name(grid)  # validates the name
    if levels is not None and not re.fullmatch(r"l\d+", str(levels)):
        raise ValueError(f"levels must look like 'l10', got {levels!r}")
    path = _find_store(root, split, grid, levels, freq)
    expected = None
    if grid is not None:
        nlev = int(levels[1:]) if levels is not None else None
        expected = LatLonGrid.from_name(grid, nlev)
    spath = path.with_name(path.name[:-5] + "_stats.zarr")
    return CarbonBenchStore(path, expected_grid=expected, stats=spath if spath.is_dir() else None)


def to_cf_dataset(store: CarbonBenchStore):
    """CF view of a split: data variables per field with ``units``, ``standard_name`` (or
    ``long_name``), lat/lon/level coordinates with CF attributes. Lazy (dask)."""
    import xarray as xr

    data = {}
    for name in store.variables_3d + store.variables_2d:
        da = store[name]
        attrs = {"units": UNITS.get(name, "1"), "long_name": name}
        if name in STANDARD_NAMES and name not in _NOT_CF:
            attrs["standard_name"] = STANDARD_NAMES[name]
        if name == "co2massmix":
            attrs["units"] = "1e-6"
        data[name] = da.assign_attrs(attrs)
    ds = xr.Dataset(data, attrs={**{k: v for k, v in store.attrs.items() if isinstance(v, (str, int, float))},
                                 "Conventions": "CF-1.8"})
    ds["lat"].attrs.update(standard_name="latitude", units="degrees_north", axis="Y")
    ds["lon"].attrs.update(standard_name="longitude", units="degrees_east", axis="X")
    ds["level"].attrs.update(long_name="layer bottom pressure at 1013 hPa surface pressure", units="hPa",
                             positive="down", axis="Z")
    return ds


# ============================================================================ synthetic atmosphere
def _gauss(x, w):
    return np.exp(-(x / w) ** 2)


def _lon_dist(lon, lon_c):
    return (lon - lon_c + 180.0) % 360.0 - 180.0


@dataclass
class _Continent:
    lon: float
    lat: float
    wlon: float
    wlat: float


_CONTINENTS = (
    _Continent(258, 47, 32, 20), _Continent(282, 33, 12, 10), _Continent(300, -14, 14, 24), _Continent(292, -40, 6, 14),
    _Continent(20, 6, 20, 26), _Continent(40, -18, 8, 12), _Continent(30, 52, 35, 14), _Continent(95, 55, 50, 15),
    _Continent(100, 30, 28, 12), _Continent(78, 21, 8, 10), _Continent(135, -25, 17, 10), _Continent(318, 72, 12, 9),
)
# mountains: lon, lat, wlon, wlat, height (m)
_MOUNTAINS = ((250, 42, 6, 14, 2200.0), (291, -20, 3.5, 18, 3200.0), (88, 33, 14, 6, 4500.0),
              (318, 72, 8, 6, 2000.0), (25, -5, 15, 18, 800.0), (45, 45, 30, 8, 700.0))
# industrial regions: lon, lat, width (deg), share of the anthropogenic emission
_INDUSTRY = ((282, 40, 5.0, 0.22), (8, 50, 6.0, 0.22), (115, 32, 6.0, 0.32), (78, 23, 5.0, 0.10),
             (138, 36, 3.0, 0.06), (240, 36, 4.0, 0.08))


class SyntheticAtmosphere:
    """Analytic, smooth, time-varying meteorology and CO2 surface fluxes on ``grid`` (with levels).

    Time ``t`` in seconds since 2000-01-01 00:00 UTC. Everything is a deterministic function of
    ``(t, seed)``: surface pressure from orography with travelling synoptic waves (global air mass
    constant), winds = zonal jets with a seasonal shift + Rossby-Haurwitz planetary waves +
    Hadley / Walker divergent circulations, temperature, humidity, boundary-layer height,
    top-of-atmosphere insolation, and land / ocean / anthropogenic CO2 fluxes (kg CO2 m-2 s-1) with
    seasonal and diurnal cycles and a growing (2 %/yr) anthropogenic trend.
    """

    def __init__(self, grid: LatLonGrid, seed: int = 0):
        if grid.nlev == 0:
            raise ValueError("SyntheticAtmosphere needs a grid with levels")
        self.grid = grid
        rng = np.random.default_rng(seed)
        lon, lat = np.meshgrid(grid.lon, grid.lat)
        self.lon_deg, self.lat_deg = lon, lat
        self.lam, self.phi = np.radians(lon), np.radians(lat)
        land = np.zeros_like(lon)
        for c in _CONTINENTS:
            d2 = (_lon_dist(lon, c.lon) / c.wlon) ** 2 + ((lat - c.lat) / c.wlat) ** 2
            land = np.maximum(land, 1.0 / (1.0 + np.exp(np.minimum(6.0 * (d2 - 1.0), 50.0))))
        land = np.maximum(land, 1.0 / (1.0 + np.exp(-(-lat - 68.0) / 2.0)))  # Antarctica
        self.land = land
        oro = np.zeros_like(lon)
        for lo, la, wl, wa, h in _MOUNTAINS:
            oro += h * np.exp(-(_lon_dist(lon, lo) / wl) ** 2 - ((lat - la) / wa) ** 2)
        oro += 2500.0 / (1.0 + np.exp(-(-lat - 76.0) / 3.0))
        self.orography = oro * land
        ind = np.zeros_like(lon)
        for lo, la, w, share in _INDUSTRY:
            blob = np.exp(-(_lon_dist(lon, lo) / w) ** 2 - ((lat - la) / w) ** 2)
            ind += share * blob / max((blob * grid.cell_area).sum(), 1e-30)
        self.industry = ind  # m-2, integrates to 1 over the sphere
        # random phases / small amplitude perturbations make seeds differ
        self.phase = rng.uniform(0, 2 * np.pi, size=16)
        self.amp = 1.0 + 0.15 * rng.standard_normal(16)
        self.ps_base = 101300.0 * np.exp(-self.orography / 7500.0)
        # land / ocean sink patterns (normalised to 1 PgC/yr over the sphere)
        A = grid.cell_area
        sink_land = land * (0.6 * _gauss(lat, 15.0) + _gauss(lat - 50.0, 15.0))
        self.sink_land = sink_land / (sink_land * A).sum()
        out = (1 - land) * _gauss(lat, 15.0)
        inn = (1 - land) * _gauss(np.abs(lat) - 50.0, 12.0)
        self.ocean_out = out / (out * A).sum()
        self.ocean_in = inn / (inn * A).sum()
        # seasonal net ecosystem exchange amplitude (kg CO2 m-2 s-1): the global land flux swings
        # between ~+12 PgC/yr (boreal winter) and ~-14 PgC/yr (July) in monthly means, as in
        # CarbonTracker; the diurnal cycle (gross photosynthesis vs respiration) is twice as large
        self.nep_amp = land * (0.7e-7 * _gauss(lat - 55.0, 15.0) + 0.25e-7 * _gauss(lat, 15.0)
                               + 0.2e-7 * _gauss(lat + 30.0, 12.0))
        self.synoptic_mixing = (0.004, 0.016)  # background and storm-track mixing fractions per 6 h

    # ------------------------------------------------------------------ time helpers
    @staticmethod
    def _season(t):
        """Phase of the year (radians), 0 at Jan 1."""
        return 2 * np.pi * ((t / SECONDS_PER_DAY) % 365.25) / 365.25

    def _hour_angle(self, t):
        """Local solar hour angle (radians), 0 at local noon."""
        return 2 * np.pi * ((t / SECONDS_PER_DAY) % 1.0) + self.lam - np.pi

    def cos_zenith(self, t):
        s = self._season(t)
        decl = np.radians(23.44) * np.sin(s - 2 * np.pi * 80.0 / 365.25)
        return np.sin(self.phi) * np.sin(decl) + np.cos(self.phi) * np.cos(decl) * np.cos(self._hour_angle(t))

    # ------------------------------------------------------------------ fields
    def surface_pressure(self, t):
        """Surface pressure (Pa), ``(nlat, nlon)``; its area mean is constant in time."""
        days = t / SECONDS_PER_DAY
        s = self._season(t)
        lam, phi = self.lam, self.phi
        env = _gauss(np.abs(np.degrees(phi)) - 50.0, 15.0)
        d = np.zeros_like(lam)
        for i, (R, c) in enumerate(((4, 9.0), (5, 11.0), (6, 13.0))):
            w = R * (lam - c * days * SECONDS_PER_DAY / (self.grid.radius * np.cos(np.radians(45.0))))
            d += 700.0 * self.amp[i] * env * np.cos(w + self.phase[i])
        d += 250.0 * self.land * np.cos(s) * np.sign(phi)  # winter highs over NH continents
        d += 150.0 * np.cos(s + self.phase[3]) * np.sin(phi)
        d -= self.grid.area_mean(d)
        return self.ps_base + d

    def winds(self, t, ps=None):
        """Eastward / northward wind (m/s) on the levels, each ``(nlev, nlat, nlon)``."""
        g = self.grid
        ps = self.surface_pressure(t) if ps is None else ps
        pb = g.pressure_bounds(ps)
        sigma = 0.5 * (pb[:-1] + pb[1:]) / ps  # (nlev, nlat, nlon)
        days = t / SECONDS_PER_DAY
        s = self._season(t)
        lam = self.lam[:1, :]  # (1, nlon)
        phi = self.phi[:, :1]  # (nlat, 1)
        latd = np.degrees(phi)
        cph, sph = np.cos(phi), np.sin(phi)
        # zonal jets (stronger in winter, poleward in summer)
        jet_prof = 6.0 + 30.0 * np.exp(-((np.log(sigma) - np.log(0.25)) / 0.7) ** 2)
        shift = 6.0 * np.cos(s - 2 * np.pi * 200 / 365.25)
        strength_n = 1.0 + 0.3 * np.cos(s - 2 * np.pi * 15 / 365.25)
        strength_s = 1.0 - 0.2 * np.cos(s - 2 * np.pi * 15 / 365.25)
        u = jet_prof * (strength_n * _gauss(latd - (40.0 + shift), 13.0) + strength_s * _gauss(latd + (45.0 - shift), 13.0))
        u += -7.0 * sigma ** 2 * _gauss(latd, 18.0)  # trades
        u += -3.0 * sigma * _gauss(np.abs(latd) - 75.0, 8.0)  # polar easterlies
        # Rossby-Haurwitz-like planetary / synoptic waves: psi = a^2 K cos^R(phi) sin(phi) cos(R lam - nu t)
        uw = np.zeros((g.nlat, g.nlon))
        vw = np.zeros((g.nlat, g.nlon))
        for i, (R, aK, period) in enumerate(((3, 6.0, 25.0), (4, 8.0, -12.0), (6, 5.0, -5.0))):
            arg = R * lam - 2 * np.pi * days / period + self.phase[4 + i]
            amp = aK * self.amp[4 + i] * (1.0 + 0.3 * np.cos(s + self.phase[8 + i]))
            dfdphi = -R * cph ** (R - 1) * sph ** 2 + cph ** (R + 1)
            uw += -amp * dfdphi * np.cos(arg)
            vw += -amp * R * cph ** (R - 1) * sph * np.sin(arg)
        vert = 0.5 + 0.3 / np.sqrt(sigma)
        u += vert * uw
        v = vert * vw
        # divergent circulations: Hadley cell towards a seasonally migrating ITCZ, Walker cell
        gsig = np.cos(np.pi * (1.0 - sigma))  # +1 at the surface, -1 aloft
        itcz = 6.0 * np.sin(s - 2 * np.pi * 110 / 365.25)
        dl = np.radians(latd - itcz)
        v += gsig * (-3.0 * np.sin(2 * dl) * np.exp(-(dl / np.radians(28.0)) ** 2))
        u += gsig * (2.0 * np.sin(lam - np.radians(150.0)) * _gauss(latd, 15.0))
        return u, v

    def temperature(self, t, ps):
        g = self.grid
        pb = g.pressure_bounds(ps)
        sigma = 0.5 * (pb[:-1] + pb[1:]) / ps
        s = self._season(t)
        ts = (250.0 + 50.0 * np.cos(self.phi) ** 2 + 12.0 * np.sin(self.phi) * np.cos(s - 2 * np.pi * 200 / 365.25)
              + 5.0 * self.land * np.cos(self._hour_angle(t) - np.radians(45.0)) - 0.0065 * self.orography)
        return np.maximum(ts[None] * sigma ** 0.19, 205.0), ts

    def fluxes(self, t):
        """Land, ocean and anthropogenic CO2 surface fluxes (kg CO2 m-2 s-1), each ``(nlat, nlon)``."""
        years = t / (365.25 * SECONDS_PER_DAY)
        s = self._season(t)
        k = _PGC_YR_TO_KGCO2_S
        # land: seasonal net ecosystem exchange (uptake in the local summer), diurnal photosynthesis, net sink
        season_nh = np.cos(s - 2 * np.pi * 196 / 365.25)
        season = np.where(self.phi >= 0, season_nh, -season_nh)
        growing = 0.5 * (1.0 + season)
        land = -self.nep_amp * season
        land += -2.0 * self.nep_amp * growing * np.cos(self._hour_angle(t))
        land += -1.5 * k * self.sink_land
        ocean = k * (1.6 * self.ocean_out * (1.0 + 0.2 * np.cos(s + self.phase[12]))
                     - 3.6 * self.ocean_in * (1.0 + 0.3 * season))
        anth = k * 7.0 * np.exp(0.02 * years) * (1.0 + 0.08 * np.cos(s - 2 * np.pi * 15 / 365.25) * np.sign(self.phi)) \
            * (1.0 + 0.1 * np.cos(self._hour_angle(t) + np.radians(30.0))) * self.industry
        return land, ocean, anth

    def convective_fraction(self, t):
        """Fraction of each column below 250 hPa mixed per 6-h step by deep convection, ``(nlat, nlon)``:
        strongest along the seasonally migrating ITCZ, more over land in the afternoon."""
        s = self._season(t)
        itcz = 6.0 * np.sin(s - 2 * np.pi * 110 / 365.25)
        day = np.clip(np.cos(self._hour_angle(t) - np.radians(45.0)), 0.0, None)
        return np.clip(0.12 * _gauss(np.degrees(self.phi) - itcz, 12.0) * (0.6 + 0.8 * self.land * day), 0.0, 1.0)

    def synoptic_mixing_fraction(self, t):
        """Fraction of each column below 300 hPa mixed per 6-h step by synoptic-scale systems
        (frontal lifting / warm conveyor belts venting the boundary layer), ``(nlat, nlon)``:
        strongest along the winter storm tracks (e-folding ~2 days there, ~1 week elsewhere).
        Without it the surface signal of the land fluxes stays trapped in the lowest ~200 hPa and
        the northern seasonal cycle of the boundary layer is several times larger than observed."""
        s = self._season(t)
        winter = np.where(self.phi >= 0, 1.0, -1.0) * np.cos(s - 2 * np.pi * 15 / 365.25)  # +1 in local winter
        lat = np.degrees(self.phi)
        storm = _gauss(np.abs(lat) - 45.0, 15.0) * (0.75 + 0.25 * winter)
        return np.clip(self.synoptic_mixing[0] + self.synoptic_mixing[1] * storm, 0.0, 1.0)

    def boundary_layer_height(self, t):
        day = np.clip(self.cos_zenith(t), 0.0, None)
        return 500.0 + self.land * (200.0 + 1400.0 * day) + (1 - self.land) * 300.0

    def tisr(self, t):
        """Top-of-atmosphere incident solar radiation over the hour (J m-2, ERA5 convention)."""
        return 1361.0 * 3600.0 * np.clip(self.cos_zenith(t), 0.0, None)

    def initial_co2(self, ps):
        """Initial mass mixing ratio (kg/kg): 370 ppm + a north-south gradient + a vertical profile."""
        g = self.grid
        pb = g.pressure_bounds(ps)
        sigma = 0.5 * (pb[:-1] + pb[1:]) / ps
        ppm = 370.0 + 2.0 * np.sin(self.phi)[None] + 1.0 * (sigma - 0.5) + 0.5 * np.cos(self.lam)[None] * sigma
        return ppm / MASSMIX_TO_PPM * 1e-6


# ============================================================================ generator
_RD = 287.05  # J kg-1 K-1
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


class _Simulator:
    """The classical model behind the synthetic stores: records a state and advances it 6 h."""

    def __init__(self, grid: LatLonGrid, seed: int, dt: float, limiter: str):
        self.grid, self.dt, self.limiter = grid, dt, limiter
        self.atm = SyntheticAtmosphere(grid, seed)
        self.max_transport_drift = 0.0  # |sum r_after_transport - sum r_before| / sum r
        self.max_budget_error = 0.0  # |sum M(t+1) - sum M(t) - sum F A dt| / sum M(t), float64
        self.max_airmass_mismatch = 0.0  # |m_transported - m_prescribed| / m_prescribed
        self.max_substeps = {}

    def record(self, t: float, r: np.ndarray):
        g, atm = self.grid, self.atm
        ps = atm.surface_pressure(t)
        m = g.air_mass(ps)
        pb = g.pressure_bounds(ps)
        T, _ = atm.temperature(t, ps)
        pmid = 0.5 * (pb[:-1] + pb[1:])
        es = 611.2 * np.exp(17.67 * (T - 273.15) / (T - 29.65))
        sigma = pmid / ps
        qv = np.clip(0.8 * sigma ** 1.5 * 0.622 * es / np.maximum(pmid, 1.0), 0.0, 0.03)
        z = np.empty_like(pb)
        z[0] = atm.orography
        pfloor = np.maximum(pb, 100.0)
        z[1:] = atm.orography + np.cumsum(_RD * T / GRAVITY * np.log(pfloor[:-1] / pfloor[1:]), axis=0)
        u, v = atm.winds(t, ps)
        x3 = np.stack([r / m * 1e6, m * 1e-12, pb[:-1] / 100.0, pb[1:] / 100.0, z[:-1] / 1000.0, z[1:] / 1000.0,
                       T, qv, u, v]).astype(np.float32)
        land, ocean, anth = atm.fluxes(t + 0.5 * self.dt)
        x2 = np.stack([g.cell_area, atm.boundary_layer_height(t), atm.orography, land, ocean, anth,
                       atm.tisr(t)]).astype(np.float32)
        return x3, x2, (land, ocean, anth), m

    def step(self, t: float, r: np.ndarray, m0: np.ndarray, surface_flux: np.ndarray):
        from ..solvers.transport import add_surface_flux, advect, balance_mass_fluxes, mix_columns, \
            vertical_mass_fluxes, winds_to_mass_fluxes

        g, atm, dt = self.grid, self.atm, self.dt
        psm = atm.surface_pressure(t + 0.5 * dt)
        u, v = atm.winds(t + 0.5 * dt, psm)
        U, V = winds_to_mass_fluxes(u, v, g, psm, dt)
        m1 = g.air_mass(atm.surface_pressure(t + dt))
        U, V = balance_mass_fluxes(U, V, m0, m1, g)
        W, _ = vertical_mass_fluxes(U, V, m0, m1)
        mass0 = r.sum()
        r1, m_adv, info = advect(r, m0, U, V, W, grid=g, limiter=self.limiter)
        for k, n in info.max_substeps.items():
            self.max_substeps[k] = max(self.max_substeps.get(k, 0), n)
        self.max_transport_drift = max(self.max_transport_drift, abs(r1.sum() - mass0) / mass0)
        self.max_airmass_mismatch = max(self.max_airmass_mismatch, float(np.abs(m_adv / m1 - 1.0).max()))
        r2 = add_surface_flux(r1, surface_flux, g, dt)
        # sub-grid vertical transport: a well-mixed boundary layer and tropical deep convection
        ps1 = atm.surface_pressure(t + dt)
        pb = g.pressure_bounds(ps1)
        p_blh = ps1 * np.exp(-atm.boundary_layer_height(t) / 8000.0)  # the recorded blh
        r2 = mix_columns(r2, m1, pb[:-1] > p_blh, 1.0)
        r2 = mix_columns(r2, m1, pb[:-1] > 0.25 * ps1, atm.convective_fraction(t + 0.5 * dt))
        r2 = mix_columns(r2, m1, pb[:-1] > 0.3 * ps1, atm.synoptic_mixing_fraction(t + 0.5 * dt))
        # budget in float64 with the mixing ratio the store records: M = q m1, q = r2 / m1
        M1 = ((r2 / m1) * m1).sum()
        budget = abs(M1 - mass0 - (surface_flux * g.cell_area).sum() * dt) / mass0
        self.max_budget_error = max(self.max_budget_error, budget)
        return r2


def _open_partial(path: Path, grid: LatLonGrid, chunk_time: int, attrs: dict):
    """Open (or create) an in-progress split store; returns the zarr group."""
    import zarr

    if path.is_dir():
        grp = zarr.open_group(str(path), mode="r+")
        if grp.attrs.get("synthetic_params") != attrs["synthetic_params"]:
            raise ValueError(f"{str(path)!r} was started with different parameters; remove it or use another --out")
        n = int(grp.attrs.get("n_time_done", 0))
        for name in ("variables_3d", "variables_2d", "time"):
            a = grp[name]
            if a.shape[0] != n:
                a.resize((n,) + a.shape[1:])
        return grp
    tmp = path.with_name(path.name + f".tmp-{uuid.uuid4().hex[:8]}")
    grp = zarr.open_group(str(tmp), mode="w", zarr_format=2)
    nl, la, lo = grid.nlev, grid.nlat, grid.nlon

    def arr(name, shape, chunks, dtype, dims, fill=None, **a):
        z = grp.create_array(name, shape=shape, chunks=chunks, dtype=dtype, fill_value=fill)
        z.attrs.update({"_ARRAY_DIMENSIONS": list(dims), **a})
        return z

    arr("variables_3d", (0, len(VARIABLES_3D), nl, la, lo), (chunk_time, len(VARIABLES_3D), nl, la, lo), "f4",
        ("time", "vari_3d", "level", "lat", "lon"), fill=np.nan)
    arr("variables_2d", (0, len(VARIABLES_2D), la, lo), (chunk_time, len(VARIABLES_2D), la, lo), "f4",
        ("time", "vari_2d", "lat", "lon"), fill=np.nan)
    arr("time", (0,), (4096,), "i8", ("time",), units=_HOURS_EPOCH, calendar="proleptic_gregorian",
        standard_name="time")
    arr("lat", (la,), (la,), "f8", ("lat",), units="degrees_north", standard_name="latitude")[:] = grid.lat
    arr("lon", (lo,), (lo,), "f8", ("lon",), units="degrees_east", standard_name="longitude")[:] = grid.lon
    arr("level", (nl,), (nl,), "f8", ("level",), units="hPa",
        long_name="layer bottom pressure at 1013 hPa surface pressure")[:] = grid.level
    arr("vari_3d", (len(VARIABLES_3D),), (len(VARIABLES_3D),), "<U16", ("vari_3d",))[:] = np.array(VARIABLES_3D)
    arr("vari_2d", (len(VARIABLES_2D),), (len(VARIABLES_2D),), "<U16", ("vari_2d",))[:] = np.array(VARIABLES_2D)
    grp.attrs.update({**attrs, "n_time_done": 0, "years_done": [],
                      "units": json.dumps({k: UNITS[k] for k in VARIABLES_3D + VARIABLES_2D}),
                      "hybrid_a_Pa": grid.a.tolist(), "hybrid_b": grid.b.tolist()})
    zarr.consolidate_metadata(str(tmp))
    os.replace(tmp, path)
    return zarr.open_group(str(path), mode="r+")


def _save_npz_atomic(path: Path, **arrays):
    tmp = path.with_name(path.name + f".tmp-{uuid.uuid4().hex[:8]}.npz")
    np.savez(tmp, **arrays)
    os.replace(tmp, path)


def _compute_stats(store_dir: Path, block: int = 256):
    """Published-layout stats of a split store (float64 accumulation), as an xarray Dataset."""
    import xarray as xr
    import zarr

    grp = zarr.open_group(str(store_dir), mode="r")
    out = {}
    for arr_name, names in (("variables_3d", VARIABLES_3D), ("variables_2d", VARIABLES_2D)):
        a = grp[arr_name]
        T = a.shape[0]
        C = a.shape[1]
        is3 = arr_name == "variables_3d"
        red = (0, 2, 3, 4) if is3 else (0, 2, 3)
        dred = (0, 3, 4) if is3 else (0, 2, 3)
        mn = np.full(C, np.inf); mx = np.full(C, -np.inf); s1 = np.zeros(C); s2 = np.zeros(C); cnt = 0
        dshape = (C, a.shape[2]) if is3 else (C,)
        dmn = np.full(dshape, np.inf); dmx = np.full(dshape, -np.inf); d1 = np.zeros(dshape); d2 = np.zeros(dshape)
        dcnt = 0
        prev = None
        for t0 in range(0, T, block):
            x = np.asarray(a[t0:t0 + block], dtype=np.float64)
            mn = np.minimum(mn, x.min(axis=red)); mx = np.maximum(mx, x.max(axis=red))
            s1 += x.sum(axis=red); s2 += (x * x).sum(axis=red); cnt += x.size // C
            xx = x if prev is None else np.concatenate([prev, x])
            if xx.shape[0] > 1:
                d = np.diff(xx, axis=0)
                dmn = np.minimum(dmn, d.min(axis=dred)); dmx = np.maximum(dmx, d.max(axis=dred))
                d1 += d.sum(axis=dred); d2 += (d * d).sum(axis=dred)
                dcnt += d.size // int(np.prod(dshape))
            prev = x[-1:]
        mean = s1 / cnt
        std = np.sqrt(np.maximum(s2 / cnt - mean ** 2, 0.0))
        dmean = d1 / max(dcnt, 1)
        dstd = np.sqrt(np.maximum(d2 / max(dcnt, 1) - dmean ** 2, 0.0))
        for i, n in enumerate(names):
            gl = np.array([mn[i], mean[i], mx[i], std[i]])
            out[n] = (("stats",), gl)
            out[f"{n}_next"] = (("stats",), gl)
            dl = np.stack([dmn[i], dmean[i], dmx[i], dstd[i]])
            out[f"{n}_delta"] = (("stats", "level"), dl) if is3 else (("stats",), dl)
    ds = xr.Dataset(out, coords={"stats": ["min", "mean", "max", "std"],
                                 "level": np.asarray(grp["level"][:])})
    return ds


def _write_stats(ds, path: Path):
    """Write the stats Dataset as a zarr-2 store with xarray metadata (to a temporary name, then rename)."""
    import zarr

    tmp = path.with_name(path.name + f".tmp-{uuid.uuid4().hex[:8]}")
    grp = zarr.open_group(str(tmp), mode="w", zarr_format=2)
    for name in list(ds.coords) + list(ds.data_vars):
        da = ds[name]
        vals = np.asarray(da.values)
        z = grp.create_array(name, shape=vals.shape, chunks=vals.shape or None, dtype=vals.dtype, fill_value=None)
        z[...] = vals
        z.attrs["_ARRAY_DIMENSIONS"] = list(da.dims)
    zarr.consolidate_metadata(str(tmp))
    if path.exists():
        shutil.rmtree(path)
    os.replace(tmp, path)


def _copy_atomic(src: Path, dst: Path):
    tmp = dst.with_name(dst.name + f".tmp-{uuid.uuid4().hex[:8]}")
    shutil.copytree(src, tmp)
    os.replace(tmp, dst)


def generate_carbonbench(out, grid: str = "latlon5.625", levels: int = 10, years=(2000, 2003), splits=None,
                         seed: int = 0, progress: bool = True, *, days_per_year: int | None = None,
                         limiter: str = "mc", chunk_time: int = 4, block_days: int = 31) -> dict:
    """Generate a synthetic CarbonBench benchmark in the published schema with the classical
    transport model (see the module docstring for the layout).

    out : root directory (``Carbontracker/{split}/...`` is created under it);
    grid : ``"latlon<deg>"`` (``latlon5.625`` = LowRes 32 x 64); levels : number of layers;
    years : inclusive ``(first, last)``; splits : ``{split: (y0, y1)}`` (default ``default_splits``;
        years in no split are simulated but not stored, e.g. a spin-up year or a gap);
    seed : meteorology / flux perturbations; days_per_year : simulate only the first N days of each
    year (small test stores); limiter : transport slope limiter.
    Resumable per year: each finished year is committed to the split's in-progress store and a
    float64 restart state; a rerun skips finished years and completed splits. A split store is
    renamed to its final name when its last year is done; the ``_stats`` stores (from the train
    split, or the first split) are written last. Returns ``{split: path, "stats": path, ...}``.
    """
    import zarr

    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    g = LatLonGrid.from_name(grid, levels)
    try:
        y0, y1 = (int(years[0]), int(years[1]))
    except (TypeError, ValueError, IndexError):
        raise ValueError(f"years must be a pair (first, last), got {years!r}") from None
    if y1 < y0:
        raise ValueError(f"years must be increasing, got {years!r}")
    splits = default_splits((y0, y1)) if splits is None else {k: (int(a), int(b)) for k, (a, b) in dict(splits).items()}
    year_split = {}
    for k, (a, b) in splits.items():
        _check_split(k)
        if b < a:
            raise ValueError(f"splits[{k!r}] = {(a, b)} is not increasing")
        for y in range(a, b + 1):
            if y in year_split:
                raise ValueError(f"year {y} is in two splits ({year_split[y]!r} and {k!r})")
            year_split[y] = k
    outside = sorted(y for y in year_split if not y0 <= y <= y1)
    if outside or not year_split:
        raise ValueError(f"splits {splits} must lie within years {y0}..{y1} (outside: {outside})")
    if days_per_year is not None and not (isinstance(days_per_year, int) and 1 <= days_per_year <= 365):
        raise ValueError(f"days_per_year must be an int in 1..365, got {days_per_year!r}")
    if chunk_time not in (1, 2, 4):
        raise ValueError(f"chunk_time must be 1, 2 or 4 (steps per chunk), got {chunk_time!r}")
    dt = 6 * 3600.0
    root = Path(out)
    base = root / "Carbontracker"
    base.mkdir(parents=True, exist_ok=True)
    params = json.dumps({"grid": g.name, "levels": g.nlev, "years": [y0, y1], "splits": splits, "seed": int(seed),
                         "days_per_year": days_per_year, "limiter": limiter, "dt_s": dt}, sort_keys=True)
    restart_dir = base / ".restart"
    restart_dir.mkdir(exist_ok=True)
    pfile = restart_dir / "params.json"
    if pfile.exists() and pfile.read_text() != params:
        raise ValueError(f"{str(root)!r} holds a synthetic CarbonBench made with other parameters "
                         f"({pfile.read_text()}); use another --out")
    pfile.write_text(params)
    lev = f"l{g.nlev}"
    sim = _Simulator(g, int(seed), dt, limiter)
    result = {}
    attrs_base = {"title": "Synthetic CarbonBench (sciml): classical mass-form FV transport",
                  "source": "sciml.datasets.carbonbench.generate_carbonbench", "grid": g.name, "vertical_levels": lev,
                  "freq": "6h", "synthetic_params": params, "Conventions": "CF-1.8"}
    steps_total = sum((days_per_year or _days_in_year(y)) * 4 for y in range(y0, y1 + 1))
    prog = _progress(progress)
    t_start = _time.perf_counter()
    with prog:
        task = prog.add_task("carbonbench", total=steps_total)
        for year in range(y0, y1 + 1):
            split = year_split.get(year)
            ndays = days_per_year or _days_in_year(year)
            if split is None:  # a year in no split is simulated (spin-up / gap) but not stored
                if not (restart_dir / f"{year}.npz").exists():
                    prog.update(task, description=f"carbonbench (not stored) {year}")
                    r = _initial_or_restart(sim, restart_dir, year, y0)
                    _run_year(sim, None, r, year, ndays * 4, dt, chunk_time, block_days, restart_dir, prog, task)
                else:
                    prog.advance(task, ndays * 4)
                continue
            final = store_path(root, split, g.name, lev, "6h")
            partial = final.with_name(final.name + ".tmp-partial")
            result[split] = final
            nsteps = ndays * 4
            if final.is_dir():
                prog.advance(task, nsteps)
                continue
            final.parent.mkdir(parents=True, exist_ok=True)
            grp = _open_partial(partial, g, chunk_time, {**attrs_base, "split": split, "years": list(splits[split])})
            if year in grp.attrs.get("years_done", []):
                prog.advance(task, nsteps)
            else:
                prog.update(task, description=f"carbonbench {split} {year}")
                r = _initial_or_restart(sim, restart_dir, year, y0)
                _run_year(sim, grp, r, year, nsteps, dt, chunk_time, block_days, restart_dir, prog, task)
            if year == splits[split][1]:
                zarr.consolidate_metadata(str(partial))
                os.replace(partial, final)
        # stats from the train split (or the first split), copied next to every split
        src = "train" if "train" in splits else min(splits, key=lambda k: splits[k][0])
        first = None
        for split in splits:
            sp = stats_path(root, split, g.name, lev, "6h")
            if not sp.is_dir():
                if first is None:
                    prog.update(task, description="carbonbench stats")
                    _write_stats(_compute_stats(store_path(root, src, g.name, lev, "6h")), sp)
                else:
                    _copy_atomic(first, sp)
            first = first or sp
            result[f"{split}_stats"] = sp
    result["seconds"] = _time.perf_counter() - t_start
    return result


def _initial_or_restart(sim, restart_dir, year, y0):
    if year == y0:
        t0 = _seconds_since_2000(year)
        ps = sim.atm.surface_pressure(t0)
        return sim.atm.initial_co2(ps) * sim.grid.air_mass(ps)
    f = restart_dir / f"{year - 1}.npz"
    if not f.exists():
        raise FileNotFoundError(f"restart state {str(f)!r} of year {year - 1} is missing; regenerate from {y0}")
    with np.load(f) as z:
        return z["tracer_mass"].copy()


def _run_year(sim, grp, r, year, nsteps, dt, chunk_time, block_days, restart_dir, prog, task):
    import zarr

    g = sim.grid
    if grp is None:  # simulate only
        t_year = _seconds_since_2000(year)
        for n in range(nsteps):
            t = t_year + n * dt
            m = g.air_mass(sim.atm.surface_pressure(t))
            land, ocean, anth = sim.atm.fluxes(t + 0.5 * dt)
            r = sim.step(t, r, m, land + ocean + anth)
            prog.advance(task, 1)
        _save_npz_atomic(restart_dir / f"{year}.npz", tracer_mass=r)
        return
    n0 = int(grp.attrs.get("n_time_done", 0))
    a3, a2, at = grp["variables_3d"], grp["variables_2d"], grp["time"]
    for a in (a3, a2, at):
        a.resize((n0 + nsteps,) + a.shape[1:])
    t_year = _seconds_since_2000(year)
    block = max(chunk_time, (block_days * 4 // chunk_time) * chunk_time)
    buf3 = np.empty((block, len(VARIABLES_3D), g.nlev, g.nlat, g.nlon), np.float32)
    buf2 = np.empty((block, len(VARIABLES_2D), g.nlat, g.nlon), np.float32)
    mass_first = None
    for b0 in range(0, nsteps, block):
        nb = min(block, nsteps - b0)
        for i in range(nb):
            t = t_year + (b0 + i) * dt
            x3, x2, (land, ocean, anth), m = sim.record(t, r)
            buf3[i], buf2[i] = x3, x2
            if mass_first is None:
                mass_first = float(r.sum())
            r = sim.step(t, r, m, land + ocean + anth)
            prog.advance(task, 1)
        a3[n0 + b0:n0 + b0 + nb] = buf3[:nb]
        a2[n0 + b0:n0 + b0 + nb] = buf2[:nb]
    at[n0:n0 + nsteps] = np.round((t_year + np.arange(nsteps) * dt) / 3600.0).astype(np.int64)
    _save_npz_atomic(restart_dir / f"{year}.npz", tracer_mass=r)
    done = list(grp.attrs.get("years_done", [])) + [year]
    grp.attrs.update({
        "years_done": done, "n_time_done": n0 + nsteps,
        "max_relative_transport_mass_drift_per_step": float(max(sim.max_transport_drift,
                                                              grp.attrs.get("max_relative_transport_mass_drift_per_step", 0.0))),
        "max_relative_mass_budget_error_per_step": float(max(sim.max_budget_error,
                                                           grp.attrs.get("max_relative_mass_budget_error_per_step", 0.0))),
        "max_relative_airmass_mismatch": float(max(sim.max_airmass_mismatch,
                                                   grp.attrs.get("max_relative_airmass_mismatch", 0.0))),
        "max_substeps": json.dumps(sim.max_substeps),
    })
    zarr.consolidate_metadata(grp.store)


class _NoProgress:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def add_task(self, *a, **k):
        return 0

    def advance(self, *a, **k):
        pass

    def update(self, *a, **k):
        pass


def _progress(enabled: bool):
    if not enabled:
        return _NoProgress()
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, \
        TimeRemainingColumn

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    TimeRemainingColumn(), transient=False)


def generate_tiny_carbonbench(out, *, seed: int = 0, days: int = 14, grid: str = "latlon22.5", levels: int = 3,
                              progress: bool = False) -> dict:
    """A small complete store for tests (8 x 16 grid, 3 levels, train 2000 / val 2001 / test 2002,
    ``days`` days each; ~1 s). Returns the ``generate_carbonbench`` result."""
    return generate_carbonbench(out, grid=grid, levels=levels, years=(2000, 2002), seed=seed, progress=progress,
                                days_per_year=days)


# ============================================================================ CLI
def _parse_years(text: str):
    m = re.fullmatch(r"\s*(\d{4})\s*(?:-\s*(\d{4}))?\s*", str(text))
    if not m:
        raise ValueError(f"--years must look like 2000-2003 or 2005, got {text!r}")
    a = int(m.group(1))
    b = int(m.group(2) or a)
    if b < a:
        raise ValueError(f"--years must be increasing, got {text!r}")
    return a, b


def _parse_splits(text: str):
    out = {}
    for part in str(text).split(","):
        if "=" not in part:
            raise ValueError(f"--splits must look like train=2000-2001,val=2002,test=2003, got {text!r}")
        k, v = part.split("=", 1)
        out[k.strip()] = _parse_years(v)
    return out


def cli_generate(argv: list[str]) -> int:
    """``sciml generate carbonbench --grid latlon5.625 --levels 10 --years 2000-2003 --out DIR --seed 0``
    (also ``--splits train=2000-2001,val=2002,test=2003``, ``--days-per-year N``, ``--no-progress``).
    Bad arguments raise ValueError (the CLI prints one line and exits 2)."""
    import argparse

    class _P(argparse.ArgumentParser):
        def error(self, message):
            raise ValueError(message)

    p = _P(prog="sciml generate carbonbench", add_help=False)
    p.add_argument("--grid", default="latlon5.625")
    p.add_argument("--levels", type=int, default=10)
    p.add_argument("--years", default="2000-2003")
    p.add_argument("--splits", default=None)
    p.add_argument("--out", default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--days-per-year", type=int, default=None)
    p.add_argument("--limiter", default="mc")
    p.add_argument("--no-progress", action="store_true")
    args = p.parse_args(list(argv))
    if args.out is None:
        raise ValueError("--out is required (the directory that will hold Carbontracker/)")
    years = _parse_years(args.years)
    splits = _parse_splits(args.splits) if args.splits else None
    res = generate_carbonbench(args.out, grid=args.grid, levels=args.levels, years=years, splits=splits,
                               seed=args.seed, progress=not args.no_progress, days_per_year=args.days_per_year,
                               limiter=args.limiter)
    for k, v in res.items():
        if k != "seconds":
            print(f"wrote {v}")
    print(f"done in {res['seconds']:.1f} s")
    return 0
