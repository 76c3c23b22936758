"""Krylov subspace recycling for data generation: timings and iteration counts, baselines in the same run.

Table 1 (Goal 1, what users feel): Darcy, FNO recipe (421^2 nodes, 64 samples, rtol 1e-8):
seconds per sample of scipy spsolve, pyamg Ruge-Stuben PCG (fresh hierarchy per sample),
and solve_sequence variants; ratios against spsolve and pyamg.

Table 2 (Goal 2, SKR's setting): 100 systems with n ~ 1e4 per family (Darcy 12/3, heat
step with lognormal conductivity, Helmholtz with varying wavenumber), rtol 1e-8;
GMRES(40) vs our GCRO-DR(40, 20) unsorted and sorted with the SAME preconditioner
(none / Jacobi / ILU, built per system), scipy gcrotmk with re-used CU, and the
best standard solvers. Ratios GMRES/GCRO-DR(sorted) printed beside SKR Table 1.

Usage: python benchmarks/krylov_recycling.py [--quick] [--table 1|2|both]
BLAS is pinned to one thread (set before numpy is imported).
"""
from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_v] = "1"

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402
import scipy.sparse as sp  # noqa: E402
import scipy.sparse.linalg as spla  # noqa: E402

from sciml.random_fields import grf_neumann_square  # noqa: E402
from sciml.solvers.elliptic import assemble_darcy, assemble_heat_step, assemble_helmholtz, darcy_coefficient  # noqa: E402
from sciml.solvers.krylov import RecycleSpace, gcrodr, solve_sequence, sort_systems  # noqa: E402

SKR_TABLE1 = {  # time speedup / iteration ratio ranges reported by SKR (ICLR 2024), GMRES(40) vs GCRO-DR(40,20)
    "darcy": "1.93-4.53x / 9.4-28.6",
    "heat": "1.96-5.47x (Thermal)",
    "helmholtz": "3.88-13.9x",
}


def _p(*a):
    print(*a, flush=True)


# CPU seconds of this process. BLAS is single-threaded and nothing here runs in other
# processes, so on an idle machine this equals wall time; on a shared machine (this one
# runs ~8 engineers on 2 cores) it is the only stable measure.
_clock = time.process_time


