"""Second-order finite-difference elliptic problems on the unit square.

Darcy (below), and the other families of the Krylov-recycling study (SKR):
Poisson with varying source and boundary data (one shared matrix), implicit heat
steps with varying conductivity, and the indefinite Helmholtz equation
``-Laplace u - k(x)^2 u = f`` with a varying wavenumber (see the functions at the
end of this module).

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

from .._util.validation import check_finite, check_float
from ..random_fields import as_generator, grf_neumann_square

__all__ = ["darcy_coefficient", "assemble_darcy", "solve_darcy", "darcy_grid", "interior_to_grid",
           "laplacian_matrix", "assemble_poisson", "assemble_heat_step", "assemble_helmholtz", "solve_sequence_fields"]

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
    if a.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be a real numeric array, got dtype {a.dtype}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} has non-finite values")


def _check_source(f, name="f"):
    """A scalar source as a finite float; an array is checked for finiteness (shape by the caller)."""
    if np.isscalar(f):
        return check_float(f, name)
    f = np.asarray(f)
    if f.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be a real number or array, got dtype {f.dtype}")
    check_finite(f, name)
    return f


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
    f = _check_source(f)
    s = a.shape[0]
    m = s - 2
    h2 = (1.0 / (s - 1)) ** 2
    with np.errstate(over="ignore", under="ignore"):
        ax, ay = _face_means(a, mean)
        scale = max(ax.max(), ay.max()) / h2
    if min(ax.min(), ay.min()) < np.finfo(float).tiny or not np.isfinite(scale):
        raise ValueError(f"a must stay within the range where its {mean} face means and a / h^2 are normal "
                         f"floats (about [1e-154, 1e300] for harmonic means); got min {a.min():.3g}, "
                         f"max {a.max():.3g}: rescale the problem (u scales as 1 / a)")
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
    """Solve Darcy flow ``-div(a grad u) = f`` on the unit square for one coefficient field.

    Parameters
    ----------
    a : numpy.ndarray
        ``(s, s)`` positive coefficient at the grid nodes (boundary included).
    f : float or numpy.ndarray, optional
        Source, a scalar or ``(s, s)``; default 1 (docs/references.md#darcy-flow).
    mean : {"harmonic", "arithmetic"}, optional
        Face average of ``a``.
    solver : {"amg", "direct", "cg"}, optional
        pyamg Ruge-Stuben preconditioned CG (default), scipy sparse LU, or unpreconditioned CG
        (for reference).
    rtol : float, optional
        Relative residual tolerance of the iterative solvers, in ``(0, 1)``.
    return_info : bool, optional
        Also return a dict (iterations, relative residual, seconds).

    Returns
    -------
    numpy.ndarray
        ``u`` of shape ``(s, s)``, float64, with ``u = 0`` on the boundary.

    Raises
    ------
    ValueError
        For bad input, before any work (NaN/inf in ``a`` or ``f``, ``a <= 0``, a coefficient
        range whose face means underflow).
    RuntimeError
        If an iterative solver does not reach ``rtol`` or a solve gives non-finite values.

    Examples
    --------
    >>> u = solve_darcy(np.ones((33, 33)))     # -Laplace u = 1 on the unit square, u = 0 on the edge
    >>> u.shape, round(float(u.max()), 4)      # the continuum maximum is 0.0737
    ((33, 33), 0.0736)
    >>> a = darcy_coefficient(65, rng=0)       # the FNO recipe: 12 where the field is >= 0, else 3
    >>> np.unique(a)
    array([ 3., 12.])
    >>> u, info = solve_darcy(a, return_info=True)
    >>> bool(info["residual"] < 1e-10), sorted(info)
    (True, ['iterations', 'residual', 'seconds'])
    """
    if solver not in _SOLVERS:
        raise ValueError(f"solver must be one of {_SOLVERS}, got {solver!r}")
    rtol = check_float(rtol, "rtol", min=0, min_open=True)
    if rtol >= 1:
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
    if not np.all(np.isfinite(x)):
        raise RuntimeError(f"Darcy {solver} solve gave non-finite values (the system is numerically singular "
                           f"for this a: min {a.min():.3g}, max {a.max():.3g})")
    bn = np.linalg.norm(b)
    res = float(np.linalg.norm(b - A @ x) / bn) if bn > 0 else float(np.linalg.norm(A @ x))
    if solver != "direct" and res > 10 * rtol:
        raise RuntimeError(f"Darcy {solver} solve did not converge: relative residual {res:.2e} > rtol {rtol:.1e}")
    u = interior_to_grid(x, a.shape[0])
    if return_info:
        return u, {"iterations": iterations, "residual": res, "seconds": time.perf_counter() - t0}
    return u


# ---------------------------------------------------------------------------
# Poisson, heat and Helmholtz systems (Krylov-recycling families)
# ---------------------------------------------------------------------------
from functools import lru_cache  # noqa: E402


@lru_cache(maxsize=8)
def laplacian_matrix(resolution: int):
    """5-point ``-Laplace`` on the ``(resolution - 2)^2`` interior nodes (zero Dirichlet), CSR SPD.

    Cached: every call with the same resolution returns the SAME (read-only) matrix object,
    so a sequence of Poisson systems shares one matrix (factor once, solve all).
    """
    if isinstance(resolution, bool) or not isinstance(resolution, (int, np.integer)) or resolution < 3:
        raise ValueError(f"resolution must be an integer >= 3, got {resolution!r}")
    A, _ = assemble_darcy(np.ones((int(resolution), int(resolution))), 0.0)
    A.data.setflags(write=False)
    return A


def _boundary_rhs(g: np.ndarray, h2: float) -> np.ndarray:
    """Contribution of Dirichlet data ``g`` (``(s, s)``, boundary values used) to the interior rhs."""
    c = np.zeros((g.shape[0] - 2, g.shape[1] - 2))
    c[:, 0] += g[1:-1, 0]
    c[:, -1] += g[1:-1, -1]
    c[0, :] += g[0, 1:-1]
    c[-1, :] += g[-1, 1:-1]
    return c.ravel() / h2


def assemble_poisson(f, g=0.0, *, resolution: int | None = None):
    """System for ``-Laplace u = f`` on ``(0, 1)^2``, ``u = g`` on the boundary (5-point, second order).

    f: ``(s, s)`` source on the nodes (or a scalar together with ``resolution``).
    g: scalar or ``(s, s)`` field whose boundary values are the Dirichlet data.
    Returns ``(A, b)``: ``A = laplacian_matrix(s)`` (shared object), ``b`` ``((s-2)^2,)``.
    """
    if np.isscalar(f):
        if resolution is None:
            raise ValueError("resolution is required when f is a scalar")
        f = np.full((resolution, resolution), float(f))
    f = np.asarray(f, dtype=float)
    _check_field(f, "f")
    s = f.shape[0]
    if np.isscalar(g):
        g = np.full((s, s), float(g))
    g = np.asarray(g, dtype=float)
    if g.shape != f.shape:
        raise ValueError(f"g must be a scalar or have the shape of f {f.shape}, got {g.shape}")
    h2 = (1.0 / (s - 1)) ** 2
    return laplacian_matrix(s), f[1:-1, 1:-1].ravel() + _boundary_rhs(g, h2)


def assemble_heat_step(kappa, u_prev, dt: float, f=0.0, *, mean: str = "harmonic"):
    """One backward-Euler step of ``u_t = div(kappa grad u) + f``, ``u = 0`` on the boundary.

    kappa: ``(s, s)`` positive conductivity; u_prev: ``(s, s)`` previous state (boundary ignored);
    dt: time step (> 0); f: scalar or ``(s, s)`` source.
    Returns ``(A, b)`` with ``A = I + dt K(kappa)`` (CSR SPD) and ``b = u_prev + dt f`` on the interior.
    """
    if not np.isfinite(dt) or dt <= 0:
        raise ValueError(f"dt must be a positive number, got {dt!r}")
    u_prev = np.asarray(u_prev, dtype=float)
    if u_prev.shape != np.shape(kappa):
        raise ValueError(f"u_prev must have the shape of kappa {np.shape(kappa)}, got {u_prev.shape}")
    K, fb = assemble_darcy(kappa, f, mean=mean)
    A = (sp.identity(K.shape[0], format="csr") + dt * K).tocsr()
    return A, u_prev[1:-1, 1:-1].ravel() + dt * fb


def assemble_helmholtz(k, f):
    """System for the Helmholtz equation ``-Laplace u - k(x)^2 u = f``, ``u = 0`` on the boundary.

    k: ``(s, s)`` wavenumber (rad per unit length) on the nodes; f: scalar or ``(s, s)`` source.
    Returns ``(A, b)``: ``A`` CSR symmetric and, once ``k^2`` exceeds the smallest Dirichlet
    eigenvalue ``2 pi^2``, indefinite; ``b`` ``((s-2)^2,)``.
    """
    k = np.asarray(k, dtype=float)
    _check_field(k, "k")
    L, b = assemble_darcy(np.ones_like(k), f)
    A = (L - sp.diags(k[1:-1, 1:-1].ravel() ** 2)).tocsr()
    return A, b


def solve_sequence_fields(systems, resolution: int, **kwargs):
    """Solve ``[(A, b, features), ...]`` with :func:`sciml.solvers.krylov.solve_sequence`.

    Returns ``(u, stats)``: ``u`` ``(N, s, s)`` node fields with zero boundary (add boundary data
    yourself for inhomogeneous problems) and the per-system statistics record array.
    """
    from .krylov import solve_sequence

    xs, stats = solve_sequence(systems, **kwargs)
    return np.stack([interior_to_grid(x, resolution) for x in xs]), stats
