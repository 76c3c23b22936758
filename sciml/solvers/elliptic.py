"""Second-order finite-difference elliptic problems on the unit square.

Darcy flow ``-div(a grad u) = f`` on ``(0, 1)^2`` with ``u = 0`` on the boundary,
discretised on the ``s x s`` node grid ``x_i = i / (s - 1)`` (boundary nodes
included) with the 5-point stencil; the face coefficient between two nodes is
their harmonic (default) or arithmetic mean. The matrix acts on the
``(s - 2)^2`` interior unknowns in row-major (y, x) order and is symmetric
positive definite.
"""
from __future__ import annotations

import time

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from ..random_fields import as_generator, grf_neumann_square

__all__ = ["darcy_coefficient", "assemble_darcy", "solve_darcy", "darcy_grid", "interior_to_grid"]

_MEANS = ("harmonic", "arithmetic")


def darcy_grid(resolution: int) -> np.ndarray:
    """Node coordinates ``x_i = i / (resolution - 1)``, shape ``(resolution,)``, unit length."""
    return np.linspace(0.0, 1.0, resolution)


def darcy_coefficient(resolution: int, rng=None, *, alpha: float = 2.0, tau: float = 3.0,
                      high: float = 12.0, low: float = 3.0) -> np.ndarray:
    """Piecewise-constant Darcy coefficient of the FNO recipe.

    ``a = high`` where ``g >= 0`` and ``low`` elsewhere, ``g`` a Neumann GRF with
    covariance ``(-Laplace + tau^2)^(-alpha)`` (see :func:`sciml.random_fields.grf_neumann_square`).
    Returns ``(resolution, resolution)`` float64 (permeability, dimensionless).
    """
    if not (np.isfinite(high) and np.isfinite(low)) or high <= 0 or low <= 0:
        raise ValueError(f"high and low must be positive, got high={high!r}, low={low!r}")
    g = grf_neumann_square(resolution, alpha=alpha, tau=tau, rng=as_generator(rng))
    return np.where(g >= 0, float(high), float(low))


def _check_field(a, name="a"):
    if not isinstance(a, np.ndarray):
        raise TypeError(f"{name} must be a numpy array, got {type(a).__name__}")
    if a.ndim != 2 or a.shape[0] != a.shape[1]:
        raise ValueError(f"{name} must be a square 2D array (s, s), got shape {a.shape}")
    if a.shape[0] < 3:
        raise ValueError(f"{name} must have at least 3 x 3 nodes, got {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} has non-finite values")


def _face_means(a: np.ndarray, mean: str):
    """Coefficients on the horizontal and vertical faces between neighbouring nodes."""
    if mean not in _MEANS:
        raise ValueError(f"mean must be one of {_MEANS}, got {mean!r}")
    left, right = a[:, :-1], a[:, 1:]
    down, up = a[:-1, :], a[1:, :]
    if mean == "harmonic":
        ax = 2.0 * left * right / (left + right)
        ay = 2.0 * down * up / (down + up)
    else:
        ax = 0.5 * (left + right)
        ay = 0.5 * (down + up)
    return ax, ay  # ax: (s, s-1) faces between (j, i) and (j, i+1); ay: (s-1, s)


