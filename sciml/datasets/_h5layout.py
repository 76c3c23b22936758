"""How a store file is laid out in HDF5: writing the current format, reading both formats.

Current format ``sciml-dataset/2`` (netCDF-4 compatible, so ``xarray.open_dataset(path,
engine="h5netcdf")`` and netCDF-C tools read it): every variable sits in the root group;
each dimension is an HDF5 dimension scale named after it (a coordinate variable such as
``x`` or ``time``, or a bare netCDF dimension such as ``channel``); fields and ``complete``
have their axes attached to those scales. Root attributes ``fields`` and ``coords`` (JSON
lists) name the fields and the coordinate variables.

Format ``sciml-dataset/1`` (written before the conventions were unified) kept fields in
``/fields`` and coordinates in ``/coords`` with the axis names in a JSON ``dims`` attribute,
``t`` for time in some recipes and ``x, y`` spatial order in ``ns2d``; :func:`v1_name` maps
its names to today's.
"""
from __future__ import annotations

import errno
import io
import json
import os
from contextlib import contextmanager
from typing import Mapping

import h5py
import numpy as np

FORMAT = "sciml-dataset/2"
FORMAT_V1 = "sciml-dataset/1"
READ_FORMATS = (FORMAT_V1, FORMAT)
RESERVED = ("sample", "complete")
_NC_DIM_ONLY = "This is a netCDF dimension but not a netCDF variable.%10d"
_V1_NAMES = {"t": "time"}

# CF attributes of the coordinates every recipe uses (units come from the recipe)
_COORD_ATTRS = {
    "x": {"axis": "X", "long_name": "x coordinate"}, "y": {"axis": "Y", "long_name": "y coordinate"},
    "z": {"axis": "Z", "long_name": "z coordinate"}, "time": {"axis": "T", "long_name": "time"},
    "vx": {"long_name": "velocity, x component"}, "vy": {"long_name": "velocity, y component"},
    "vz": {"long_name": "velocity, z component"}, "sample": {"long_name": "sample index"},
}
# spatial axes in storage order: last axis is x (CF / xarray convention: ..., z, y, x)
SPATIAL_ORDER = ("z", "y", "x", "vz", "vy", "vx")


def v1_name(name: str) -> str:
    """Today's name of an axis or coordinate of a format-1 file (``t`` -> ``time``)."""
    return _V1_NAMES.get(name, name)


def canonical_dims(dims) -> tuple[str, ...]:
    """``dims`` in the storage order ``sample, time, channel, <spatial as SPATIAL_ORDER>``; other
    names keep their place after those."""
    dims = tuple(dims)
    lead = [d for d in ("sample", "time", "channel") if d in dims]
    spatial = [d for d in SPATIAL_ORDER if d in dims]
    rest = [d for d in dims if d not in lead and d not in spatial]
    return tuple(lead + rest + spatial)


def check_layout_names(fields: Mapping, coords: Mapping) -> dict[str, int]:
    """Sizes of every dimension of a layout; ValueError on a name clash or a size conflict."""
    sizes: dict[str, int] = {}

    def add(dim, size, where):
        if sizes.setdefault(dim, size) != size:
            raise ValueError(f"dimension {dim!r} has size {sizes[dim]} in one place and {size} in {where}; "
                             f"give the axes different names")

    for name, spec in fields.items():
        if name in RESERVED or name in coords:
            raise ValueError(f"field name {name!r} is reserved or also a coordinate name")
        for d, s in zip(spec.dims, spec.shape):
            if d == "sample":
                raise ValueError(f"field {name!r}: 'sample' is the leading axis, not a per-sample axis")
            add(d, int(s), f"field {name!r}")
    for name, (dims, values, _units) in coords.items():
        if name in RESERVED:
            raise ValueError(f"coordinate name {name!r} is reserved")
        values = np.asarray(values)
        if values.ndim != len(dims):
            raise ValueError(f"coordinate {name!r} has {values.ndim} axes but dims {tuple(dims)}")
        for d, s in zip(dims, values.shape):
            add(d, int(s), f"coordinate {name!r}")
    return sizes


