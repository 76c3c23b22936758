"""Readers for datasets published by other projects, into sciml's in-memory layout.

Every reader returns a dict of float arrays in the store layout, channel-first
(``(N, C, *spatial)`` or ``(N, T, C, *spatial)``); :func:`sciml.datasets.save_dataset`
writes such a dict as a store file.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["read_mat", "read_fno_darcy", "read_neuraloperator_pt"]


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
        raise KeyError(f"{path.name} has no variable(s) {missing}; variables: {[k for k in data if not k.startswith('__')]}")
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
        raise ValueError(f"{Path(path).name}: expected coeff and sol of equal shape (N, s, s), got {a.shape}, {u.shape}")
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
