"""The Well (Ohana et al. 2024): write a sciml store as a Well dataset and read Well files back.

A Well dataset is a folder ``<name>/data/{train,valid,test}/*.hdf5`` (plus ``stats.yaml`` for
normalisation); each file holds trajectories on one grid:

* root attributes ``dataset_name``, ``grid_type`` (``"cartesian"``), ``n_spatial_dims``,
  ``n_trajectories`` and ``simulation_parameters`` (names of the numeric parameters, each also a
  root attribute and a constant scalar);
* ``dimensions/``: ``time`` ``(T,)`` and one coordinate per spatial axis, attribute
  ``spatial_dims`` (order of the spatial axes in every field), flags ``sample_varying`` and
  ``time_varying`` on each;
* ``boundary_conditions/<axis>_<type>/``: ``bc_type`` (``PERIODIC``, ``WALL``, ``OPEN``),
  ``associated_dims``, and a boolean ``mask`` over that axis marking the boundary points;
* ``scalars/``: one dataset per scalar, flags ``sample_varying``/``time_varying``;
* ``t0_fields/``, ``t1_fields/``, ``t2_fields/``: scalar, vector and rank-2 fields, float32, shape
  ``([n_trajectories,] [T,] *spatial, [d]*order)`` with flags ``sample_varying``,
  ``time_varying`` and ``dim_varying`` (one per spatial axis).

sciml -> Well (:func:`export_well`): every channel of a stored field becomes a ``t0`` field
(``name`` for one channel, ``name_<c>`` for several; the store does not say which channels form
a vector), spatial axes in ``x, y, z`` order, fields without a time axis become constant fields
(``time_varying=False``). A store with no time axis at all is a map between static fields (Darcy
``a -> u``): its ``outputs`` (default ``u``) are written as one time step so that
``WellDataset(..., n_steps_input=0, n_steps_output=1)`` yields them as ``output_fields`` and the
inputs as ``constant_fields``. Boundary types come from the recipe (:data:`RECIPE_BOUNDARY`) or
the ``boundary`` argument. Samples are split in stored order into train/valid/test. The full sciml
provenance (recipe, params, seed, field dims, units, exact coordinates) is kept in the root
attribute ``sciml_provenance`` (JSON), which :func:`read_well` uses to give back the store exactly
(fields rounded to float32).

Well -> sciml (:func:`read_well`, :func:`import_well`,
in :mod:`sciml.datasets.interop.well_read`): each ``t{k}`` field becomes one store field
``(N, [T,] d**k, *spatial)`` (tensor components flattened to channels in the Well's order; spatial
axes in the store's order ``z, y, x``; ``channel_<field>`` where channel counts differ),
constant scalars become parameters, per-sample scalars fields ``(N, [T,] 1)``; fields that do not
vary over samples or some axes are broadcast.
"""
from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np

from ..._util.io import OutputLock, atomic_dir, atomic_path, write_text
from ..store import environment_attrs
from ._layout import (
    BOUNDARY_TYPES,
    PROVENANCE,
    RECIPE_BOUNDARY,
    canonical,
    check_output,
    coord_for,
    coords_meta,
    field_axes,
    numeric_params,
    open_store,
    spatial_order,
)

__all__ = ["export_well", "write_well_file", "WELL_SPLITS", "RECIPE_BOUNDARY"]

WELL_SPLITS = ("train", "valid", "test")
_PROV_FORMAT = "sciml-well/1"
_RESERVED = {"dataset_name", "grid_type", "n_spatial_dims", "n_trajectories", "simulation_parameters", PROVENANCE}


# ------------------------------------------------------------------------------------ plan
def _boundary(ds, spatial, boundary) -> dict:
    recipe = ds.attrs.get("recipe")
    if boundary is None:
        stored = ds.attrs.get("boundary")
        if stored:
            boundary = json.loads(stored) if isinstance(stored, str) else stored
        elif recipe in RECIPE_BOUNDARY:
            boundary = RECIPE_BOUNDARY[recipe]
        else:
            raise ValueError(f"boundary: recipe {recipe!r} of {ds.path.name} has no known boundary type; pass "
                             f"boundary= one of {BOUNDARY_TYPES} (or a dict axis -> type)")
    if isinstance(boundary, str):
        boundary = {d: boundary for d in spatial}
    if not isinstance(boundary, dict) or set(boundary) != set(spatial):
        raise ValueError(f"boundary must be one of {BOUNDARY_TYPES} or a dict over the axes {list(spatial)}, "
                         f"got {boundary!r}")
    for d, b in boundary.items():
        if b not in BOUNDARY_TYPES:
            raise ValueError(f"boundary for axis {d!r} must be one of {BOUNDARY_TYPES}, got {b!r}")
    return {d: boundary[d] for d in spatial}


