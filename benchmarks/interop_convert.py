"""Time and check the data converters on a Darcy set: store -> The Well / PDEBench -> store.

    python benchmarks/interop_convert.py [--n 1000] [--resolution 85]

Generates (once, cached in .bench/) ``n`` Darcy samples with the FNO recipe solved directly at
``resolution``^2 (``--subsample 1``), then times each converter in this process and checks the
round trip: the arrays that come back must equal the float32-rounded originals (both formats
hold float32) and the coordinates must be exact. Printed: seconds per conversion, samples per
second, file sizes, the largest round-trip error relative to the float32 rounding.
"""
from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--resolution", type=int, default=85)
    args = ap.parse_args(argv)

    from sciml.datasets import generate, open_dataset
    from sciml.datasets.interop import export_pdebench, export_well, import_pdebench, import_well

    store = ROOT / ".bench" / "data" / f"darcy_r{args.resolution}_n{args.n}.h5"
    store.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    generate("darcy", args.n, seed=0, out=store, progress=False, resolution=args.resolution, subsample=1)
    print(f"store {store.name}: {args.n} samples at {args.resolution}^2 ({time.perf_counter() - t0:.1f} s to "
          f"generate or reuse)")
    with open_dataset(store) as ds:
        ref = {k: ds[k][()] for k in ds.fields}
        coords = ds.coords
    tmp = Path(tempfile.mkdtemp(dir=store.parent))
    try:
        rows = []
        for name, export, imp, target in (
                ("well", lambda o: export_well(store, o), lambda i, o: import_well(i, o), tmp / "well"),
                ("pdebench", lambda o: export_pdebench(store, o), lambda i, o: import_pdebench(i, o),
                 tmp / "darcy.hdf5")):
            t = time.perf_counter()
            export(target)
            t_out = time.perf_counter() - t
            size = sum(p.stat().st_size for p in target.rglob("*") if p.is_file()) if target.is_dir() \
                else target.stat().st_size
            t = time.perf_counter()
            back = imp(target, tmp / f"{name}_back.h5")
            t_in = time.perf_counter() - t
            with open_dataset(back) as ds:
                err = max(float(np.max(np.abs(ds[k][()] - v.astype(np.float32).astype(v.dtype))))
                          for k, v in ref.items())
                f32 = max(float(np.max(np.abs(v.astype(np.float32) - v))) for v in ref.values())
                cerr = max(float(np.max(np.abs(ds.coords[k] - c))) for k, c in coords.items())
            rows.append((name, t_out, t_in, size / 2**20, err, f32, cerr))
        print(f"{'format':9s} {'export s':>9s} {'samples/s':>10s} {'import s':>9s} {'MiB':>7s} "
              f"{'max |back - f32(orig)|':>23s} {'max |f32(orig) - orig|':>23s} {'coord err':>9s}")
        for name, t_out, t_in, mib, err, f32, cerr in rows:
            print(f"{name:9s} {t_out:9.2f} {args.n / t_out:10.0f} {t_in:9.2f} {mib:7.1f} {err:23.3g} {f32:23.3g} "
                  f"{cerr:9.3g}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
