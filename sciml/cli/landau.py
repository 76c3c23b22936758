"""``sciml landau``: run a Landau particle method on the BKW solution and report errors and moments.

``sciml landau --method blob|score|pinn-pm --dim 2 --particles 1024 --t-end 1 --plot out.png``
(the driver is :func:`sciml.pinns.landau_bkw.run_bkw`).
"""
from __future__ import annotations

import os

from .._util.validation import nonnegative_int, positive_float, positive_int

__all__ = ["add_parser"]

METHODS = ("blob", "score", "pinn-pm")
IMAGE_SUFFIXES = (".png", ".pdf", ".svg", ".jpg")


def add_parser(subparsers, argv=()):
    """Add ``landau`` to the ``sciml`` subcommands."""
    p = subparsers.add_parser("landau", help="Landau equation particle methods on the BKW solution",
                              description="Run the blob, score or PINN-PM particle method on the BKW solution of "
                                          "the homogeneous Landau equation (Maxwell molecules) and report the "
                                          "relative L2 density error and conservation.")
    p.add_argument("--method", choices=METHODS, default="blob")
    p.add_argument("--dim", type=int, choices=(2, 3), default=2)
    p.add_argument("--particles", type=positive_int, default=1024, help="total number of particles (>= 16)")
    p.add_argument("--t-end", type=positive_float, default=1.0, help="run time after t0")
    p.add_argument("--dt", type=positive_float, default=None, help="time step (blob 0.05 RK4, score 0.01 Euler)")
    p.add_argument("--iters", type=positive_int, default=1500, help="PINN-PM training iterations")
    p.add_argument("--seed", type=nonnegative_int, default=0)
    p.add_argument("--plot", default=None, help="write a figure (density slices, moment histories; .png/.pdf/.svg)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --plot file")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=run)
    return p


def check_request(args) -> None:
    """Sizes and step counts before any work (ValueError naming the option)."""
    from .._util.resources import check_memory
    from .._util.validation import check_step_count
    from ..pinns.landau_bkw import DEFAULT_DT
    from ..solvers.landau import MAX_STEPS

    if args.particles < 16:
        raise ValueError(f"--particles must be >= 16, got {args.particles}")
    if args.method in DEFAULT_DT:
        dt = args.dt or DEFAULT_DT[args.method]
        check_step_count(args.t_end, dt, max_steps=MAX_STEPS, name="--dt", span_name="--t-end")
    # positions, RK stages / score-net batches, snapshots: a few tens of d-vectors per particle, plus the
    # O(chunk N) pairwise blocks (a few tens of MB); PINN-PM trains on all particles at once
    per_particle = 8 * args.dim * (48 if args.method != "pinn-pm" else 512)
    check_memory(args.particles * per_particle + (64 << 20), f"--particles {args.particles:,}")


def run(args) -> int:
    from .._util.io import check_output, lock_outputs

    check_request(args)
    plot = None
    if args.plot is not None:
        if os.path.splitext(args.plot)[1].lower() not in IMAGE_SUFFIXES:
            raise ValueError(f"--plot must end in .png, .pdf, .svg or .jpg, got {args.plot!r}")
        plot = check_output(args.plot, name="--plot", overwrite=args.overwrite)
    from ..pinns.landau_bkw import run_bkw

    with lock_outputs(plot):
        res = run_bkw(args.method, args.dim, args.particles, args.t_end, dt=args.dt, iters=args.iters,
                      seed=args.seed, progress=not args.no_progress)
        ex = res["extra"]
        print(f"method={res['method']} dim={res['dim']} particles={res['n_particles']} "
              f"t={res['t0']:g}->{res['t_final']:g} rel_L2_error={res['error']:.4e} "
              f"energy_drift={ex['energy_drift']:.2e} momentum_drift={ex['momentum_drift']:.2e} "
              f"wall={res['wall_time']:.1f}s"
              + (f" certificate_fisher_rel={ex['certificate_fisher_rel']:.3e}"
                 if "certificate_fisher_rel" in ex else ""))
        if plot is not None:
            from ..viz.landau import plot_landau

            path = plot_landau(res, plot, title=f"Landau {res['dim']}D BKW, {res['method']}, "
                                                f"N={res['n_particles']}")
            print(f"wrote {path}")
    return 0
