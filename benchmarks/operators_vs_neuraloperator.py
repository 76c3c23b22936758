"""sciml's FNO against neuraloperator 2.0.0's FNO: same data, architecture, optimiser, epochs, seed.

    python benchmarks/operators_vs_neuraloperator.py [--epochs 20] [--n-train 200] [--threads 2]
        [--seeds 0,1,2] [--case 64|darcy85] [--today]

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
of each, real parameter counts (a complex weight counts twice), median seconds per epoch, and the
ratios sciml / neuraloperator. The sciml worker keeps freed memory in the heap as sciml's training
loop does (``sciml._util.malloc.retain_freed_memory``); the neuraloperator worker runs with glibc's
defaults, as neuraloperator's own training does.

Cases: ``--case 64`` (the default above: solved at 127^2, stored at 64^2, no domain padding) and
``--case darcy85`` (the leaderboard's darcy85 size: solved at 169^2, stored at 85^2 (``[::2]``;
the recipe solves at 421^2, too slow to regenerate here), the recipe's model: ``--modes 24`` i.e.
12 per sign, width 32, 4 layers, domain padding 7 points on each side to 99^2 on both sides, since
neuraloperator pads symmetrically by ``round(f n)`` per end while the recipe pads sciml one-sided to
96^2). ``--seeds 0,1,2`` repeats everything per seed (data split, initialisation, batch order), and
``--today`` also trains sciml on the path before the CPU-throughput work (``SpectralConv(impl="fft")``,
unfused blocks: ``sciml.operators.spectral.set_spectral_impl("fft")``, ``layers.set_fused(False)``,
glibc's default allocator settings; under ``--amp`` too unless ``--today-float32``, which trains it in
float32 as it was used before mixed precision was among the options)
in the same alternation, to print the speed-up against it. ``--breakdown`` trains nothing: it times one
training step of each model, then its spectral convolutions alone (forward + backward on the input they
see in the step), and prints what the rest of the step sets as a floor on the ratio. Goals printed at the
end: epoch-time ratio sciml / neuraloperator <= 0.4, error ratio (mean over seeds) <= 1.0, and sciml today / sciml
>= 2. ``--amp bf16`` runs the forward of every implementation under CPU bf16 autocast (the comparison
stays like for like: both sides in the same mixed precision). ``--micro-batch M`` splits every batch
into chunks of M samples with one optimiser step per batch (sciml's ``Trainer(micro_batch=M)``), for
both implementations alike.
"""
from __future__ import annotations

import argparse
import json
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
def _train(model, data: dict, epochs: int, batch_size: int, seed: int, amp: str | None = None,
           micro_batch: int | None = None) -> dict:
    import torch

    def autocast():  # mixed precision of the forward (both implementations alike), float32 loss and weights
        return torch.autocast("cpu", dtype=torch.bfloat16, enabled=amp == "bf16")

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
    times, cpu_times, losses = [], [], []
    for _ in range(epochs):
        model.train()
        t0, c0 = time.perf_counter(), time.process_time()
        perm = torch.randperm(len(xtr), generator=gen)
        total = 0.0
        for i in range(0, len(perm), batch_size):
            idx = perm[i:i + batch_size]
            opt.zero_grad(set_to_none=True)
            size = micro_batch or len(idx)
            for j in range(0, len(idx), size):  # gradient accumulation over chunks (Trainer's micro_batch)
                part = idx[j:j + size]
                with autocast():
                    out = model(xtr_n[part])
                pred = out.float() * (ys + eps) + ym
                err = rel_l2(pred, ytr[part])
                loss = err.mean() if size >= len(idx) else err.sum() / len(idx)
                loss.backward()
                total += float(loss) * len(idx)
            opt.step()
        sched.step()
        times.append(time.perf_counter() - t0)
        cpu_times.append(time.process_time() - c0)
        losses.append(total / len(xtr))
    model.eval()
    with torch.no_grad(), autocast():
        pred = torch.cat([model(xte_n[i:i + 50]).float() for i in range(0, len(xte_n), 50)]) * (ys + eps) + ym
        t0 = time.perf_counter()
        for i in range(0, len(xte_n), 50):
            model(xte_n[i:i + 50])
        infer = (time.perf_counter() - t0) / len(xte_n)
    return {
        "test_rel_l2": float(rel_l2(pred, yte).mean()),
        "train_loss": losses[-1],
        "epoch_seconds": times,
        "epoch_cpu_seconds": cpu_times,
        "params": sum(p.numel() * (2 if p.is_complex() else 1) for p in model.parameters()),
        "inference_ms": 1e3 * infer,
    }


