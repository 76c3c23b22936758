"""Solving a sequence of related linear systems fast: sort, route, recycle.

:func:`solve_sequence` takes systems ``(A_i, b_i, features_i)``, orders them with
:func:`~sciml.solvers.krylov.sort_systems` so that neighbours are similar, and
solves them along that order with the fastest exact method for their class
(``method="auto"``):

* **one shared matrix** (the same object, or identical sparse data): one sparse LU
  factorisation, all right-hand sides solved together;
* **SPD** (symmetric, positive and weakly dominant diagonal): an AMG hierarchy (smoothed
  aggregation by default) is built once on a reference matrix (the entrywise mean of
  the chain's matrices when they share a sparsity pattern, else the first one); for
  each system only the Galerkin coarse operators ``R A_i P`` are recomputed with the
  reference interpolation, and that V(1,1) Gauss-Seidel cycle preconditions
  :func:`recycled_cg`; the hierarchy is rebuilt (on the next sorted neighbours) only
  when iteration growth has cost more than a set-up (:class:`_AMGChain`). CG is
  warm-started from the nearest already-solved system (energy-optimal scaling of its
  solution, used only when it lowers the residual; the chain stops trying after four
  guesses that did not halve it) and deflated with the recycled Ritz vectors when
  ``k > 0`` (default 0 with AMG: measured to save no iterations on Darcy; 8 without AMG);
* **otherwise** (nonsymmetric or indefinite): a sparse LU per system up to
  ``n = DIRECT_MAX_N`` (250 000; at these sizes the factorisation is faster than any
  preconditioned Krylov solve measured here), above it :func:`gcrodr` with an
  incomplete-LU preconditioner of the reference matrix, the recycled space carried
  from system to system.

With ``workers > 1`` the sorted order is cut into contiguous chunks, each solved
by its own process as a separate recycling chain.
"""
from __future__ import annotations

import time
import warnings

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from ..._util.pool import process_pool
from ._common import check_tol
from ._systems import (  # noqa: F401 (re-exported)
    _features,
    _is_spd_candidate,
    _normalise,
    _reference_matrix,
    _same_pattern,
    _shared_matrix,
    _spd_candidates_same_pattern,
    classify_systems,
)
from .amg_reuse import AMG_KINDS, AMGReference
from .gcrodr import gcrodr
from .ordering import SORT_METHODS, sort_systems
from .recycle_space import RecycleSpace
from .recycled_cg import recycled_cg

__all__ = ["solve_sequence", "SEQUENCE_METHODS", "classify_systems"]

# "auto" factors nonsymmetric / indefinite matrices up to this size instead of iterating
DIRECT_MAX_N = 250_000

SEQUENCE_METHODS = ("auto", "direct", "amg", "recycled_cg", "gcrodr")

STATS_DTYPE = np.dtype([
    ("index", np.int64),        # position in the caller's sequence
    ("position", np.int64),     # position in the solve order
    ("chain", np.int64),        # worker chunk that solved it
    ("iterations", np.int64),
    ("matvecs", np.int64),
    ("seconds", np.float64),    # wall time spent on this system (its share of shared set-up included)
    ("residual", np.float64),   # true relative residual ||b - A x|| / ||b||
    ("info", np.int64),
    ("method", "U16"),
    ("setup", np.bool_),        # a full AMG hierarchy was built before this system (method recycled_cg)
])


# ---------------------------------------------------------------------- chains
# A full AMG set-up costs about as much as this many V(1,1)-PCG iterations with the same
# hierarchy (measured on Darcy 12/3, one thread: smoothed aggregation 28 at n = 1.8e5 and 77 at
# n = 1e4; Ruge-Stuben 12.5 and 15.5). A count, not a clock, so that the re-setup decisions, and
# hence the solutions, are bit-identical from run to run and executor to executor.
SETUP_ITERATIONS = {"sa": 30, "rs": 15}


