"""One content digest for in-memory arrays: what a training run records of its data."""
from __future__ import annotations

import hashlib

import numpy as np

__all__ = ["array_digest"]


def array_digest(arrays) -> str:
    """sha256 over each array's dtype, shape and values (row-major), in order; ``None`` entries count.

    Takes numpy arrays, torch tensors (moved to the CPU) and Python scalars. Equal digests mean
    the same values, not the same files: a file's name, chunking and creation time do not enter.

    Examples
    --------
    >>> import numpy as np
    >>> a = np.arange(6.0).reshape(2, 3)
    >>> array_digest([a, None]) == array_digest([a.copy(), None]) != array_digest([a.T, None])
    True
    """
    digest = hashlib.sha256()
    for a in arrays:
        if a is None:
            digest.update(b"none|")
            continue
        if hasattr(a, "detach"):  # a torch tensor
            a = a.detach().cpu().numpy()
        a = np.ascontiguousarray(a)
        digest.update(f"{a.dtype.str}|{a.shape}|".encode())
        digest.update(a.tobytes())
    return digest.hexdigest()
