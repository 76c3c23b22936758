"""Transitional: ``sciml generate carbonbench`` options for the old ``sciml/cli.py``.

The one CLI package (``sciml/cli/``) parses these options itself and calls
:func:`~sciml.datasets.carbonbench.generate_carbonbench`; this module goes when it lands.
"""
from __future__ import annotations

from .generator import generate_carbonbench


def cli_generate(argv: list[str]) -> int:
    """``sciml generate carbonbench --grid latlon5.625 --levels 10 --years 2000-2003 --out DIR --seed 0``
    (also ``--splits ...``, ``--days-per-year N``, ``--no-progress``). Bad arguments raise ValueError."""
    import argparse

    class _P(argparse.ArgumentParser):
        def error(self, message):
            raise ValueError(message)

    p = _P(prog="sciml generate carbonbench", add_help=False)
    p.add_argument("--grid", default="latlon5.625")
    p.add_argument("--levels", type=int, default=10)
    p.add_argument("--years", default="2000-2003")
    p.add_argument("--splits", default=None)
    p.add_argument("--out", default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--days-per-year", type=int, default=None)
    p.add_argument("--limiter", default="mc")
    p.add_argument("--no-progress", action="store_true")
    args = p.parse_args(list(argv))
    if args.out is None:
        raise ValueError("--out is required (the directory that will hold Carbontracker/)")
    try:
        res = generate_carbonbench(args.out, grid=args.grid, levels=args.levels, years=args.years,
                                   splits=args.splits, seed=args.seed, progress=not args.no_progress,
                                   days_per_year=args.days_per_year, limiter=args.limiter)
    except ValueError as exc:
        msg = str(exc)
        for name in ("years", "splits", "seed", "levels", "days_per_year", "limiter", "grid"):
            if msg.startswith(name + " ") or msg.startswith(name + "["):
                msg = "--" + name.replace("_", "-") + msg[len(name):]
                break
        raise ValueError(msg) from None
    for k, v in res.items():
        if k != "seconds":
            print(f"wrote {v}")
    print(f"done in {res['seconds']:.1f} s")
    return 0