def _breakdown(model, data: dict, batch_size: int, steps: int) -> dict:
    """CPU ms of one training step, and of its spectral convolutions alone (forward + backward on
    the input shape they see in the step), the rest being everything else the model does."""
    import torch

    convs = [m for m in model.modules() if type(m).__name__ == "SpectralConv"]
    shapes = {}

    def record(mod, inputs):  # returns None: a pre-hook's value would replace the inputs
        shapes.setdefault(id(mod), tuple(inputs[0].shape))

    hooks = [c.register_forward_pre_hook(record) for c in convs]
    x, y = data["x_train"][:batch_size], data["y_train"][:batch_size]
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-4)

    def cpu_ms(fn):
        fn()
        fn()  # warm-up: caches, allocator
        ts = []
        for _ in range(steps):
            c0 = time.process_time()
            fn()
            ts.append(time.process_time() - c0)
        return 1e3 * statistics.median(ts)

    def step():
        opt.zero_grad(set_to_none=True)
        p = model(x)
        ((p - y).flatten(1).norm(dim=1) / y.flatten(1).norm(dim=1)).mean().backward()
        opt.step()

    step_ms = cpu_ms(step)
    for h in hooks:
        h.remove()
    gen = torch.Generator().manual_seed(0)
    spectral_ms = 0.0
    for c in convs:
        h = torch.randn(shapes[id(c)], generator=gen, requires_grad=True)

        def conv_step(c=c, h=h):
            out = c(h)
            out.backward(torch.ones_like(out))
        spectral_ms += cpu_ms(conv_step)
    return {"step_ms": step_ms, "spectral_ms": spectral_ms, "rest_ms": step_ms - spectral_ms,
            "spectral_input": list(shapes[id(convs[0])]), "n_spectral": len(convs)}


def _worker(args) -> None:
    import torch

    torch.set_num_threads(args.threads)
    data = torch.load(args.data, weights_only=True)
    cfg = json.loads(args.config)
    torch.manual_seed(args.seed)
    pad = cfg.get("pad", 0)  # points added at each end of every axis
    if args.worker == "neuralop":
        from neuralop.models import FNO

        model = FNO(n_modes=tuple(cfg["n_modes"]), in_channels=1, out_channels=1,
                    hidden_channels=cfg["width"], n_layers=cfg["layers"], positional_embedding="grid",
                    domain_padding=pad / cfg["size"] if pad else None)
    else:
        from sciml.operators import build_model

        if args.worker == "sciml-today":
            from sciml.operators import layers, spectral

            spectral.set_spectral_impl("fft")
            layers.set_fused(False)
        else:  # what sciml's own training loop does first (sciml.training.loop.Loop); glibc's defaults for today
            from sciml._util.malloc import retain_freed_memory

            retain_freed_memory()
        model = build_model("fno", in_channels=1, out_channels=1, n_modes=cfg["n_modes"],
                            hidden_channels=cfg["width"], n_layers=cfg["layers"], positional_embedding="grid",
                            domain_padding=2 * pad / cfg["size"], domain_padding_mode="symmetric")
    if args.breakdown:
        res = _breakdown(model, data, args.batch_size, args.steps)
    else:
        res = _train(model, data, args.epochs, args.batch_size, args.seed, args.amp, args.micro_batch)
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


