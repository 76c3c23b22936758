"""Mass-form FV transport: accuracy tables (Williamson test 1, Nair-Lauritzen), conservation
checks on the LowRes CarbonBench grid, and timing of the polar treatment against baselines
measured in the same process.

    python benchmarks/transport.py            # 5.625 and 2.8125 deg (about 1-2 minutes)
    python benchmarks/transport.py --full     # adds 1.40625 deg
"""
from __future__ import annotations

import argparse
import os
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "2")

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from sciml.grids import LatLonGrid  # noqa: E402
from sciml.solvers import transport as tr  # noqa: E402
from sciml.solvers import transport_cases as cases  # noqa: E402


def _table(title, header, rows):
    print(f"\n{title}")
    widths = [max(len(str(h)), *(len(str(r[i])) for r in rows)) for i, h in enumerate(header)]
    print("  ".join(str(h).rjust(w) for h, w in zip(header, widths)))
    for r in rows:
        print("  ".join(str(c).rjust(w) for c, w in zip(r, widths)))


def accuracy_tables(nlats, courant):
    cases = [("williamson1", "cosine bell", dict(alpha=0.0)),
             ("williamson1", "cosine bell", dict(alpha=np.pi / 2 - 0.05)),
             ("williamson1", "gaussian", dict(alpha=0.0, initial="gaussian")),
             ("nair_lauritzen", "gaussian", dict(initial="gaussian")),
             ("nair_lauritzen", "cosine bells", dict(initial="cosine"))]
    rows = []
    for case, init, kw in cases:
        prev = None
        for nlat in nlats:
            t0 = time.perf_counter()
            r = cases.run_2d_case(case, nlat, courant=courant, check_mass=True, **kw)
            sec = time.perf_counter() - t0
            order = (
                ["-", "-", "-"] if prev is None else [f"{np.log2(prev[k] / r[k]):.2f}" for k in ("l1", "l2", "linf")]
            )
            alpha = f"{kw.get('alpha', 0.0):.4f}" if case == "williamson1" else "-"
            rows.append([case, init, alpha, f"{180 / nlat:g}", r["nsteps"], f"{r['l1']:.4f}", f"{r['l2']:.4f}",
                         f"{r['linf']:.4f}", *order, f"{r['min']:.2e}", f"{r['max']:.4g}", f"{r['mass_drift']:.1e}",
                         f"{sec:.1f}"])
            prev = r
    _table(f"Accuracy after 12 days (one period), MC-limited slopes, equatorial Courant {courant}",
           ["case", "field", "alpha", "deg", "steps", "l1", "l2", "linf", "p(l1)", "p(l2)", "p(linf)", "min", "max",
            "mass drift/step", "s"], rows)


def conservation_lowres(nsteps=8):
    """6-hourly steps on the LowRes grid (32 x 64 x 10) with the synthetic meteorology."""
    from sciml.datasets.carbonbench import SyntheticAtmosphere

    g = LatLonGrid.carbonbench("lowres")
    atm = SyntheticAtmosphere(g, seed=0)
    dt = 6 * 3600.0
    model = tr.TransportModel(g)
    m = g.air_mass(atm.surface_pressure(0.0))
    q_u = np.full(g.shape, 5.6e-4)
    q_r = atm.initial_co2(atm.surface_pressure(0.0)) * (1 + 0.2 * np.random.default_rng(0).random(g.shape))
    lo, hi = q_r.min(), q_r.max()
    drift, nonuni, resid = 0.0, 0.0, 0.0
    t_step = 0.0
    for n in range(nsteps):
        t = n * dt
        psm = atm.surface_pressure(t + dt / 2)
        U, V = tr.winds_to_mass_fluxes(*atm.winds(t + dt / 2, psm), g, psm, dt)
        m1 = g.air_mass(atm.surface_pressure(t + dt))
        U, V = tr.balance_mass_fluxes(U, V, m, m1, g)
        W, res = tr.vertical_mass_fluxes(U, V, m, m1)
        resid = max(resid, float(np.abs(res).max() / m.sum(axis=0).max()))
        f = tr.MassFluxes(U, V, W)
        mass0 = (q_r * m).sum()
        t0 = time.perf_counter()
        q_r, m_new = model.step(q_r, m, f, dt, m_next=m1)
        t_step += time.perf_counter() - t0
        q_u, _ = model.step(q_u, m, f, dt, m_next=m1)
        drift = max(drift, abs((q_r * m_new).sum() - mass0) / mass0)
        nonuni = max(nonuni, float(np.abs(q_u / 5.6e-4 - 1).max()))
        m = m_new
    rows = [["max relative tracer-mass change per step", f"{drift:.2e}"],
            ["max |q/q0 - 1| of a uniform mixing ratio", f"{nonuni:.2e}"],
            ["column continuity residual / column mass", f"{resid:.2e}"],
            ["min(q) >= initial min", str(bool(q_r.min() >= lo * (1 - 1e-12)))],
            ["max(q) <= initial max", str(bool(q_r.max() <= hi * (1 + 1e-12)))],
            ["ms per 6-h step (advection only)", f"{1e3 * t_step / nsteps:.1f}"]]
    _table(f"LowRes 32x64x10, synthetic divergent 3D winds, {nsteps} six-hour steps", ["check", "value"], rows)