# ------------------------------------------------------------------------ table 1
def table1(s, n_samples, base_every):
    _p(f"\n== Table 1 (Goal 1): Darcy FNO recipe, {s}^2 nodes ({(s - 2) ** 2} unknowns), {n_samples} samples, "
       f"rtol 1e-8, 1 thread ==")
    t0 = _clock()
    fields = [darcy_coefficient(s, np.random.default_rng(1000 + i)) for i in range(n_samples)]
    systems = [(*assemble_darcy(a), a) for a in fields]
    t_asm = (_clock() - t0) / n_samples
    _p(f"coefficient sampling + assembly: {t_asm:.3f} s/sample (same for every method, not included below)")
    base_idx = list(range(0, n_samples, base_every))

    def true_res(A, b, x):
        return float(np.linalg.norm(b - A @ x) / np.linalg.norm(b))

    # warm-up (imports, first-call costs) for every method on a small problem, untimed
    import pyamg

    small = [(*assemble_darcy(a), a) for a in (darcy_coefficient(41, np.random.default_rng(i)) for i in range(3))]
    for A, b, _ in small:
        spla.spsolve(A.tocsc(), b)
        spla.cg(A, b, rtol=1e-8, atol=0.0, M=pyamg.ruge_stuben_solver(A).aspreconditioner(cycle="V"))
    for kw in ({}, {"amg": "rs"}, {"method": "recycled_cg", "k": 8}):
        solve_sequence(small, rtol=1e-8, **kw)

    # spsolve
    t = _clock()
    res = []
    for i in base_idx:
        A, b, _ = systems[i]
        x = spla.spsolve(A.tocsc(), b)
        res.append(true_res(A, b, x))
    t_sp = (_clock() - t) / len(base_idx)
    rows = [("scipy spsolve (SuperLU)", t_sp, "-", len(base_idx), f"{max(res):.1e}")]

    # pyamg RS + CG (fresh hierarchy per sample), as users run it; timed before AND after the
    # solve_sequence variants (the machine is shared, its speed drifts), the mean is the baseline

    def pyamg_rs_pcg():
        t = _clock()
        its, res = [], []
        for i in base_idx:
            A, b, _ = systems[i]
            ml = pyamg.ruge_stuben_solver(A)
            cnt = [0]
            x, info = spla.cg(A, b, rtol=1e-8, atol=0.0, M=ml.aspreconditioner(cycle="V"),
                              callback=lambda _x, cnt=cnt: cnt.__setitem__(0, cnt[0] + 1))
            its.append(cnt[0])
            res.append(true_res(A, b, x))
        return (_clock() - t) / len(base_idx), np.mean(its), max(res)

    t_amg1, it_amg, res_amg = pyamg_rs_pcg()

    variants = [
        ("solve_sequence auto (sorted)", dict(method="auto")),
        ("solve_sequence auto, unsorted", dict(method="auto", sort=False)),
        ("  + no warm start", dict(method="auto", warm_start=False)),
        ("  + Ruge-Stuben reference (amg='rs')", dict(method="auto", amg="rs")),
        ("  + V(2,2) cycle (amg_sweeps=2)", dict(method="auto", amg_sweeps=2)),
        ("  + deflation k=8 (recycled Ritz)", dict(method="recycled_cg", k=8)),
        ("auto in chunks of 16 (sciml generate)", dict(method="auto", chunk=16)),
    ]
    seq_rows = []
    for name, kw in variants:
        kw = dict(kw)
        chunk = kw.pop("chunk", n_samples)
        t = _clock()
        xs, its = [], []
        for c in range(0, n_samples, chunk):  # generate solves each chunk as its own sequence
            x_c, st = solve_sequence(systems[c:c + chunk], rtol=1e-8, **kw)
            xs += x_c
            its += st.iterations.tolist()
        dt = (_clock() - t) / n_samples
        # the residual each solver reports is checked here once more, independently
        res = max(true_res(A, b, x) for (A, b, _), x in zip(systems, xs))
        seq_rows.append((name, dt, f"{np.mean(its):.1f}", n_samples, f"{res:.1e}"))

    t_amg2, it_amg2, res_amg2 = pyamg_rs_pcg()
    t_amg = 0.5 * (t_amg1 + t_amg2)
    rows.append(("pyamg RS + CG (setup per sample)", t_amg, f"{it_amg:.1f}", len(base_idx),
                 f"{max(res_amg, res_amg2):.1e}"))
    rows += seq_rows

    _p(f"{'method':38s} {'s/sample':>9s} {'iters':>6s} {'samples':>7s} {'max res':>8s} {'vs spsolve':>10s} "
       f"{'vs pyamg':>9s}")
    for name, dt, it, ns, res in rows:
        _p(f"{name:38s} {dt:9.3f} {it:>6s} {ns:7d} {res:>8s} {t_sp / dt:9.2f}x {t_amg / dt:8.2f}x")
    _p(f"(pyamg RS + CG timed before and after the solve_sequence rows: {t_amg1:.3f} and {t_amg2:.3f} s/sample; "
       f"the table uses their mean. 'max res' = largest true relative residual ||b - A x|| / ||b||.)")
    best = seq_rows[0][1]
    ok = float(seq_rows[0][4]) <= 1e-8 * 1.0001
    _p(f"Goal 1: solve_sequence auto is {t_sp / best:.2f}x faster than spsolve (goal >= 3x: "
       f"{'met' if t_sp / best >= 3 else 'NOT met'}) and {t_amg / best:.2f}x faster than pyamg RS-PCG "
       f"(goal >= 2x: {'met' if t_amg / best >= 2 else 'NOT met'}; against the slower/faster of its two "
       f"timings {min(t_amg1, t_amg2) / best:.2f}x-{max(t_amg1, t_amg2) / best:.2f}x), every true residual "
       f"<= 1e-8: {'yes' if ok else 'NO'}. Per-sample time includes classification, sorting and the shared "
       f"AMG set-up.")
    if base_every > 1:
        _p(f"(spsolve and pyamg timed on every {base_every}th sample, {len(base_idx)} samples; solve_sequence on "
           f"all {n_samples}.)")


