"""One HDF5 schema for every sciml dataset, readable as netCDF-4.

Conventions (every recipe, every stored field)
-----------------------------------------------
* **Axis order**: ``sample, [time,] channel, <spatial>``, channel-first; the spatial axes
  in the CF / xarray order, the last axis fastest: ``z, y, x`` (``y, x`` in 2D, ``x`` in
  1D) and ``vz, vy, vx`` for velocity space. So ``ds["u"][i, 0]`` of a 2D field is an
  image with rows along ``y`` (``u[j, i] = u(x_i, y_j)``).
* **Names**: ``time`` for time (dimension and coordinate), ``channel`` for the channel axis,
  ``sample`` for the sample axis (coordinate ``0 .. N-1``).
* **Units and names**: every field and coordinate has ``units`` (``"1"`` when
  dimensionless) and ``long_name``; ``standard_name`` where the CF table has one; the root
  attribute ``Conventions = "CF-1.8"``.

A finished store file (format ``sciml-dataset/2``) holds, in its root group,

* the fields ``<name>``: float arrays ``(N, C, *spatial)`` or ``(N, T, C, *spatial)``, chunked
  one sample per chunk;
* the coordinates ``sample``, ``time``, ``x``, ``y``, ... as HDF5 dimension scales attached
  to the field axes, so that ``xarray.open_dataset(path, engine="h5netcdf")`` gives named
  dimensions and coordinates with no sciml code;
* ``complete``: a boolean per-sample completion mask;
* root attributes ``format``, ``recipe``, ``params`` (JSON), ``seed``, ``n``, ``chunk``,
  ``sciml_version``, ``created`` (ISO 8601, UTC), ``fields`` and ``coords`` (JSON lists), and
  from generation ``environment`` (JSON: library versions and BLAS kernels of the run,
  :func:`sciml._util.environment.software_environment`; ``resumed_environment`` when a resumed
  run had other ones).

Files of format ``sciml-dataset/1`` (fields under ``/fields``, coordinates under ``/coords``,
``t`` for time in ``landau`` / as a coordinate name, ``x, y`` order in ``ns2d``) still open:
``ds[name]`` returns the array as stored, :meth:`StoredDataset.field_info` names its axes
(with ``time`` for ``t``), and :meth:`StoredDataset.to_xarray` returns it in today's order.

Generation never writes into the final file: each finished chunk of samples goes to its
own small HDF5 shard in ``<out>.partial/`` (:mod:`sciml.datasets.shards`), and the final
file is assembled from the shards under a temporary name and renamed when complete.

Examples
--------
>>> import tempfile, pathlib, numpy as np
>>> path = pathlib.Path(tempfile.mkdtemp()) / "d.h5"
>>> _ = save_dataset(path, {"u": np.zeros((2, 1, 4, 5))}, coords={"x": (("x",), np.arange(5.0), "m")})
>>> import xarray as xr
>>> xr.open_dataset(path, engine="h5netcdf")["u"].dims
('sample', 'channel', 'y', 'x')
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path

import h5py
import numpy as np

from .. import __version__
from .._util.environment import describe_environment
from .._util.extras import require
from .._util.io import atomic_path
from ._h5layout import FORMAT, FORMAT_V1, READ_FORMATS, axis_names, canonical_dims, h5_create, v1_name, write_layout
from .recipes import FieldSpec, Layout

__all__ = ["FORMAT", "StoredDataset", "open_dataset", "save_dataset", "describe", "ShardDirectory", "atomic_path",  # noqa: F822 (module __getattr__)
           "DamagedDatasetError", "ENVIRONMENT_ATTRS", "environment_attrs"]

#: root attributes (JSON) naming the software a file was generated with; exports carry them
ENVIRONMENT_ATTRS = ("environment", "resumed_environment")


def environment_attrs(attrs) -> dict:
    """The :data:`ENVIRONMENT_ATTRS` that ``attrs`` (a store's, or an export's provenance) holds."""
    return {k: attrs[k] for k in ENVIRONMENT_ATTRS if attrs.get(k)}


class DamagedDatasetError(ValueError):
    """A file tagged as a sciml dataset whose contents are missing or inconsistent."""


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class StoredDataset:
    """A store file opened read-only; fields are read lazily.

    ``ds["u"]`` is the h5py dataset ``(N, [T,] C, *spatial)`` (slice it to read), ``ds.coords``
    the coordinate arrays, ``ds.attrs`` the provenance (``params`` decoded from JSON).

    Raises
    ------
    FileNotFoundError, IsADirectoryError
        No file at ``path``.
    ValueError
        Not an HDF5 file or not a sciml dataset; :class:`DamagedDatasetError` (a ValueError)
        for a file tagged as one whose datasets are missing.
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
        if fmt not in READ_FORMATS:
            self._file.close()
            raise ValueError(f"{self.path} is not a sciml dataset (format attribute {fmt!r}, expected {FORMAT!r})")
        self.version = 1 if fmt == FORMAT_V1 else 2
        try:
            self._index()
        except (KeyError, ValueError, TypeError) as exc:
            self._file.close()
            raise DamagedDatasetError(f"{self.path} is tagged as a sciml dataset but is damaged or incomplete "
                                      f"({exc}); regenerate it") from None

    def _index(self):
        f = self._file
        if self.version == 1:
            missing = [k for k in ("fields", "coords", "complete") if k not in f]
            if missing:
                raise KeyError(f"missing {', '.join(missing)}")
            self._fields = {k: f["fields"][k] for k in f["fields"]}
            self._coords = {v1_name(k): f["coords"][k] for k in f["coords"]}
            self._dims = {k: tuple(v1_name(d) for d in json.loads(v.attrs["dims"])) for k, v in self._fields.items()}
            self._coord_dims = {k: tuple(v1_name(d) for d in json.loads(v.attrs["dims"]))
                                for k, v in self._coords.items()}
        else:
            names, cnames = json.loads(f.attrs["fields"]), json.loads(f.attrs["coords"])
            missing = [k for k in [*names, *cnames, "complete"] if k not in f]
            if missing:
                raise KeyError(f"missing {', '.join(missing)}")
            self._fields = {k: f[k] for k in names}
            self._coords = {k: f[k] for k in cnames}
            self._dims = {k: axis_names(v) for k, v in self._fields.items()}
            self._coord_dims = {k: (k,) if v.is_scale else axis_names(v) for k, v in self._coords.items()}
        if not self._fields:
            raise KeyError("no fields")
        n = int(f.attrs["n"])
        shapes = {k: v.shape[0] for k, v in self._fields.items() if v.shape[0] != n}
        if shapes or f["complete"].shape != (n,):
            raise ValueError(f"sample count {n} disagrees with the stored arrays")

    # -- contents -------------------------------------------------------------------------
    @property
    def fields(self) -> list[str]:
        return list(self._fields)

    def __getitem__(self, name: str) -> h5py.Dataset:
        if name not in self._fields:
            raise KeyError(f"field {name!r} not in {self.path.name}; fields: {self.fields}")
        return self._fields[name]

    def __contains__(self, name) -> bool:
        return name in self._fields

    @property
    def coords(self) -> dict[str, np.ndarray]:
        """Coordinate arrays by name (``time``, ``x``, ``y``, ...; the ``sample`` index is implied)."""
        return {k: v[()] for k, v in self._coords.items()}

    @property
    def attrs(self) -> dict:
        a = {k: (v.item() if isinstance(v, np.generic) else v) for k, v in self._file.attrs.items()
             if k not in ("fields", "coords")}
        a["params"] = json.loads(a.get("params", "{}"))
        for k in ENVIRONMENT_ATTRS:  # JSON since 2026-12-07; absent in older files
            if isinstance(a.get(k), str):
                a[k] = json.loads(a[k])
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
        """``dims`` (tuple, first ``"sample"``, in the order of ``ds[name]``), ``units``,
        ``long_name``, ``standard_name`` of a field."""
        d = self[name]
        info = {k: d.attrs[k] for k in ("units", "long_name", "standard_name") if k in d.attrs}
        info["dims"] = self._dims[name]
        return info

    def coord_info(self, name: str) -> dict:
        """``dims`` (tuple) and ``units`` (plus ``long_name`` / ``axis`` when stored) of a coordinate."""
        c = self._coords[name]
        info = {k: str(c.attrs[k]) for k in ("units", "long_name", "standard_name", "axis") if k in c.attrs}
        info.setdefault("units", "1")
        info["dims"] = self._coord_dims[name]
        return info

    def sample(self, index: int) -> dict[str, np.ndarray]:
        """All fields of one sample."""
        if not 0 <= index < self.n:
            raise IndexError(f"sample {index} out of range for {self.n} samples")
        return {k: self[k][index] for k in self.fields}

    # -- export ---------------------------------------------------------------------------
    def to_xarray(self, fields: Iterable[str] | None = None, lazy: bool = True):
        """An ``xarray.Dataset`` with named dims (in the storage order of the conventions above,
        also for a format-1 file), units and provenance attributes.

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
        for name, c in self._coords.items():
            attrs = {k: c.attrs[k] for k in ("units", "long_name", "standard_name", "axis") if k in c.attrs}
            attrs.setdefault("units", "1")
            coords[name] = (self._coord_dims[name], c[()], attrs)
        coords["sample"] = ("sample", np.arange(self.n))
        a = self.attrs
        attrs = {"Conventions": "CF-1.8", "source": f"sciml {a.get('sciml_version')} recipe {a.get('recipe')}",
                 "recipe": a.get("recipe", ""), "params": json.dumps(a["params"], sort_keys=True),
                 "seed": int(a.get("seed", 0)), "created": a.get("created", "")}
        ds = xr.Dataset(data_vars, coords=coords, attrs=attrs)
        if self.version == 1:
            ds = xr.Dataset({k: v.transpose(*canonical_dims(v.dims)) for k, v in ds.data_vars.items()},
                            coords=ds.coords, attrs=ds.attrs)
        return ds

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
    """Open a store file read-only (fields are read lazily).

    Examples
    --------
    >>> import tempfile, pathlib, numpy as np
    >>> p = save_dataset(pathlib.Path(tempfile.mkdtemp()) / "d.h5", {"a": np.ones((3, 1, 4, 4))})
    >>> with open_dataset(p) as ds:
    ...     ds.field_info("a")["dims"], ds["a"].shape
    (('sample', 'channel', 'y', 'x'), (3, 1, 4, 4))
    """
    return StoredDataset(path)


def write_store(path: Path, layout: Layout, arrays: Mapping, attrs: Mapping, complete=None) -> Path:
    """Write a complete store file atomically: ``arrays`` maps each field to an array or to a
    callable that fills the h5py dataset. A disk error raises ``OSError`` naming the file and
    leaves neither the file nor a temporary behind."""
    n = int(attrs["n"])
    with atomic_path(path, ".h5") as tmp:
        with h5_create(tmp, label=path, track_order=True) as f:
            f.attrs["format"] = FORMAT
            f.attrs["Conventions"] = "CF-1.8"
            for k, v in attrs.items():
                f.attrs[k] = json.dumps(v, sort_keys=True) if isinstance(v, (dict, list)) else v
            write_layout(f, n, layout.fields, layout.coords, arrays, complete)
    return path


_write_store = write_store  # former private name


def save_dataset(path, fields: Mapping[str, np.ndarray], *, dims: Mapping[str, tuple] | None = None,
                 units: Mapping[str, str] | None = None, coords: Mapping[str, tuple] | None = None,
                 recipe: str = "external", params: Mapping | None = None, seed: int = 0,
                 attrs: Mapping | None = None) -> Path:
    """Write in-memory arrays ``{name: (N, C, *spatial)}`` as a complete store file (atomically).

    Parameters
    ----------
    fields : mapping
        ``name -> array (N, C, *spatial)`` or ``(N, T, C, *spatial)``.
    dims : mapping, optional
        Per-field axis names after ``sample`` (default by rank: ``channel, x`` /
        ``channel, y, x`` / ``time, channel, y, x`` / ``time, channel, z, y, x``; a default
        name that another field uses with another size becomes ``<name>_<field>``).
    units : mapping, optional
        Per-field units (default ``"1"``).
    coords : mapping, optional
        ``name -> (dims, values, units)``.
    """
    if not fields:
        raise ValueError("fields must hold at least one array")
    arrays = {k: np.asarray(v) for k, v in fields.items()}
    ns = {v.shape[0] for v in arrays.values()}
    if len(ns) != 1:
        raise ValueError(f"all fields must have the same number of samples, got {sorted(ns)}")
    n = ns.pop()
    specs, sizes = {}, {}
    for _dims, values, _units in (coords or {}).values():
        sizes.update(zip(_dims, np.shape(values)))
    for name, arr in arrays.items():
        d = tuple((dims or {}).get(name) or ())
        if not d:  # default names; one that another field uses with another size gets a suffix
            d = tuple(a if sizes.setdefault(a, s) == s else f"{a}_{name}"
                      for a, s in zip(_default_dims(arr.ndim - 1), arr.shape[1:]))
        dtype = "float32" if arr.dtype == np.float32 else "float64"
        specs[name] = FieldSpec(shape=arr.shape[1:], dims=d, units=(units or {}).get(name, "1"), long_name=name,
                                dtype=dtype)
    layout = Layout(fields=specs, coords=dict(coords or {}))
    meta = {"recipe": recipe, "params": dict(params or {}), "seed": int(seed), "n": int(n), "chunk": 1,
            "sciml_version": __version__, "created": _now(), **dict(attrs or {})}
    return write_store(Path(path), layout, arrays, meta)


def _default_dims(ndim: int) -> tuple[str, ...]:
    """Axis names of a per-sample array: ``(C, x)``, ``(C, y, x)``, ``(T, C, y, x)``.

    A 4D sample is taken as a 2D trajectory (the common case); 3D volumes pass ``dims``.
    """
    names = {2: ("channel", "x"), 3: ("channel", "y", "x"), 4: ("time", "channel", "y", "x"),
             5: ("time", "channel", "z", "y", "x")}
    return names.get(ndim, tuple(f"dim_{i}" for i in range(ndim)))


def describe(path) -> str:
    """A human-readable summary of a store file (provenance, fields, shapes, units, statistics).

    Statistics are over the finite values; NaN and inf are counted and reported.
    """
    from .shards import ShardDirectory

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
                 f"  params   {json.dumps(a['params'], sort_keys=True)}"]
        if a.get("environment"):
            lines.append(f"  made with {describe_environment(a['environment'])}")
        if a.get("resumed_environment"):
            lines.append(f"  resumed with {describe_environment(a['resumed_environment'])}")
        lines.append("  fields")
        for name in ds.fields:
            info = ds.field_info(name)
            d = ds[name]
            lines.append(
                f"    {name:8s} {str(tuple(d.shape)):24s} dims={','.join(info['dims'])} units={info.get('units')}"
                f"  {_stats_text(*_streaming_stats(d))}"
            )
        if ds.coords:
            lines.append("  coords   " + ", ".join(f"{k}{tuple(v.shape)}" for k, v in ds.coords.items()))
        return "\n".join(lines)


def _stats_text(lo, hi, mean, std, n_nan, n_inf, count):
    bad = f"  NaN={n_nan} inf={n_inf}" if n_nan or n_inf else ""
    if count == 0:
        return f"no finite values{bad}"
    return f"min={lo:.4g} max={hi:.4g} mean={mean:.4g} std={std:.4g}{bad}"


def _streaming_stats(d: h5py.Dataset, block: int = 64):
    """``(min, max, mean, std, n_nan, n_inf, n_finite)`` over the finite values, one block at a time."""
    lo, hi, total, total2, count, n_nan, n_inf = np.inf, -np.inf, 0.0, 0.0, 0, 0, 0
    for start in range(0, d.shape[0], block):
        x = np.asarray(d[start:start + block], dtype=np.float64)
        finite = np.isfinite(x)
        if not finite.all():
            n_nan += int(np.isnan(x).sum())
            n_inf += int(np.isinf(x).sum())
            x = x[finite]
        if x.size:
            lo, hi = min(lo, x.min()), max(hi, x.max())
            total += x.sum()
            total2 += np.square(x).sum()
            count += x.size
    mean = total / max(count, 1)
    return lo, hi, mean, float(np.sqrt(max(total2 / max(count, 1) - mean ** 2, 0.0))), n_nan, n_inf, count


def __getattr__(name):
    if name == "ShardDirectory":  # moved to sciml.datasets.shards
        from .shards import ShardDirectory

        return ShardDirectory
    raise AttributeError(name)
