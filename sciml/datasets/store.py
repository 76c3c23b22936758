"""One HDF5 schema for every sciml dataset.

A finished store file holds

* ``/fields/<name>``: float arrays ``(N, C, *spatial)`` or ``(N, T, C, *spatial)``, chunked one
  sample per chunk, with attributes ``dims`` (JSON list, first ``"sample"``), ``units``,
  ``long_name`` and (when known) ``standard_name``;
* ``/coords/<name>``: grid coordinates with ``dims`` and ``units``;
* ``/complete``: a boolean per-sample completion mask;
* root attributes ``format``, ``recipe``, ``params`` (JSON), ``seed``, ``n``, ``chunk``,
  ``sciml_version`` and ``created`` (ISO 8601, UTC).

Generation never writes into the final file: each finished chunk of samples goes to its
own small HDF5 shard in ``<out>.partial/`` (written under a temporary name, then renamed),
and the final file is assembled from the shards under a temporary name and renamed when
complete. A run killed at any moment therefore leaves either finished shards or nothing
half-written that reads as valid, and a rerun resumes at the first missing chunk.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable, Mapping

import h5py
import numpy as np

from .. import __version__
from .._util.extras import require
from .recipes import FieldSpec, Layout

__all__ = ["FORMAT", "StoredDataset", "open_dataset", "save_dataset", "describe", "ShardDirectory", "atomic_path"]

FORMAT = "sciml-dataset/1"
_MANIFEST = "manifest.json"


@contextmanager
def atomic_path(path: Path, suffix: str = ""):
    """Yield a temporary path beside ``path``; rename it to ``path`` if the block succeeds."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp" + suffix, dir=path.parent)
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class StoredDataset:
    """A store file opened read-only; fields are read lazily.

    ``ds["u"]`` is the h5py dataset ``(N, C, *spatial)`` (slice it to read), ``ds.coords``
    the coordinate arrays, ``ds.attrs`` the provenance (``params`` decoded from JSON).
    """

    def __init__(self, path):
        self.path = Path(path)
        if not self.path.exists():
            raise FileNotFoundError(f"no dataset file at {self.path}")
        if self.path.is_dir():
            raise IsADirectoryError(f"{self.path} is a directory, not a dataset file")
        try:
            self._file = h5py.File(self.path, "r")
        except OSError as exc:
            raise ValueError(f"{self.path} is not a readable HDF5 file ({exc})") from None
        fmt = self._file.attrs.get("format")
        if fmt != FORMAT:
            self._file.close()
            raise ValueError(f"{self.path} is not a sciml dataset (format attribute {fmt!r}, expected {FORMAT!r})")

    # -- contents -------------------------------------------------------------------------
    @property
    def fields(self) -> list[str]:
        return list(self._file["fields"].keys())

    def __getitem__(self, name: str) -> h5py.Dataset:
        if name not in self._file["fields"]:
            raise KeyError(f"field {name!r} not in {self.path.name}; fields: {self.fields}")
        return self._file["fields"][name]

    def __contains__(self, name) -> bool:
        return name in self._file["fields"]

    @property
    def coords(self) -> dict[str, np.ndarray]:
        return {k: v[()] for k, v in self._file["coords"].items()}

    @property
    def attrs(self) -> dict:
        a = {k: (v.item() if isinstance(v, np.generic) else v) for k, v in self._file.attrs.items()}
        a["params"] = json.loads(a.get("params", "{}"))
        return a

    @property
    def n(self) -> int:
        return int(self._file.attrs["n"])

    @property
    def complete(self) -> np.ndarray:
        return self._file["complete"][()]

    def __len__(self) -> int:
        return self.n

    def field_info(self, name: str) -> dict:
        """``dims`` (tuple), ``units``, ``long_name``, ``standard_name`` of a field."""
        d = self[name]
        info = {k: d.attrs[k] for k in ("units", "long_name", "standard_name") if k in d.attrs}
        info["dims"] = tuple(json.loads(d.attrs["dims"]))
        return info

    def sample(self, index: int) -> dict[str, np.ndarray]:
        """All fields of one sample."""
        if not 0 <= index < self.n:
            raise IndexError(f"sample {index} out of range for {self.n} samples")
        return {k: self[k][index] for k in self.fields}

    # -- export ---------------------------------------------------------------------------
    def to_xarray(self, fields: Iterable[str] | None = None, lazy: bool = True):
        """An ``xarray.Dataset`` with named dims, units and provenance attributes.

        With ``lazy=True`` the variables are dask arrays backed by this file (one sample per
        chunk); keep the file open while computing with them.
        """
        import xarray as xr

        names = list(fields) if fields is not None else self.fields
        data_vars = {}
        for name in names:
            info = self.field_info(name)
            d = self[name]
            if lazy:
                import dask.array as da

                values = da.from_array(d, chunks=d.chunks or "auto")
            else:
                values = d[()]
            attrs = {k: v for k, v in info.items() if k != "dims"}
            data_vars[name] = (info["dims"], values, attrs)
        coords = {}
        for name, c in self._file["coords"].items():
            coords[name] = (tuple(json.loads(c.attrs["dims"])), c[()], {"units": c.attrs.get("units", "1")})
        coords["sample"] = ("sample", np.arange(self.n))
        a = self.attrs
        attrs = {"Conventions": "CF-1.8", "source": f"sciml {a.get('sciml_version')} recipe {a.get('recipe')}",
                 "recipe": a.get("recipe", ""), "params": json.dumps(a["params"], sort_keys=True),
                 "seed": int(a.get("seed", 0)), "created": a.get("created", "")}
        return xr.Dataset(data_vars, coords=coords, attrs=attrs)

    def to_netcdf(self, path, fields: Iterable[str] | None = None) -> Path:
        """Write a CF netCDF copy (atomically) and return its path."""
        require("netCDF4", "netcdf", "netCDF export (to_netcdf)")
        path = Path(path)
        ds = self.to_xarray(fields, lazy=False)
        with atomic_path(path, ".nc") as tmp:
            ds.to_netcdf(tmp)
        return path

    # -- lifetime -------------------------------------------------------------------------
    def close(self):
        self._file.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        shapes = ", ".join(f"{k}{tuple(self[k].shape)}" for k in self.fields)
        return f"<StoredDataset {self.path.name}: recipe={self.attrs.get('recipe')!r} n={self.n} {shapes}>"


