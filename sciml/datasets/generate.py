"""Run a recipe into a store file: serially, on a local process pool, or on Dask distributed.

Samples are cut into fixed chunks of consecutive indices (``Recipe.chunk_size``); each chunk
is computed by the same pure function whatever the executor, so the finished file is
bit-identical for serial, process-pool and Dask runs, and a killed run resumes at the first
missing chunk (see :mod:`sciml.datasets.store`).
"""
from __future__ import annotations

import os
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Sequence

import numpy as np

from .. import __version__
from .._util.extras import require
from .recipes import Recipe, get_recipe
from .store import ShardDirectory, _now, open_dataset

__all__ = ["generate", "chunk_ranges"]

_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def chunk_ranges(n: int, chunk: int) -> list[range]:
    """``[range(0, chunk), range(chunk, 2 chunk), ...]`` covering ``0..n-1``."""
    return [range(s, min(s + chunk, n)) for s in range(0, n, chunk)]


def _solve_chunk(recipe: Recipe, params: dict, seed: int, indices: Sequence[int]):
    # One BLAS / torch thread per chunk in every executor: threaded reductions sum in an order
    # that depends on the thread count, and samples must be bit-identical whatever runs them.
    # Parallelism comes from workers (processes), one core each.
    if not _limited_by_caller:
        _pin_one_thread()
    return recipe.solve_chunk(params, seed, list(indices))


# True while generate() holds single-thread limits in this process (serial runs, in-process
# Dask threads). Elsewhere (pool / Dask worker processes) the first chunk pins the process to
# one thread for good: restoring limits from one thread and setting them again from another
# does not reliably take effect in OpenBLAS, so worker processes never restore.
_limited_by_caller = False
_pin_lock = threading.Lock()
_pinned = False


def _pin_one_thread():
    global _pinned
    with _pin_lock:
        if not _pinned:
            import torch  # before the limits, so its OpenMP runtime is among those limited
            from threadpoolctl import threadpool_limits

            threadpool_limits(limits=1)
            torch.set_num_threads(1)
            _pinned = True


@contextmanager
def _caller_one_thread():
    """Single-threaded BLAS/OpenMP/torch in the calling process for the duration of a run."""
    global _limited_by_caller
    import torch
    from threadpoolctl import threadpool_limits

    n_torch = torch.get_num_threads()
    with threadpool_limits(limits=1):
        torch.set_num_threads(1)
        _limited_by_caller = True
        try:
            yield
        finally:
            _limited_by_caller = False
            torch.set_num_threads(n_torch)


def _single_thread_worker():
    # Workers each own one core: pin BLAS/OpenMP/torch to one thread.
    for var in _THREAD_VARS:
        os.environ[var] = "1"
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:  # pragma: no cover
        pass


@contextmanager
def _env_single_thread():
    saved = {v: os.environ.get(v) for v in _THREAD_VARS}
    os.environ.update({v: "1" for v in _THREAD_VARS})
    try:
        yield
    finally:
        for v, old in saved.items():
            if old is None:
                os.environ.pop(v, None)
            else:
                os.environ[v] = old


