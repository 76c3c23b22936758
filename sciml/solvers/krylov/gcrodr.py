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

from ._common import CountingOperator, Problem, check_maxiter, finish, herm

__all__ = ["gcrodr"]


def _orth_against(w, bases):
    """Two passes of classical Gram-Schmidt of ``w`` against orthonormal blocks; returns (w, coefficients)."""
    coefs = [np.zeros(Q.shape[1], dtype=w.dtype) for Q in bases]
    for _ in range(2):
        for i, Q in enumerate(bases):
            if Q.shape[1]:
                c = herm(Q) @ w
                w = w - Q @ c
                coefs[i] += c
    return w, coefs


def _harmonic_ritz(G, VhW, k):
    """``k`` harmonic Ritz vectors of the pencil ``(G^H G, G^H VhW)``, smallest |theta| first.

    For real ``G`` a real basis of the same span (complex pairs split into real and imaginary parts).
    """
    k = min(k, G.shape[1])
    cplx = np.iscomplexobj(G) or np.iscomplexobj(VhW)
    GH = herm(G)
    GtG = GH @ G
    rhs = GH @ VhW
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
        if cplx:
            cols.append(v)
        elif abs(theta[i].imag) > 1e-12 * max(abs(theta[i]), 1e-300):
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


CALLBACK_TYPES = ("x", "pr_norm", "legacy")


