"""GCRO-DR: GMRES with deflated restarting and subspace recycling across systems.

Parks, de Sturler, Mackey, Johnson & Maiti (2006), "Recycling Krylov subspaces
for sequences of linear systems", SIAM J. Sci. Comput. 28(5). For the
(preconditioned) operator ``Ahat`` the solver keeps ``U`` (``(n, k)``) and
``C = Ahat U`` with orthonormal columns:

1. a new system (new matrix) starts with ``C = Ahat U``; the QR factorisation
   ``C = Q R`` gives ``C <- Q``, ``U <- U R^{-1}``; the initial residual is
   projected: ``x += U C^T r``, ``r -= C C^T r``;
2. each cycle runs ``m - k`` Arnoldi steps with ``(I - C C^T) Ahat`` from
   ``r / ||r||``, giving ``Ahat [U, V] = [C, V+] G`` with
   ``G = [[D, B], [0, Hbar]]``, and minimises the residual over ``span[U, V]``;
3. at each restart ``k`` harmonic Ritz vectors of the augmented problem
   (``G^T G z = theta G^T [C, V+]^T [U, V] z``, smallest ``|theta|``) give the next
   ``U`` and ``C``; they are left in the :class:`RecycleSpace` for the next system.

Without a recycled space the first cycle is GMRES(m) and its harmonic Ritz
vectors seed ``U``. ``M`` preconditions from the right (``Ahat = A M``, the
residual is the true one) or from the left (``Ahat = M A``; the true residual is
checked and the iteration continues if it is not yet small enough).
"""
from __future__ import annotations

import numpy as np
import scipy.linalg as sla

from ._common import CountingOperator, check_inputs, finish
from .recycle_space import RecycleSpace

__all__ = ["gcrodr"]


def _orth_against(w, bases):
    """Two passes of classical Gram-Schmidt of ``w`` against orthonormal blocks; returns (w, coefficients)."""
    coefs = [np.zeros(Q.shape[1]) for Q in bases]
    for _ in range(2):
        for i, Q in enumerate(bases):
            if Q.shape[1]:
                c = Q.T @ w
                w = w - Q @ c
                coefs[i] += c
    return w, coefs


def _harmonic_ritz(G, VhW, k):
    """``k`` harmonic Ritz vectors (real basis) of the pencil ``(G^T G, G^T VhW)``, smallest |theta| first."""
    k = min(k, G.shape[1])
    GtG = G.T @ G
    rhs = G.T @ VhW
    try:
        theta, Z = sla.eig(GtG, rhs)
    except (np.linalg.LinAlgError, ValueError):
        return None
    finite = np.isfinite(theta)
    order = [i for i in np.argsort(np.abs(np.where(finite, theta, np.inf))) if finite[i]]
    cols, used = [], set()
    for i in order:
        if i in used or len(cols) >= k:
            continue
        v = Z[:, i]
        if abs(theta[i].imag) > 1e-12 * max(abs(theta[i]), 1e-300):
            # complex pair: take real and imaginary parts, skip the conjugate
            cols.append(v.real)
            if len(cols) < k:
                cols.append(v.imag)
            dist = np.abs(theta - np.conj(theta[i]))
            dist[i] = np.inf
            dist[~finite] = np.inf
            used.add(int(np.argmin(dist)))
        else:
            cols.append(v.real)
        used.add(int(i))
    if not cols:
        return None
    P = np.column_stack(cols)
    # an orthonormal basis of the selected span (real/imaginary parts may be dependent)
    Q, R = np.linalg.qr(P)
    d = np.abs(np.diag(R))
    return Q[:, d > d.max() * 1e-10] if d.size and d.max() > 0 else None


