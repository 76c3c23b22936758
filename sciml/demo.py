"""The main job on a small embedded default: ``python -m sciml.demo --out demo_out``.

1. generates a small Darcy dataset with the FNO recipe (coarser grid, fewer samples),
2. prints its statistics and writes a figure of one sample,
3. trains an FNO for a fixed number of epochs (with a wall-clock cap) and prints its relative
   L2 test error, with figures. The figure is reproducible: the same seed and epochs give the
   same error on any machine that finishes them; the line says if the cap cut the run short.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

DEFAULTS = {"n": 200, "resolution": 61, "epochs": 20, "cap_seconds": 120.0}


def summary(result: dict, epochs: int, cap: float) -> str:
    """The one line the demo ends with, e.g. ``FNO, 20 epochs (cap 120 s): test rel. L2 0.0312``."""
    head = f"FNO, {epochs} epochs (cap {cap:g} s)"
    if result.get("stopped"):
        head += f", stopped by the cap after {result['epochs']} epochs"
    return f"{head}: test rel. L2 {result['test_rel_l2']:.4f}"


def run(out="demo_out", *, n: int = DEFAULTS["n"], resolution: int = DEFAULTS["resolution"],
        epochs: int = DEFAULTS["epochs"], cap_seconds: float = DEFAULTS["cap_seconds"], seed: int = 0,
        log=print) -> dict:
    """The demo as a library call; returns :func:`sciml.training.quick_train`'s result plus ``summary``."""
    from .datasets import describe, generate
    from .training import quick_train
    from .viz.fields import plot_sample

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    data = out / f"darcy_r{resolution}_n{n}.h5"
    t0 = time.perf_counter()
    generate("darcy", n, seed=seed, out=data, resolution=resolution, subsample=2, progress=None)
    log(f"[1/3] dataset {data} ready in {time.perf_counter() - t0:.1f} s")
    log(describe(data))
    fig = plot_sample(data, sample=0, out=out / "darcy_sample0.png")
    log(f"[2/3] figure of sample 0: {fig}")
    result = quick_train(data, out / "fno", model="fno", epochs=epochs, seconds=cap_seconds, seed=seed)
    result["summary"] = summary(result, epochs, cap_seconds)
    log(f"[3/3] {result['summary']} ({result['train_seconds']:.0f} s of training)")
    for k, v in result.items():
        if k.endswith("figure") or k.endswith("figures"):
            log(f"      {k}: {v}")
    return result


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m sciml.demo", description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="demo_out", help="output directory")
    ap.add_argument("--n", type=int, default=DEFAULTS["n"], help="number of Darcy samples")
    ap.add_argument("--resolution", type=int, default=DEFAULTS["resolution"],
                    help="solve resolution (stored at every 2nd node)")
    ap.add_argument("--epochs", type=int, default=DEFAULTS["epochs"], help="training epochs (fixed)")
    ap.add_argument("--train-seconds", type=float, default=DEFAULTS["cap_seconds"],
                    help="wall-clock cap of the training in seconds")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    run(args.out, n=args.n, resolution=args.resolution, epochs=args.epochs, cap_seconds=args.train_seconds,
        seed=args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