class _AMGChain:
    """The AMG hierarchy of one recycling chain, rebuilt only when it stops paying.

    The first hierarchy is built on the reference matrix of the whole chain
    (:func:`_reference_matrix`). Every system gets Galerkin coarse operators of its own
    matrix on the kept interpolation (:meth:`AMGReference.for_matrix`). After each solve
    the iteration count is compared with the fewest seen on the current hierarchy;
    iterations beyond the natural spread of a sequence (25 %, at least 2) count as growth,
    and once the growth accumulated since the last set-up exceeds the cost of a set-up
    (``SETUP_ITERATIONS``; a ski-rental rule, at most about twice the cost of the better of
    "never rebuild" and "rebuild at once") the interpolation no longer suits this part of
    the sorted order and the hierarchy is rebuilt on the mean of the next ``window``
    matrices (the sorted neighbours).
    """

    def __init__(self, mats, opts, window):
        self.mats, self.window = mats, max(int(window), 1)
        self.kind = opts.get("amg", "sa")
        self.sweeps = int(opts.get("amg_sweeps", 1))
        self.adaptive = bool(opts.get("resetup", True))
        self.setup_cost = float(opts.get("setup_iterations", SETUP_ITERATIONS[self.kind]))
        self.ref = None
        self.best = None       # fewest iterations on the current hierarchy
        self.excess = 0.0      # iterations lost to growth since the last set-up
        self.rebuild_next = True
        self.setups = 0

    def prepare(self, i) -> bool:
        """Build the hierarchy when needed before system ``i``; True when it was built."""
        if not self.rebuild_next:
            return False
        chunk = self.mats if self.ref is None else self.mats[i:i + self.window]
        self.ref = AMGReference(_reference_matrix(chunk), kind=self.kind, sweeps=self.sweeps)
        self.best = None
        self.excess = 0.0
        self.rebuild_next = False
        self.setups += 1
        return True

    def for_matrix(self, A):
        return self.ref.for_matrix(A)

    def observe(self, iterations):
        iterations = int(iterations)
        if self.best is None or iterations < self.best:
            self.best = iterations
            return
        allowed = self.best + max(2, int(np.ceil(0.25 * self.best)))
        self.excess += max(0, iterations - allowed)
        if self.adaptive and self.excess > self.setup_cost:
            self.rebuild_next = True


def _nearest_solved(feats, pos, order, window):
    """Among the last ``window`` solved systems of the chain, the one nearest to system ``order[pos]``."""
    lo = max(0, pos - window)
    cand = order[lo:pos]
    if cand.size == 0:
        return None
    d = np.linalg.norm(feats[cand] - feats[order[pos]], axis=1)
    return int(cand[np.argmin(d)])


def _warm_start(A, b, x_nb):
    """Scaled neighbour solution ``alpha x_nb`` (energy-optimal alpha for SPD, least squares otherwise).

    Returns ``(x0, rho)`` with ``rho = ||b - A x0|| / ||b||``; ``x0`` is None unless its
    residual is smaller than ``||b||`` (the residual of a zero start):
    for discontinuous coefficients a neighbour's solution can be close in the solution yet far
    in the residual, and then it would cost iterations instead of saving them.
    """
    Ax = A @ x_nb
    if np.iscomplexobj(Ax) or np.iscomplexobj(b):
        den = np.vdot(x_nb, Ax)
        nrm = float(np.vdot(Ax, Ax).real)
        if abs(den.imag) <= 1e-12 * abs(den) and den.real > 0:
            alpha = np.vdot(x_nb, b) / den.real
        elif nrm > 0:
            alpha = np.vdot(Ax, b) / nrm
        else:
            return None, 1.0
    else:
        den = float(x_nb @ Ax)
        nrm = float(Ax @ Ax)
        if den > 0:
            alpha = float(x_nb @ b) / den
        elif nrm > 0:
            alpha = float(Ax @ b) / nrm
        else:
            return None, 1.0
    rho = np.linalg.norm(b - alpha * Ax) / max(np.linalg.norm(b), np.finfo(float).tiny)
    if rho >= 1.0:
        return None, rho
    return alpha * x_nb, rho


