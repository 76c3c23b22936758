"""PDEBench (Takamoto et al. 2022): write a sciml store in PDEBench's HDF5 layouts and read them back.

PDEBench stores spatial axes in the order ``x, y, z`` (its loaders build the grid with
``meshgrid(x, y, indexing="ij")``) and time before space. Three layouts:

* ``darcy`` (2D steady maps, e.g. ``2D_DarcyFlow_beta1.0_Train.hdf5``): ``nu`` ``(N, X, Y)`` the
  coefficient, ``tensor`` ``(N, 1, X, Y)`` the solution, ``x-coordinate`` ``(X,)``,
  ``y-coordinate`` ``(Y,)``; read by PDEBench's ``FNODatasetSingle``;
* ``tensor`` (1D time-dependent scalar sets, e.g. ``1D_Burgers_Sols_Nu0.1.hdf5``): ``tensor``
  ``(N, T, X)``, ``x-coordinate`` ``(X,)``, ``t-coordinate`` (``T`` values; PDEBench's own files
  hold ``T + 1``, the last one past the final frame, which the reader drops);
  ``FNODatasetSingle``;
* ``groups`` (time-dependent sets in 1D-3D, e.g. ``2D_diff-react_NA_NA.h5``): one group per
  trajectory (``"0000"``, ``"0001"``, ...) with ``data`` ``(T, X, [Y, [Z]], C)`` and ``grid/x``,
  ``grid/y``, ``grid/z``, ``grid/t``; ``FNODatasetMult``.

PDEBench's CFD files (``density``, ``pressure``, ``Vx``, ``Vy``, ``Vz``: ``(N, T, X, ...)``) are
read as one field per variable.

Values are written as float32 (what PDEBench's files hold and its loaders cast to). The sciml
provenance (recipe, params, seed, field names, dims, units, exact coordinates) goes into the
root attribute ``sciml_provenance`` (JSON), so :func:`read_pdebench` gives back the exported
fields exactly up to float32 rounding, with their names, axis order and coordinates. PDEBench's
file-name conventions matter to its loaders: ``FNODatasetSingle`` refuses names ending in
``h5`` (use ``.hdf5``), ``FNODatasetMult`` appends ``.h5``.
"""
from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np

from ... import __version__
from ..._util.io import OutputLock, atomic_path
from ..store import environment_attrs, save_dataset
from ._layout import (
    PROVENANCE,
    canonical,
    check_output,
    coord_for,
    coords_meta,
    field_axes,
    numeric_params,
    open_store,
    restore,
    spatial_order,
    store_dims,
    to_store_order,
)

__all__ = ["export_pdebench", "read_pdebench", "import_pdebench", "LAYOUTS"]

LAYOUTS = ("darcy", "tensor", "groups")
_PROV_FORMAT = "sciml-pdebench/1"
_CFD = ("density", "pressure", "Vx", "Vy", "Vz")


def _pick(ds, axes, layout, inp, out):
    timed = [n for n, a in axes.items() if a.time is not None and a.spatial]
    if layout is None:
        if timed:
            layout = "tensor" if len(axes[timed[0]].spatial) == 1 and out in (None, timed[0]) and \
                (axes[timed[0]].channel is None or ds[timed[0]].shape[1 + axes[timed[0]].channel] == 1) else "groups"
        else:
            layout = "darcy"
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}")
    if layout == "darcy":
        inp, out = inp or "a", out or "u"
        for role, n in (("input", inp), ("output", out)):
            if n not in axes or axes[n].time is not None or len(axes[n].spatial) != 2:
                raise ValueError(f"{role} must name a static 2D field of {ds.path.name} for layout 'darcy' "
                                 f"(fields: {ds.fields}), got {n!r}")
        names = [inp, out]
    else:
        if inp is not None:
            raise ValueError(f"input applies only to layout 'darcy' (layout {layout!r} stores one trajectory field)")
        if out is None:
            if len(timed) != 1:
                raise ValueError(f"output must name the trajectory field to write (time-varying: {timed})")
            out = timed[0]
        if out not in timed:
            raise ValueError(f"output must name a trajectory field of {ds.path.name} ({timed}), got {out!r}")
        if layout == "tensor" and len(axes[out].spatial) != 1:
            raise ValueError(f"layout 'tensor' holds 1D trajectories; {out!r} has axes {axes[out].spatial} "
                             f"(use layout 'groups')")
        names = [out]
    for n in names:
        a = axes[n]
        c = 1 if a.channel is None else ds[n].shape[1 + a.channel]
        if c != 1 and layout != "groups":
            raise ValueError(f"field {n!r} has {c} channels; layout {layout!r} holds one")
    return layout, names


