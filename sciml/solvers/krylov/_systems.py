"""Input checks and classification of a sequence of linear systems (private to :mod:`.sequence`).

:func:`_normalise` validates ``(A, b[, features])`` tuples (finite data, square, one size) and
brings them to the working precision; :func:`classify_systems` decides the route (one shared
matrix, SPD, general); :func:`_reference_matrix` is the entrywise mean used to build shared
preconditioners.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ..._util.validation import check_finite

__all__ = ["classify_systems"]


def _normalise(systems):
    """Checked systems in the working precision, and the precision to return solutions in.

    Every solve runs in float64 (complex128 when any matrix or right-hand side is complex);
    solutions come back in ``result_type`` of the inputs (at least float32), so float32 and
    complex64 systems are kept in their precision on output.
    """
    out = []
    for i, item in enumerate(systems):
        if not isinstance(item, (tuple, list)) or len(item) not in (2, 3):
            raise ValueError(f"systems[{i}] must be a tuple (A, b) or (A, b, features), got {type(item).__name__}")
        A, b = item[0], item[1]
        feat = item[2] if len(item) == 3 else None
        shape = getattr(A, "shape", None)
        if shape is None or len(shape) != 2:
            raise ValueError(f"systems[{i}]: A must be a 2D matrix or LinearOperator")
        if shape[0] != shape[1]:
            raise ValueError(f"systems[{i}]: A must be square, got shape {shape}")
        b = np.asarray(b)
        if b.dtype.kind not in "biufc":
            raise TypeError(f"systems[{i}]: b must be a numeric array, got dtype {b.dtype}")
        b = b.ravel()
        if b.shape != (shape[0],):
            raise ValueError(f"systems[{i}]: b must have shape ({shape[0]},), got {b.shape}")
        check_finite(b, f"systems[{i}]: b")
        if isinstance(A, np.ndarray):
            A = sp.csr_matrix(A)
        elif sp.issparse(A):
            A = A.tocsr() if A.format != "csr" else A
        if sp.issparse(A):
            if A.dtype.kind not in "biufc" or A.dtype.itemsize > 16 or (A.dtype.kind == "f" and A.dtype.itemsize > 8):
                raise TypeError(f"systems[{i}]: A must be float32/float64/complex64/complex128, got {A.dtype}")
            check_finite(A.data, f"systems[{i}]: A")
        out.append((A, b, feat))
    if not out:
        raise ValueError("systems must hold at least one (A, b[, features]) tuple")
    n = out[0][0].shape[0]
    for i, (A, _b, _f) in enumerate(out):
        if A.shape[0] != n:
            raise ValueError(f"systems[{i}]: all systems must have the same size n={n}, got {A.shape[0]}")
    kinds = {np.dtype(A.dtype) for A, _b, _f in out if getattr(A, "dtype", None) is not None}
    kinds |= {b.dtype for _A, b, _f in out}
    out_dtype = np.result_type(*kinds, np.float32)
    work = np.dtype(np.complex128 if out_dtype.kind == "c" else np.float64)
    converted = {}
    for i, (A, b, f) in enumerate(out):
        if sp.issparse(A) and A.dtype != work:
            if id(A) not in converted:
                converted[id(A)] = (A, A.astype(work))  # keep A alive so its id stays unique
            A = converted[id(A)][1]
        out[i] = (A, b.astype(work, copy=False), f)
    return out, out_dtype


def _features(systems):
    feats = []
    for _A, b, f in systems:
        v = np.asarray(b if f is None else f).ravel()
        if np.iscomplexobj(v):  # distances between complex features: real and imaginary parts
            v = np.concatenate([v.real, v.imag])
        feats.append(v.astype(float))
    sizes = {f.size for f in feats}
    if len(sizes) != 1:
        raise ValueError(f"features of all systems must have the same size, got sizes {sorted(sizes)}")
    return np.stack(feats)


def _same_pattern(mats) -> bool:
    A0 = mats[0]
    if not sp.issparse(A0):
        return False
    for A in mats[1:]:
        if not sp.issparse(A) or A.nnz != A0.nnz or not (
                np.array_equal(A.indptr, A0.indptr) and np.array_equal(A.indices, A0.indices)):
            return False
    return True


def _shared_matrix(mats) -> bool:
    A0 = mats[0]
    if all(A is A0 for A in mats):
        return True
    return _same_pattern(mats) and all(A is A0 or np.array_equal(A.data, A0.data) for A in mats)


def _is_spd_candidate(A) -> bool:
    """Symmetric, positive diagonal and weakly diagonally dominant (hence positive semi-definite;
    definite for the irreducible operators of elliptic problems with Dirichlet rows).

    Symmetric matrices that are not diagonally dominant (e.g. indefinite Helmholtz) are not
    trusted to be SPD and go to the general route.
    """
    if not sp.issparse(A):
        return False
    A = sp.csr_matrix(A)
    d = A.diagonal()
    if np.any(d <= 0):
        return False
    D = (A - A.T).tocoo()
    scale = np.abs(A.data).max() if A.nnz else 1.0
    if D.nnz and np.abs(D.data).max() > 1e-12 * scale:
        return False
    off = np.asarray(abs(A).sum(axis=1)).ravel() - d
    return bool(np.all(off <= d * (1 + 1e-12)))


def _spd_candidates_same_pattern(mats) -> bool:
    """:func:`_is_spd_candidate` for matrices sharing one canonical CSR pattern, vectorised.

    The transpose permutation (entry ``(i, j)`` -> position of ``(j, i)``) and the diagonal
    positions are found once; each matrix then costs a few passes over its data instead
    of a sparse transpose and subtraction.
    """
    A0 = mats[0]
    n = A0.shape[0]
    nnz_row = np.diff(A0.indptr)
    if np.any(nnz_row == 0):
        return False
    # transpose of the entry-number matrix: its data, read in CSR order, are the positions of (j, i)
    E = sp.csr_matrix((np.arange(A0.nnz, dtype=np.float64), A0.indices, A0.indptr), shape=A0.shape)
    ET = E.T.tocsr()
    ET.sort_indices()
    if not (np.array_equal(ET.indptr, A0.indptr) and np.array_equal(ET.indices, A0.indices)):
        return False  # pattern not symmetric
    pos = ET.data.astype(np.int64)
    rows = np.repeat(np.arange(n), nnz_row)
    diag = np.flatnonzero(rows == A0.indices)
    if diag.size != n:
        return False
    starts = A0.indptr[:-1]
    for A in mats:
        data = A.data
        scale = np.abs(data).max() if data.size else 1.0
        if np.abs(data - data[pos]).max() > 1e-12 * scale:
            return False
        d = data[diag]
        if np.any(d <= 0):
            return False
        off = np.add.reduceat(np.abs(data), starts) - d
        if np.any(off > d * (1 + 1e-12)):
            return False
    return True


def classify_systems(mats) -> str:
    """``"shared"`` (one matrix), ``"spd"`` (all symmetric, positive and dominant diagonal) or ``"general"``.

    Complex matrices are ``"shared"`` or ``"general"`` (the re-used AMG hierarchy is real).
    """
    if _shared_matrix(mats):
        return "shared"
    if any(np.dtype(getattr(A, "dtype", np.float64)).kind == "c" for A in mats):
        return "general"
    if _same_pattern(mats) and mats[0].has_canonical_format:
        return "spd" if _spd_candidates_same_pattern(mats) else "general"
    if all(_is_spd_candidate(A) for A in mats):
        return "spd"
    return "general"


def _reference_matrix(mats):
    if _same_pattern(mats):
        A0 = mats[0]
        data = np.zeros(A0.nnz, dtype=np.result_type(*[A.dtype for A in mats]))
        for A in mats:  # running sum: memory of one matrix, however long the chain
            data += A.data
        data /= len(mats)
        return sp.csr_matrix((data, A0.indices.copy(), A0.indptr.copy()), shape=A0.shape)
    return mats[0]