# ------------------------------------------------------------------------ table 2
def family_systems(family, n_sys, s, rng_seed=0):
    """SKR-style set: n_sys systems of one family on an s x s node grid (n = (s-2)^2)."""
    out = []
    for i in range(n_sys):
        rng = np.random.default_rng(rng_seed * 100003 + i)
        if family == "darcy":
            a = darcy_coefficient(s, rng)
            A, b = assemble_darcy(a)
            out.append((A, b, a))
        elif family == "heat":
            kappa = np.exp(grf_neumann_square(s, rng=rng))
            u0 = grf_neumann_square(s, rng=rng)
            A, b = assemble_heat_step(kappa, u0, 1e-3)
            out.append((A, b, kappa))
        elif family == "helmholtz":
            k = 10.0 * (1 + 0.25 * np.tanh(grf_neumann_square(s, rng=rng)))
            x = np.linspace(0, 1, s)
            X, Y = np.meshgrid(x, x, indexing="xy")
            f = np.exp(-((X - 0.5) ** 2 + (Y - 0.5) ** 2) / (2 * 0.05 ** 2))
            A, b = assemble_helmholtz(k, f)
            out.append((A, b, k))
        else:
            raise ValueError(family)
    return out


class _Count(spla.LinearOperator):
    def __init__(self, A):
        super().__init__(dtype=float, shape=A.shape)
        self.A, self.n = A, 0

    def _matvec(self, x):
        self.n += 1
        return self.A @ x


def _prec(kind, A):
    if kind == "none":
        return None
    if kind == "jacobi":
        return sp.diags(1.0 / A.diagonal())
    ilu = spla.spilu(A.tocsc(), drop_tol=1e-3, fill_factor=5)
    return spla.LinearOperator(A.shape, ilu.solve, dtype=float)