def write_layout(f: h5py.File, n: int, fields: Mapping, coords: Mapping, fill: Mapping, complete) -> None:
    """Create every variable of a store in the open file ``f`` (root group) and fill the fields.

    fields: name -> FieldSpec; coords: name -> (dims, values, units); fill: name -> array or
    callable ``(h5py.Dataset) -> None`` that writes the field.
    """
    sizes = check_layout_names(fields, coords)
    scales: dict[str, h5py.Dataset] = {}
    sample = f.create_dataset("sample", data=np.arange(n, dtype=np.int64), track_times=False)
    sample.make_scale("sample")
    sample.attrs.update(_COORD_ATTRS["sample"])
    scales["sample"] = sample
    aux = []
    for name, (dims, values, units) in coords.items():
        d = f.create_dataset(name, data=np.asarray(values), track_times=False)
        d.attrs["units"] = units
        for k, v in _COORD_ATTRS.get(name, {}).items():
            d.attrs[k] = v
        if tuple(dims) == (name,):
            d.make_scale(name)
            scales[name] = d
        else:
            aux.append((d, tuple(dims)))
    for dim, size in sizes.items():
        if dim not in scales:
            d = f.create_dataset(dim, shape=(size,), dtype="f4", track_times=False)
            d.make_scale(_NC_DIM_ONLY % size)
            scales[dim] = d
    for d, dims in aux:
        for i, dim in enumerate(dims):
            d.dims[i].attach_scale(scales[dim])
    for name, spec in fields.items():
        shape = (n,) + tuple(spec.shape)
        d = f.create_dataset(name, shape=shape, dtype=spec.dtype, chunks=(1,) + tuple(spec.shape),
                             track_times=False)
        for i, dim in enumerate(("sample",) + tuple(spec.dims)):
            d.dims[i].attach_scale(scales[dim])
        d.attrs["units"] = spec.units
        d.attrs["long_name"] = spec.long_name or name
        if spec.standard_name:
            d.attrs["standard_name"] = spec.standard_name
        own = [c.name.rsplit("/", 1)[-1] for c, dims in aux if set(dims) <= set(spec.dims)]
        if own:
            d.attrs["coordinates"] = " ".join(own)
        src = fill[name]
        if callable(src):
            src(d)
        else:
            d[...] = src
    c = f.create_dataset("complete", data=np.ones(n, bool) if complete is None else np.asarray(complete, bool),
                         track_times=False)
    c.dims[0].attach_scale(sample)
    c.attrs["long_name"] = "sample finished and stored"
    f.attrs["fields"] = json.dumps(list(fields))
    f.attrs["coords"] = json.dumps(list(coords))


def axis_names(d: h5py.Dataset) -> tuple[str, ...]:
    """The dimension names of a format-2 variable, read from its attached scales."""
    out = []
    for i, dim in enumerate(d.dims):
        out.append(dim[0].name.rsplit("/", 1)[-1] if len(dim) else f"dim_{i}")
    return tuple(out)


class _GuardedFile(io.RawIOBase):
    """The file under an HDF5 file being written, through h5py's ``fileobj`` driver.

    HDF5 cannot recover from a failed write: a file whose flush hit ENOSPC stays half-open and
    the library crashes at exit (segmentation fault). This wrapper records the first write
    error and from then on pretends to succeed (discarding the bytes), so HDF5 always closes
    cleanly; :func:`h5_create` then raises the recorded error and the caller drops the file.
    """

    def __init__(self, path):
        self._f = open(path, "w+b", buffering=0)
        self.error: OSError | None = None

    def readable(self):
        return True

    def writable(self):
        return True

    def seekable(self):
        return True

    def seek(self, pos, whence=0):
        return self._f.seek(pos, whence)

    def tell(self):
        return self._f.tell()

    def readinto(self, b):
        if self.error is not None:
            b[:] = bytes(len(b))
            return len(b)
        return self._f.readinto(b)

    def write(self, b):
        n = len(b)
        if self.error is None:
            view, done = memoryview(b), 0
            try:
                while done < n:
                    done += self._f.write(view[done:])
                return n
            except OSError as exc:
                self.error = exc
                self._f.seek(n - done, 1)
                return n
        self._f.seek(n, 1)
        return n

    def truncate(self, size=None):
        if self.error is None:
            try:
                return self._f.truncate(size)
            except OSError as exc:
                self.error = exc
        return size if size is not None else self.tell()

    def flush(self):
        pass

    def close(self):
        if not self._f.closed:
            self._f.close()
        super().close()


@contextmanager
def h5_create(path, *, label=None, **kwargs):
    """``h5py.File(path, "w")`` whose disk errors surface as one ``OSError`` after a clean close.

    On ENOSPC / EIO while writing, the HDF5 file still closes (no crash), and ``OSError`` with
    the errno and the file name (``label``, e.g. the final name of a temporary) is raised;
    the caller removes the file.
    """
    guard = _GuardedFile(path)
    try:
        with h5py.File(guard, "w", **kwargs) as f:
            yield f
    finally:
        guard.close()
        if guard.error is not None:
            err = guard.error
            raise OSError(err.errno, f"{os.strerror(err.errno or errno.EIO)} while writing {label or path}") from None