def open_dataset(path) -> StoredDataset:
    """Open a store file read-only (fields are read lazily)."""
    return StoredDataset(path)


def _write_store(path: Path, layout: Layout, arrays: Mapping[str, np.ndarray], attrs: Mapping, complete=None):
    n = int(attrs["n"])
    with atomic_path(path, ".h5") as tmp:
        with h5py.File(tmp, "w", track_order=True) as f:
            f.attrs["format"] = FORMAT
            for k, v in attrs.items():
                f.attrs[k] = json.dumps(v, sort_keys=True) if isinstance(v, (dict, list)) else v
            g = f.create_group("fields")
            for name, spec in layout.fields.items():
                shape = (n,) + tuple(spec.shape)
                d = g.create_dataset(name, shape=shape, dtype=spec.dtype, chunks=(1,) + tuple(spec.shape),
                                     track_times=False)
                src = arrays[name]
                if callable(src):
                    src(d)
                else:
                    d[...] = src
                d.attrs["dims"] = json.dumps(["sample", *spec.dims])
                d.attrs["units"] = spec.units
                d.attrs["long_name"] = spec.long_name or name
                if spec.standard_name:
                    d.attrs["standard_name"] = spec.standard_name
            c = f.create_group("coords")
            for name, (dims, values, units) in layout.coords.items():
                cd = c.create_dataset(name, data=np.asarray(values), track_times=False)
                cd.attrs["dims"] = json.dumps(list(dims))
                cd.attrs["units"] = units
            f.create_dataset("complete", data=np.ones(n, bool) if complete is None else np.asarray(complete, bool),
                             track_times=False)
    return path


def save_dataset(path, fields: Mapping[str, np.ndarray], *, dims: Mapping[str, tuple] | None = None,
                 units: Mapping[str, str] | None = None, coords: Mapping[str, tuple] | None = None,
                 recipe: str = "external", params: Mapping | None = None, seed: int = 0,
                 attrs: Mapping | None = None) -> Path:
    """Write in-memory arrays ``{name: (N, C, *spatial)}`` as a complete store file (atomically).

    dims: per-field axis names after ``sample`` (default ``channel, y, x`` style names).
    coords: ``name -> (dims, values, units)``.
    """
    if not fields:
        raise ValueError("fields must hold at least one array")
    arrays = {k: np.asarray(v) for k, v in fields.items()}
    ns = {v.shape[0] for v in arrays.values()}
    if len(ns) != 1:
        raise ValueError(f"all fields must have the same number of samples, got {sorted(ns)}")
    n = ns.pop()
    specs = {}
    for name, arr in arrays.items():
        d = tuple((dims or {}).get(name) or _default_dims(arr.ndim - 1))
        dtype = "float32" if arr.dtype == np.float32 else "float64"
        specs[name] = FieldSpec(shape=arr.shape[1:], dims=d, units=(units or {}).get(name, "1"), long_name=name,
                                dtype=dtype)
    layout = Layout(fields=specs, coords=dict(coords or {}))
    meta = {"recipe": recipe, "params": dict(params or {}), "seed": int(seed), "n": int(n), "chunk": 1,
            "sciml_version": __version__, "created": _now(), **dict(attrs or {})}
    return _write_store(Path(path), layout, arrays, meta)


