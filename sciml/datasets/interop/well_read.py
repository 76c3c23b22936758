"""The Well -> sciml: read Well files (``data/{train,valid,test}/*.hdf5``) into the store layout.

The layout and the mapping are described in :mod:`sciml.datasets.interop.well`, which writes
them. :func:`read_well` returns the fields, dims, coordinates and attributes of a store;
:func:`import_well` writes them as a sciml store. Files that :func:`~sciml.datasets.interop.export_well`
wrote carry the full sciml provenance and come back exactly (fields rounded to float32).
"""
from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import h5py
import numpy as np

from ... import __version__
from ..._util.io import OutputLock
from ..store import environment_attrs, save_dataset
from ._layout import PROVENANCE, check_output, field_axes, restore, store_dims, to_store_order
from .well import _PROV_FORMAT, WELL_SPLITS

__all__ = ["read_well", "import_well"]

_GROUPS = ("dimensions", "boundary_conditions", "scalars", "t0_fields", "t1_fields", "t2_fields")
_ROOT_ATTRS = ("dataset_name", "n_spatial_dims", "n_trajectories")


def _need(f, path):
    missing = [f"group {g!r}" for g in _GROUPS if g not in f] + \
              [f"root attribute {a!r}" for a in _ROOT_ATTRS if a not in f.attrs]
    if missing:
        raise ValueError(f"{path} is not a Well file: missing {', '.join(missing)} (a Well file has the groups "
                         f"{', '.join(g + '/' for g in _GROUPS)} and the root attributes {', '.join(_ROOT_ATTRS)})")


def _str_list(v) -> list[str]:
    if isinstance(v, (str, bytes)):
        v = [v]
    return [x.decode() if isinstance(x, bytes) else str(x) for x in np.atleast_1d(v)] if len(np.atleast_1d(v)) else []


def _read_file(path: Path) -> dict:
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise ValueError(f"{path} is not a readable HDF5 file ({exc})") from None
    with f:
        _need(f, path)
        n = int(f.attrs["n_trajectories"])
        dims = f["dimensions"]
        if "spatial_dims" not in dims.attrs or "time" not in dims:
            raise ValueError(f"{path}: dimensions/ lacks the spatial_dims attribute or the time dataset")
        spatial = _str_list(dims.attrs["spatial_dims"])
        grid = {}
        for d in ["time", *spatial]:
            if d not in dims:
                raise ValueError(f"{path}: dimensions/ has no coordinate {d!r}")
            v = np.asarray(dims[d][()], dtype=np.float64)
            if dims[d].attrs.get("sample_varying", False):
                if not np.all(v == v[:1]):
                    raise ValueError(f"{path}: dimension {d!r} varies between trajectories; sciml stores one grid")
                v = v[0]
            grid[d] = v
        sizes = tuple(len(grid[d]) for d in spatial)
        fields, timed = {}, {}
        for k in range(3):
            g = f[f"t{k}_fields"]
            for name in _str_list(g.attrs.get("field_names", [])):
                if name not in g:
                    raise ValueError(f"{path}: t{k}_fields/ lists {name!r} but has no such dataset")
                d = g[name]
                tv, sv = bool(d.attrs.get("time_varying", False)), bool(d.attrs.get("sample_varying", False))
                use = [bool(u) for u in np.atleast_1d(d.attrs.get("dim_varying", [True] * len(spatial)))]
                x = np.asarray(d[()], dtype=np.float32)
                lead = (n,) + ((len(grid["time"]),) if tv else ())
                stored = ((n,) if sv else (1,)) + lead[1:] + tuple(s if u else 1 for s, u in zip(sizes, use))
                try:  # axes that do not vary are stored without them or with size 1: both reshape
                    x = x.reshape(stored + (len(spatial),) * k)
                except ValueError:
                    raise ValueError(f"{path}: t{k}_fields/{name} has shape {d.shape}, its flags need "
                                     f"{stored + (len(spatial),) * k}") from None
                x = np.broadcast_to(x, lead + sizes + (len(spatial),) * k)
                # tensor components -> channels, in the Well's (row-major) order
                x = np.moveaxis(x.reshape(lead + sizes + (-1,)), -1, 1 + tv)
                fields[name] = np.ascontiguousarray(x)
                timed[name] = tv
        scalars, params = {}, {}
        sg = f["scalars"]
        for name in _str_list(sg.attrs.get("field_names", [])):
            if name not in sg:
                raise ValueError(f"{path}: scalars/ lists {name!r} but has no such dataset")
            d = sg[name]
            tv, sv = bool(d.attrs.get("time_varying", False)), bool(d.attrs.get("sample_varying", False))
            v = np.asarray(d[()])
            if not tv and not sv:
                params[name] = v.item() if v.size == 1 else v.tolist()
                continue
            lead = (n,) + ((len(grid["time"]),) if tv else ())
            scalars[name] = np.ascontiguousarray(np.broadcast_to(v.reshape(((n,) if sv else (1,)) + lead[1:]),
                                                                 lead)[..., None].astype(np.float32))
            timed[name] = tv
        bcs = {}
        for g in f["boundary_conditions"].values():
            for d in _str_list(g.attrs.get("associated_dims", [])):
                bcs[d] = str(g.attrs.get("bc_type", "OPEN")).lower()
        prov = f.attrs.get(PROVENANCE)
        return {"n": n, "spatial": spatial, "grid": grid, "fields": fields, "timed": timed, "scalars": scalars,
                "params": params, "boundary": bcs, "name": str(f.attrs["dataset_name"]),
                "grid_type": str(f.attrs.get("grid_type", "cartesian")),
                "provenance": json.loads(prov) if prov is not None else None}


