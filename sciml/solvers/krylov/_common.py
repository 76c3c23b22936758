"""Argument checks and bookkeeping shared by the Krylov solvers (private).

The conventions are scipy's (``scipy.sparse.linalg.cg`` / ``gmres``): ``x, info = solver(A, b,
x0=None, *, rtol, atol, maxiter, M, callback)``; ``A`` and ``M`` may be anything
``aslinearoperator`` takes; ``x0`` is None, an array or ``'Mb'``; convergence means
``||b - A x|| <= max(rtol ||b||, atol)`` on the TRUE residual; ``b = 0`` returns ``x = 0``.

Precision: the iteration always runs in double precision (``float64``, or ``complex128`` when
``A``, ``b``, ``x0`` or ``M`` is complex); the solution is returned in the input precision
(``numpy.result_type(A, b, x0)``, at least ``float32``), and the final residual check is made
on that returned array, so ``info = 0`` is a statement about what the caller gets.
"""
from __future__ import annotations

import numbers
import warnings

import numpy as np
import scipy.sparse.linalg as spla

from ..._util.validation import check_finite
from .recycle_space import RecycleSpace


class _RealOnComplex(spla.LinearOperator):
    """A real operator applied to complex vectors part by part (user callables may be real-only)."""

    def __init__(self, op):
        super().__init__(dtype=np.complex128, shape=op.shape)
        self.op = op

    def _matvec(self, x):
        x = np.asarray(x).ravel()
        if not np.iscomplexobj(x):
            return np.asarray(self.op.matvec(x)).ravel()
        re = np.asarray(self.op.matvec(np.ascontiguousarray(x.real))).ravel()
        im = np.asarray(self.op.matvec(np.ascontiguousarray(x.imag))).ravel()
        return re + 1j * im

    def _matmat(self, X):
        return np.column_stack([self._matvec(X[:, j]) for j in range(X.shape[1])])


def work_operator(op, work):
    """``op`` made safe to apply to vectors of the working dtype."""
    if np.dtype(work).kind == "c" and np.dtype(op.dtype).kind != "c":
        return _RealOnComplex(op)
    return op


class CountingOperator(spla.LinearOperator):
    """Wraps a LinearOperator and counts vector products (a block of j columns counts j)."""

    def __init__(self, op, dtype=np.float64):
        super().__init__(dtype=np.dtype(dtype), shape=op.shape)
        self.op = work_operator(op, dtype)
        self.count = 0

    def _matvec(self, x):
        self.count += 1
        return np.asarray(self.op.matvec(x), dtype=self.dtype).ravel()

    def _matmat(self, X):
        self.count += X.shape[1]
        return np.asarray(self.op.matmat(X), dtype=self.dtype).reshape(self.shape[0], -1)


def as_operator(A, name="A") -> spla.LinearOperator:
    try:
        op = spla.aslinearoperator(A)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be a matrix or scipy LinearOperator, got {type(A).__name__}") from exc
    if len(op.shape) != 2 or op.shape[0] != op.shape[1]:
        raise ValueError(f"{name} must be square, got shape {op.shape}")
    dt = np.dtype(op.dtype) if op.dtype is not None else np.dtype(np.float64)
    if dt.kind not in "biufc" or (dt.kind == "f" and dt.itemsize > 8) or (dt.kind == "c" and dt.itemsize > 16):
        raise TypeError(f"{name} must have a float32/float64/complex64/complex128 (or integer) dtype, got {dt}")
    return op


