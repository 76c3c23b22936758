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
import scipy.linalg as sla
from scipy.linalg.blas import daxpy as _axpy

from ._common import CountingOperator, check_inputs, finish
from .recycle_space import RecycleSpace

__all__ = ["recycled_cg"]


def _spd_solve_factory(E: np.ndarray):
    """Solver for ``E mu = g`` with ``E = W^T A W`` (k x k SPD); pseudo-inverse on a tiny/negative part."""
    E = 0.5 * (E + E.T)
    lam, Q = np.linalg.eigh(E)
    keep = lam > max(lam.max(), 0.0) * 1e-12
    Qk, lk = Q[:, keep], lam[keep]

    def solve(g):
        return Qk @ ((Qk.T @ g) / (lk if g.ndim == 1 else lk[:, None]))

    return solve, int(keep.sum())


def _rayleigh_ritz(G, F, k):
    """Smallest ``k`` eigenpairs of the pencil ``(G, F)``, ``F`` symmetric semi-definite (truncated)."""
    G = 0.5 * (G + G.T)
    F = 0.5 * (F + F.T)
    lam, Q = np.linalg.eigh(F)
    keep = lam > max(lam.max(), 0.0) * 1e-10
    S = Q[:, keep] / np.sqrt(lam[keep])
    theta, Y = np.linalg.eigh(S.T @ G @ S)
    k = min(k, theta.size)
    return theta[:k], S @ Y[:, :k]


def recycled_cg(A, b, x0=None, *, rtol=1e-8, atol=0.0, maxiter=None, M=None, recycle=None,
                harvest=None, full_output=False):
    """Solve the SPD system ``A x = b`` by deflated (recycled) preconditioned CG.

    Parameters
    ----------
    A : sparse matrix, ndarray or LinearOperator, ``(n, n)``, symmetric positive definite.
    b : array ``(n,)``.
    x0 : array ``(n,)``, optional initial guess (e.g. a neighbouring system's solution).
    rtol, atol : float -- stop when ``||b - A x|| <= max(rtol ||b||, atol)`` (2-norm).
    maxiter : int, optional -- largest number of CG iterations (default ``10 n``).
    M : preconditioner approximating ``A^{-1}`` (SPD), as for ``scipy.sparse.linalg.cg``.
    recycle : RecycleSpace, optional -- deflation basis ``W = recycle.U``, refreshed for ``A``
        on entry and replaced by the ``recycle.k`` harvested Ritz vectors on exit.
    harvest : int, optional -- number of leading preconditioned residuals kept for the
        Ritz harvest (default ``max(2 k, 10)``); memory is ``harvest * n`` floats.
    full_output : bool -- also return a dict of statistics.

    Returns
    -------
    x : ndarray ``(n,)``
    info : int -- 0 when the TRUE residual meets the tolerance, else the iteration count (> 0);
        a RuntimeWarning is issued whenever ``info > 0``.
    stats : dict (only with ``full_output``) -- iterations, matvecs, psolves, residual
        (true relative residual), ritz_values (of ``M A``, the kept ones).
    """
    op, b, x, Mop, bnorm = check_inputs(A, b, x0, rtol, atol, maxiter, M, recycle)
    n = op.shape[0]
    maxiter = 10 * n if maxiter is None else int(maxiter)
    A_ = CountingOperator(op)
    npsolve = 0
    tol = max(rtol * bnorm, atol)
    if x is None:
        x = np.zeros(n)
    if bnorm == 0.0 and atol == 0.0:
        x[:] = 0.0
        info, rel, _ = finish("recycled_cg", A_, b, x, bnorm, 0.0, 0)
        return (x, info, _stats(0, A_.count, 0, rel, None)) if full_output else (x, info)

    def prec(v):
        nonlocal npsolve
        if Mop is None:
            return v.copy()
        npsolve += 1
        return np.asarray(Mop.matvec(v), dtype=float).ravel()

    # ---- deflation space for this operator
    W = AW = None
    Esolve = None
    if recycle is not None and recycle.dim > 0:
        recycle.refresh(A_, token=A)
        W, AW = recycle.U, recycle.C
        Esolve, rank = _spd_solve_factory(W.T @ AW)
        if rank == 0:
            W = AW = Esolve = None

    r = b - A_.matvec(x)
    if W is not None:  # Galerkin start on span W: W^T r = 0 afterwards
        c = Esolve(W.T @ r)
        x += W @ c
        r -= AW @ c

    kk = recycle.k if recycle is not None else 0
    L = (harvest if harvest is not None else max(2 * kk, 10)) if recycle is not None else 0
    harv = _Harvester(W, AW, recycle, Mop is None, kk, L) if kk > 0 else None

    def deflect(z):
        if W is None:
            return None
        return Esolve(AW.T @ z)

    it = 0
    restarts = 0
    converged = np.linalg.norm(r) <= tol
    z = prec(r)
    rz = float(r @ z)
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
        pq = float(p @ q)
        if not np.isfinite(pq) or pq <= 0.0:
            break  # operator (or preconditioner) not SPD on this direction
        alpha = rz / pq
        _axpy(p, x, a=alpha)    # x += alpha p, in place (no temporaries of size n)
        _axpy(q, r, a=-alpha)   # r -= alpha q
        it += 1
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
                c = Esolve(W.T @ r)
                x += W @ c
                r -= AW @ c
            z = prec(r)
            rz = float(r @ z)
            mu = deflect(z)
            p = z - W @ mu if W is not None else z.copy()
            beta_prev, q_prev = 0.0, None
            continue
        z = prec(r)
        rz_new = float(r @ z)
        beta = rz_new / rz
        rz = rz_new
        mu = deflect(z)
        p *= beta
        p += z
        if W is not None:
            p -= W @ mu
        beta_prev, q_prev = beta, q

    ritz = harv.finish(A) if harv is not None else None

    info, rel, _ = finish("recycled_cg", A_, b, x, bnorm, tol, it)
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
            theta, V = _rayleigh_ritz(Z.T @ AZ, Z.T @ BZ, self.k)
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
