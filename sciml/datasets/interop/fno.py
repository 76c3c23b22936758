"""Readers for datasets published by other projects, into sciml's in-memory layout.

Every reader returns a dict of float arrays in the store layout, channel-first
(``(N, C, *spatial)`` or ``(N, T, C, *spatial)``); :func:`sciml.datasets.save_dataset`
writes such a dict as a store file.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["read_mat", "read_fno_darcy", "read_neuraloperator_pt", "read_fno_navier_stokes"]


def _is_hdf5(path: Path) -> bool:
    with open(path, "rb") as fh:
        head = fh.read(1024)
    return b"\x89HDF\r\n\x1a\n" in head[:8] or head[512:520] == b"\x89HDF\r\n\x1a\n"


def read_mat(path, keys=None) -> dict[str, np.ndarray]:
    """Arrays from a MATLAB file, v5 (scipy.io) or v7.3 (HDF5), in MATLAB's index order.

    v7.3 files store arrays column-major, so h5py sees the axes reversed; they are
    transposed back here so both versions give the same shapes.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no file at {path}")
    if _is_hdf5(path):
        import h5py

        out = {}
        with h5py.File(path, "r") as f:
            for k in (keys or [k for k in f.keys() if not k.startswith("#")]):
                if k not in f:
                    raise KeyError(f"{path.name} has no variable {k!r}; variables: {list(f.keys())}")
                out[k] = np.asarray(f[k][()]).T
        return out
    import scipy.io

    data = scipy.io.loadmat(path)
    names = keys or [k for k in data if not k.startswith("__")]
    missing = [k for k in names if k not in data]
    if missing:
        names = [k for k in data if not k.startswith("__")]
        raise KeyError(f"{path.name} has no variable(s) {missing}; variables: {names}")
    return {k: np.asarray(data[k]) for k in names}


def read_fno_darcy(path, subsample: int = 1) -> dict[str, np.ndarray]:
    """The FNO Darcy ``.mat`` files (``coeff`` and ``sol``, ``(N, s, s)``).

    Returns ``{"a": (N, 1, s', s'), "u": (N, 1, s', s')}`` float64 with ``s' = len(range(0, s, subsample))``
    (``subsample=5`` turns the released 421 grid into the benchmark's 85 grid).
    """
    if isinstance(subsample, bool) or not isinstance(subsample, (int, np.integer)) or subsample < 1:
        raise ValueError(f"subsample must be a positive integer, got {subsample!r}")
    d = read_mat(path, ["coeff", "sol"])
    a, u = d["coeff"], d["sol"]
    if a.ndim != 3 or a.shape != u.shape:
        raise ValueError(f"{Path(path).name}: expected coeff and sol of equal shape (N, s, s), "
                         f"got {a.shape}, {u.shape}")
    sl = (slice(None), None, slice(None, None, subsample), slice(None, None, subsample))
    return {"a": np.ascontiguousarray(a[sl], dtype=np.float64), "u": np.ascontiguousarray(u[sl], dtype=np.float64)}


def read_neuraloperator_pt(path, input_key: str = "x", output_key: str = "y") -> dict[str, np.ndarray]:
    """neuraloperator's ``.pt`` dataset dicts (e.g. ``darcy_train_16.pt``: ``{"x": (N, s, s), "y": (N, s, s)}``).

    Loaded with ``torch.load(weights_only=True)`` (no pickled code). A missing channel
    axis is added. Returns ``{"a": (N, C, ...), "u": (N, C, ...)}`` float64.
    """
    import torch

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no file at {path}")
    data = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(data, dict):
        raise ValueError(f"{path.name} does not hold a dict of tensors")
    missing = [k for k in (input_key, output_key) if k not in data]
    if missing:
        raise KeyError(f"{path.name} has no key(s) {missing}; keys: {list(data)}")
    out = {}
    for name, key in (("a", input_key), ("u", output_key)):
        t = data[key].detach().to(torch.float64).numpy()
        if t.ndim == 3:  # (N, H, W) -> (N, 1, H, W)
            t = t[:, None]
        out[name] = np.ascontiguousarray(t)
    return out


def read_fno_navier_stokes(path, *, n: int | None = None, subsample: int = 1, with_times: bool = False):
    """The FNO Navier-Stokes ``.mat`` files (``a``: ``(N, s, s)`` initial vorticity, ``u``: ``(N, s, s, T)``
    vorticity at the times ``t``: ``(T,)`` or ``(1, T)``), MATLAB v5 or v7.3 (HDF5, axes reversed on disk).

    Returns ``{"a": (N, 1, s', s'), "u": (N, T, 1, s', s')}`` float64 in the store layout (time before
    channel, spatial axes ``y, x`` like every store: the file's ``x, y`` axes are swapped),
    ``s' = len(range(0, s, subsample))``; with
    ``with_times=True`` a pair ``(fields, t)`` with ``t`` the recorded times ``(T,)`` (``1..T`` when the
    file has no ``t``). ``n`` reads only the first ``n`` samples (from HDF5 without loading the rest).
    """
    if isinstance(subsample, bool) or not isinstance(subsample, (int, np.integer)) or subsample < 1:
        raise ValueError(f"subsample must be a positive integer, got {subsample!r}")
    if n is not None and (isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1):
        raise ValueError(f"n must be a positive integer or None, got {n!r}")
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no file at {path}")
    sl = slice(None, None, subsample)
    t = None
    if _is_hdf5(path):
        import h5py

        with h5py.File(path, "r") as f:
            missing = [k for k in ("a", "u") if k not in f]
            if missing:
                raise KeyError(f"{path.name} has no variable(s) {missing}; variables: {list(f.keys())}")
            da, du = f["a"], f["u"]
            if da.ndim != 3 or du.ndim != 4:
                raise ValueError(f"{path.name}: expected a (N, s, s) and u (N, s, s, T), got {da.shape[::-1]}, "
                                 f"{du.shape[::-1]}")
            k = da.shape[-1] if n is None else min(n, da.shape[-1])
            # on disk: a (s, s, N), u (T, s, s, N) (column-major MATLAB order reversed)
            a = np.asarray(da[sl, sl, :k]).transpose(2, 1, 0)
            u = np.asarray(du[:, sl, sl, :k]).transpose(3, 2, 1, 0)
            if "t" in f:
                t = np.asarray(f["t"][()]).ravel()
    else:
        d = read_mat(path, ["a", "u"])
        a, u = d["a"], d["u"]
        if a.ndim != 3 or u.ndim != 4:
            raise ValueError(f"{path.name}: expected a (N, s, s) and u (N, s, s, T), got {a.shape}, {u.shape}")
        k = a.shape[0] if n is None else min(n, a.shape[0])
        a, u = a[:k, sl, sl], u[:k, sl, sl]
        try:
            t = read_mat(path, ["t"])["t"].ravel()
        except KeyError:
            t = None
    if a.shape[0] != u.shape[0] or a.shape[1:] != u.shape[1:3]:
        raise ValueError(f"{path.name}: a {a.shape} and u {u.shape} disagree in samples or grid")
    fields = {"a": np.ascontiguousarray(a[:, None].swapaxes(-1, -2), dtype=np.float64),
              "u": np.ascontiguousarray(np.moveaxis(u, -1, 1)[:, :, None].swapaxes(-1, -2), dtype=np.float64)}
    if not with_times:
        return fields
    if t is None or t.size != u.shape[-1]:
        t = np.arange(1, u.shape[-1] + 1, dtype=np.float64)
    return fields, np.asarray(t, dtype=np.float64)