def gcrodr(A, b, x0=None, *, rtol=1e-8, atol=0.0, maxiter=None, M=None, callback=None, callback_type=None,
           m=40, k=20, side="right", recycle=None, max_steps=None, full_output=False):
    """Solve ``A x = b`` by GCRO-DR(m, k), recycling a ``k``-dimensional subspace.

    The calling conventions are those of ``scipy.sparse.linalg.gmres`` (see Notes).

    Parameters
    ----------
    A : sparse matrix, ndarray or LinearOperator ``(n, n)``
        General (nonsymmetric, indefinite), real or complex.
    b : array ``(n,)`` or ``(n, 1)``
        Right-hand side, finite (NaN/inf is a ValueError).
    x0 : None, array ``(n,)`` or ``'Mb'``
        Initial guess; ``'Mb'`` starts from ``M @ b``, None from zero.
    rtol, atol : float
        Stop when ``||b - A x|| <= max(rtol ||b||, atol)`` (the TRUE residual). Any real
        number >= 0, ``inf`` included; not both zero; anything else is a ValueError.
    maxiter : int, optional
        Largest number of restart cycles, scipy's meaning for ``gmres`` (each cycle runs up to
        ``m - k`` Arnoldi steps, the first one without a recycled space up to ``m``). With
        ``callback_type="legacy"`` it counts Arnoldi steps instead, as scipy's legacy mode does.
        Default: no limit on cycles (``max_steps`` bounds the work).
    M : sparse matrix, ndarray or LinearOperator, optional
        Preconditioner approximating ``A^{-1}``, applied on ``side``.
    callback : callable, optional
        Called as selected by ``callback_type``.
    callback_type : ``"x"`` (default), ``"pr_norm"`` or ``"legacy"``
        ``"x"``: ``callback(xk)`` once per restart cycle with the current iterate;
        ``"pr_norm"``: ``callback(float)`` after every Arnoldi step with the relative residual
        norm of the preconditioned system ``||r_hat|| / ||b||`` (the true residual for
        ``side="right"``; ``||M r|| / ||b||`` for ``side="left"``, what scipy's left-preconditioned
        gmres reports); ``"legacy"``: as ``"pr_norm"``, and ``maxiter`` counts Arnoldi steps.
        scipy's gmres defaults to ``"legacy"`` with a DeprecationWarning; here the default is
        ``"x"``, the same meaning as :func:`recycled_cg`'s callback.
    m : int
        Largest dimension of the search space per cycle (``k`` recycled + ``m - k`` Arnoldi).
    k : int
        Recycled-space dimension, ``1 <= k < m``.
    side : ``"right"`` (default; the monitored residual is the true residual) or ``"left"``.
    recycle : RecycleSpace, optional
        ``U`` from earlier systems, replaced on exit. ``recycle.k`` must be >= ``k`` (extra
        vectors are dropped). Keep ``M`` and ``side`` fixed along a sequence: ``U`` lives in
        the preconditioned variables.
    max_steps : int, optional
        Largest total number of Arnoldi steps (default ``10 n``); this was the meaning of
        ``maxiter`` before it followed scipy.
    full_output : bool
        Also return a dict (iterations = Arnoldi steps, matvecs, psolves, cycles, residual).

    Returns
    -------
    x : ndarray ``(n,)``
        In the precision of the input (``result_type(A, b, x0)``, at least float32).
    info : int
        0 when the TRUE residual of the returned ``x`` meets the tolerance, else the number of
        iterations in ``maxiter``'s unit (cycles, or Arnoldi steps for ``"legacy"``; > 0, with
        a RuntimeWarning).
    stats : dict (only with ``full_output``)

    Notes
    -----
    The iteration runs in float64 (complex128 for complex input); ``b = 0`` returns ``x = 0``.
    Every cycle minimises the residual of the preconditioned system over the recycled and the
    new Krylov directions; directions that the (possibly singular) preconditioned operator maps
    to nothing are dropped from the recycled space, so the iterate stays residual-minimal and a
    system that cannot be solved in the range of ``M`` ends with ``info > 0``.

    Examples
    --------
    >>> import numpy as np
    >>> A = np.array([[4.0, 1.0], [-2.0, 3.0]])
    >>> x, info = gcrodr(A, np.array([1.0, 2.0]), m=4, k=1)
    >>> info, np.allclose(A @ x, [1.0, 2.0])
    (0, True)
    """
    P = Problem(A, b, x0, rtol, atol, maxiter, M, recycle, callback)
    for name, v in (("m", m), ("k", k)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"{name} must be a positive integer, got {v!r}")
    if k >= m:
        raise ValueError(f"k must be smaller than m, got k={k}, m={m}")
    if side not in ("right", "left"):
        raise ValueError(f"side must be 'right' or 'left', got {side!r}")
    if callback_type is None:
        callback_type = "x"
    if callback_type not in CALLBACK_TYPES:
        raise ValueError(f"callback_type must be one of {CALLBACK_TYPES}, got {callback_type!r}")
    if recycle is not None and recycle.k < k:
        raise ValueError(f"recycle.k={recycle.k} is smaller than k={k}")
    max_steps = check_maxiter(max_steps, "max_steps")
    op, b, Mop, bnorm = P.op, P.b, P.Mop, P.bnorm
    n = P.n
    work = P.work
    cb = P.callback
    legacy = callback_type == "legacy" and cb is not None
    max_steps = 10 * n if max_steps is None else max_steps
    max_cycles = None
    if P.maxiter is not None:
        if legacy:
            max_steps = min(max_steps, P.maxiter)
        else:
            max_cycles = P.maxiter
    A_ = CountingOperator(op, work)
    counts = {"psolve": 0}
    if bnorm == 0.0:
        x = P.zero_rhs()
        if full_output:
            return x, 0, {"iterations": 0, "matvecs": 0, "psolves": 0, "cycles": 0, "residual": 0.0}
        return x, 0
    tol = P.tol()

    def Mv(v):
        if Mop is None:
            return v
        counts["psolve"] += 1
        return np.asarray(Mop.matvec(v), dtype=work).ravel()

    if side == "right":
        def Ahat(v):
            return A_.matvec(Mv(v))
    else:
        def Ahat(v):
            return Mv(A_.matvec(v))

    def Ahat_block(X):
        return np.column_stack([Ahat(X[:, j]) for j in range(X.shape[1])])

    x = P.start(Mv)
    zero_start = x is None
    if zero_start:
        x = np.zeros(n, dtype=work)
    # Iterate in the preconditioned variable y: right: x = x_base + M y; left: x = x_base + y.
    x_base = x.copy()
    y = np.zeros(n, dtype=work)

    def current_x():
        return x_base + (Mv(y) if (side == "right" and Mop is not None) else y)

    def hat_residual(first=False):
        r = b.copy() if (first and zero_start) else b - A_.matvec(current_x())
        return r if side == "right" else Mv(r)

    it = 0
    cycles = 0
    U = C = None
    if recycle is not None and recycle.dim > 0:
        Ut = recycle.U[:, :k]
        Q, R, Ut = _qr_independent(Ahat_block(Ut), Ut)
        if Q is not None:
            C = Q
            U = sla.solve_triangular(R, Ut.T, trans="T", lower=False).T  # U R^{-1}
    r = hat_residual(first=True)
    if C is not None:
        c = herm(C) @ r
        y += U @ c
        r -= C @ c

    # Left preconditioning monitors ||M r||; keep checking the true residual on exit.
    true_ok = lambda: np.linalg.norm(b - A_.matvec(current_x())) <= tol  # noqa: E731
    if side == "right":
        inner_tol = tol
    else:
        r_true0 = np.linalg.norm(b - A_.matvec(current_x())) if not (zero_start and C is None) else bnorm
        inner_tol = tol * (np.linalg.norm(r) / max(r_true0, 1e-300))
    rnorm = np.linalg.norm(r)
    tightened = 0
    while it < max_steps and (max_cycles is None or cycles < max_cycles):
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
        steps = min(m - kc, max_steps - it)
        V = np.zeros((n, steps + 1), dtype=work, order="F")  # contiguous columns for the Gram-Schmidt products
        H = np.zeros((steps + 1, steps), dtype=work)
        B = np.zeros((kc, steps), dtype=work)
        beta = rnorm
        V[:, 0] = r / beta
        j_done = 0
        Cb = C if C is not None else np.zeros((n, 0), dtype=work)
        ls_norm = beta
        cs = np.zeros(steps, dtype=work)
        sn = np.zeros(steps, dtype=work)
        g = np.zeros(steps + 1, dtype=work)
        g[0] = beta
        broke = False
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
            # triangular with an invertible U-block, so only the Hessenberg part matters);
            # complex rotations [[conj c, conj s], [-s, c]] reduce to the real ones for real data
            col = H[: j + 2, j].copy()
            for i in range(j):
                t = np.conj(cs[i]) * col[i] + np.conj(sn[i]) * col[i + 1]
                col[i + 1] = -sn[i] * col[i] + cs[i] * col[i + 1]
                col[i] = t
            den = np.hypot(abs(col[j]), abs(col[j + 1]))
            if den > 0:
                cs[j], sn[j] = col[j] / den, col[j + 1] / den
            else:
                cs[j], sn[j] = 1.0, 0.0
            g[j + 1] = -sn[j] * g[j]
            g[j] = np.conj(cs[j]) * g[j]
            ls_norm = abs(g[j + 1])
            if cb is not None and callback_type != "x":
                cb(float(ls_norm / bnorm))
            if h <= 1e-14 * np.linalg.norm(H[: j + 2, j]) or not np.isfinite(h):
                broke = True  # invariant subspace: V[:, j + 1] is not formed
                break
            V[:, j + 1] = w / h
            if ls_norm <= inner_tol:
                break
        cycles += 1
        j = j_done
        # after a breakdown the Arnoldi relation closes on V[:, :j] (h ~ 0): drop the row of h,
        # else the unformed (zero) column V[:, j] would enter C and C would lose orthonormality
        jr = j if broke else j + 1
        Vj, Hb, Bj = V[:, :j], H[:jr, :j], B[:, :j]
        Vp = V[:, :jr]
        eye_j = np.eye(jr, j)
        if C is None:
            # GMRES(m) cycle
            G = Hb
            e1 = np.zeros(jr, dtype=work)
            e1[0] = beta
            z, *_ = np.linalg.lstsq(G, e1, rcond=None)
            y += Vj @ z
            r = r - Vp @ (G @ z)
            Wh, Vh = Vj, Vp
            VhW = eye_j
        else:
            # augmented problem: Ahat [U~, V] = [C, V+] G, U~ = U D (unit columns)
            dn = 1.0 / np.linalg.norm(U, axis=0)
            Ut = U * dn
            G = np.zeros((kc + jr, kc + j), dtype=work)
            G[:kc, :kc] = np.diag(dn)
            G[:kc, kc:] = Bj
            G[kc:, kc:] = Hb
            rhs = np.zeros(kc + jr, dtype=work)
            rhs[kc] = beta  # [C, V+]^H r = [0, beta e1]
            z, *_ = np.linalg.lstsq(G, rhs, rcond=None)
            Wh = np.hstack([Ut, Vj])
            Vh = np.hstack([C, Vp])
            y += Wh @ z
            r = r - Vh @ (G @ z)
            VhW = np.zeros((kc + jr, kc + j), dtype=work)
            VhW[:kc, :kc] = herm(C) @ Ut
            VhW[kc:, :kc] = herm(Vp) @ Ut
            VhW[kc:, kc:] = eye_j
        rnorm_before, rnorm = rnorm, np.linalg.norm(r)
        # harmonic Ritz extraction -> next U, C (Parks et al. 2006, Sec. 2.4)
        Pr = _harmonic_ritz(G, VhW, k) if G.shape[1] >= 1 else None
        if Pr is not None:
            Q, R, Pr = _qr_independent(G @ Pr, Pr)
            if Q is not None:
                C = Vh @ Q
                U = sla.solve_triangular(R, (Wh @ Pr).T, trans="T", lower=False).T
            else:
                U = C = None
        if not np.isfinite(rnorm):
            if cb is not None and callback_type == "x":
                cb(current_x())
            break
        if ls_norm > inner_tol and j < steps and rnorm > inner_tol:
            # Arnoldi broke down without convergence: recompute the residual and carry on
            r = hat_residual()
            if C is not None:
                c = herm(C) @ r
                y += U @ c
                r -= C @ c
            rnorm = np.linalg.norm(r)
        # refresh the residual explicitly now and then (guards against drift)
        if cycles % 10 == 0:
            r = hat_residual()
            rnorm = np.linalg.norm(r)
        if cb is not None and callback_type == "x":
            cb(current_x())
        if broke and rnorm > inner_tol and rnorm >= rnorm_before * (1 - 1e-12):
            break  # invariant Krylov space and no progress: the residual left is out of reach

    xf = current_x()
    if recycle is not None and U is not None:
        recycle.update(U, C=C, token=None)
    xf, info, rel, _ = finish("gcrodr", A_, b, xf, bnorm, tol, it if legacy else cycles, P.out_dtype)
    if full_output:
        return xf, info, {"iterations": int(it), "matvecs": int(A_.count), "psolves": int(counts["psolve"]),
                          "cycles": int(cycles), "residual": float(rel)}
    return xf, info


