"""Training-step throughput of the darcy85 FNO on CPU, one optimisation at a time.

    python benchmarks/fno_throughput.py [--variants today,new,...] [--rounds 3] [--steps 4] [--threads 2] [--flops]

The step is the leaderboard recipe's (``sciml.bench.tasks``: darcy85, batch 20 at 85^2, modes 12
per sign, width 32, 4 layers, domain padding to 96^2, 2.57 M real parameters): forward, relative-L2
loss, backward, AdamW step, on fixed random inputs. Each variant runs in its own subprocess with the
same thread count, the variants alternating for ``--rounds`` rounds (so a load change on a shared
machine hits all of them alike); printed: median wall ms/step, median CPU ms/step (process time, less
sensitive to other processes than wall time), the ratio to the first variant, and for compiled
variants the one-off compile time.

Variants (comma-separated; flags combined with ``+`` on top of today's defaults, e.g. ``new+compile``):

``new``        the defaults: DFT-as-matmul spectral path (``impl="auto"``), fused elementwise work, freed
               memory kept in the heap (``sciml._util.malloc.retain_freed_memory``, as the training entry points)
``today``      the path before this work: ``fft+nofuse+nomalloc``
``fft``        the FFT spectral path (``SpectralConv(impl="fft")``, ``set_spectral_impl("fft")``)
``nofuse``     unfused elementwise work in the FNO blocks (``sciml.operators.layers.set_fused(False)``)
``nomalloc``   glibc's default allocator settings (every large tensor a fresh mmap: a page fault per 4 KiB
               written, each step); the column ``faults/step`` counts them
``compile``    ``torch.compile`` of the model (inductor; compile time in the "first step" column)
``autotune``   ``torch.compile(mode="max-autotune")``: inductor also times its C++ GEMM templates (with fused
               epilogues) against ATen's products and keeps the faster, per shape
``bf16``       ``torch.autocast("cpu", torch.bfloat16)`` around the forward (float32 master weights)
``cl``         channels-last input (``torch.channels_last``)
``t1``         one thread instead of ``--threads``
``mbN``        micro-batches: forward and backward the batch in chunks of N samples, one optimiser step
               (``Trainer(micro_batch=N)``, e.g. ``new+mb5``); the same step up to rounding, a smaller working set
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FLAGS = ("new", "today", "fft", "nofuse", "nomalloc", "compile", "autotune", "bf16", "cl", "t1")


def _count_flops(step) -> float:
    """GFLOP of the matrix products (mm, bmm, addmm, baddbmm, convolutions) in one step, counted by
    ``torch.utils.flop_counter.FlopCounterMode``; FFTs and elementwise work are not counted."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        step()
    return counter.get_total_flops() / 1e9


def _gemm_peak(n: int = 1536, repeats: int = 7) -> float:
    """Best GFLOP/s of a float32 ``n x n`` product on this process's threads: the rate the step's
    products could reach at most (they are thinner: 32 or 64 channels, 13 to 96 modes or points)."""
    import torch

    a, b = torch.randn(n, n), torch.randn(n, n)
    c = a @ b
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        torch.mm(a, b, out=c)
        best = min(best, time.perf_counter() - t0)
    return 2 * n ** 3 / best / 1e9


