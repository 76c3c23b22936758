"""Seconds per Darcy sample (FNO recipe) for sciml's solvers beside scipy's spsolve, same run.

Each solver solves the same coefficient fields at each resolution, one BLAS thread,
assembly included (a user's per-sample cost). Prints a table with the ratio to spsolve.

    python benchmarks/darcy_generation.py [--samples 4] [--resolutions 128 256 421]
"""
from __future__ import annotations

import argparse
import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import time  # noqa: E402

import scipy.sparse.linalg as spla  # noqa: E402

from sciml.datasets.recipes import sample_rng  # noqa: E402
from sciml.solvers.elliptic import assemble_darcy, darcy_coefficient, solve_darcy  # noqa: E402


def spsolve_baseline(a):
    A, b = assemble_darcy(a)
    return spla.spsolve(A, b)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=4)
    ap.add_argument("--resolutions", type=int, nargs="+", default=[128, 256, 421])
    args = ap.parse_args(argv)

    solvers = {
        "scipy spsolve (baseline)": spsolve_baseline,
        "sciml solve_darcy amg (RS-PCG)": lambda a: solve_darcy(a, solver="amg", rtol=1e-8),
        "sciml solve_darcy direct": lambda a: solve_darcy(a, solver="direct"),
    }
    from sciml.datasets.recipes import get_recipe

    recipe = get_recipe("darcy")

    print(f"Darcy FNO recipe, {args.samples} samples per resolution, 1 thread, seconds per sample (assembly included)")
    header = f"{'resolution':>10} | {'solver':34} | {'s/sample':>9} | {'vs spsolve':>10}"
    print(header)
    print("-" * len(header))
    for s in args.resolutions:
        coeffs = [darcy_coefficient(s, sample_rng(0, i)) for i in range(args.samples)]
        times = {}
        for name, fn in solvers.items():
            t0 = time.perf_counter()
            for a in coeffs:
                fn(a)
            times[name] = (time.perf_counter() - t0) / len(coeffs)
        # What `sciml generate darcy` does per chunk with its default solver (coefficients included).
        p = recipe.resolve(resolution=s, subsample=1, rtol=1e-8, chunk=args.samples)
        t0 = time.perf_counter()
        recipe.solve_chunk(p, 0, list(range(args.samples)))
        times[f"generate default ({p['solver']})"] = (time.perf_counter() - t0) / args.samples
        base = times["scipy spsolve (baseline)"]
        for name, t in times.items():
            print(f"{s:>10} | {name:34} | {t:9.3f} | {base / t:9.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