def export_pdebench(store, out, *, layout: str | None = None, input: str | None = None,
                    output: str | None = None, overwrite: bool = False) -> Path:
    """Write fields of a sciml store as a PDEBench HDF5 file (atomically).

    Parameters
    ----------
    store : path or StoredDataset
    out : path of the file to write. An existing file is refused unless ``overwrite=True``; the
        input is never replaced.
    layout : "darcy", "tensor" or "groups", optional
        Default: ``darcy`` for a store without time axis, ``tensor`` for a one-channel 1D
        trajectory field, ``groups`` otherwise.
    input, output : str, optional
        Field names: for ``darcy`` the coefficient (default ``a``, written as ``nu``) and the
        solution (default ``u``, written as ``tensor``); for the other layouts ``output`` is the
        trajectory field (default: the store's only one).

    Returns
    -------
    Path

    Examples
    --------
    >>> import numpy as np, tempfile, pathlib
    >>> from sciml.datasets import save_dataset
    >>> from sciml.datasets.interop import export_pdebench, read_pdebench
    >>> tmp = pathlib.Path(tempfile.mkdtemp())
    >>> a, u = np.random.default_rng(0).random((2, 4, 1, 8, 8))
    >>> store = save_dataset(tmp / "d.h5", {"a": a, "u": u}, recipe="darcy")
    >>> path = export_pdebench(store, tmp / "2D_DarcyFlow_Train.hdf5")
    >>> back = read_pdebench(path)
    >>> bool(np.array_equal(back["fields"]["u"], u.astype(np.float32)))
    True
    """
    ds, own = open_store(store)
    try:
        axes = {n: field_axes(n, ds.field_info(n)["dims"]) for n in ds.fields}
        layout, names = _pick(ds, axes, layout, input, output)
        out = Path(out)
        check_output(out, [ds.path], overwrite)
        cmeta, coords = coords_meta(ds), ds.coords
        spatial = spatial_order(axes[names[-1]].spatial)
        grid = {}
        for d in spatial:
            c, _ = coord_for(cmeta, coords, d)
            grid[d] = np.arange(ds[names[-1]].shape[1 + axes[names[-1]].dims.index(d)], dtype=np.float64) \
                if c is None else c
        fname = dict(zip(spatial, "xyz"))  # PDEBench's loaders read x, y, z (the store's names are in provenance)
        a = axes[names[-1]]
        if a.time is not None:
            c, _ = coord_for(cmeta, coords, a.dims[a.time])
            grid["t"] = np.arange(ds[names[-1]].shape[1 + a.time], dtype=np.float64) if c is None else c
        attrs = ds.attrs
        prov = {"format": _PROV_FORMAT, "layout": layout, "names": names, "recipe": attrs.get("recipe"),
                "params": attrs["params"],
                "seed": attrs.get("seed"), "created": attrs.get("created"), "sciml_version": attrs.get("sciml_version"),
                **environment_attrs(attrs),
                "fields": {n: {"dims": list(axes[n].dims), "dtype": str(ds[n].dtype),
                               **{k: str(v) for k, v in ds.field_info(n).items() if k != "dims"}} for n in names},
                "coords": {k: {**m, "values": np.asarray(coords[k]).tolist(), "dtype": str(np.asarray(coords[k]).dtype)}
                           for k, m in cmeta.items()},
                "not_exported": [n for n in ds.fields if n not in names]}
        with OutputLock(out), atomic_path(out, out.suffix) as tmp, h5py.File(tmp, "w") as f:
            f.attrs[PROVENANCE] = json.dumps(prov, sort_keys=True)
            for k, v in numeric_params(attrs["params"]).items():
                f.attrs[k] = v
            arrs = [canonical(np.asarray(ds[n][()]), axes[n], spatial) for n in names]
            if layout == "darcy":  # (N, C=1, X, Y)
                f.create_dataset("nu", data=arrs[0][:, 0].astype(np.float32))
                f.create_dataset("tensor", data=arrs[1].astype(np.float32))
            elif layout == "tensor":  # (N, T, 1, X)
                f.create_dataset("tensor", data=arrs[0][:, :, 0].astype(np.float32))
                f.create_dataset("t-coordinate", data=np.asarray(grid["t"], dtype=np.float32))
            if layout in ("darcy", "tensor"):
                for d in spatial:
                    f.create_dataset(f"{fname[d]}-coordinate", data=np.asarray(grid[d], dtype=np.float32))
            else:  # (N, T, C, *spatial) -> per trajectory (T, *spatial, C)
                data = np.moveaxis(arrs[0], 2, -1).astype(np.float32)
                width = max(4, len(str(len(data) - 1)))
                for i, traj in enumerate(data):
                    g = f.create_group(f"{i:0{width}d}")
                    g.create_dataset("data", data=traj)
                    gg = g.create_group("grid")
                    for d in (*spatial, "t"):
                        gg.create_dataset(fname.get(d, d), data=np.asarray(grid[d], dtype=np.float32))
        return out
    finally:
        if own:
            ds.close()