def _plan(ds, dataset_name, outputs, boundary) -> dict:
    axes = {n: field_axes(n, ds.field_info(n)["dims"]) for n in ds.fields}
    gridded = [a for a in axes.values() if a.spatial]
    if not gridded:
        raise ValueError(f"{ds.path.name}: no field has spatial axes; a Well file holds fields on a grid")
    spatial = spatial_order(gridded[0].spatial)
    sizes = {}
    for a in gridded:
        if set(a.spatial) != set(spatial):
            raise ValueError(f"{ds.path.name}: field {a.name!r} has spatial axes {a.spatial}, field "
                             f"{gridded[0].name!r} {gridded[0].spatial}; a Well file holds one grid")
        for d in a.spatial:
            n = ds[a.name].shape[1 + a.dims.index(d)]
            if sizes.setdefault(d, n) != n:
                raise ValueError(f"{ds.path.name}: axis {d!r} has {sizes[d]} points in one field, {n} in {a.name!r}")
    timed = [a for a in axes.values() if a.time is not None]
    cmeta, coords = coords_meta(ds), ds.coords
    if timed:
        if outputs is not None:
            raise ValueError("outputs applies only to stores without a time axis (static fields)")
        tdims = {a.dims[a.time] for a in timed}
        tlens = {ds[a.name].shape[1 + a.time] for a in timed}
        if len(tdims) > 1 or len(tlens) > 1:
            raise ValueError(f"{ds.path.name}: time-varying fields disagree in time axis {sorted(tdims)} / "
                             f"length {sorted(tlens)}")
        tdim = tdims.pop()
        time, _ = coord_for(cmeta, coords, tdim)
        time = np.arange(tlens.pop(), dtype=np.float64) if time is None else time
        static_out = set()
    else:
        names = ["u"] if outputs is None and "u" in axes else ([sorted(axes)[-1]] if outputs is None else outputs)
        names = [names] if isinstance(names, str) else list(names)
        bad = [n for n in names if n not in axes or not axes[n].spatial]
        if bad or not names:
            raise ValueError(f"outputs must name gridded fields of {ds.path.name} ({sorted(axes)}), got {outputs!r}")
        static_out, time = set(names), np.zeros(1)
    grid = {}
    for d in spatial:
        c, _ = coord_for(cmeta, coords, d)
        grid[d] = np.arange(sizes[d], dtype=np.float64) if c is None else c
    fields = {}
    for n, a in axes.items():
        shape = ds[n].shape
        nc = 1 if a.channel is None else shape[1 + a.channel]
        base = n if nc == 1 else None
        fields[n] = {"axes": a, "channels": [base or f"{n}_{c}" for c in range(nc)],
                     "time_varying": a.time is not None or n in static_out, "static_output": n in static_out}
    names = [w for f in fields.values() for w in f["channels"]]
    if len(set(names)) != len(names):
        raise ValueError(f"{ds.path.name}: field names {names} collide once channels are split")
    a = ds.attrs
    params = a["params"]
    prov = {"format": _PROV_FORMAT, "recipe": a.get("recipe"), "params": params, "seed": a.get("seed"),
            "sciml_version": a.get("sciml_version"), "created": a.get("created"), "source_n": ds.n,
            **environment_attrs(a),
            "field_order": list(fields),
            "fields": {n: {"dims": list(f["axes"].dims), "well_names": f["channels"],
                           "static_output": f["static_output"], "dtype": str(ds[n].dtype),
                           **{k: str(v) for k, v in ds.field_info(n).items() if k != "dims"}}
                       for n, f in fields.items()},
            "coords": {k: {**m, "values": np.asarray(coords[k]).tolist(), "dtype": str(np.asarray(coords[k]).dtype)}
                       for k, m in cmeta.items()},
            "extra_attrs": {k: v for k, v in a.items() if k not in ("format", "recipe", "params", "seed", "n",
                                                                     "chunk", "sciml_version", "created")
                            and isinstance(v, (str, int, float))}}
    return {"name": dataset_name or str(a.get("recipe") or ds.path.stem), "spatial": spatial, "grid": grid,
            "time": np.asarray(time, dtype=np.float64), "fields": fields, "boundary": _boundary(ds, spatial, boundary),
            "params": numeric_params(params), "prov": prov}


