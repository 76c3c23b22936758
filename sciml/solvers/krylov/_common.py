"""Argument checks and bookkeeping shared by the Krylov solvers (private)."""
from __future__ import annotations

import warnings

import numpy as np
import scipy.sparse.linalg as spla

from .recycle_space import RecycleSpace


class CountingOperator(spla.LinearOperator):
    """Wraps a LinearOperator and counts vector products (a block of j columns counts j)."""

    def __init__(self, op):
        super().__init__(dtype=np.float64, shape=op.shape)
        self.op = op
        self.count = 0

    def _matvec(self, x):
        self.count += 1
        return np.asarray(self.op.matvec(x), dtype=float).ravel()

    def _matmat(self, X):
        self.count += X.shape[1]
        return np.asarray(self.op.matmat(X), dtype=float).reshape(self.shape[0], -1)


def as_operator(A, name="A") -> spla.LinearOperator:
    try:
        op = spla.aslinearoperator(A)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be a matrix or scipy LinearOperator, got {type(A).__name__}") from exc
    if len(op.shape) != 2 or op.shape[0] != op.shape[1]:
        raise ValueError(f"{name} must be square, got shape {op.shape}")
    if np.dtype(op.dtype).kind == "c":
        raise TypeError(f"{name} must be real; complex operators are not supported")
    return op


def check_inputs(A, b, x0, rtol, atol, maxiter, M, recycle):
    """Validate arguments (before any work) and return (A_op, b, x0, M_op or None, bnorm)."""
    op = as_operator(A, "A")
    n = op.shape[0]
    b = np.asarray(b, dtype=float)
    if b.ndim == 2 and b.shape[1] == 1:
        b = b[:, 0]
    if b.shape != (n,):
        raise ValueError(f"b must have shape ({n},) to match A {op.shape}, got {b.shape}")
    if not np.all(np.isfinite(b)):
        raise ValueError("b has non-finite values")
    if x0 is not None:
        x0 = np.asarray(x0, dtype=float).reshape(-1)
        if x0.shape != (n,):
            raise ValueError(f"x0 must have shape ({n},), got {x0.shape}")
        x0 = x0.copy()
    if not np.isfinite(rtol) or not (0 <= rtol < 1):
        raise ValueError(f"rtol must be in [0, 1), got {rtol!r}")
    if not np.isfinite(atol) or atol < 0:
        raise ValueError(f"atol must be >= 0, got {atol!r}")
    if rtol == 0 and atol == 0:
        raise ValueError("rtol and atol cannot both be zero")
    if maxiter is not None and (isinstance(maxiter, bool) or not isinstance(maxiter, (int, np.integer)) or maxiter < 1):
        raise ValueError(f"maxiter must be a positive integer or None, got {maxiter!r}")
    Mop = None
    if M is not None:
        Mop = as_operator(M, "M")
        if Mop.shape != op.shape:
            raise ValueError(f"M must have the shape of A {op.shape}, got {Mop.shape}")
    if recycle is not None:
        if not isinstance(recycle, RecycleSpace):
            raise TypeError(f"recycle must be a RecycleSpace or None, got {type(recycle).__name__}")
        recycle.check_size(n)
    return op, b, x0, Mop, float(np.linalg.norm(b))


def finish(name, A, b, x, bnorm, tol, iterations, converged_hint=True):
    """True residual check. Returns (info, relative true residual); warns when not converged."""
    r = b - np.asarray(A.matvec(x)).ravel()
    rnorm = float(np.linalg.norm(r))
    rel = rnorm / bnorm if bnorm > 0 else rnorm
    ok = rnorm <= tol * (1 + 1e-8) or (bnorm == 0 and rnorm == 0)
    if not np.all(np.isfinite(x)):
        ok = False
    info = 0 if ok else max(int(iterations), 1)
    if not ok:
        warnings.warn(f"{name} did not converge: true residual {rnorm:.3e} > tolerance {tol:.3e} "
                      f"after {iterations} iterations (info={info})", RuntimeWarning, stacklevel=3)
    return info, rel, rnorm