def _check_args(n, seed, workers, out):
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n <= 0:
        raise ValueError(f"n must be a positive integer number of samples, got {n!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    if isinstance(workers, bool) or not isinstance(workers, (int, np.integer)) or workers < 1:
        raise ValueError(f"workers must be a positive integer, got {workers!r}")
    if out is None:
        raise ValueError("out must be a file path")
    out = Path(out)
    if out.is_dir():
        raise IsADirectoryError(f"out {out} is a directory; give a file path such as {out / 'data.h5'}")
    if not out.parent.exists():
        raise FileNotFoundError(f"output directory {out.parent} does not exist")
    return out


def generate(recipe, n: int, *, seed: int = 0, out, workers: int = 1, scheduler=None, progress: bool = True,
             **params) -> Path:
    """Generate ``n`` samples of ``recipe`` into the store file ``out``; return its path.

    recipe: a registered name (``"darcy"``, ...) or a :class:`Recipe`.
    workers: local processes (or Dask workers for ``scheduler="local"``).
    scheduler: ``None`` (serial / process pool), ``"local"`` (a dask LocalCluster with
        ``workers`` processes), a scheduler address ``"tcp://host:port"``, or a
        ``dask.distributed.Client``.
    params: recipe parameters (``resolution=421, subsample=5, chunk=8, ...``).

    Everything is validated before any work. An existing complete file with the same
    recipe, parameters, seed and n is returned as is; one made otherwise raises
    FileExistsError and is left untouched. An interrupted run with the same arguments
    resumes where it stopped.
    """
    rec = recipe if isinstance(recipe, Recipe) else get_recipe(recipe)
    out = _check_args(n, seed, workers, out)
    p = rec.resolve(**params)
    layout = rec.layout(p)
    n, seed = int(n), int(seed)
    chunks = chunk_ranges(n, rec.chunk_size(p))
    identity = {"recipe": rec.name, "params": p, "seed": seed, "n": n}

    if out.exists():
        with open_dataset(out) as ds:
            a = ds.attrs
            have = {"recipe": a.get("recipe"), "params": a["params"], "seed": a.get("seed"), "n": a.get("n")}
            done = bool(ds.complete.all())
        if have == identity and done:
            return out
        diff = [k for k in identity if have.get(k) != identity[k]]
        raise FileExistsError(f"{out} exists and was made with other {', '.join(diff) or 'settings'}; "
                              f"choose another output path or delete it")

    shards = ShardDirectory(out)
    if shards.exists():
        m = shards.read_manifest()
        if {k: m.get(k) for k in identity} != identity:
            raise FileExistsError(f"an interrupted run with other parameters exists at {shards.dir}; "
                                  f"rerun it with its own parameters or delete that directory")
        created = m["created"]
    else:
        created = _now()
        shards.create({**identity, "n_chunks": len(chunks), "created": created, "sciml_version": __version__})

    todo = sorted(set(range(len(chunks))) - shards.done())
    with _caller_one_thread(), \
            _Progress(progress, total=n, done=n - sum(len(chunks[c]) for c in todo), label=rec.name) as bar:
        for cid, arrays in _run(rec, p, seed, chunks, todo, workers, scheduler):
            shards.write(cid, chunks[cid], arrays, layout)
            bar.advance(len(chunks[cid]))

    attrs = {**identity, "chunk": rec.chunk_size(p), "sciml_version": __version__, "created": created}
    shards.assemble(layout, attrs, len(chunks))
    return out


def _run(rec, p, seed, chunks, todo, workers, scheduler):
    """Yield ``(chunk_id, arrays)`` as chunks finish."""
    if not todo:
        return
    if scheduler is not None:
        yield from _run_dask(rec, p, seed, chunks, todo, workers, scheduler)
    elif workers == 1:
        for cid in todo:
            yield cid, _solve_chunk(rec, p, seed, chunks[cid])
    else:
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor, as_completed
        from concurrent.futures.process import BrokenProcessPool

        with _env_single_thread(), ProcessPoolExecutor(
                max_workers=workers, mp_context=mp.get_context("spawn"), initializer=_single_thread_worker) as ex:
            futures = {ex.submit(_solve_chunk, rec, p, seed, list(chunks[cid])): cid for cid in todo}
            for fut in as_completed(futures):
                try:
                    result = fut.result()
                except BrokenProcessPool as exc:
                    raise RuntimeError(
                        "a worker process died (finished chunks are kept; rerun to resume). In a script, call "
                        "generate(..., workers>1) under `if __name__ == \"__main__\":` (worker processes are "
                        "spawned and re-import the script); otherwise the worker ran out of memory") from exc
                yield futures[fut], result


def _run_dask(rec, p, seed, chunks, todo, workers, scheduler):
    require("dask.distributed", "dask", "the Dask executor (scheduler=)")
    from dask.distributed import Client, LocalCluster, as_completed

    own_cluster = own_client = None
    if isinstance(scheduler, Client):
        client = scheduler
    elif scheduler == "local":
        with _env_single_thread():
            own_cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                       dashboard_address=None)
        client = own_client = Client(own_cluster)
    elif isinstance(scheduler, str):
        client = own_client = Client(scheduler)
    else:
        raise TypeError(f"scheduler must be None, 'local', an address string or a dask Client, "
                        f"got {type(scheduler).__name__}")
    try:
        futures = {client.submit(_solve_chunk, rec, p, seed, list(chunks[cid]), pure=False): cid for cid in todo}
        index = {f.key: cid for f, cid in futures.items()}
        for fut in as_completed(list(futures)):
            yield index[fut.key], fut.result()
    finally:
        if own_client is not None:
            own_client.close()
        if own_cluster is not None:
            own_cluster.close()


class _Progress:
    """A rich progress bar with samples/s and ETA (silent when ``enabled`` is False)."""

    def __init__(self, enabled: bool, total: int, done: int, label: str):
        self.enabled, self.total, self.done, self.label = enabled, total, done, label

    def __enter__(self):
        if self.enabled:
            from rich.progress import (BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TextColumn,
                                       TimeElapsedColumn, TimeRemainingColumn)
            from rich.text import Text

            class Rate(ProgressColumn):
                def render(self, task):
                    return Text(f"{task.speed:.2f} samples/s" if task.speed else "-- samples/s")

            self._p = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), Rate(),
                               TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn())
            self._p.__enter__()
            self._task = self._p.add_task(f"generate {self.label}", total=self.total, completed=self.done)
        return self

    def advance(self, k: int):
        if self.enabled:
            self._p.advance(self._task, k)

    def __exit__(self, *exc):
        if self.enabled:
            self._p.__exit__(*exc)