def make_data(n_train: int, n_test: int, seed: int, resolution: int = 127, subsample: int = 2) -> Path:
    """Darcy (FNO recipe) solved at ``resolution``^2, stored every ``subsample``-th point -> a .pt dict of
    float32 tensors."""
    import torch

    from sciml.datasets import generate
    from sciml.datasets.loaders import FieldDataset, split_indices

    WORK.mkdir(exist_ok=True)
    n = n_train + n_test
    h5 = WORK / "data" / f"darcy_r{resolution}_s{subsample}_n{n}_seed{seed}.h5"
    h5.parent.mkdir(parents=True, exist_ok=True)
    if not h5.exists():
        generate("darcy", n, seed=seed, out=h5, resolution=resolution, subsample=subsample, progress=False)
    tr, te = split_indices(n, [n_train, n_test], seed=None)
    x_tr, y_tr = FieldDataset(h5, "a", "u", indices=tr).tensors()
    x_te, y_te = FieldDataset(h5, "a", "u", indices=te).tensors()
    pt = WORK / f"vs_neuralop_r{resolution}_s{subsample}_n{n_train}_{n_test}_seed{seed}.pt"
    torch.save({"x_train": x_tr, "y_train": y_tr, "x_test": x_te, "y_test": y_te}, pt)
    return pt


def _run_worker(python: str, which: str, data: Path, args, env, seed: int) -> dict:
    cfg = json.dumps({"n_modes": [args.modes, args.modes], "width": args.width, "layers": args.layers,
                      "pad": args.pad, "size": args.size})
    cmd = [python, str(Path(__file__).resolve()), "--worker", which, "--data", str(data), "--config", cfg,
           "--epochs", str(args.epochs), "--batch-size", str(args.batch_size), "--seed", str(seed),
           "--threads", str(args.threads), "--steps", str(args.steps)] + (["--breakdown"] if args.breakdown else []) \
        + (["--amp", args.amp] if args.amp and not (which == "sciml-today" and args.today_float32) else []) \
        + (["--micro-batch", str(args.micro_batch)] if args.micro_batch else [])
    res = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=str(WORK))
    if res.returncode != 0:
        raise RuntimeError(f"{which} worker failed:\n{res.stderr[-4000:]}")
    line = [l for l in res.stdout.splitlines() if l.startswith("RESULT ")][-1]
    return json.loads(line[len("RESULT "):])


CASES = {  # resolution solved, subsample, stored size, default modes (total per axis), padding per end
    "64": dict(resolution=127, subsample=2, size=64, modes=16, pad=0),
    "darcy85": dict(resolution=169, subsample=2, size=85, modes=24, pad=7),
}


