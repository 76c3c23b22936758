"""GraphCast message passing: torch's index_add_ / scatter_reduce / a sparse CSR product against
torch_geometric's scatter, on the CarbonBench grid, same run.

Times one training step (forward + backward) of the CarbonBench GraphCast backbone
(``benchmarks/carbonbench_emulators.py``: 23 input channels, 5 outputs, latent 64, 4 processor
layers, the multi-mesh at level 2 on the 11.25 deg grid) for each ``aggregation``, and the bare
sum over the multi-mesh edges, median of ``--repeats``; ratios are against ``index_add`` in
the same run. torch_geometric is optional (``pip install torch_geometric``, pure Python; it
installs next to torch 2.13 without changing it); its row is skipped when it is absent.

    OMP_NUM_THREADS=1 python benchmarks/graphcast_message_passing.py [--grid latlon11.25] [--batch 8]

Measured (2 cores shared by 8 jobs, OMP_NUM_THREADS=1, torch 2.13, torch_geometric 2.8.1), train-step
time relative to index_add: scatter_reduce 1.16 / 1.08 / 1.12, csr 1.14 / 0.98 / 1.06, pyg 1.49 / 1.25 / 1.09
(three runs: 8 layers, then 4 layers twice, the last round-robin); index_add is kept as the default. The
bare-sum column varied 1.2-24x between runs on that machine and is not a reliable figure there.
"""
from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch  # noqa: E402

from sciml.grids import LatLonGrid  # noqa: E402
from sciml.operators import GraphCast  # noqa: E402
from sciml.operators.graphcast import _aggregate  # noqa: E402


def _interleaved(fns, repeats, warmup=2):
    """Median seconds of each callable, timed round-robin so that a change of machine load
    affects every entry alike."""
    for fn in fns:
        for _ in range(warmup):
            fn()
    ts = [[] for _ in fns]
    for _ in range(repeats):
        for t, fn in zip(ts, fns):
            t0 = time.perf_counter()
            fn()
            t.append(time.perf_counter() - t0)
    return [statistics.median(t) for t in ts]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--grid", default="latlon11.25")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--latent", type=int, default=64)
    ap.add_argument("--n-layers", type=int, default=4)
    ap.add_argument("--mesh-level", type=int, default=None)
    ap.add_argument("--repeats", type=int, default=20)
    args = ap.parse_args(argv)
    torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))
    g = LatLonGrid.from_name(args.grid)
    aggs = ["index_add", "scatter_reduce", "csr"]
    try:
        import torch_geometric

        aggs.append("pyg")
        pyg = torch_geometric.__version__
    except ImportError:
        pyg = None
    torch.manual_seed(0)
    x = torch.randn(args.batch, 23, g.nlat, g.nlon)
    base = GraphCast(23, 5, g.nlat, g.nlon, latent=args.latent, n_layers=args.n_layers, mesh_level=args.mesh_level)
    state = base.state_dict()
    mm = base.mesh_edges
    msg = torch.randn(args.batch, mm.shape[1], args.latent, requires_grad=True)
    steps, bares, diffs = [], [], []
    with torch.no_grad():
        ref_out = base(x)
    for agg in aggs:
        model = GraphCast(**{**base.config, "aggregation": agg})
        model.load_state_dict(state)
        with torch.no_grad():
            diffs.append(float((model(x) - ref_out).abs().max()))
        csr = model._csr(mm, model.n_mesh, mm.shape[1])

        def step(model=model):
            model.zero_grad(set_to_none=True)
            model(x).square().mean().backward()

        def bare(agg=agg, csr=csr, n=model.n_mesh):
            _aggregate(msg, mm[1], n, agg, csr).sum().backward()

        steps.append(step)
        bares.append(bare)
    t_step = _interleaved(steps, args.repeats)
    t_bare = _interleaved(bares, args.repeats * 5)
    rows = list(zip(aggs, t_step, t_bare, diffs))
    print(f"grid {args.grid} ({g.nlat} x {g.nlon}), mesh level {base.config['mesh_level']} ({base.n_mesh} vertices, "
          f"{mm.shape[1]} multi-mesh edges, {base.g2m_edges.shape[1]} grid->mesh, {base.m2g_edges.shape[1]} mesh->grid), "
          f"batch {args.batch}, latent {args.latent}, {args.n_layers} layers, torch {torch.__version__}, "
          f"torch_geometric {pyg or 'not installed'}, {torch.get_num_threads()} thread(s)")
    print("| aggregation | train step (ms) | ratio | bare sum fwd+bwd (ms) | ratio | max |out - index_add| |")
    print("|---|---|---|---|---|---|")
    for agg, ts, tb, d in rows:
        print(f"| {agg} | {ts * 1e3:.1f} | {ts / rows[0][1]:.2f} | {tb * 1e3:.3f} | {tb / rows[0][2]:.2f} | {d:.1e} |")


if __name__ == "__main__":
    main()