def _per_line_loop(r, m, U, V, W, limiter="mc", splits=1):
    """Baseline: the same scheme, one line at a time in a Python loop (no vectorisation)."""
    r, m = r.copy(), m.copy()
    for op in ("x", "y", "z", "z", "y", "x") * splits:
        if op == "z" and W is None:
            continue
        axis, flux, periodic = {"x": (r.ndim - 1, U, True), "y": (r.ndim - 2, V, False), "z": (0, W, False)}[op]
        rl, ml, fl = tr._as_lines(r, axis), tr._as_lines(m, axis), tr._as_lines(flux, axis) * (0.5 / splits)
        for i in range(rl.shape[0]):
            if tr._sweep(rl[i:i + 1], ml[i:i + 1], fl[i:i + 1], periodic, limiter, 1.0) is None:
                raise RuntimeError("baseline: non-positive air mass")
        r[...] = tr._from_lines(rl, r.shape, axis)
        m[...] = tr._from_lines(ml, m.shape, axis)
    return r, m


def timing_polar(repeat=3):
    """A 6-h step at 5.625 deg, 10 layers, 50 m/s solid-body flow over the poles (pole-row Courant ~35)."""
    g = LatLonGrid.carbonbench("lowres")
    dt = 6 * 3600.0
    period = 2 * np.pi * g.radius / 50.0
    U2, V2 = tr.fluxes_from_streamfunction(cases.williamson1_streamfunction(g, np.pi / 2 - 0.05, period) * dt)
    dp = g.dp(np.full((g.nlat, g.nlon), 1.0e5)) / 9.80665
    U, V = U2[None] * dp[:, :1, :1], V2[None] * dp[:, :1, :1]
    m = g.air_mass(np.full((g.nlat, g.nlon), 1.0e5))
    W = np.zeros((g.nlev + 1, g.nlat, g.nlon))
    q = np.broadcast_to(cases.cosine_bell(g), g.shape) / 1000.0 + 0.1
    r = q * m

    def best(f):
        ts = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            out = f()
            ts.append(time.perf_counter() - t0)
        return min(ts), out

    t_line, (r1, m1, info) = best(lambda: tr.advect(r, m, U, V, W, subcycling="line"))
    t_glob, (r2, m2, info2) = best(lambda: tr.advect(r, m, U, V, W, subcycling="global"))
    t_loop, (r3, m3) = best(lambda: _per_line_loop(r, m, U, V, W, splits=info.splits))
    same = float(np.abs(r3 / m3 - r1 / m1).max() / q.max())
    diff_g = float(np.abs(r2 / m2 - r1 / m1).max() / q.max())
    rows = [["per-line sub-cycling, vectorised (sciml)", f"{1e3 * t_line:.1f}", "1.00",
             f"x {info.max_substeps['x']}, y {info.max_substeps['y']}", "-"],
            ["global sub-cycling (every line the max count)", f"{1e3 * t_glob:.1f}", f"{t_glob / t_line:.2f}",
             f"x {info2.max_substeps['x']}, y {info2.max_substeps['y']}", f"{diff_g:.1e}"],
            ["per-line Python loop (same scheme)", f"{1e3 * t_loop:.1f}", f"{t_loop / t_line:.2f}", "same",
             f"{same:.1e}"]]
    _table(f"One 6-h step, LowRes 32x64x10, 50 m/s cross-polar flow (step split in {info.splits} for air-mass "
           f"positivity; largest outflow Courant number of one split X operator {info.max_courant['x']:.1f}), "
           f"best of {repeat}",
           ["implementation", "ms", "time ratio", "max sub-steps", "max |dq| vs sciml"], rows)


def generator_throughput(nsteps=40):
    """Cost of one 6-h step of the synthetic CarbonBench generator on LowRes (record + transport)."""
    from sciml.datasets.carbonbench import _Simulator

    g = LatLonGrid.carbonbench("lowres")
    sim = _Simulator(g, 0, 6 * 3600.0, "mc")
    ps = sim.atm.surface_pressure(0.0)
    r = sim.atm.initial_co2(ps) * g.air_mass(ps)
    t_rec = t_step = 0.0
    for n in range(nsteps):
        t = n * 6 * 3600.0
        a = time.perf_counter()
        x3, x2, f, m = sim.record(t, r)
        b = time.perf_counter()
        r = sim.step(t, r, m, f[0] + f[1] + f[2])
        t_step += time.perf_counter() - b
        t_rec += b - a
    per = (t_rec + t_step) / nsteps
    rows = [["record (meteorology, fluxes, float32 fields)", f"{1e3 * t_rec / nsteps:.1f}"],
            ["step (fluxes, balance, continuity, advection, PBL mixing)", f"{1e3 * t_step / nsteps:.1f}"],
            ["4 years (5844 steps), compute only, extrapolated [s]", f"{5844 * per:.0f}"],
            ["max relative mass-budget error per step", f"{sim.max_budget_error:.1e}"]]
    _table(f"Synthetic CarbonBench generator, LowRes 32x64x10, {nsteps} steps, ms per 6-h step", ["part", "value"],
           rows)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--full", action="store_true", help="add the 1.40625 deg grid (slow)")
    p.add_argument("--courant", type=float, default=0.7)
    args = p.parse_args(argv)
    nlats = (32, 64, 128) if args.full else (32, 64)
    t0 = time.perf_counter()
    timing_polar()
    conservation_lowres()
    generator_throughput()
    accuracy_tables(nlats, args.courant)
    print(f"\ntotal {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