class _WarmStarter:
    """Warm starts from the nearest solved neighbour, dropped for the chain once they stop paying.

    A guess costs a feature-distance search and one product with ``A``; it saves iterations
    only when it lowers the initial residual a lot. After ``patience`` consecutive guesses
    that leave more than half of the residual (less than about one iteration saved for the
    preconditioned solvers here) the chain stops trying: on the discontinuous Darcy
    coefficients a sorted neighbour's (scaled) solution has a residual 4-6 times ``||b||``
    (measured at 211^2), so Darcy chains stop trying after four systems.
    """

    def __init__(self, feats, order, window, enabled, patience=4, useful=0.5):
        self.feats, self.order, self.window = feats, order, window
        self.enabled, self.patience, self.useful = bool(enabled), int(patience), float(useful)
        self.misses = 0

    def guess(self, i, A, b, xs):
        if not self.enabled:
            return None
        nb = _nearest_solved(self.feats, i, self.order, self.window)
        if nb is None:
            return None
        x0, rho = _warm_start(A, b, xs[nb])
        if rho > self.useful:
            self.misses += 1
            if self.misses >= self.patience:
                self.enabled = False
        else:
            self.misses = 0
        return x0


def _solve_chain(payload):
    systems, feats, index, method, rtol, opts, chain_id = payload
    mats = [s[0] for s in systems]
    N = len(systems)
    order = np.arange(N)
    xs = [None] * N
    stats = np.zeros(N, dtype=STATS_DTYPE)
    stats["index"] = index
    stats["chain"] = chain_id
    stats["position"] = np.arange(N)
    stats["method"] = method
    if method == "auto":
        kind = classify_systems(mats)
        method = {"shared": "direct", "spd": "recycled_cg", "general": "gcrodr"}[kind]
        if kind == "general" and all(sp.issparse(A) for A in mats) and mats[0].shape[0] <= int(
                opts.get("direct_max_n", DIRECT_MAX_N)):
            # nonsymmetric/indefinite and small enough: a sparse LU per system beats any
            # preconditioned Krylov method measured here (Helmholtz n=1e4: LU ~10 ms, ILU-GCRO-DR
            # hundreds of iterations), so "auto" takes the exact factorisation
            method = "direct"
        stats["method"] = "direct-shared" if kind == "shared" else method
    else:
        kind = "shared" if (method == "direct" and _shared_matrix(mats)) else None
        if kind == "shared":
            stats["method"] = "direct-shared"
    window = int(opts.get("window", 8))
    warm = _WarmStarter(feats, order, window, opts.get("warm_start", True))

    if method == "direct":
        if kind == "shared":
            t0 = time.perf_counter()
            try:
                lu = spla.splu(sp.csc_matrix(mats[0]))
            except RuntimeError:  # exactly singular: a minimal-residual Krylov solve instead
                lu = None
            if lu is not None:
                X = lu.solve(np.column_stack([s[1] for s in systems]))
                dt = (time.perf_counter() - t0) / N
                for i, (A, b, _f) in enumerate(systems):
                    xs[i] = X[:, i].copy()
                    _record(stats, i, A, b, xs[i], dt, 0, 0, 0)
                return xs, stats
            for i, (A, b, _f) in enumerate(systems):
                xs[i] = _singular_fallback(stats, i, A, b, rtol, opts)
        else:
            for i, (A, b, _f) in enumerate(systems):
                t0 = time.perf_counter()
                try:
                    xs[i] = spla.splu(sp.csc_matrix(A)).solve(b)
                except RuntimeError:
                    xs[i] = _singular_fallback(stats, i, A, b, rtol, opts)
                    continue
                _record(stats, i, A, b, xs[i], time.perf_counter() - t0, 0, 0, 0)
        return xs, stats

    if method == "amg":
        import pyamg

        for i, (A, b, _f) in enumerate(systems):
            t0 = time.perf_counter()
            ml = pyamg.ruge_stuben_solver(sp.csr_matrix(A))
            x, info, st = recycled_cg(A, b, rtol=rtol, M=ml.aspreconditioner(cycle="V"), full_output=True)
            xs[i] = x
            _record(stats, i, A, b, x, time.perf_counter() - t0, st["iterations"], st["matvecs"], info)
        return xs, stats

    if method == "recycled_cg":
        use_amg = (opts.get("preconditioner", "amg") == "amg" and all(sp.issparse(A) for A in mats)
                   and not any(np.dtype(A.dtype).kind == "c" for A in mats))
        # with the re-used AMG V-cycle deflation saved no iterations on Darcy
        # (benchmarks/krylov_recycling.py) while its harvest costs ~k^2 n flops: off by default
        kdef = int(opts.get("k", 0 if use_amg else 8))
        recycle = RecycleSpace(kdef) if kdef > 0 else None
        amg = _AMGChain(mats, opts, window) if use_amg else None
        for i, (A, b, _f) in enumerate(systems):
            t0 = time.perf_counter()
            built = amg.prepare(i) if amg is not None else False
            M = amg.for_matrix(A) if amg is not None else None
            x0 = warm.guess(i, A, b, xs)
            x, info, st = recycled_cg(A, b, x0, rtol=rtol, M=M, recycle=recycle, full_output=True)
            xs[i] = x
            dt = time.perf_counter() - t0
            if amg is not None:
                amg.observe(st["iterations"])
                stats["setup"][i] = built
            _record(stats, i, A, b, x, dt, st["iterations"], st["matvecs"], info, st["residual"])
        return xs, stats

    if method == "gcrodr":
        t0 = time.perf_counter()
        M = None
        if opts.get("preconditioner", "ilu") == "ilu" and all(sp.issparse(A) for A in mats):
            ilu = spla.spilu(sp.csc_matrix(_reference_matrix(mats)), drop_tol=opts.get("drop_tol", 1e-4),
                             fill_factor=opts.get("fill_factor", 10))
            M = spla.LinearOperator(mats[0].shape, ilu.solve, dtype=ilu.L.dtype)
        setup = time.perf_counter() - t0
        k = int(opts.get("k", 20))
        m = int(opts.get("m", 40))
        recycle = RecycleSpace(k)
        for i, (A, b, _f) in enumerate(systems):
            t0 = time.perf_counter()
            x0 = warm.guess(i, A, b, xs)
            x, info, st = gcrodr(A, b, x0, rtol=rtol, m=m, k=k, M=M, recycle=recycle, full_output=True)
            xs[i] = x
            _record(stats, i, A, b, x, time.perf_counter() - t0 + (setup if i == 0 else 0.0),
                    st["iterations"], st["matvecs"], info)
        return xs, stats
    raise ValueError(f"method must be one of {SEQUENCE_METHODS}, got {method!r}")