def _well_files(path: Path, split) -> list[tuple[str, Path]]:
    if path.is_file():
        return [("", path)]
    if not path.exists():
        raise FileNotFoundError(f"no Well file or folder at {path}")
    base = path / "data" if (path / "data").is_dir() else path
    splits = [split] if split else [s for s in WELL_SPLITS if (base / s).is_dir()]
    out = []
    for s in splits:
        d = base / s
        out += [(s, p) for p in sorted([*d.glob("*.h5"), *d.glob("*.hdf5")])] if d.is_dir() else []
    if not splits:  # a folder of files
        out = [("", p) for p in sorted([*path.glob("*.h5"), *path.glob("*.hdf5")])]
    if not out:
        raise ValueError(f"{path}: no Well HDF5 files (expected <dataset>/data/{{train,valid,test}}/*.hdf5"
                         f"{', split ' + repr(split) if split else ''})")
    return out


def read_well(path, *, split: str | None = None) -> dict:
    """Read a Well file, split folder or dataset folder into sciml's in-memory store layout.

    Parameters
    ----------
    path : a ``.hdf5``/``.h5`` file, a folder of them, or a dataset folder with ``data/<split>/``.
    split : "train", "valid" or "test", optional
        Only that split of a dataset folder (default: all, in that order).

    Returns
    -------
    dict
        ``fields`` (name -> array ``(N, [T,] C, *spatial)``), ``dims`` (name -> axis names after
        ``sample``), ``units``, ``coords`` (name -> ``(dims, values, units)``), and the
        provenance for :func:`sciml.datasets.save_dataset`: ``recipe``, ``params``, ``seed``,
        ``attrs`` (boundary types, the Well's dataset name, the split of each sample range).
        A file written by :func:`export_well` gives back the original store's names, axis
        order, units, dtype and coordinates; its fields are the float32-rounded values.

    Raises
    ------
    ValueError
        A file of another format, a missing group or attribute (named), files that disagree.
    """
    if split is not None and split not in WELL_SPLITS:
        raise ValueError(f"split must be one of {WELL_SPLITS}, got {split!r}")
    files = _well_files(Path(path), split)
    parts = [(s, p, _read_file(p)) for s, p in files]
    first = parts[0][2]
    for _, p, r in parts[1:]:
        if set(r["fields"]) != set(first["fields"]) or r["spatial"] != first["spatial"] or \
                any(not np.array_equal(r["grid"][d], first["grid"][d]) for d in first["grid"]):
            raise ValueError(f"{p} disagrees with {parts[0][1]} in fields or grid; read one split at a time")
    cat = {k: np.concatenate([r["fields"][k] for _, _, r in parts]) for k in first["fields"]}
    cat.update({k: np.concatenate([r["scalars"][k] for _, _, r in parts]) for k in first["scalars"]})
    ranges, lo = [], 0
    for s, p, r in parts:
        ranges.append({"split": s, "file": p.name, "samples": [lo, lo + r["n"]]})
        lo += r["n"]
    prov = first["provenance"]
    if prov and prov.get("format") == _PROV_FORMAT and all(r["provenance"] for _, _, r in parts):
        return _restore(cat, first, prov, ranges, parts)
    spatial, timed = first["spatial"], first["timed"]
    dims = store_dims(cat, timed, spatial)
    fields = {k: to_store_order(a, timed[k], spatial, dims[k]) for k, a in cat.items()}
    coords = {"time": (("time",), first["grid"]["time"], "1"), **{d: ((d,), first["grid"][d], "1") for d in spatial}}
    attrs = {"well_dataset_name": first["name"], "grid_type": first["grid_type"],
             "boundary": json.dumps(first["boundary"], sort_keys=True), "well_files": json.dumps(ranges)}
    return {"fields": fields, "dims": dims, "units": {}, "coords": coords, "recipe": f"the_well:{first['name']}",
            "params": first["params"], "seed": 0, "attrs": attrs}


