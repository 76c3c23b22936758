"""Landau equation on the BKW solution: relative L2 density error vs particle count, with wall times.

Methods (all in this process, same machine, same evaluation grid):
  blob     deterministic blob method, grid particles, RK4 dt=0.05, blob reconstruction;
  score    score-based particle method, i.i.d. particles, forward Euler dt=0.01, 25 score-matching
           iterations per step, Gaussian KDE (Scott bandwidth);
  pinn-pm  neural particle method (flow map + time-dependent score), grid particles, density by
           change of variables through the learned flow map (no time stepping).
2D: t0 = 0 -> t0 + T; 3D: t0 = 2 -> t0 + T (the 3D BKW density is negative for t < 0.89).

Goal (issue 8): PINN-PM reaches the score method's error with at most a quarter of its particles.

    python benchmarks/landau.py                      # default table (t = 1, 2D and 3D)
    python benchmarks/landau.py --dims 2 --t-end 5 --methods blob pinn-pm --particles 256 1024   # later time
    python benchmarks/landau.py --quick              # small counts, a few minutes
"""
from __future__ import annotations

import argparse
import json
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from sciml.pinns.landau_bkw import run_bkw  # noqa: E402

DEFAULT = {
    2: {"blob": [256, 576, 1024, 2304, 4096], "score": [1024, 4096], "pinn-pm": [256, 1024]},
    3: {"blob": [1728, 4096], "score": [4096], "pinn-pm": [512]},
}
QUICK = {
    2: {"blob": [256, 1024], "score": [1024], "pinn-pm": [256]},
    3: {"blob": [1728], "score": [1728], "pinn-pm": [343]},
}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dims", type=int, nargs="+", default=[2, 3], choices=(2, 3))
    ap.add_argument("--t-end", type=float, default=1.0)
    ap.add_argument("--methods", nargs="+", default=["blob", "score", "pinn-pm"])
    ap.add_argument("--iters", type=int, default=2500, help="PINN-PM training iterations")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--particles", type=int, nargs="+", default=None,
                    help="particle counts for every selected method (default: the built-in plan)")
    ap.add_argument("--json", default=None, help="also write the rows to this JSON file")
    args = ap.parse_args(argv)
    torch.set_default_dtype(torch.float64)
    plan = QUICK if args.quick else DEFAULT
    rows = []
    print(f"# Landau BKW benchmark, T={args.t_end}, torch {torch.__version__}, threads={torch.get_num_threads()}",
          flush=True)
    header = f"{'dim':>3} {'method':>8} {'N':>6} {'t':>5} {'rel L2 err':>11} {'energy drift':>12} " \
             f"{'mom. drift':>10} {'wall [s]':>9}  notes"
    print(header, flush=True)
    for dim in args.dims:
        from sciml.pinns.landau_bkw import BOX, T0
        from sciml.solvers.landau import bkw_density, relative_l2, velocity_grid

        xe, _, _ = velocity_grid(80 if dim == 2 else 32, BOX[dim], dim)
        base = relative_l2(bkw_density(xe, T0[dim], dim), bkw_density(xe, T0[dim] + args.t_end, dim))
        print(f"{dim:>3} {'no-motion':>8} {'-':>6} {T0[dim] + args.t_end:>5.2f} {base:>11.4e} {'-':>12} {'-':>10} "
              f"{'-':>9}  baseline: exact f(t0) compared with f(t0+T)", flush=True)
        for method in args.methods:
            for n in (args.particles or plan[dim][method]):
                iters = args.iters if not args.quick else 300
                res = run_bkw(method, dim, n, args.t_end, iters=iters, seed=0)
                ex = res["extra"]
                note = ""
                if method == "pinn-pm":
                    note = (f"iters={iters} cert(rel Fisher)={ex['certificate_fisher_rel']:.2e} "
                            f"KDE-of-particles err={ex['kde_error']:.3f}")
                elif method == "blob":
                    note = f"RK4 dt={ex['dt']} eps={ex['eps']:.3g} + energy projection"
                else:
                    note = f"Euler dt={ex['dt']} iid"
                row = {"dim": dim, "method": method, "N": res["n_particles"], "t": res["t_final"],
                       "error": res["error"], "energy_drift": ex["energy_drift"],
                       "momentum_drift": ex["momentum_drift"], "wall": res["wall_time"], "note": note}
                rows.append(row)
                print(f"{dim:>3} {method:>8} {row['N']:>6} {row['t']:>5.2f} {row['error']:>11.4e} "
                      f"{row['energy_drift']:>12.2e} {row['momentum_drift']:>10.2e} {row['wall']:>9.1f}  {note}",
                      flush=True)
    print("\n# goal: PINN-PM error <= score error with <= 1/4 of the particles")
    for dim in args.dims:
        for s in [r for r in rows if r["dim"] == dim and r["method"] == "score"]:
            cands = [p for p in rows if p["dim"] == dim and p["method"] == "pinn-pm" and 4 * p["N"] <= s["N"]]
            if not cands:
                print(f"{dim}D score N={s['N']}: no PINN-PM run with <= {s['N'] // 4} particles")
                continue
            best = min(cands, key=lambda p: p["error"])
            ok = best["error"] <= s["error"]
            print(f"{dim}D score N={s['N']} err={s['error']:.4f} ({s['wall']:.0f}s) vs PINN-PM N={best['N']} "
                  f"err={best['error']:.4f} ({best['wall']:.0f}s): particle ratio {s['N'] / best['N']:.1f}x, "
                  f"wall-time ratio score/PINN-PM {s['wall'] / best['wall']:.2f} -> "
                  f"{'MET' if ok else 'NOT met'}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rows, fh, indent=1)


if __name__ == "__main__":
    main()