def _split_ranges(n: int, splits) -> dict[str, tuple[int, int]]:
    if isinstance(splits, str):
        if splits not in WELL_SPLITS:
            raise ValueError(f"splits must be one of {WELL_SPLITS} or three fractions/counts, got {splits!r}")
        return {splits: (0, n)}
    if not isinstance(splits, (list, tuple)) or len(splits) != 3:
        raise ValueError(f"splits must be three fractions or counts (train, valid, test), got {splits!r}")
    if all(isinstance(s, (int, np.integer)) and not isinstance(s, bool) for s in splits):
        counts = [int(s) for s in splits]
        if any(c < 0 for c in counts) or sum(counts) != n:
            raise ValueError(f"splits as counts must be >= 0 and sum to the {n} samples, got {list(splits)}")
    else:
        fr = [float(s) for s in splits]
        if any(not np.isfinite(f) or f < 0 for f in fr) or abs(sum(fr) - 1) > 1e-9:
            raise ValueError(f"splits as fractions must be >= 0 and sum to 1, got {list(splits)}")
        counts = [int(round(f * n)) for f in fr[:2]]
        counts.append(n - sum(counts))
        if counts[2] < 0:
            counts[1] += counts[2]
            counts[2] = 0
    out, lo = {}, 0
    for s, c in zip(WELL_SPLITS, counts):
        out[s] = (lo, lo + c)
        lo += c
    return out


# ------------------------------------------------------------------------------------ write
def _write_file(path: Path, ds, plan: dict, lo: int, hi: int) -> Path:
    spatial, n = plan["spatial"], hi - lo
    with atomic_path(path, ".hdf5") as tmp, h5py.File(tmp, "w") as f:
        f.attrs["dataset_name"] = plan["name"]
        f.attrs["grid_type"] = "cartesian"
        f.attrs["n_spatial_dims"] = len(spatial)
        f.attrs["n_trajectories"] = n
        f.attrs["simulation_parameters"] = [k for k in plan["params"] if k not in _RESERVED]
        for k, v in plan["params"].items():
            if k not in _RESERVED:
                f.attrs[k] = v
        f.attrs[PROVENANCE] = json.dumps({**plan["prov"], "samples": [lo, hi]}, sort_keys=True)
        dims = f.create_group("dimensions")
        dims.attrs["spatial_dims"] = list(spatial)
        for name, values in [("time", plan["time"]), *plan["grid"].items()]:
            d = dims.create_dataset(name, data=np.asarray(values, dtype=np.float32))
            d.attrs["sample_varying"] = False
            d.attrs["time_varying"] = False
        bcs = f.create_group("boundary_conditions")
        for d, kind in plan["boundary"].items():
            g = bcs.create_group(f"{d}_{kind}")
            g.attrs["associated_dims"] = [d]
            g.attrs["associated_fields"] = []
            g.attrs["bc_type"] = kind.upper()
            g.attrs["sample_varying"] = False
            g.attrs["time_varying"] = False
            mask = np.zeros(len(plan["grid"][d]), dtype=bool)
            mask[[0, -1]] = True
            g.create_dataset("mask", data=mask)
        scal = f.create_group("scalars")
        names = []
        for k, v in plan["params"].items():
            s = scal.create_dataset(k, data=np.asarray(v))
            s.attrs["sample_varying"] = False
            s.attrs["time_varying"] = False
            names.append(k)
        t0 = f.create_group("t0_fields")
        t0_names = []
        for name, fp in plan["fields"].items():
            a = fp["axes"]
            arr = canonical(np.asarray(ds[name][lo:hi]), a, spatial if a.spatial else ())
            if fp["static_output"]:
                arr = arr[:, None]
            for c, wname in enumerate(fp["channels"]):
                data = arr[:, :, c] if fp["time_varying"] else arr[:, c]
                group, flags = (t0, t0_names) if a.spatial else (scal, names)
                dset = group.create_dataset(wname, data=np.ascontiguousarray(data, dtype=np.float32))
                dset.attrs["sample_varying"] = True
                dset.attrs["time_varying"] = fp["time_varying"]
                if a.spatial:
                    dset.attrs["dim_varying"] = [True] * len(spatial)
                info = plan["prov"]["fields"][name]
                dset.attrs["units"] = info.get("units", "1")
                flags.append(wname)
        scal.attrs["field_names"] = names
        t0.attrs["field_names"] = t0_names
        for k in (1, 2):
            f.create_group(f"t{k}_fields").attrs["field_names"] = []
    return path


def write_well_file(store, path, *, dataset_name=None, outputs=None, boundary=None, samples=None,
                    overwrite: bool = False) -> Path:
    """Write (some samples of) a store as one Well HDF5 file.

    Parameters
    ----------
    store : path or StoredDataset
    path : path of the ``.hdf5`` file to write (atomically; its folder must exist).
    dataset_name : str, optional
        The Well's ``dataset_name`` (default: the recipe name).
    outputs : str or list of str, optional
        For stores without a time axis: the fields written as one time step (default ``u``).
    boundary : {"periodic", "wall", "open"} or dict, optional
        Boundary type per spatial axis; default from the recipe (:data:`RECIPE_BOUNDARY`).
    samples : (start, stop), optional
        Range of sample indices (default all).
    overwrite : bool
        Replace an existing ``path``.
    """
    ds, own = open_store(store)
    try:
        plan = _plan(ds, dataset_name, outputs, boundary)
        lo, hi = (0, ds.n) if samples is None else (int(samples[0]), int(samples[1]))
        if not 0 <= lo < hi <= ds.n:
            raise ValueError(f"samples must be a range (start, stop) within 0..{ds.n}, got {samples!r}")
        path = Path(path)
        check_output(path, [ds.path], overwrite, "path")
        with OutputLock(path):
            return _write_file(path, ds, plan, lo, hi)
    finally:
        if own:
            ds.close()