def check_tol(value, name: str) -> float:
    """A tolerance: a real number >= 0 (``inf`` allowed). Anything else is a ValueError, as in scipy."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real) or np.isnan(value) or value < 0:
        raise ValueError(f"{name} must be a real, non-negative number (inf allowed), got {value!r}")
    return float(value)


def check_maxiter(maxiter, name="maxiter"):
    if maxiter is not None and (isinstance(maxiter, bool) or not isinstance(maxiter, (int, np.integer)) or maxiter < 1):
        raise ValueError(f"{name} must be a positive integer or None, got {maxiter!r}")
    return None if maxiter is None else int(maxiter)


def check_callback(callback):
    if callback is not None and not callable(callback):
        raise TypeError(f"callback must be callable or None, got {type(callback).__name__}")
    return callback


def _vector(v, n, name):
    arr = np.asarray(v)
    if arr.dtype.kind not in "biufc":
        raise TypeError(f"{name} must be a numeric array, got dtype {arr.dtype}")
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.shape != (n,):
        raise ValueError(f"{name} must have shape ({n},) to match A {(n, n)}, got {arr.shape}")
    check_finite(arr, name)
    return arr


class Problem:
    """The validated arguments of one solve (everything checked before any work)."""

    def __init__(self, A, b, x0, rtol, atol, maxiter, M, recycle, callback=None):
        self.op = as_operator(A, "A")
        n = self.n = self.op.shape[0]
        b = _vector(b, n, "b")
        self.rtol, self.atol = check_tol(rtol, "rtol"), check_tol(atol, "atol")
        if self.rtol == 0 and self.atol == 0:
            raise ValueError("rtol and atol cannot both be zero")
        self.maxiter = check_maxiter(maxiter)
        self.callback = check_callback(callback)
        self.Mop = None
        if M is not None:
            self.Mop = as_operator(M, "M")
            if self.Mop.shape != self.op.shape:
                raise ValueError(f"M must have the shape of A {self.op.shape}, got {self.Mop.shape}")
        mb = isinstance(x0, str)
        if mb and x0 != "Mb":
            raise ValueError(f"x0 must be None, an array of shape ({n},) or 'Mb', got {x0!r}")
        x0a = None if (x0 is None or mb) else _vector(x0, n, "x0")
        kinds = [np.dtype(self.op.dtype), b.dtype] + ([x0a.dtype] if x0a is not None else [])
        self.out_dtype = np.result_type(*kinds, np.float32)
        cplx = self.out_dtype.kind == "c" or (self.Mop is not None and np.dtype(self.Mop.dtype).kind == "c")
        if cplx and self.out_dtype.kind != "c":
            self.out_dtype = np.result_type(self.out_dtype, np.complex64)
        self.work = np.dtype(np.complex128 if cplx else np.float64)
        if recycle is not None:
            if not isinstance(recycle, RecycleSpace):
                raise TypeError(f"recycle must be a RecycleSpace or None, got {type(recycle).__name__}")
            recycle.check_size(n)
            if recycle.U is not None and np.iscomplexobj(recycle.U) and not cplx:
                raise TypeError("recycle holds complex vectors but this system is real")
        self.b = np.array(b, dtype=self.work)
        self.bnorm = float(np.linalg.norm(self.b))
        self.x0_mb = mb
        self.x = None if x0a is None else np.array(x0a, dtype=self.work)
        if self.Mop is not None:
            self.Mop = work_operator(self.Mop, self.work)

    @property
    def complex(self) -> bool:
        return self.work.kind == "c"

    def tol(self) -> float:
        return max(self.rtol * self.bnorm, self.atol)

    def start(self, apply_M):
        """The initial guess as a work array, or None for zero (``'Mb'`` evaluated with ``apply_M``)."""
        if self.x0_mb:
            return np.array(apply_M(self.b) if self.Mop is not None else self.b, dtype=self.work)
        return None if self.x is None else self.x.copy()

    def output(self, x):
        return np.asarray(x).astype(self.out_dtype, copy=False)

    def zero_rhs(self):
        """``b = 0``: the solution is 0 (as in scipy), whatever ``x0`` and the tolerances."""
        return np.zeros(self.n, dtype=self.out_dtype)


def herm(M):
    """Conjugate transpose (plain transpose for real arrays, so the real path is unchanged)."""
    return M.conj().T if np.iscomplexobj(M) else M.T


def finish(name, A, b, x, bnorm, tol, iterations, out_dtype=None):
    """True residual check of the RETURNED iterate.

    Returns ``(x_out, info, relative true residual, residual norm)``; warns when not converged.
    ``info`` is 0 on convergence, else ``max(iterations, 1)`` (scipy: the iteration count).
    """
    xo = x if out_dtype is None else np.asarray(x).astype(out_dtype, copy=False)
    xw = xo if xo.dtype == x.dtype else xo.astype(x.dtype)
    r = b - np.asarray(A.matvec(xw)).ravel()
    rnorm = float(np.linalg.norm(r))
    rel = rnorm / bnorm if bnorm > 0 else rnorm
    ok = rnorm <= tol * (1 + 1e-8) or (bnorm == 0 and rnorm == 0)
    if not np.all(np.isfinite(xw)):
        ok = False
    info = 0 if ok else max(int(iterations), 1)
    if not ok:
        warnings.warn(f"{name} did not converge: true residual {rnorm:.3e} > tolerance {tol:.3e} "
                      f"after {iterations} iterations (info={info})", RuntimeWarning, stacklevel=3)
    return xo, info, rel, rnorm
