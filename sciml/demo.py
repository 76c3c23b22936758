"""The main job on a small embedded default: ``python -m sciml.demo --out demo_out``.

1. generates a small Darcy dataset with the FNO recipe (coarser grid, fewer samples),
2. prints its statistics and writes a figure of one sample,
3. trains an FNO for about a minute and prints its relative L2 test error, with figures.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m sciml.demo", description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="demo_out", help="output directory")
    ap.add_argument("--n", type=int, default=320, help="number of Darcy samples")
    ap.add_argument("--resolution", type=int, default=85, help="solve resolution (stored at every 2nd node)")
    ap.add_argument("--train-seconds", type=float, default=60.0, help="training budget in seconds")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    from .datasets import describe, generate
    from .viz.fields import plot_sample

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    data = out / f"darcy_r{args.resolution}_n{args.n}.h5"
    t0 = time.perf_counter()
    generate("darcy", args.n, seed=args.seed, out=data, resolution=args.resolution, subsample=2,
             progress=sys.stderr.isatty())
    print(f"[1/3] dataset {data} ready in {time.perf_counter() - t0:.1f} s")
    print(describe(data))
    fig = plot_sample(data, sample=0, out=out / "darcy_sample0.png")
    print(f"[2/3] figure of sample 0: {fig}")

    from .training import quick_train

    result = quick_train(data, out / "fno", model="fno", seconds=args.train_seconds, seed=args.seed)
    print(f"[3/3] FNO trained for {result.get('train_seconds', float('nan')):.0f} s: "
          f"test relative L2 error = {result['test_rel_l2']:.4f}")
    for k, v in result.items():
        if k.endswith("figure") or k.endswith("figures"):
            print(f"      {k}: {v}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