def _singular_fallback(stats, i, A, b, rtol, opts):
    """A system whose LU factorisation is exactly singular: GCRO-DR (minimal residual; converges
    when ``b`` is in the range of ``A``, else ``info > 0`` with a warning)."""
    t0 = time.perf_counter()
    m = int(opts.get("m", 40))
    x, info, st = gcrodr(A, b, rtol=rtol, m=m, k=min(int(opts.get("k", 20)) or 20, m - 1), full_output=True)
    _record(stats, i, A, b, x, time.perf_counter() - t0, st["iterations"], st["matvecs"], info)
    stats["method"][i] = "gcrodr"
    return x


def _record(stats, i, A, b, x, seconds, iterations, matvecs, info, residual=None):
    """Store one system's statistics; ``residual`` is the solver's TRUE relative residual
    (recomputed here when the solver does not report one)."""
    if residual is None:
        r = b - A @ x
        bn = np.linalg.norm(b)
        residual = np.linalg.norm(r) / bn if bn > 0 else np.linalg.norm(r)
    stats["seconds"][i] = seconds
    stats["iterations"][i] = iterations
    stats["matvecs"][i] = matvecs
    stats["residual"][i] = residual
    stats["info"][i] = info


def _to_output_precision(systems, solutions, stats, out_dtype, rtol):
    """Round the solutions to the input precision; residual and info describe the rounded ones."""
    for i, (A, b, _f) in enumerate(systems):
        x = solutions[i].astype(out_dtype)
        solutions[i] = x
        r = b - A @ x.astype(b.dtype)
        bn = np.linalg.norm(b)
        res = float(np.linalg.norm(r) / bn if bn > 0 else np.linalg.norm(r))
        stats["residual"][i] = res
        if stats["info"][i] == 0 and not res <= rtol * (1 + 1e-8):
            stats["info"][i] = max(int(stats["iterations"][i]), 1)
            warnings.warn(f"system {i}: the solution rounded to {out_dtype} has relative residual {res:.3e} > "
                          f"rtol={rtol:g}", RuntimeWarning, stacklevel=3)


