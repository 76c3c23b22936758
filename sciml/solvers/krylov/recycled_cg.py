"""Deflated / recycled preconditioned conjugate gradients for SPD systems.

Deflated CG (Saad, Yeung, Erhel & Guyomarc'h 2000, "A deflated version of the
conjugate gradient algorithm"; the recycling view of Parks et al. 2006 and
Gaudreault & Parks) with a preconditioner: given ``W`` (``(n, k)``, the recycled
basis) and ``AW``, the iterate starts with the Galerkin correction on ``span W``
and every search direction is made ``A``-conjugate to ``W``:

    p_{j+1} = z_{j+1} + beta_j p_j - W mu_{j+1},   (W^T A W) mu_{j+1} = (AW)^T z_{j+1},

with ``z = M r`` the preconditioned residual. The residuals stay orthogonal to
``W``, so the eigencomponents of ``M A`` that ``W`` captures are removed from
the iteration.

After the solve the basis is refreshed by a Rayleigh-Ritz step for the pencil
``(A, M^{-1})`` (eigenvectors of ``M A``) on ``span[W, z_0, ..., z_{L-1}]``: the
preconditioner's inverse is never applied, because ``M^{-1} z_j = r_j`` is known
for every preconditioned residual and ``M^{-1} W`` is carried along in the
:class:`RecycleSpace`. The ``k`` Ritz vectors of the smallest Ritz values become
the new ``W``.
"""
from __future__ import annotations

import numpy as np
from scipy.linalg.blas import get_blas_funcs

from ._common import CountingOperator, Problem, finish, herm

__all__ = ["recycled_cg"]


def _spd_solve_factory(E: np.ndarray):
    """Solver for ``E mu = g`` with ``E = W^H A W`` (k x k HPD); pseudo-inverse on a tiny/negative part."""
    E = 0.5 * (E + herm(E))
    lam, Q = np.linalg.eigh(E)
    keep = lam > max(lam.max(), 0.0) * 1e-12
    Qk, lk = Q[:, keep], lam[keep]
    QkH = herm(Qk)

    def solve(g):
        return Qk @ ((QkH @ g) / (lk if g.ndim == 1 else lk[:, None]))

    return solve, int(keep.sum())


def _rayleigh_ritz(G, F, k):
    """Smallest ``k`` eigenpairs of the pencil ``(G, F)``, ``F`` Hermitian semi-definite (truncated)."""
    G = 0.5 * (G + herm(G))
    F = 0.5 * (F + herm(F))
    lam, Q = np.linalg.eigh(F)
    keep = lam > max(lam.max(), 0.0) * 1e-10
    S = Q[:, keep] / np.sqrt(lam[keep])
    theta, Y = np.linalg.eigh(herm(S) @ G @ S)
    k = min(k, theta.size)
    return theta[:k], S @ Y[:, :k]