def print_breakdown(runs: dict, impls, args) -> None:
    """Medians over seeds and rounds of the step, its spectral part and the rest; and the bound on
    the epoch-time ratio that the rest sets (the ratio if sciml's spectral transforms cost nothing)."""
    med = {which: {k: statistics.median(r[k] for rs in runs.values() for r in rs[which])
                   for k in ("step_ms", "spectral_ms", "rest_ms")} for which, _, _ in impls}
    first = next(iter(runs.values()))["sciml"][0]
    print()
    print(f"CPU ms per training step, batch {args.batch_size}, {args.threads} thread(s); spectral: the "
          f"{first['n_spectral']} spectral convolutions alone, forward + backward "
          f"on their input {tuple(first['spectral_input'])}")
    print()
    print("| implementation | step | spectral | rest | spectral share |")
    print("|---|---:|---:|---:|---:|")
    for which, _, _ in impls:
        v = med[which]
        print(f"| {which} | {v['step_ms']:.0f} | {v['spectral_ms']:.0f} | {v['rest_ms']:.0f} | "
              f"{v['spectral_ms'] / v['step_ms']:.0%} |")
    n, m = med["neuralop"], med["sciml"]
    print()
    print(f"step ratio sciml / neuraloperator {m['step_ms'] / n['step_ms']:.3f}; rest ratio "
          f"{m['rest_ms'] / n['rest_ms']:.3f}; with spectral transforms of zero cost the step ratio would be "
          f"{m['rest_ms'] / n['step_ms']:.3f}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--case", choices=sorted(CASES), default="64")
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--n-train", type=int, default=200)
    ap.add_argument("--n-test", type=int, default=50)
    ap.add_argument("--modes", type=int, default=None,
                    help="n_modes per axis (neuraloperator convention; default 16 for 64, 24 for darcy85)")
    ap.add_argument("--width", type=int, default=32)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--batch-size", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0, help="one seed (see --seeds)")
    ap.add_argument("--seeds", default=None, help="comma-separated seeds, e.g. 0,1,2 (overrides --seed)")
    ap.add_argument("--threads", type=int, default=int(os.environ.get("OMP_NUM_THREADS", "2")))
    ap.add_argument("--rounds", type=int, default=1, help="alternating runs of each implementation per seed")
    ap.add_argument("--today", action="store_true", help="also time sciml's path before the throughput work")
    ap.add_argument("--breakdown", action="store_true",
                    help="instead of training: CPU ms of one training step of each FNO, of its spectral "
                         "convolutions alone, and of the rest (what bounds the epoch-time ratio)")
    ap.add_argument("--steps", type=int, default=5, help="timed steps per measurement with --breakdown")
    ap.add_argument("--amp", choices=["bf16"], default=None,
                    help="bf16 autocast around the forward of every implementation (the same loop; float32 "
                         "weights, optimiser and loss); pays off on a CPU with bf16 units (AVX512_BF16, AMX)")
    ap.add_argument("--today-float32", action="store_true",
                    help="with --amp and --today: train the path before the throughput work in float32, as it was "
                         "used then (the speed-up then includes mixed precision), instead of under the same autocast")
    ap.add_argument("--micro-batch", type=int, default=None, metavar="M",
                    help="forward and backward each batch in chunks of M samples, one optimiser step per batch "
                         "(sciml's Trainer(micro_batch=M)), in the shared loop: both implementations alike")
    ap.add_argument("--worker", choices=["neuralop", "sciml", "sciml-today"], help=argparse.SUPPRESS)
    ap.add_argument("--data", help=argparse.SUPPRESS)
    ap.add_argument("--config", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        _worker(args)
        return 0
    if args.today_float32 and not (args.amp and args.today):
        ap.error("--today-float32 needs --amp and --today (it sets the precision of the --today run)")
    case = CASES[args.case]
    if args.modes is None:
        args.modes = case["modes"]
    args.pad, args.size = case["pad"], case["size"]
    for name in ("epochs", "n_train", "n_test", "modes", "width", "layers", "batch_size", "threads", "rounds", "steps"):
        if getattr(args, name) < 1:
            ap.error(f"--{name.replace('_', '-')} must be >= 1")
    try:
        seeds = [int(v) for v in args.seeds.split(",")] if args.seeds else [args.seed]
    except ValueError:
        ap.error(f"--seeds must be comma-separated integers, got {args.seeds!r}")

    bench_py = ensure_bench_venv()
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), MKL_NUM_THREADS=str(args.threads),
               PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env_peer = dict(env)
    env_peer.pop("PYTHONPATH")  # the peer venv must not see sciml
    impls = [("neuralop", str(bench_py), env_peer), ("sciml", sys.executable, env)]
    if args.today:
        impls.append(("sciml-today", sys.executable, env))
    runs = {seed: {which: [] for which, _, _ in impls} for seed in seeds}
    for seed in seeds:
        data = make_data(args.n_train, args.n_test, seed, case["resolution"], case["subsample"])
        for r in range(args.rounds):
            order = impls if (r + seed) % 2 == 0 else impls[::-1]  # alternate who goes first
            for which, py, e in order:
                t0 = time.perf_counter()
                runs[seed][which].append(_run_worker(py, which, data, args, e, seed))
                last = runs[seed][which][-1]
                what = (f"step {last['step_ms']:.0f} ms" if args.breakdown
                        else f"test rel. L2 {last['test_rel_l2']:.4f}")
                print(f"seed {seed} round {r + 1}: {which:11s} done in {time.perf_counter() - t0:.0f} s ({what})",
                      flush=True)
    if args.breakdown:
        print_breakdown(runs, impls, args)
        return 0

    def summary(rs):
        times = [t for r in rs for t in r["epoch_seconds"][1:]] or [t for r in rs for t in r["epoch_seconds"]]
        cpu = [t for r in rs for t in r["epoch_cpu_seconds"][1:]] or [t for r in rs for t in r["epoch_cpu_seconds"]]
        return {"err": statistics.median(r["test_rel_l2"] for r in rs), "params": rs[0]["params"],
                "epoch": statistics.median(times), "cpu": statistics.median(cpu),
                "infer": statistics.median(r["inference_ms"] for r in rs)}

    names = {"neuralop": "neuraloperator 2.0.0 FNO", "sciml": "sciml FNO",
             "sciml-today": "sciml FNO, path before the throughput work (fft, unfused"
                            + (", float32)" if args.amp and args.today_float32 else ")")}
    per_seed = {seed: {which: summary(runs[seed][which]) for which, _, _ in impls} for seed in seeds}
    grid = f"{args.size}x{args.size}"
    padded = f", padded to {args.size + 2 * args.pad}^2 (symmetric)" if args.pad else ""
    print()
    print(f"Darcy {grid} (solved {case['resolution']}^2){padded}, {args.n_train} train / {args.n_test} test, FNO "
          f"n_modes=({args.modes},{args.modes}) width={args.width} layers={args.layers}, AdamW 1e-3 cosine, batch "
          f"{args.batch_size}, {args.epochs} epochs, seeds {','.join(map(str, seeds))}, {args.threads} threads, "
          f"{args.rounds} round(s) per seed, {args.amp + ' autocast' if args.amp else 'float32'}, "
          f"{f'micro-batches of {args.micro_batch}, ' if args.micro_batch else ''}"
          f"torch {runs[seeds[0]]['sciml'][0]['torch']}, load average "
          f"{os.getloadavg()[0]:.1f} at the end")
    print()
    print("| seed | implementation | params | test rel. L2 | s/epoch (median) | CPU s/epoch | inference ms/sample |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for seed in seeds:
        for which, _, _ in impls:
            v = per_seed[seed][which]
            print(f"| {seed} | {names[which]} | {v['params']:,} | {v['err']:.4f} | {v['epoch']:.3f} | "
                  f"{v['cpu']:.3f} | {v['infer']:.2f} |")
    err_ratios = [per_seed[s]["sciml"]["err"] / per_seed[s]["neuralop"]["err"] for s in seeds]
    time_ratios = [per_seed[s]["sciml"]["epoch"] / per_seed[s]["neuralop"]["epoch"] for s in seeds]
    cpu_ratios = [per_seed[s]["sciml"]["cpu"] / per_seed[s]["neuralop"]["cpu"] for s in seeds]
    infer_ratios = [per_seed[s]["sciml"]["infer"] / per_seed[s]["neuralop"]["infer"] for s in seeds]
    print()
    print("| ratio sciml / neuraloperator | per seed | mean | median |")
    print("|---|---|---:|---:|")
    for label, rs in (("test rel. L2", err_ratios), ("s/epoch", time_ratios), ("CPU s/epoch", cpu_ratios),
                      ("inference ms/sample", infer_ratios)):
        print(f"| {label} | {', '.join(f'{r:.3f}' for r in rs)} | {statistics.mean(rs):.3f} | "
              f"{statistics.median(rs):.3f} |")
    speedups = []
    if args.today:
        speedups = [per_seed[s]["sciml-today"]["epoch"] / per_seed[s]["sciml"]["epoch"] for s in seeds]
        today_err = [per_seed[s]["sciml"]["err"] / per_seed[s]["sciml-today"]["err"] for s in seeds]
        cpu_speedups = [per_seed[s]["sciml-today"]["cpu"] / per_seed[s]["sciml"]["cpu"] for s in seeds]
        print(f"| s/epoch sciml today / sciml (speed-up) | {', '.join(f'{r:.2f}' for r in speedups)} | "
              f"{statistics.mean(speedups):.2f} | {statistics.median(speedups):.2f} |")
        print(f"| CPU s/epoch sciml today / sciml (speed-up) | {', '.join(f'{r:.2f}' for r in cpu_speedups)} | "
              f"{statistics.mean(cpu_speedups):.2f} | {statistics.median(cpu_speedups):.2f} |")
        print(f"| test rel. L2 sciml / sciml today | {', '.join(f'{r:.3f}' for r in today_err)} | "
              f"{statistics.mean(today_err):.3f} | {statistics.median(today_err):.3f} |")
    goal_err = statistics.mean(err_ratios) <= 1.0
    goal_time = statistics.median(time_ratios) <= 0.4
    print()
    line = (f"goal: error ratio (mean of seeds) <= 1: {'met' if goal_err else 'NOT met'}; epoch-time ratio "
            f"(median of seeds) <= 0.4: {'met' if goal_time else 'NOT met'}")
    if speedups:
        line += f"; >= 2x faster than today's sciml: {'met' if statistics.median(speedups) >= 2 else 'NOT met'}"
    print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