def _run_gmres(systems, prec, maxmv):
    mv, nc = 0, 0
    t = _clock()
    for A, b, _ in systems:
        op = _Count(A)
        x, info = spla.gmres(op, b, rtol=1e-8, atol=0.0, restart=40, maxiter=max(1, maxmv // 40), M=_prec(prec, A))
        mv += op.n
        nc += int(np.linalg.norm(b - A @ x) > 1.0001e-8 * np.linalg.norm(b))
    return (_clock() - t) / len(systems), mv / len(systems), nc


def _run_gcrodr(systems, order, prec, maxmv):
    R = RecycleSpace(20)
    mv, nc = 0, 0
    t = _clock()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for i in order:
            A, b, _ = systems[i]
            x, info, st = gcrodr(A, b, rtol=1e-8, m=40, k=20, M=_prec(prec, A), recycle=R, max_steps=maxmv,
                                 full_output=True)
            mv += st["matvecs"]
            nc += int(info > 0)
    return (_clock() - t) / len(systems), mv / len(systems), nc


def _run_gcrotmk(systems, order, prec, maxmv):
    CU = []
    mv, nc = 0, 0
    t = _clock()
    for i in order:
        A, b, _ = systems[i]
        op = _Count(A)
        x, info = spla.gcrotmk(op, b, rtol=1e-8, atol=0.0, m=20, k=20, CU=CU, discard_C=True, M=_prec(prec, A),
                               maxiter=max(1, maxmv // 20))
        mv += op.n
        nc += int(np.linalg.norm(b - A @ x) > 1.0001e-8 * np.linalg.norm(b))
    return (_clock() - t) / len(systems), mv / len(systems), nc


def table2(n_sys, s, maxmv, families):
    _p(f"\n== Table 2 (Goal 2, SKR setting): {n_sys} systems per family, n = {(s - 2) ** 2}, rtol 1e-8, 1 thread ==")
    _p("preconditioner built per system from its own matrix, identical for every Krylov method; "
       f"'mv' = A-products per system; n/c = systems not converged within {maxmv} products")
    hdr = (f"{'family':10s} {'prec':7s} {'method':26s} {'s/system':>9s} {'mv':>8s} {'n/c':>4s} "
           f"{'iter ratio':>10s} {'time ratio':>10s}")
    for fam in families:
        systems = family_systems(fam, n_sys, s)
        feats = np.stack([f.ravel() for *_ab, f in systems])
        t = _clock()
        order = sort_systems(feats, "greedy")
        t_sort = (_clock() - t) / n_sys
        _p(f"\n-- {fam} (SKR Table 1: {SKR_TABLE1[fam]}); greedy sort {t_sort * 1e3:.2f} ms/system --")
        _p(hdr)
        for prec in ("none", "jacobi", "ilu"):
            tg, mg, ncg = _run_gmres(systems, prec, maxmv)
            res = [("GMRES(40)", tg, mg, ncg)]
            res.append(("GCRO-DR(40,20) unsorted", *_run_gcrodr(systems, np.arange(n_sys), prec, maxmv)))
            tr, mr, ncr = _run_gcrodr(systems, order, prec, maxmv)
            res.append(("GCRO-DR(40,20) sorted", tr + t_sort, mr, ncr))
            res.append(("scipy gcrotmk(20,20) CU", *_run_gcrotmk(systems, order, prec, maxmv)))
            for name, tt, mm, nc in res:
                _p(f"{fam:10s} {prec:7s} {name:26s} {tt:9.4f} {mm:8.1f} {nc:4d} {mg / mm:9.2f}x {tg / tt:9.2f}x")
        # best standard solvers for this family
        best = []
        t = _clock()
        for A, b, _ in systems:
            spla.spsolve(A.tocsc(), b)
        best.append(("spsolve", (_clock() - t) / n_sys, 0.0))
        t = _clock()
        xs, st = solve_sequence(systems, rtol=1e-8)
        best.append((f"solve_sequence auto [{st.method[0]}]", (_clock() - t) / n_sys, st.iterations.mean()))
        if fam != "helmholtz":
            t = _clock()
            xs, st = solve_sequence(systems, rtol=1e-8, method="amg")
            best.append(("pyamg RS-PCG per system", (_clock() - t) / n_sys, st.iterations.mean()))
        for name, tt, it in best:
            _p(f"{fam:10s} {'best':7s} {name:26s} {tt:9.4f} {it:8.1f}      {'':>10s} {tg / tt:9.2f}x")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small smoke version (seconds)")
    ap.add_argument("--table", choices=("1", "2", "both"), default="both")
    ap.add_argument("--systems", type=int, default=None, help="systems per family in table 2 (default 100)")
    args = ap.parse_args(argv)
    if args.quick:
        t1 = dict(s=141, n_samples=8, base_every=1)
        t2 = dict(n_sys=12, s=42, maxmv=4000, families=("darcy", "heat", "helmholtz"))
    else:
        t1 = dict(s=421, n_samples=64, base_every=4)
        t2 = dict(n_sys=100, s=102, maxmv=3000, families=("darcy", "heat", "helmholtz"))
    if args.systems is not None:
        if args.systems < 2:
            ap.error("--systems must be >= 2")
        t2["n_sys"] = args.systems
    _p("times: CPU seconds of this single-threaded process (time.process_time)")
    t0 = time.perf_counter()
    if args.table in ("1", "both"):
        table1(**t1)
    if args.table in ("2", "both"):
        table2(**t2)
    _p(f"\ntotal benchmark wall time {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