def solve_sequence(systems, *, method="auto", rtol=1e-8, sort=True, sort_method="greedy", workers=1,
                   k=None, m=40, window=8, warm_start=True, preconditioner=None, direct_max_n=DIRECT_MAX_N,
                   amg="sa", amg_sweeps=1, resetup=True):
    """Solve ``A_i x_i = b_i`` for a sequence of related systems.

    Parameters
    ----------
    systems : iterable of ``(A, b)`` or ``(A, b, features)`` -- ``A`` ``(n, n)`` sparse/dense
        matrix (or LinearOperator for the Krylov methods without preconditioner), ``b`` ``(n,)``,
        ``features`` any array describing the system (e.g. its coefficient field) used for
        sorting and for choosing the warm start; ``b`` when absent.
    method : ``"auto"`` (route by class, see the module doc), ``"direct"`` (sparse LU per system,
        one factorisation when the matrix is shared), ``"amg"`` (a fresh Ruge-Stuben hierarchy
        + PCG per system, the standard baseline), ``"recycled_cg"`` or ``"gcrodr"``.
    rtol : float -- relative tolerance on the true residual of every system (> 0; ``inf`` allowed).
        Right-hand sides and sparse matrix entries must be finite (ValueError naming the system).
        A system whose LU factorisation is exactly singular is solved by GCRO-DR instead
        (method ``"gcrodr"`` in ``stats``; converges when the system is consistent).
    sort : bool -- solve in the order of :func:`sort_systems` (``sort_method``).
    workers : int -- processes; the sorted order is cut into ``workers`` contiguous chunks.
    k, m : recycled-space size (recycled_cg: default 0 with the AMG preconditioner, 8 without;
        gcrodr: 20) and GCRO-DR cycle length.
    window : the warm start comes from the nearest of the last ``window`` solved systems.
    warm_start : bool; preconditioner : ``None`` (default per method), ``"none"``, ``"amg"`` or ``"ilu"``.
    direct_max_n : "auto" factors nonsymmetric/indefinite systems up to this size (default 250 000).
    amg : ``"sa"`` (smoothed aggregation, default) or ``"rs"`` (Ruge-Stuben): the re-used
        hierarchy of the SPD route; amg_sweeps : Gauss-Seidel sweeps before and after each
        coarse correction (default 1, see :class:`~sciml.solvers.krylov.AMGVCycle`).
    resetup : bool -- rebuild the hierarchy when the iteration growth of a system costs more
        than a full set-up (default True); False keeps the first hierarchy for the whole chain.

    Returns
    -------
    solutions : list of N arrays ``(n,)`` in the ORIGINAL order, in the input precision
        (``result_type`` of all matrices and right-hand sides, at least float32: float32 and
        complex64 systems are kept). Every solve runs in float64 (complex128 when anything is
        complex); ``residual`` and ``info`` describe the returned, rounded solutions.
    stats : numpy record array ``(N,)`` in the original order with fields index, position,
        chain, iterations, matvecs, seconds, residual (true relative residual), info, method,
        setup (a full AMG hierarchy was built before this system).

    A system whose residual misses ``rtol`` keeps ``info > 0`` in ``stats`` and raises a
    RuntimeWarning (from the solver); nothing is dropped silently.
    """
    if method not in SEQUENCE_METHODS:
        raise ValueError(f"method must be one of {SEQUENCE_METHODS}, got {method!r}")
    if sort_method not in SORT_METHODS:
        raise ValueError(f"sort_method must be one of {SORT_METHODS}, got {sort_method!r}")
    if isinstance(workers, bool) or not isinstance(workers, (int, np.integer)) or workers < 1:
        raise ValueError(f"workers must be a positive integer, got {workers!r}")
    rtol = check_tol(rtol, "rtol")
    if rtol == 0:
        raise ValueError("rtol must be positive (solve_sequence has no atol), got 0")
    if preconditioner not in (None, "none", "amg", "ilu"):
        raise ValueError(f"preconditioner must be None, 'none', 'amg' or 'ilu', got {preconditioner!r}")
    systems, out_dtype = _normalise(systems)
    if method in ("direct", "amg") and not all(sp.issparse(s[0]) for s in systems):
        raise ValueError(f"method {method!r} needs sparse or dense matrices in systems, not LinearOperators")
    if method == "amg" and out_dtype.kind == "c":
        raise ValueError("method 'amg' needs real matrices; complex systems take 'auto', 'direct' or 'gcrodr'")
    N = len(systems)
    feats = _features(systems)
    order = sort_systems(feats, sort_method) if (sort and N > 2) else np.arange(N)
    if amg not in AMG_KINDS:
        raise ValueError(f"amg must be one of {AMG_KINDS}, got {amg!r}")
    if isinstance(amg_sweeps, bool) or not isinstance(amg_sweeps, (int, np.integer)) or amg_sweeps < 1:
        raise ValueError(f"amg_sweeps must be a positive integer, got {amg_sweeps!r}")
    opts = {"m": m, "window": window, "warm_start": warm_start, "direct_max_n": direct_max_n, "amg": amg,
            "amg_sweeps": int(amg_sweeps), "resetup": bool(resetup)}
    if k is not None:
        opts["k"] = k
    if preconditioner is not None:
        opts["preconditioner"] = preconditioner
    workers = min(int(workers), N)
    chunks = [c for c in np.array_split(order, workers) if c.size]
    payloads = [([systems[i] for i in c], feats[c], c, method, float(rtol), opts, j) for j, c in enumerate(chunks)]
    if workers == 1:
        results = [_solve_chain(payloads[0])]
    else:
        with process_pool(workers) as pool:
            results = list(pool.map(_solve_chain, payloads))
    solutions = [None] * N
    stats = np.zeros(N, dtype=STATS_DTYPE)
    pos0 = 0
    for c, (xs, st) in zip(chunks, results):
        st = st.copy()
        st["position"] += pos0
        pos0 += c.size
        for j, i in enumerate(c):
            solutions[i] = xs[j]
            stats[i] = st[j]
    if any(x.dtype != out_dtype for x in solutions):
        _to_output_precision(systems, solutions, stats, out_dtype, rtol)
    bad = np.flatnonzero(stats["info"] > 0)
    if bad.size and workers > 1:
        # solver warnings raised inside worker processes do not reach the caller
        warnings.warn(f"{bad.size} of {N} systems did not converge to rtol={rtol:g} (indices {bad[:10].tolist()})",
                      RuntimeWarning, stacklevel=2)
    return solutions, stats.view(np.recarray)