def export_well(store, out, *, dataset_name=None, splits=(0.8, 0.1, 0.1), outputs=None, boundary=None,
                overwrite: bool = False) -> dict[str, Path]:
    """Write a sciml store as a Well dataset folder ``out/data/{train,valid,test}/<name>.hdf5``.

    Everything is checked before anything is written; the folder is built under a temporary
    name and renamed when complete (an existing ``out`` is refused unless ``overwrite=True``,
    and ``out`` may never be or contain the input). ``out/stats.yaml`` holds the Well's
    normalisation statistics of the train split (``mean``, ``std``, ``rms`` and their ``_delta``
    over time steps, per field).

    Parameters
    ----------
    store : path or StoredDataset
    out : path of the dataset folder to create.
    splits : three fractions or counts, or one of "train", "valid", "test"
        Consecutive samples go to train, valid, test (default 80/10/10 %); a name puts every
        sample in that split. Empty splits get no file.
    dataset_name, outputs, boundary : see :func:`write_well_file`.

    Returns
    -------
    dict
        split -> path of its file.

    Examples
    --------
    >>> import numpy as np, tempfile, pathlib
    >>> from sciml.datasets import save_dataset
    >>> from sciml.datasets.interop import export_well, read_well
    >>> tmp = pathlib.Path(tempfile.mkdtemp())
    >>> w = np.random.default_rng(0).random((10, 3, 1, 8, 8))
    >>> store = save_dataset(tmp / "s.h5", {"w": w}, dims={"w": ("time", "channel", "x", "y")}, recipe="ns2d")
    >>> files = export_well(store, tmp / "ns2d")
    >>> sorted(files)
    ['test', 'train', 'valid']
    >>> back = read_well(tmp / "ns2d")
    >>> bool(np.array_equal(back["fields"]["w"], w.astype(np.float32)))
    True
    """
    ds, own = open_store(store)
    try:
        plan = _plan(ds, dataset_name, outputs, boundary)
        ranges = {s: r for s, r in _split_ranges(ds.n, splits).items() if r[1] > r[0]}
        out = Path(out)
        check_output(out, [ds.path], overwrite, directory=True)
        fname = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in plan["name"]) + ".hdf5"
        written = {}
        empty = out.is_dir() and not any(out.iterdir())  # an empty folder holds nothing to lose
        with OutputLock(out), atomic_dir(out, replace=overwrite or empty) as tmp:
            for split, (lo, hi) in ranges.items():
                (tmp / "data" / split).mkdir(parents=True)
                _write_file(tmp / "data" / split / fname, ds, plan, lo, hi)
                written[split] = out / "data" / split / fname
            lo, hi = ranges.get("train", next(iter(ranges.values())))
            write_text(tmp / "stats.yaml", _stats_yaml(ds, plan, lo, hi))
        return written
    finally:
        if own:
            ds.close()


def _stats_yaml(ds, plan, lo, hi) -> str:
    stats = {k: {} for k in ("mean", "std", "rms", "mean_delta", "std_delta", "rms_delta")}
    for name, fp in plan["fields"].items():
        a = fp["axes"]
        if not a.spatial:
            continue
        arr = canonical(np.asarray(ds[name][lo:hi], dtype=np.float64), a, plan["spatial"])
        for c, wname in enumerate(fp["channels"]):
            x = arr[:, :, c] if a.time is not None else arr[:, c]
            stats["mean"][wname], stats["std"][wname] = float(x.mean()), float(x.std())
            stats["rms"][wname] = float(np.sqrt(np.mean(x * x)))
            if fp["time_varying"]:
                dx = np.diff(x, axis=1) if a.time is not None and x.shape[1] > 1 else np.zeros(1)
                stats["mean_delta"][wname], stats["std_delta"][wname] = float(dx.mean()), float(dx.std())
                stats["rms_delta"][wname] = float(np.sqrt(np.mean(dx * dx)))
    lines = []
    for key, values in stats.items():
        lines.append(f"{key}:" + ("" if values else " {}"))
        lines += [f"  {json.dumps(k)}: {v:.10e}" for k, v in values.items()]
    return "\n".join(lines) + "\n"
