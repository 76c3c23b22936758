"""Statistics stores of CarbonBench (the published ``_stats.zarr`` layout).

Per variable ``v``: ``v (stats)`` over time/level/lat/lon, ``v_delta (stats[, level])`` of the
one-step differences over time/lat/lon, ``v_next`` (= ``v``); ``stats = [min, mean, max, std]``,
accumulated in float64 from a split store (the train split for the published benchmark).
"""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from ..._util.io import atomic_dir
from .schema import VARIABLES_2D, VARIABLES_3D

__all__ = ["compute_stats", "write_stats"]


def compute_stats(store_dir: Path, block: int = 256):
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



def write_stats(ds, path: Path, replace: bool = False) -> Path:
    """Write the stats Dataset as a zarr-2 store with xarray metadata (atomically)."""
    import zarr

    path = Path(path)
    with atomic_dir(path, replace=replace) as tmp:
        grp = zarr.open_group(str(tmp), mode="w", zarr_format=2)
        for name in list(ds.coords) + list(ds.data_vars):
            da = ds[name]
            vals = np.asarray(da.values)
            z = grp.create_array(name, shape=vals.shape, chunks=vals.shape or None, dtype=vals.dtype,
                                 fill_value=None)
            z[...] = vals
            z.attrs["_ARRAY_DIMENSIONS"] = list(da.dims)
        zarr.consolidate_metadata(str(tmp))
    return path


def copy_store(src: Path, dst: Path) -> Path:
    """Copy a store directory to ``dst`` (atomically)."""
    with atomic_dir(dst) as tmp:
        shutil.rmtree(tmp)
        shutil.copytree(src, tmp)
    return Path(dst)
