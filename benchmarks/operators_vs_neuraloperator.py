"""sciml's FNO against neuraloperator 2.0.0's FNO: same data, architecture, optimiser, epochs, seed.

    python benchmarks/operators_vs_neuraloperator.py [--epochs 20] [--n-train 200] [--threads 2]

neuraloperator is a benchmark-only peer: it lives in its own virtual environment
(``.bench-venv``, created here when missing: torch==2.13.0 from the local wheel first, then
neuraloperator==2.0.0 with torch pinned by a constraint so pip cannot pull another torch).

Both models are trained by the *same* loop (the ``_train`` function below), each in its own
subprocess with the same thread count, alternately (neuraloperator, sciml, neuraloperator,
sciml, ... for ``--rounds``): Darcy data from sciml's FNO-recipe generator (solved at
127^2, stored at 64^2, a -> u), pointwise unit-Gaussian normalisation, AdamW (lr 1e-3,
weight decay 1e-4), cosine schedule, batch 20, relative-L2 loss.
Grid embedding: both sides pass ``positional_embedding="grid"``, which means
``linspace(0, 1, n + 1)[:-1]`` per axis in neuraloperator (torus points) and
``linspace(0, 1, n)`` in sciml (nodes including both ends of Darcy's closed square); sciml's
``"neuralop-grid"`` would reproduce neuraloperator's points exactly. Printed: test relative L2
of each, real parameter counts (a complex weight counts twice), median seconds per epoch, and the ratios sciml / neuraloperator.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENV = ROOT / ".bench-venv"
WORK = ROOT / ".bench"
NEURALOP = "neuraloperator==2.0.0"
TORCH = "torch==2.13.0"


# ---------------------------------------------------------------------------------------------
# the shared training loop (runs inside either interpreter; imports only torch)
# ---------------------------------------------------------------------------------------------
def _train(model, data: dict, epochs: int, batch_size: int, seed: int) -> dict:
    import torch

    xtr, ytr, xte, yte = data["x_train"], data["y_train"], data["x_test"], data["y_test"]
    eps = 1e-5
    xm, xs = xtr.mean(0), xtr.std(0, unbiased=False)
    ym, ys = ytr.mean(0), ytr.std(0, unbiased=False)
    xtr_n, xte_n = (xtr - xm) / (xs + eps), (xte - xm) / (xs + eps)

    def rel_l2(p, t):
        return ((p - t).flatten(1).norm(dim=1) / t.flatten(1).norm(dim=1))

    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
    gen = torch.Generator().manual_seed(seed)
    times, losses = [], []
    for _ in range(epochs):
        model.train()
        t0 = time.perf_counter()
        perm = torch.randperm(len(xtr), generator=gen)
        total = 0.0
        for i in range(0, len(perm), batch_size):
            idx = perm[i:i + batch_size]
            opt.zero_grad(set_to_none=True)
            pred = model(xtr_n[idx]) * (ys + eps) + ym
            loss = rel_l2(pred, ytr[idx]).mean()
            loss.backward()
            opt.step()
            total += float(loss) * len(idx)
        sched.step()
        times.append(time.perf_counter() - t0)
        losses.append(total / len(xtr))
    model.eval()
    with torch.no_grad():
        pred = torch.cat([model(xte_n[i:i + 50]) for i in range(0, len(xte_n), 50)]) * (ys + eps) + ym
        t0 = time.perf_counter()
        for i in range(0, len(xte_n), 50):
            model(xte_n[i:i + 50])
        infer = (time.perf_counter() - t0) / len(xte_n)
    return {"test_rel_l2": float(rel_l2(pred, yte).mean()), "train_loss": losses[-1], "epoch_seconds": times,
            "params": sum(p.numel() * (2 if p.is_complex() else 1) for p in model.parameters()), "inference_ms": 1e3 * infer}


def _worker(args) -> None:
    import torch

    torch.set_num_threads(args.threads)
    data = torch.load(args.data, weights_only=True)
    cfg = json.loads(args.config)
    torch.manual_seed(args.seed)
    if args.worker == "neuralop":
        from neuralop.models import FNO

        model = FNO(n_modes=tuple(cfg["n_modes"]), in_channels=1, out_channels=1,
                    hidden_channels=cfg["width"], n_layers=cfg["layers"], positional_embedding="grid")
    else:
        from sciml.operators import build_model

        model = build_model("fno", in_channels=1, out_channels=1, n_modes=cfg["n_modes"],
                            hidden_channels=cfg["width"], n_layers=cfg["layers"], positional_embedding="grid")
    res = _train(model, data, args.epochs, args.batch_size, args.seed)
    res["torch"] = torch.__version__
    res["threads"] = torch.get_num_threads()
    print("RESULT " + json.dumps(res))


# ---------------------------------------------------------------------------------------------
# set-up and driver (main interpreter, with sciml)
# ---------------------------------------------------------------------------------------------
def ensure_bench_venv() -> Path:
    """``.bench-venv`` with torch 2.13.0 and neuraloperator 2.0.0; created when missing."""
    py = VENV / "bin" / "python"
    marker = VENV / ".neuraloperator-2.0.0"
    if marker.exists():
        return py
    print(f"creating {VENV} (torch 2.13.0 + {NEURALOP}) ...", flush=True)
    WORK.mkdir(exist_ok=True)
    if not py.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    pip = [str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    subprocess.run(pip + [TORCH], check=True)
    constraint = WORK / "torch-constraint.txt"
    constraint.write_text(TORCH + "\n")
    subprocess.run(pip + ["-c", str(constraint), NEURALOP], check=True)
    version = subprocess.run([str(py), "-c", "import torch, neuralop; print(torch.__version__, neuralop.__version__)"],
                             check=True, capture_output=True, text=True).stdout.split()
    if not version[0].startswith("2.13.0") or version[1] != "2.0.0":
        raise RuntimeError(f"{VENV} has torch {version[0]}, neuraloperator {version[1]}; expected 2.13.0 / 2.0.0")
    marker.write_text(" ".join(version) + "\n")
    return py


def make_data(n_train: int, n_test: int, seed: int) -> Path:
    """Darcy (FNO recipe) solved at 127^2, stored at 64^2 -> a .pt dict of float32 tensors."""
    import torch

    from sciml.datasets import generate
    from sciml.datasets.loaders import FieldDataset, split_indices

    WORK.mkdir(exist_ok=True)
    n = n_train + n_test
    h5 = WORK / "data" / f"darcy_r127_s2_n{n}_seed{seed}.h5"
    h5.parent.mkdir(parents=True, exist_ok=True)
    generate("darcy", n, seed=seed, out=h5, resolution=127, subsample=2, progress=False)
    tr, te = split_indices(n, [n_train, n_test], seed=None)
    x_tr, y_tr = FieldDataset(h5, "a", "u", indices=tr).tensors()
    x_te, y_te = FieldDataset(h5, "a", "u", indices=te).tensors()
    pt = WORK / f"vs_neuralop_n{n_train}_{n_test}_seed{seed}.pt"
    torch.save({"x_train": x_tr, "y_train": y_tr, "x_test": x_te, "y_test": y_te}, pt)
    return pt


def _run_worker(python: str, which: str, data: Path, args, env) -> dict:
    cfg = json.dumps({"n_modes": [args.modes, args.modes], "width": args.width, "layers": args.layers})
    cmd = [python, str(Path(__file__).resolve()), "--worker", which, "--data", str(data), "--config", cfg,
           "--epochs", str(args.epochs), "--batch-size", str(args.batch_size), "--seed", str(args.seed),
           "--threads", str(args.threads)]
    res = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=str(WORK))
    if res.returncode != 0:
        raise RuntimeError(f"{which} worker failed:\n{res.stderr[-4000:]}")
    line = [l for l in res.stdout.splitlines() if l.startswith("RESULT ")][-1]
    return json.loads(line[len("RESULT "):])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--n-train", type=int, default=200)
    ap.add_argument("--n-test", type=int, default=50)
    ap.add_argument("--modes", type=int, default=16, help="n_modes per axis (neuraloperator convention)")
    ap.add_argument("--width", type=int, default=32)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--batch-size", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=int(os.environ.get("OMP_NUM_THREADS", "2")))
    ap.add_argument("--rounds", type=int, default=1, help="alternating neuraloperator/sciml runs each")
    ap.add_argument("--worker", choices=["neuralop", "sciml"], help=argparse.SUPPRESS)
    ap.add_argument("--data", help=argparse.SUPPRESS)
    ap.add_argument("--config", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        _worker(args)
        return 0
    for name in ("epochs", "n_train", "n_test", "modes", "width", "layers", "batch_size", "threads", "rounds"):
        if getattr(args, name) < 1:
            ap.error(f"--{name.replace('_', '-')} must be >= 1")

    bench_py = ensure_bench_venv()
    data = make_data(args.n_train, args.n_test, args.seed)
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), MKL_NUM_THREADS=str(args.threads),
               PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env_peer = dict(env)
    env_peer.pop("PYTHONPATH")  # the peer venv must not see sciml
    runs = {"neuralop": [], "sciml": []}
    for r in range(args.rounds):
        for which, py, e in (("neuralop", str(bench_py), env_peer), ("sciml", sys.executable, env)):
            t0 = time.perf_counter()
            runs[which].append(_run_worker(py, which, data, args, e))
            print(f"round {r + 1}: {which:9s} done in {time.perf_counter() - t0:.0f} s "
                  f"(test rel. L2 {runs[which][-1]['test_rel_l2']:.4f})", flush=True)

    def summary(rs):
        times = [t for r in rs for t in r["epoch_seconds"][1:]] or [t for r in rs for t in r["epoch_seconds"]]
        return {"err": statistics.median(r["test_rel_l2"] for r in rs), "params": rs[0]["params"],
                "epoch": statistics.median(times), "infer": statistics.median(r["inference_ms"] for r in rs)}

    no, sc = summary(runs["neuralop"]), summary(runs["sciml"])
    print()
    print(f"Darcy 64x64 (solved 127^2), {args.n_train} train / {args.n_test} test, FNO n_modes=({args.modes},"
          f"{args.modes}) width={args.width} layers={args.layers}, AdamW 1e-3 cosine, batch {args.batch_size}, "
          f"{args.epochs} epochs, seed {args.seed}, {args.threads} threads, {args.rounds} round(s), torch "
          f"{runs['sciml'][0]['torch']}")
    print()
    print("| implementation | params | test rel. L2 | s/epoch (median) | inference ms/sample |")
    print("|---|---:|---:|---:|---:|")
    print(f"| neuraloperator 2.0.0 FNO | {no['params']:,} | {no['err']:.4f} | {no['epoch']:.3f} | {no['infer']:.2f} |")
    print(f"| sciml FNO | {sc['params']:,} | {sc['err']:.4f} | {sc['epoch']:.3f} | {sc['infer']:.2f} |")
    print(f"| ratio sciml / neuraloperator | {sc['params'] / no['params']:.3f} | {sc['err'] / no['err']:.3f} | "
          f"{sc['epoch'] / no['epoch']:.3f} | {sc['infer'] / no['infer']:.3f} |")
    goal_err = sc["err"] <= no["err"] * 1.0
    goal_time = sc["epoch"] <= no["epoch"]
    print()
    print(f"goal: error ratio <= 1: {'met' if goal_err else 'NOT met'}; epoch-time ratio <= 1: "
          f"{'met' if goal_time else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