def recycled_cg(A, b, x0=None, *, rtol=1e-8, atol=0.0, maxiter=None, M=None, callback=None, recycle=None,
                harvest=None, full_output=False):
    """Solve the Hermitian positive definite system ``A x = b`` by deflated (recycled) preconditioned CG.

    The calling conventions are those of ``scipy.sparse.linalg.cg`` (see Notes).

    Parameters
    ----------
    A : sparse matrix, ndarray or LinearOperator, ``(n, n)``
        Symmetric (real) or Hermitian (complex) positive definite.
    b : array ``(n,)`` or ``(n, 1)``
        Right-hand side, finite (NaN/inf is a ValueError).
    x0 : None, array ``(n,)`` or ``'Mb'``
        Initial guess (e.g. a neighbouring system's solution); ``'Mb'`` starts from ``M @ b``;
        None from zero.
    rtol, atol : float
        Stop when ``||b - A x|| <= max(rtol ||b||, atol)`` (2-norm, the TRUE residual).
        Any real number >= 0, ``inf`` included (``rtol >= 1`` accepts ``x0``); not both zero.
        Anything else (None, ``'legacy'``, a negative number, NaN) is a ValueError, as in scipy.
    maxiter : int, optional
        Largest number of CG iterations (default ``10 n``), scipy's meaning.
    M : sparse matrix, ndarray or LinearOperator, optional
        Preconditioner approximating ``A^{-1}`` (Hermitian positive definite), as for ``cg``.
    callback : callable, optional
        ``callback(xk)`` after every iteration with the current iterate (a work array, float64
        or complex128; do not modify it), as in scipy's ``cg``.
    recycle : RecycleSpace, optional
        Deflation basis ``W = recycle.U``, refreshed for ``A`` on entry and replaced by the
        ``recycle.k`` harvested Ritz vectors on exit.
    harvest : int, optional
        Number of leading preconditioned residuals kept for the Ritz harvest (default
        ``max(2 k, 10)``); memory is ``harvest * n`` numbers.
    full_output : bool
        Also return a dict of statistics.

    Returns
    -------
    x : ndarray ``(n,)``
        In the precision of the input (``result_type(A, b, x0)``, at least float32).
    info : int
        0 when the TRUE residual of the returned ``x`` meets the tolerance, else the number
        of iterations (> 0); a RuntimeWarning is issued whenever ``info > 0``.
    stats : dict (only with ``full_output``)
        iterations, matvecs, psolves, residual (true relative residual), ritz_values (of
        ``M A``, the kept ones).

    Notes
    -----
    The iteration runs in float64 (complex128 for complex input) whatever the input precision;
    ``b = 0`` returns ``x = 0`` at once (as scipy does). ``A`` is assumed Hermitian positive
    definite on the Krylov space; a direction with ``p^H A p <= 0`` stops the iteration and is
    reported through ``info``.

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> A = sp.diags([-np.ones(9), 2 * np.ones(10), -np.ones(9)], [-1, 0, 1])
    >>> x, info = recycled_cg(A, np.ones(10), rtol=1e-10)
    >>> info, bool(np.linalg.norm(A @ x - 1) < 1e-9)
    (0, True)
    """
    P = Problem(A, b, x0, rtol, atol, maxiter, M, recycle, callback)
    op, b, Mop, bnorm = P.op, P.b, P.Mop, P.bnorm
    n = P.n
    maxiter = 10 * n if P.maxiter is None else P.maxiter
    A_ = CountingOperator(op, P.work)
    npsolve = 0
    if bnorm == 0.0:
        x = P.zero_rhs()
        return (x, 0, _stats(0, 0, 0, 0.0, None)) if full_output else (x, 0)
    tol = P.tol()
    cplx = P.complex
    if cplx:
        def _dot(u, v):
            return float(np.vdot(u, v).real)
    else:
        def _dot(u, v):
            return float(u @ v)

    def prec(v):
        nonlocal npsolve
        if Mop is None:
            return v.copy()
        npsolve += 1
        return np.asarray(Mop.matvec(v), dtype=P.work).ravel()

    x = P.start(prec)
    zero_start = x is None
    if zero_start:
        x = np.zeros(n, dtype=P.work)
    _axpy = get_blas_funcs("axpy", (x,))

    # ---- deflation space for this operator
    W = AW = WH = None
    Esolve = None
    if recycle is not None and recycle.dim > 0:
        recycle.refresh(A_, token=A)
        W, AW = recycle.U, recycle.C
        WH = herm(W)
        Esolve, rank = _spd_solve_factory(WH @ AW)
        if rank == 0:
            W = AW = WH = Esolve = None

    r = b.copy() if zero_start else b - A_.matvec(x)
    if W is not None:  # Galerkin start on span W: W^H r = 0 afterwards
        c = Esolve(WH @ r)
        x += W @ c
        r -= AW @ c

    kk = recycle.k if recycle is not None else 0
    L = (harvest if harvest is not None else max(2 * kk, 10)) if recycle is not None else 0
    harv = _Harvester(W, AW, recycle, Mop is None, kk, L) if kk > 0 else None
    AWH = herm(AW) if AW is not None else None

    def deflect(z):
        if W is None:
            return None
        return Esolve(AWH @ z)

    it = 0
    restarts = 0
    converged = np.linalg.norm(r) <= tol
    z = prec(r)
    rz = _dot(r, z)
    mu = deflect(z)
    p = z - W @ mu if W is not None else z.copy()
    beta_prev, q_prev = 0.0, None
    while not converged and it < maxiter:
        q = A_.matvec(p)
        if harv is not None:
            # A z_j from the recurrence p_j = z_j + beta p_{j-1} - W mu_j (no extra products)
            Az = q - beta_prev * q_prev if q_prev is not None else q.copy()
            if mu is not None:
                Az += AW @ mu
            harv.add(z, Az, r)
        pq = _dot(p, q)
        if not np.isfinite(pq) or pq <= 0.0:
            break  # operator (or preconditioner) not HPD on this direction
        alpha = rz / pq
        _axpy(p, x, a=alpha)    # x += alpha p, in place (no temporaries of size n)
        _axpy(q, r, a=-alpha)   # r -= alpha q
        it += 1
        if P.callback is not None:
            P.callback(x)
        if np.linalg.norm(r) <= tol:
            # check the true residual; the recurrence may have drifted
            r_true = b - A_.matvec(x)
            if np.linalg.norm(r_true) <= tol or restarts >= 3:
                r = r_true
                converged = np.linalg.norm(r) <= tol
                break
            restarts += 1
            r = r_true
            if W is not None:
                c = Esolve(WH @ r)
                x += W @ c
                r -= AW @ c
            z = prec(r)
            rz = _dot(r, z)
            mu = deflect(z)
            p = z - W @ mu if W is not None else z.copy()
            beta_prev, q_prev = 0.0, None
            continue
        z = prec(r)
        rz_new = _dot(r, z)
        beta = rz_new / rz
        rz = rz_new
        mu = deflect(z)
        p *= beta
        p += z
        if W is not None:
            p -= W @ mu
        beta_prev, q_prev = beta, q

    ritz = harv.finish(A) if harv is not None else None

    x, info, rel, _ = finish("recycled_cg", A_, b, x, bnorm, tol, it, P.out_dtype)
    if full_output:
        return x, info, _stats(it, A_.count, npsolve, rel, ritz)
    return x, info