# ------------------------------------------------------------------------------------ read
def _read_raw(path: Path, f: h5py.File) -> dict:
    keys = set(f.keys())
    if "tensor" in keys:
        t = np.asarray(f["tensor"][()], dtype=np.float32)
        if "nu" in keys:
            if t.ndim != 4 or t.shape[1] != 1 or f["nu"].shape != (t.shape[0], *t.shape[2:]):
                raise ValueError(f"{path}: Darcy layout needs tensor (N, 1, X, Y) and nu (N, X, Y), got "
                                 f"{t.shape} and {f['nu'].shape}")
            spatial = ("x", "y")
            fields = {"a": np.asarray(f["nu"][()], dtype=np.float32)[:, None], "u": t}
            dims = {"a": ("channel", *spatial), "u": ("channel", *spatial)}
            layout = "darcy"
        else:
            if t.ndim != 3:
                raise ValueError(f"{path}: tensor layout needs tensor (N, T, X) (2D sets use one group per "
                                 f"trajectory), got {t.shape}")
            spatial = ("x",)
            fields, dims, layout = {"u": t[:, :, None]}, {"u": ("time", "channel", "x")}, "tensor"
        need = [f"{d}-coordinate" for d in spatial] + (["t-coordinate"] if layout == "tensor" else [])
        missing = [k for k in need if k not in keys]
        if missing:
            raise ValueError(f"{path}: PDEBench {layout} layout but no {missing}")
        grid = {d: np.asarray(f[f"{d}-coordinate"][()], dtype=np.float64) for d in spatial}
        if layout == "tensor":
            grid["t"] = np.asarray(f["t-coordinate"][()], dtype=np.float64)[:t.shape[1]]
    elif keys & set(_CFD) and "density" in keys:
        d0 = f["density"]
        spatial = ("x", "y", "z")[:d0.ndim - 2]
        fields = {k: np.asarray(f[k][()], dtype=np.float32)[:, :, None] for k in _CFD if k in keys}
        dims = {k: ("time", "channel", *spatial) for k in fields}
        grid = {d: np.asarray(f[f"{d}-coordinate"][()], dtype=np.float64) for d in spatial if f"{d}-coordinate" in f}
        if "t-coordinate" in f:
            grid["t"] = np.asarray(f["t-coordinate"][()], dtype=np.float64)[:d0.shape[1]]
        layout = "cfd"
    elif keys and all(isinstance(f[k], h5py.Group) and "data" in f[k] for k in keys):
        groups = sorted(keys)
        g0 = f[groups[0]]
        if "grid" not in g0:
            raise ValueError(f"{path}: trajectory group {groups[0]!r} has no grid/ subgroup")
        nd = g0["data"].ndim - 2
        spatial = ("x", "y", "z")[:nd]
        grid = {d: np.asarray(g0["grid"][d][()], dtype=np.float64) for d in (*spatial, "t") if d in g0["grid"]}
        data = []
        for k in groups:
            g = f[k]
            if g["data"].shape != g0["data"].shape:
                raise ValueError(f"{path}: trajectory {k!r} has data {g['data'].shape}, {groups[0]!r} "
                                 f"{g0['data'].shape}")
            data.append(np.asarray(g["data"][()], dtype=np.float32))
        arr = np.moveaxis(np.stack(data), -1, 2)  # (N, T, C, *spatial)
        fields, dims, layout = {"data": arr}, {"data": ("time", "channel", *spatial)}, "groups"
    else:
        raise ValueError(f"{path} is not a PDEBench file: no 'tensor' dataset (Darcy/1D layout), no 'density' "
                         f"(CFD) and not one group per trajectory with 'data' (top-level keys: {sorted(keys)[:8]})")
    return {"fields": fields, "dims": dims, "grid": grid, "spatial": spatial, "layout": layout,
            "params": {k: (v.item() if isinstance(v, np.generic) else v) for k, v in f.attrs.items()
                       if k != PROVENANCE and isinstance(v, (int, float, np.integer, np.floating))}}