def _restore(cat, first, prov, ranges, parts) -> dict:
    spatial = tuple(first["spatial"])
    fields, dims, units = {}, {}, {}
    for name in prov.get("field_order", list(prov["fields"])):
        info = prov["fields"][name]
        a = field_axes(name, info["dims"])
        timed = a.time is not None or info["static_output"]
        arr = np.concatenate([cat[w] for w in info["well_names"]], axis=1 + timed)
        if info["static_output"]:
            arr = arr[:, 0]
        fields[name] = restore(arr, a, spatial if a.spatial else ()).astype(info["dtype"])
        dims[name], units[name] = tuple(info["dims"]), info.get("units", "1")
    coords = {k: (tuple(m["dims"]), np.asarray(m["values"], dtype=m["dtype"]), m["units"])
              for k, m in prov["coords"].items()}
    attrs = dict(prov.get("extra_attrs", {}))
    attrs.update({"boundary": json.dumps(first["boundary"], sort_keys=True), "well_files": json.dumps(ranges)})
    attrs["created"] = prov.get("created") or datetime.now(UTC).isoformat(timespec="seconds")
    if prov.get("sciml_version"):
        attrs["sciml_version"] = prov["sciml_version"]
    attrs.update(environment_attrs(prov))
    return {"fields": fields, "dims": dims, "units": units, "coords": coords, "recipe": prov["recipe"],
            "params": prov["params"], "seed": int(prov.get("seed") or 0), "attrs": attrs,
            "long_names": {n: i.get("long_name") for n, i in prov["fields"].items()}}


def import_well(path, out, *, split: str | None = None, overwrite: bool = False) -> Path:
    """Convert a Well file or dataset folder into a sciml store file ``out`` (see :func:`read_well`).

    The store is then usable by :class:`sciml.datasets.loaders.FieldDataset` and every sciml model.
    ``out`` may not be an input; an existing ``out`` is refused unless ``overwrite=True``.
    """
    out = Path(out)
    check_output(out, [path], overwrite)
    data = read_well(path, split=split)
    with OutputLock(out):
        return save_dataset(out, data["fields"], dims=data["dims"], units=data["units"], coords=data["coords"],
                            recipe=data["recipe"], params=data["params"], seed=data["seed"],
                            attrs={**data["attrs"], "imported_with": f"sciml {__version__}"})