def _default_dims(ndim: int) -> tuple[str, ...]:
    """Axis names of a per-sample array: ``(C, x)``, ``(C, y, x)``, ``(T, C, y, x)``.

    A 4D sample is taken as a 2D trajectory (the common case); 3D volumes pass ``dims``.
    """
    names = {2: ("channel", "x"), 3: ("channel", "y", "x"), 4: ("time", "channel", "y", "x"),
             5: ("time", "channel", "z", "y", "x")}
    return names.get(ndim, tuple(f"dim_{i}" for i in range(ndim)))


class ShardDirectory:
    """``<out>.partial/``: the manifest of a generation run and one HDF5 shard per finished chunk."""

    def __init__(self, out: Path):
        self.out = Path(out)
        self.dir = self.out.with_name(self.out.name + ".partial")

    def exists(self) -> bool:
        return (self.dir / _MANIFEST).exists()

    def read_manifest(self) -> dict:
        return json.loads((self.dir / _MANIFEST).read_text())

    def create(self, manifest: dict):
        self.dir.mkdir(exist_ok=True)
        with atomic_path(self.dir / _MANIFEST) as tmp:
            tmp.write_text(json.dumps(manifest, indent=1, sort_keys=True))

    def _shard(self, chunk_id: int) -> Path:
        return self.dir / f"chunk-{chunk_id:07d}.h5"

    def done(self) -> set[int]:
        out = set()
        for p in self.dir.glob("chunk-*.h5"):
            try:
                out.add(int(p.stem.split("-")[1]))
            except ValueError:
                continue
        return out

    def write(self, chunk_id: int, indices, arrays: Mapping[str, np.ndarray], layout: Layout):
        indices = np.asarray(list(indices), dtype=np.int64)
        with atomic_path(self._shard(chunk_id), ".h5") as tmp:
            with h5py.File(tmp, "w") as f:
                f.create_dataset("indices", data=indices, track_times=False)
                for name, spec in layout.fields.items():
                    a = np.asarray(arrays[name])
                    want = (len(indices),) + tuple(spec.shape)
                    if a.shape != want:
                        raise ValueError(f"recipe returned field {name!r} with shape {a.shape}, expected {want}")
                    f.create_dataset(name, data=a.astype(spec.dtype, copy=False), track_times=False)

    def assemble(self, layout: Layout, attrs: Mapping, n_chunks: int):
        """Write the final store from all shards (atomically), then remove the shard directory."""
        shards = [self._shard(c) for c in range(n_chunks)]

        def filler(name):
            def fill(dset):
                for p in shards:
                    with h5py.File(p, "r") as f:
                        idx = f["indices"][()]
                        dset[idx[0]:idx[-1] + 1] = f[name][()]
            return fill

        _write_store(self.out, layout, {k: filler(k) for k in layout.fields}, attrs)
        shutil.rmtree(self.dir)


def describe(path) -> str:
    """A human-readable summary of a store file (provenance, fields, shapes, units, statistics)."""
    path = Path(path)
    partial = ShardDirectory(path)
    if not path.exists() and partial.exists():
        m = partial.read_manifest()
        done = len(partial.done())
        return (f"{path}: interrupted generation ({done}/{m['n_chunks']} chunks done) of recipe "
                f"{m['recipe']!r}, n={m['n']}, seed={m['seed']}; rerun the same command to resume")
    with open_dataset(path) as ds:
        a = ds.attrs
        lines = [f"{path}", f"  recipe   {a.get('recipe')}  (seed {a.get('seed')}, sciml {a.get('sciml_version')}, "
                            f"created {a.get('created')})",
                 f"  samples  {ds.n} ({int(ds.complete.sum())} complete)",
                 f"  params   {json.dumps(a['params'], sort_keys=True)}", "  fields"]
        for name in ds.fields:
            info = ds.field_info(name)
            d = ds[name]
            stats = _streaming_stats(d)
            lines.append(f"    {name:8s} {str(tuple(d.shape)):24s} dims={','.join(info['dims'])} units={info.get('units')}"
                         f"  min={stats[0]:.4g} max={stats[1]:.4g} mean={stats[2]:.4g} std={stats[3]:.4g}")
        if ds.coords:
            lines.append("  coords   " + ", ".join(f"{k}{tuple(v.shape)}" for k, v in ds.coords.items()))
        return "\n".join(lines)


def _streaming_stats(d: h5py.Dataset, block: int = 64):
    lo, hi, total, total2, count = np.inf, -np.inf, 0.0, 0.0, 0
    for start in range(0, d.shape[0], block):
        x = np.asarray(d[start:start + block], dtype=np.float64)
        lo, hi = min(lo, x.min()), max(hi, x.max())
        total += x.sum()
        total2 += np.square(x).sum()
        count += x.size
    mean = total / max(count, 1)
    return lo, hi, mean, float(np.sqrt(max(total2 / max(count, 1) - mean ** 2, 0.0)))
