"""What the converters need to know about a store: per field the time / channel / spatial axes.

A store field is ``(sample, *dims)`` with ``dims`` named in its ``dims`` attribute; the time
axis is called ``time`` or ``t``, the channel axis ``channel``, every other axis is spatial.
Other formats put the spatial axes in the order ``x, y, z`` (The Well, PDEBench); when a
store's spatial names are all among ``x, y, z`` they are reordered so, otherwise they keep the
store's order. :func:`canonical` returns a field as ``(sample, [time,] channel, *spatial)`` in
that order and :func:`restore` undoes it exactly.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..store import StoredDataset, open_dataset

TIME_NAMES = ("time", "t")
CHANNEL = "channel"
#: file attribute holding the JSON provenance (recipe, params, seed, samples) of an exported store
PROVENANCE = "sciml_provenance"

#: Boundary type of each built-in recipe's spatial axes (``periodic``, ``wall`` for Dirichlet /
#: no-flux walls, ``open`` for a truncated unbounded domain), as the recipes' descriptions state.
RECIPE_BOUNDARY = {"ns2d": "periodic", "burgers": "periodic", "burgers-raissi": "wall", "darcy": "wall",
                   "poisson": "wall", "heat": "wall", "helmholtz": "wall", "landau": "open"}
BOUNDARY_TYPES = ("periodic", "wall", "open")


@dataclass(frozen=True)
class FieldAxes:
    """Axes of one stored field (without ``sample``): their names and the positions that matter."""

    name: str
    dims: tuple[str, ...]
    time: int | None
    channel: int | None
    spatial: tuple[str, ...]  # store order

    def order(self, spatial: tuple[str, ...]) -> list[int]:
        """Positions (in ``dims``) read in the order ``[time,] channel, *spatial``."""
        out = [] if self.time is None else [self.time]
        if self.channel is not None:
            out.append(self.channel)
        return out + [self.dims.index(s) for s in spatial]


def field_axes(name: str, dims) -> FieldAxes:
    dims = tuple(dims)
    if dims and dims[0] == "sample":
        dims = dims[1:]
    times = [i for i, d in enumerate(dims) if d in TIME_NAMES]
    if len(times) > 1:
        raise ValueError(f"field {name!r} has two time axes {dims}")
    chans = [i for i, d in enumerate(dims) if is_channel(d)]
    spatial = tuple(d for d in dims if d not in TIME_NAMES and not is_channel(d))
    return FieldAxes(name, dims, times[0] if times else None, chans[0] if chans else None, spatial)


def is_channel(dim: str) -> bool:
    """``channel``, or ``channel_<field>`` (a channel axis whose size differs from other fields')."""
    return dim == CHANNEL or dim.startswith(CHANNEL + "_")


def store_dims(fields: dict, timed: dict, spatial) -> dict:
    """Axis names (after ``sample``) for arrays ``(N, [T,] C, *spatial)`` read from another format.

    Spatial axes named ``x, y, z`` are given in the store's order ``z, y, x`` (the arrays are
    transposed to match by :func:`to_store_order`); a channel axis whose size differs between
    fields is called ``channel_<field>``, as :func:`sciml.datasets.save_dataset` names it.
    """
    sizes = {}
    for name, arr in fields.items():
        sizes.setdefault(arr.shape[1 + bool(timed[name])], []).append(name)
    one = len(sizes) <= 1
    space = tuple(reversed(spatial)) if spatial_order(spatial) == tuple(spatial) and \
        all(len(s) == 1 and s in "xyz" for s in spatial) else tuple(spatial)
    out = {}
    for name, arr in fields.items():
        n_sp = arr.ndim - 2 - bool(timed[name])
        out[name] = (("time",) if timed[name] else ()) + (CHANNEL if one else f"{CHANNEL}_{name}",) + \
            (space if n_sp else ())
    return out


def to_store_order(arr: np.ndarray, timed: bool, spatial, dims) -> np.ndarray:
    """``(N, [T,] C, *spatial)`` -> the axis order of ``dims`` (reversed ``x, y, z``)."""
    lead = 2 + bool(timed)
    n_sp = arr.ndim - lead
    if not n_sp or tuple(dims[-n_sp:]) == tuple(spatial):
        return arr
    return np.ascontiguousarray(np.transpose(arr, list(range(lead)) + list(range(arr.ndim - 1, lead - 1, -1))))


def spatial_order(names) -> tuple[str, ...]:
    names = tuple(names)
    if names and all(n in "xyz" and len(n) == 1 for n in names):
        return tuple(sorted(names, key="xyz".index))
    return names


def canonical(arr: np.ndarray, axes: FieldAxes, spatial: tuple[str, ...]) -> np.ndarray:
    """``(N, *dims)`` -> ``(N, [T,] C, *spatial)`` (a channel axis of 1 added when absent)."""
    perm = [0] + [1 + i for i in axes.order(spatial)]
    out = np.transpose(arr, perm)
    if axes.channel is None:
        out = np.expand_dims(out, 1 + (axes.time is not None))
    return out


def restore(arr: np.ndarray, axes: FieldAxes, spatial: tuple[str, ...]) -> np.ndarray:
    """Inverse of :func:`canonical`."""
    if axes.channel is None:
        arr = np.squeeze(arr, 1 + (axes.time is not None))
    order = axes.order(spatial)
    inv = np.argsort([0] + [1 + i for i in order])
    return np.ascontiguousarray(np.transpose(arr, inv))


def coord_for(coords_meta: dict, coords: dict, dim: str):
    """The 1D coordinate whose only dim is ``dim`` (values, name), or ``(None, None)``."""
    for cname, meta in coords_meta.items():
        if tuple(meta["dims"]) == (dim,):
            return np.asarray(coords[cname]), cname
    return None, None


def open_store(store) -> tuple[StoredDataset, bool]:
    """``(dataset, opened_here)`` for a path or an open StoredDataset."""
    if isinstance(store, StoredDataset):
        return store, False
    if not isinstance(store, (str, os.PathLike)):
        raise TypeError(f"store must be a path to a sciml store or a StoredDataset, got {type(store).__name__}")
    return open_dataset(store), True


def coords_meta(ds: StoredDataset) -> dict:
    """``name -> {"dims": [...], "units": str}`` of the store's coordinates."""
    out = {}
    for name in ds.coords:
        info = ds.coord_info(name)
        out[name] = {"dims": list(info["dims"]), "units": info["units"]}
    return out


def check_output(out: Path, inputs, overwrite: bool, what: str = "out", directory: bool = False):
    """The shared output check (:func:`sciml._util.io.check_output`), and never an output folder that holds an input."""
    from ..._util.io import check_output as _check

    res = Path(out).resolve()
    for inp in inputs:
        if res in Path(inp).resolve().parents:
            raise ValueError(f"{what} {out} holds the input {inp}: refusing to replace it")
    return _check(out, name=what, inputs=inputs, overwrite=overwrite, directory=directory,
                  kinds=None if directory else ("hdf5",))


def numeric_params(params: dict) -> dict:
    """The parameters that are plain numbers (bools excluded): what other formats store as scalars."""
    return {k: v for k, v in params.items()
            if isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))
            and np.isfinite(v)}