class _Harvester:
    """Windowed Rayleigh-Ritz for the pencil ``(A, M^{-1})``.

    Keeps at most ``k`` Ritz vectors ``Y`` with ``A Y`` and ``M^{-1} Y``; every ``L``
    preconditioned residuals ``z_j`` (with ``A z_j`` from the CG recurrence and
    ``M^{-1} z_j = r_j``) are merged in and the basis is compressed back to the
    ``k`` smallest Ritz values, so memory stays ``(k + L) n`` however long the solve.
    """

    def __init__(self, W, AW, recycle, identity_prec, k, L):
        self.recycle, self.identity, self.k, self.L = recycle, identity_prec, k, max(int(L), 1)
        self.Y = self.AY = self.BY = None
        if W is not None:
            MU = recycle.MU if (recycle.MU is not None and recycle.MU.shape == W.shape) else W
            self.Y, self.AY, self.BY = W, AW, (W if identity_prec else MU)
        self.buf = []
        self.theta = None

    def add(self, z, Az, r):
        nz = np.linalg.norm(z)
        if nz == 0 or not np.isfinite(nz):
            return
        self.buf.append((z / nz, Az / nz, (z if self.identity else r) / nz))
        if len(self.buf) >= self.L:
            self._compress()

    def _compress(self):
        if not self.buf:
            return
        Z = np.column_stack([t[0] for t in self.buf])
        AZ = np.column_stack([t[1] for t in self.buf])
        BZ = np.column_stack([t[2] for t in self.buf])
        self.buf = []
        if self.Y is not None:
            Z, AZ, BZ = np.hstack([self.Y, Z]), np.hstack([self.AY, AZ]), np.hstack([self.BY, BZ])
        try:
            ZH = herm(Z)
            theta, V = _rayleigh_ritz(ZH @ AZ, ZH @ BZ, self.k)
        except np.linalg.LinAlgError:
            return
        keep = theta > 0
        if not np.any(keep):
            return
        theta, V = theta[keep], V[:, keep]
        Y = Z @ V
        nrm = np.linalg.norm(Y, axis=0)
        nrm[nrm == 0] = 1.0
        self.Y, self.AY, self.BY = Y / nrm, (AZ @ V) / nrm, (BZ @ V) / nrm
        self.theta = theta

    def finish(self, token):
        self._compress()
        if self.Y is None or self.theta is None:
            return None
        self.recycle.update(self.Y, C=self.AY, MU=self.BY, token=token)
        return self.theta


def _stats(it, mv, ps, rel, ritz):
    return {"iterations": int(it), "matvecs": int(mv), "psolves": int(ps), "residual": float(rel),
            "ritz_values": None if ritz is None else np.asarray(ritz)}