def assemble_darcy(a: np.ndarray, f=1.0, *, mean: str = "harmonic"):
    """Sparse 5-point system for ``-div(a grad u) = f``, ``u = 0`` on the boundary.

    a: ``(s, s)`` positive coefficient on the nodes.
    f: scalar or ``(s, s)`` source on the nodes.
    Returns ``(A, b)``: ``A`` CSR ``((s-2)^2, (s-2)^2)`` SPD, ``b`` ``((s-2)^2,)``; unknowns are
    the interior nodes in row-major order (see :func:`interior_to_grid`).
    """
    _check_field(a)
    if np.any(a <= 0):
        raise ValueError("a must be strictly positive")
    s = a.shape[0]
    m = s - 2
    h2 = (1.0 / (s - 1)) ** 2
    ax, ay = _face_means(a, mean)
    # Interior node (j, i) with j, i in 1..s-2 couples to its four neighbours.
    aw = ax[1:-1, :-1]   # face between (j, i-1) and (j, i)
    ae = ax[1:-1, 1:]    # face between (j, i) and (j, i+1)
    as_ = ay[:-1, 1:-1]  # face between (j-1, i) and (j, i)
    an = ay[1:, 1:-1]    # face between (j, i) and (j+1, i)
    diag = (aw + ae + as_ + an) / h2
    idx = np.arange(m * m).reshape(m, m)
    rows = [idx.ravel()]
    cols = [idx.ravel()]
    vals = [diag.ravel()]
    # Off-diagonals; couplings to boundary nodes vanish because u = 0 there.
    for coef, r, c in (
        (ae[:, :-1], idx[:, :-1], idx[:, 1:]),
        (aw[:, 1:], idx[:, 1:], idx[:, :-1]),
        (an[:-1, :], idx[:-1, :], idx[1:, :]),
        (as_[1:, :], idx[1:, :], idx[:-1, :]),
    ):
        rows.append(r.ravel())
        cols.append(c.ravel())
        vals.append(-coef.ravel() / h2)
    A = sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(m * m, m * m))
    if np.isscalar(f):
        b = np.full(m * m, float(f))
    else:
        f = np.asarray(f, dtype=float)
        if f.shape != a.shape:
            raise ValueError(f"f must be a scalar or have the shape of a {a.shape}, got {f.shape}")
        b = f[1:-1, 1:-1].ravel().copy()
    return A, b


def interior_to_grid(x: np.ndarray, resolution: int) -> np.ndarray:
    """Interior unknowns ``((s-2)^2,)`` -> node field ``(s, s)`` with zero boundary."""
    u = np.zeros((resolution, resolution))
    u[1:-1, 1:-1] = np.asarray(x).reshape(resolution - 2, resolution - 2)
    return u


_SOLVERS = ("direct", "amg", "cg")


def solve_darcy(a: np.ndarray, f=1.0, *, mean: str = "harmonic", solver: str = "amg", rtol: float = 1e-10,
                return_info: bool = False):
    """Solve Darcy flow for one coefficient field.

    a: ``(s, s)`` coefficient; f: scalar or ``(s, s)`` source.
    solver: ``"amg"`` (pyamg Ruge-Stuben preconditioned CG, default), ``"direct"``
    (scipy sparse LU) or ``"cg"`` (unpreconditioned CG, for reference).
    Returns ``u`` ``(s, s)`` with ``u = 0`` on the boundary, and with ``return_info=True``
    also a dict (iterations, relative residual, seconds).
    Raises RuntimeError if an iterative solver does not reach ``rtol``.
    """
    if solver not in _SOLVERS:
        raise ValueError(f"solver must be one of {_SOLVERS}, got {solver!r}")
    if not (0 < rtol < 1):
        raise ValueError(f"rtol must be in (0, 1), got {rtol!r}")
    t0 = time.perf_counter()
    A, b = assemble_darcy(a, f, mean=mean)
    iterations = 0
    if solver == "direct":
        x = spla.spsolve(A.tocsc(), b)
    else:
        M = None
        if solver == "amg":
            import pyamg

            M = pyamg.ruge_stuben_solver(A).aspreconditioner(cycle="V")
        counter = {"n": 0}

        def count(_):
            counter["n"] += 1

        x, info = spla.cg(A, b, rtol=rtol, atol=0.0, maxiter=10 * A.shape[0], M=M, callback=count)
        iterations = counter["n"]
    res = float(np.linalg.norm(b - A @ x) / np.linalg.norm(b))
    if solver != "direct" and res > 10 * rtol:
        raise RuntimeError(f"Darcy {solver} solve did not converge: relative residual {res:.2e} > rtol {rtol:.1e}")
    u = interior_to_grid(x, a.shape[0])
    if return_info:
        return u, {"iterations": iterations, "residual": res, "seconds": time.perf_counter() - t0}
    return u
