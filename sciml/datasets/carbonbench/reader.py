"""Reader of CarbonBench split stores (published or generated) and their CF view.

Examples
--------
>>> import tempfile
>>> from sciml.datasets.carbonbench import generate_tiny_carbonbench, open_carbonbench
>>> root = tempfile.mkdtemp()
>>> _ = generate_tiny_carbonbench(root, days=1)
>>> store = open_carbonbench(root, "train")
>>> store["co2massmix"].dims
('time', 'level', 'lat', 'lon')
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from ..._util.extras import require
from ..._util.io import atomic_path
from ...grids import LatLonGrid
from .schema import _NOT_CF, STANDARD_NAMES, UNITS, VARIABLES_2D, VARIABLES_3D, _find_store

__all__ = ["CarbonBenchStore", "open_carbonbench", "to_cf_dataset"]


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
        require("netCDF4", "netcdf", "netCDF export (to_netcdf)")
        ds = to_cf_dataset(self).isel(time=time)
        path = Path(path)
        with atomic_path(path, ".nc") as tmp:
            ds.to_netcdf(tmp)
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