def _qr_independent(Y, P):
    """``Y = Q R`` restricted to the numerically independent columns of ``Y = (operator) P``.

    Returns ``(Q, R, P_kept)`` with ``Y_kept = Q R`` exact (``R`` upper triangular,
    invertible), or ``(None, None, None)``. When every ``|R_jj|`` is above ``1e-12 max |R_jj|``
    this is the plain QR factorisation; otherwise (an operator that maps a direction to ~0,
    e.g. a singular preconditioner) a column-pivoted QR keeps the leading independent columns,
    so that dropping the others leaves ``Y_kept = Q R`` intact (dropping a middle column of an
    unpivoted factor would not).
    """
    Q, R = np.linalg.qr(Y)
    d = np.abs(np.diag(R))
    if not d.size or not d.max() > 0 or not np.all(np.isfinite(d)):
        return None, None, None
    good = d > d.max() * 1e-12
    if np.all(good):
        # the same fancy-indexed copies as before this function existed: their memory layout
        # decides the BLAS kernels, hence the last bits of every later product
        return Q[:, good], R[np.ix_(good, good)], P[:, good]
    Q, R, piv = sla.qr(Y, mode="economic", pivoting=True)
    d = np.abs(np.diag(R))
    r = int(np.count_nonzero(d > d[0] * 1e-12))
    if r == 0:
        return None, None, None
    return Q[:, :r], R[:r, :r], P[:, piv[:r]]
