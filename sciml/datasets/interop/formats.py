"""Which other project's format a file or folder holds (for ``sciml import`` without ``--format``)."""
from __future__ import annotations

import zipfile
from pathlib import Path

__all__ = ["detect_format"]


def detect_format(path) -> str:
    """``"well"``, ``"pdebench"`` or ``"neuralop"`` from the content of ``path``.

    A folder is a Well dataset; a zip archive a ``torch.save`` checkpoint; an HDF5 file a Well
    file (``dimensions/`` and ``n_trajectories``) or a PDEBench file (``tensor``, ``density`` or
    one group per trajectory holding ``data``).

    Raises
    ------
    FileNotFoundError
        Nothing at ``path``.
    ValueError
        Anything else (a sciml store is named as such).
    """
    path = Path(path)
    if path.is_dir():
        return "well"
    if not path.exists():
        raise FileNotFoundError(f"no file or folder at {path}")
    if zipfile.is_zipfile(path):
        return "neuralop"
    import h5py

    try:
        f = h5py.File(path, "r")
    except OSError:
        f = None
    if f is not None:
        with f:
            if "dimensions" in f and "n_trajectories" in f.attrs:
                return "well"
            if "tensor" in f or "density" in f or (len(f) and all(isinstance(g, h5py.Group) and "data" in g
                                                                  for g in f.values())):
                return "pdebench"
            fmt = f.attrs.get("format")
        if fmt is not None:
            raise ValueError(f"{path} is a {fmt!r} file, not a Well, PDEBench or neuraloperator file")
    raise ValueError(f"{path}: not a Well, PDEBench or neuraloperator file (pass --format to see what is missing)")