def gcrodr(A, b, x0=None, *, rtol=1e-8, atol=0.0, m=40, k=20, M=None, side="right", recycle=None,
           maxiter=None, full_output=False):
    """Solve ``A x = b`` by GCRO-DR(m, k), recycling a ``k``-dimensional subspace.

    Parameters
    ----------
    A : sparse matrix, ndarray or LinearOperator ``(n, n)`` (general, real).
    b : array ``(n,)``; x0 : array ``(n,)`` optional initial guess.
    rtol, atol : float -- stop when ``||b - A x|| <= max(rtol ||b||, atol)``.
    m : int -- largest dimension of the search space per cycle (``k`` recycled + ``m - k`` Arnoldi).
    k : int -- recycled-space dimension, ``1 <= k < m``.
    M : preconditioner approximating ``A^{-1}`` (scipy convention), optional.
    side : ``"right"`` (default; the monitored residual is the true residual) or ``"left"``.
    recycle : RecycleSpace, optional -- ``U`` from earlier systems, replaced on exit.
        ``recycle.k`` must be >= ``k`` (extra vectors are dropped). Keep ``M`` and
        ``side`` fixed along a sequence: ``U`` lives in the preconditioned variables.
    maxiter : int, optional -- largest total number of Arnoldi steps (default ``10 n``).
    full_output : bool -- also return a dict (iterations, matvecs, psolves, cycles, residual).

    Returns
    -------
    x : ndarray ``(n,)``; info : 0 when the TRUE residual meets the tolerance, else the
    iteration count (> 0, with a RuntimeWarning); stats : dict with ``full_output``.
    """
    op, b, x, Mop, bnorm = check_inputs(A, b, x0, rtol, atol, maxiter, None if M is None else M, recycle)
    for name, v in (("m", m), ("k", k)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"{name} must be a positive integer, got {v!r}")
    if k >= m:
        raise ValueError(f"k must be smaller than m, got k={k}, m={m}")
    if side not in ("right", "left"):
        raise ValueError(f"side must be 'right' or 'left', got {side!r}")
    if recycle is not None and recycle.k < k:
        raise ValueError(f"recycle.k={recycle.k} is smaller than k={k}")
    n = op.shape[0]
    maxiter = 10 * n if maxiter is None else int(maxiter)
    A_ = CountingOperator(op)
    counts = {"psolve": 0}
    tol = max(rtol * bnorm, atol)
    if x is None:
        x = np.zeros(n)

    def Mv(v):
        if Mop is None:
            return v
        counts["psolve"] += 1
        return np.asarray(Mop.matvec(v), dtype=float).ravel()

    if side == "right":
        def Ahat(v):
            return A_.matvec(Mv(v))
    else:
        def Ahat(v):
            return Mv(A_.matvec(v))

    def Ahat_block(X):
        return np.column_stack([Ahat(X[:, j]) for j in range(X.shape[1])])

    # Iterate in the preconditioned variable y: right: x = x_base + M y; left: x = x_base + y.
    x_base = x.copy()
    y = np.zeros(n)

    def current_x():
        return x_base + (Mv(y) if (side == "right" and Mop is not None) else y)

    def hat_residual():
        r = b - A_.matvec(current_x())
        return r if side == "right" else Mv(r)

    it = 0
    cycles = 0
    U = C = None
    if recycle is not None and recycle.dim > 0:
        Ut = recycle.U[:, :k]
        Ct = Ahat_block(Ut)
        Q, R = np.linalg.qr(Ct)
        d = np.abs(np.diag(R))
        good = d > d.max() * 1e-12 if d.size else d
        if np.any(good):
            Q, R, Ut = Q[:, good], R[np.ix_(good, good)], Ut[:, good]
            C = Q
            U = sla.solve_triangular(R, Ut.T, trans="T", lower=False).T  # U R^{-1}
    r = hat_residual()
    if C is not None:
        c = C.T @ r
        y += U @ c
        r -= C @ c

    # Left preconditioning monitors ||M r||; keep checking the true residual on exit.
    true_ok = lambda: np.linalg.norm(b - A_.matvec(current_x())) <= tol  # noqa: E731
    inner_tol = tol if side == "right" else tol * (np.linalg.norm(r) / max(np.linalg.norm(b - A_.matvec(current_x())), 1e-300))
    rnorm = np.linalg.norm(r)
    tightened = 0
    while it < maxiter:
        if rnorm <= inner_tol:
            if true_ok() or tightened >= 4:
                break
            tightened += 1
            if side == "left":
                inner_tol *= 0.1
            r = hat_residual()  # recurrence drifted: restart from the explicit residual
            rnorm = np.linalg.norm(r)
            continue
        kc = 0 if C is None else C.shape[1]
        steps = min(m - kc, maxiter - it)
        V = np.zeros((n, steps + 1), order="F")  # contiguous columns for the Gram-Schmidt products
        H = np.zeros((steps + 1, steps))
        B = np.zeros((kc, steps))
        beta = rnorm
        V[:, 0] = r / beta
        j_done = 0
        Cb = C if C is not None else np.zeros((n, 0))
        ls_norm = beta
        cs = np.zeros(steps)
        sn = np.zeros(steps)
        g = np.zeros(steps + 1)
        g[0] = beta
        for j in range(steps):
            w = Ahat(V[:, j])
            w, (cC, cV) = _orth_against(w, [Cb, V[:, : j + 1]])
            B[:, j] = cC
            H[: j + 1, j] = cV
            h = np.linalg.norm(w)
            H[j + 1, j] = h
            j_done = j + 1
            it += 1
            # residual of the small least-squares problem by Givens rotations (G is block upper
            # triangular with an invertible U-block, so only the Hessenberg part matters)
            col = H[: j + 2, j].copy()
            for i in range(j):
                t = cs[i] * col[i] + sn[i] * col[i + 1]
                col[i + 1] = -sn[i] * col[i] + cs[i] * col[i + 1]
                col[i] = t
            den = np.hypot(col[j], col[j + 1])
            if den > 0:
                cs[j], sn[j] = col[j] / den, col[j + 1] / den
            else:
                cs[j], sn[j] = 1.0, 0.0
            g[j + 1] = -sn[j] * g[j]
            g[j] = cs[j] * g[j]
            ls_norm = abs(g[j + 1])
            if h <= 1e-14 * np.linalg.norm(H[: j + 2, j]) or not np.isfinite(h):
                break
            V[:, j + 1] = w / h
            if ls_norm <= inner_tol:
                break
        cycles += 1
        j = j_done
        Vj, Hb, Bj = V[:, :j], H[: j + 1, :j], B[:, :j]
        Vp = V[:, : j + 1]
        if C is None:
            # GMRES(m) cycle
            G = Hb
            e1 = np.zeros(j + 1)
            e1[0] = beta
            z, *_ = np.linalg.lstsq(G, e1, rcond=None)
            y += Vj @ z
            r = r - Vp @ (G @ z)
            Wh, Vh = Vj, Vp
            VhW = np.vstack([np.eye(j), np.zeros((1, j))])
        else:
            # augmented problem: Ahat [U~, V] = [C, V+] G, U~ = U D (unit columns)
            dn = 1.0 / np.linalg.norm(U, axis=0)
            Ut = U * dn
            G = np.zeros((kc + j + 1, kc + j))
            G[:kc, :kc] = np.diag(dn)
            G[:kc, kc:] = Bj
            G[kc:, kc:] = Hb
            rhs = np.zeros(kc + j + 1)
            rhs[kc] = beta  # [C, V+]^T r = [0, beta e1]
            z, *_ = np.linalg.lstsq(G, rhs, rcond=None)
            Wh = np.hstack([Ut, Vj])
            Vh = np.hstack([C, Vp])
            y += Wh @ z
            r = r - Vh @ (G @ z)
            VhW = np.zeros((kc + j + 1, kc + j))
            VhW[:kc, :kc] = C.T @ Ut
            VhW[kc:, :kc] = Vp.T @ Ut
            VhW[kc:, kc:] = np.vstack([np.eye(j), np.zeros((1, j))])
        rnorm = np.linalg.norm(r)
        # harmonic Ritz extraction -> next U, C (Parks et al. 2006, Sec. 2.4)
        P = _harmonic_ritz(G, VhW, k) if G.shape[1] >= 1 else None
        if P is not None:
            Q, R = np.linalg.qr(G @ P)
            d = np.abs(np.diag(R))
            good = d > (d.max() if d.size else 0) * 1e-12
            if np.any(good):
                Q, R, P = Q[:, good], R[np.ix_(good, good)], P[:, good]
                C = Vh @ Q
                U = sla.solve_triangular(R, (Wh @ P).T, trans="T", lower=False).T
        if not np.isfinite(rnorm):
            break
        if ls_norm > inner_tol and j < steps and rnorm > inner_tol:
            # Arnoldi broke down without convergence: recompute the residual and carry on
            r = hat_residual()
            if C is not None:
                c = C.T @ r
                y += U @ c
                r -= C @ c
            rnorm = np.linalg.norm(r)
        # refresh the residual explicitly now and then (guards against drift)
        if cycles % 10 == 0:
            r = hat_residual()
            rnorm = np.linalg.norm(r)

    xf = current_x()
    if recycle is not None and U is not None:
        recycle.update(U, C=C, token=None)
    info, rel, _ = finish("gcrodr", A_, b, xf, bnorm, tol, it)
    if full_output:
        return xf, info, {"iterations": int(it), "matvecs": int(A_.count), "psolves": int(counts["psolve"]),
                          "cycles": int(cycles), "residual": float(rel)}
    return xf, info