def _worker(variant: str, steps: int, threads: int, batch: int, count: bool = False) -> dict:
    import torch

    flags = set(variant.split("+"))
    if "today" in flags:
        flags |= {"fft", "nofuse", "nomalloc"}
    if "nomalloc" not in flags:
        from sciml._util.malloc import retain_freed_memory

        retain_freed_memory()
    torch.set_num_threads(1 if "t1" in flags else threads)
    from sciml.operators import build_model, layers
    from sciml.operators.spectral import set_spectral_impl
    from sciml.training.pipeline import default_model_config, fft_friendly_padding

    set_spectral_impl("fft" if "fft" in flags else "auto")
    layers.set_fused("nofuse" not in flags)
    cfg = default_model_config("fno", 1, 1, 2, modes=12, width=32, layers=4,
                               domain_padding=fft_friendly_padding((85, 85)))
    torch.manual_seed(0)
    model = build_model("fno", **cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-4)
    g = torch.Generator().manual_seed(1)
    x, y = torch.randn(batch, 1, 85, 85, generator=g), torch.randn(batch, 1, 85, 85, generator=g)
    if "cl" in flags:
        x = x.contiguous(memory_format=torch.channels_last)
    if "autotune" in flags:
        net = torch.compile(model, mode="max-autotune")
    else:
        net = torch.compile(model) if "compile" in flags else model

    micro = next((int(f[2:]) for f in flags if f.startswith("mb")), batch)

    def step():
        opt.zero_grad(set_to_none=True)
        total = 0.0
        for i in range(0, batch, micro):  # one chunk (the whole batch) unless mbN
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled="bf16" in flags):
                pred = net(x[i:i + micro])
            pred, true = pred.float(), y[i:i + micro]
            err = (pred - true).flatten(1).norm(dim=1) / true.flatten(1).norm(dim=1)
            loss = err.mean() if micro >= batch else err.sum() / batch
            loss.backward()
            total += float(loss)
        opt.step()
        return total

    t0 = time.perf_counter()
    step()  # warm-up (and compilation)
    first = time.perf_counter() - t0
    wall, cpu = [], []
    faults0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(steps):
        t0, c0 = time.perf_counter(), time.process_time()
        loss = step()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    if not all(map(lambda v: v == v, [loss])):
        raise SystemExit("non-finite loss")
    faults = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults0) / steps
    flops, peak = (_count_flops(step), _gemm_peak()) if count else (None, None)
    return {"gflop": flops, "gemm_peak_gflops": peak, "wall_ms": 1e3 * statistics.median(wall),
            "cpu_ms": 1e3 * statistics.median(cpu), "faults": faults,
            "first_s": first, "threads": torch.get_num_threads(), "loss": loss,
            "capability": torch.backends.cpu.get_cpu_capability(),
            "params": sum(p.numel() for p in model.parameters())}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--variants", default="today,new,fft,nofuse", help="comma-separated; the first is the baseline")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=4, help="timed steps per run (after one warm-up step)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=20)
    ap.add_argument("--flops", action="store_true",
                    help="also count the matrix-product FLOPs of a step and measure this core's float32 GEMM peak: "
                         "the step time those products need at least (a roofline floor)")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        print("RESULT " + json.dumps(_worker(args.worker, args.steps, args.threads, args.batch, args.flops)))
        return 0
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    for v in variants:
        bad = {f for f in v.split("+") if f not in FLAGS and not (f[:2] == "mb" and f[2:].isdigit() and int(f[2:]))}
        if bad:
            ap.error(f"--variants: unknown flag(s) {sorted(bad)}; known: {', '.join(FLAGS)}, mbN (N >= 1)")
    for name in ("rounds", "steps", "threads", "batch"):
        if getattr(args, name) < 1:
            ap.error(f"--{name} must be >= 1")
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), MKL_NUM_THREADS=str(args.threads),
               PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    runs: dict[str, list[dict]] = {v: [] for v in variants}
    for r in range(args.rounds):
        for v in variants:
            cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", v, "--steps", str(args.steps),
                   "--threads", str(args.threads), "--batch", str(args.batch)] + (["--flops"] if args.flops else [])
            res = subprocess.run(cmd, capture_output=True, text=True, env=env)
            if res.returncode != 0:
                raise RuntimeError(f"variant {v} failed:\n{res.stderr[-3000:]}")
            runs[v].append(json.loads([l for l in res.stdout.splitlines() if l.startswith("RESULT ")][-1][7:]))
            print(f"round {r + 1} {v:16s} {runs[v][-1]['wall_ms']:8.0f} ms wall {runs[v][-1]['cpu_ms']:8.0f} ms cpu "
                  f"{runs[v][-1]['faults']:9,.0f} faults", flush=True)
    info = runs[variants[0]][0]
    print()
    print(f"darcy85 FNO step (batch {args.batch}, 85^2 padded to 96^2, {info['params']:,} parameters), "
          f"{args.threads} threads, CPU capability {info['capability']}, {args.rounds} rounds x {args.steps} steps, "
          f"load average at the end {os.getloadavg()[0]:.1f}")
    print()
    print("| variant | wall ms/step | CPU ms/step | wall ratio to first | CPU ratio to first | first step s | "
          "page faults/step |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    base = None
    for v in variants:
        w = statistics.median(r["wall_ms"] for r in runs[v])
        c = statistics.median(r["cpu_ms"] for r in runs[v])
        f = statistics.median(r["first_s"] for r in runs[v])
        pf = statistics.median(r["faults"] for r in runs[v])
        base = base or (w, c)
        print(f"| {v} | {w:.0f} | {c:.0f} | {w / base[0]:.3f} | {c / base[1]:.3f} | {f:.1f} | {pf:,.0f} |")
    if args.flops:
        print()
        print("Matrix products per step and the floor they set (FLOPs counted by torch's FlopCounterMode; peak: "
              "the best float32 1536^2 product on the same threads, in the same process):")
        print()
        print("| variant | GFLOP/step (products) | GEMM peak GFLOP/s | floor at peak, ms | CPU ms/step | "
              "achieved GFLOP/s over the step |")
        print("|---|---:|---:|---:|---:|---:|")
        for v in variants:
            gf = statistics.median(r["gflop"] for r in runs[v])
            pk = statistics.median(r["gemm_peak_gflops"] for r in runs[v])
            c = statistics.median(r["cpu_ms"] for r in runs[v])
            print(f"| {v} | {gf:.2f} | {pk:.0f} | {1e3 * gf / pk:.0f} | {c:.0f} | {gf / c * 1e3:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