def read_pdebench(path) -> dict:
    """Read a PDEBench HDF5 file (any of the layouts above) into sciml's in-memory store layout.

    Returns
    -------
    dict
        ``fields`` (name -> ``(N, [T,] C, *spatial)``; ``a``/``u`` for Darcy, ``u`` for the
        tensor layout, ``data`` for groups, the variable names for CFD), ``dims``, ``units``,
        ``coords`` (name -> ``(dims, values, units)``), ``recipe``, ``params``, ``seed``,
        ``attrs``: what :func:`sciml.datasets.save_dataset` takes. A file written by
        :func:`export_pdebench` gives back the exported fields (float32-rounded) with their
        names, dims, units, dtype, coordinates and provenance.

    Raises
    ------
    FileNotFoundError, ValueError
        No file; a file of another format or a missing dataset (the message names the file).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no PDEBench file at {path}")
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise ValueError(f"{path} is not a readable HDF5 file ({exc})") from None
    with f:
        raw = _read_raw(path, f)
        prov = f.attrs.get(PROVENANCE)
    prov = json.loads(prov) if prov is not None else None
    if prov and prov.get("format") == _PROV_FORMAT:
        src = list(raw["fields"].values())
        fields, dims, units = {}, {}, {}
        for name, arr in zip(prov["names"], src):
            info = prov["fields"][name]
            a = field_axes(name, info["dims"])
            fields[name] = restore(arr, a, spatial_order(a.spatial)).astype(info["dtype"])
            dims[name], units[name] = tuple(info["dims"]), info.get("units", "1")
        coords = {k: (tuple(m["dims"]), np.asarray(m["values"], dtype=m["dtype"]), m["units"])
                  for k, m in prov["coords"].items()}
        attrs = {"pdebench_layout": prov["layout"], "created": prov.get("created"),
                 "sciml_version": prov.get("sciml_version"), **environment_attrs(prov)}
        return {"fields": fields, "dims": dims, "units": units, "coords": coords, "recipe": prov["recipe"],
                "params": prov["params"], "seed": int(prov.get("seed") or 0),
                "attrs": {k: v for k, v in attrs.items() if v is not None}}
    coords = {(d if d != "t" else "time"): ((d if d != "t" else "time",), v, "1") for d, v in raw["grid"].items()}
    timed = {k: "time" in d for k, d in raw["dims"].items()}
    dims = store_dims(raw["fields"], timed, raw["spatial"])
    fields = {k: to_store_order(a, timed[k], raw["spatial"], dims[k]) for k, a in raw["fields"].items()}
    return {"fields": fields, "dims": dims, "units": {}, "coords": coords,
            "recipe": f"pdebench:{path.stem}", "params": raw["params"], "seed": 0,
            "attrs": {"pdebench_layout": raw["layout"], "source": path.name}}


def import_pdebench(path, out, *, overwrite: bool = False) -> Path:
    """Convert a PDEBench HDF5 file into a sciml store ``out`` (see :func:`read_pdebench`)."""
    out = Path(out)
    check_output(out, [path], overwrite)
    data = read_pdebench(path)
    with OutputLock(out):
        return save_dataset(out, data["fields"], dims=data["dims"], units=data["units"], coords=data["coords"],
                            recipe=data["recipe"], params=data["params"], seed=data["seed"],
                            attrs={**data["attrs"], "imported_with": f"sciml {__version__}"})
