"""Run a recipe into a store file: serially, on a local process pool, or on Dask distributed.

Samples are cut into fixed chunks of consecutive indices (``Recipe.chunk_size``); each chunk
is computed by the same pure function whatever the executor, so the finished file is
bit-identical for serial, process-pool and Dask runs, and a killed run resumes at the first
missing chunk (see :mod:`sciml.datasets.store`).

Faults end a run with one exception whose message is one line, keeping every finished
chunk so that the same call resumes: ``OSError`` for a full or failing disk (the space is
checked against :func:`estimate_bytes` before work; ENOSPC during writes is survived),
:class:`GenerationError` for a lost worker or an unreachable or empty Dask cluster.
The output is locked (:class:`sciml._util.io.OutputLock`) for the whole run.
"""
from __future__ import annotations

import threading
import time
import warnings
from collections.abc import Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from .. import __version__
from .._util.environment import describe_environment, software_environment
from .._util.extras import require
from .._util.io import OutputLock
from .._util.pool import process_pool, single_thread_env
from .._util.progress import progress as _progress
from .._util.validation import check_float, check_int
from .recipes import Recipe, get_recipe
from .shards import ShardDirectory
from .store import _now, open_dataset

__all__ = ["generate", "chunk_ranges", "estimate_bytes", "GenerationError"]


class GenerationError(RuntimeError):
    """A generation run could not finish (lost workers, unreachable scheduler); finished chunks
    are kept and the same call resumes. The message is one line."""


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


def _solve_and_write(recipe: Recipe, params: dict, seed: int, chunk_id: int, indices: Sequence[int], out: str) -> int:
    """Pool worker: solve a chunk and write its shard itself; return only the chunk id.

    The arrays never travel through the pool's result pipe: a message larger than the pipe's
    atomic write size that a killed worker leaves half-written blocks the parent's reader for
    good (the executor then never sees the death). A few-byte result is written atomically."""
    arrays = _solve_chunk(recipe, params, seed, indices)
    ShardDirectory(Path(out)).write(chunk_id, indices, arrays, recipe.layout(params))
    return chunk_id


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



# ---------------------------------------------------------------------------------------------
# sizes
# ---------------------------------------------------------------------------------------------
def estimate_bytes(recipe, n: int, params: dict | None = None) -> int:
    """Size in bytes of the finished store file of ``n`` samples (fields and coordinates,
    without HDF5's few kB of metadata).

    A run needs about twice this on the output's file system at its peak (the shards plus the
    assembled file). ``params`` are recipe parameters as for :func:`generate`.

    Examples
    --------
    >>> estimate_bytes("darcy", 100, {"resolution": 65, "subsample": 2})
    1743828
    """
    rec = recipe if isinstance(recipe, Recipe) else get_recipe(recipe)
    n = check_int(n, "n", min=1)
    p = rec.resolve(**dict(params or {}))
    total = n * rec.sample_bytes(p)
    for _dims, values, _units in rec.layout(p).coords.values():
        total += np.asarray(values).nbytes
    return int(total + 9 * n)  # + sample index (int64) and completion mask (bool)


def _check_disk(out: Path, need: int, what: str):
    from .._util.resources import check_disk

    check_disk(need, out.parent, what)


# ---------------------------------------------------------------------------------------------
# arguments
# ---------------------------------------------------------------------------------------------
def _check_args(n, seed, workers, out, scheduler_timeout):
    n = check_int(n, "n", min=1)
    seed = check_int(seed, "seed", min=0)
    workers = check_int(workers, "workers", min=1)
    check_float(scheduler_timeout, "scheduler_timeout", min=0, min_open=True)
    if out is None:
        raise ValueError("out must be a file path")
    out = Path(out)
    if out.is_dir():
        raise IsADirectoryError(f"out {out} is a directory; give a file path such as {out / 'data.h5'}")
    if not out.parent.exists():
        raise FileNotFoundError(f"output directory {out.parent} does not exist")
    return n, seed, workers, out


# Test hook: called with a stage name ("locked", "chunk") from inside generate(); tests use it
# to hold a run at a known point (a barrier) instead of sleeping.
_hook = None


def _at(stage: str, **info):
    if _hook is not None:
        _hook(stage, **info)


def generate(recipe, n: int, *, seed: int = 0, out, workers: int = 1, scheduler=None, progress: bool | None = None,
             scheduler_timeout: float = 30.0, **params) -> Path:
    """Generate ``n`` samples of ``recipe`` into the store file ``out``; return its path.

    Parameters
    ----------
    recipe : str or Recipe
        A registered name (``"darcy"``, ...) or a :class:`Recipe`.
    n : int
        Number of samples.
    seed : int
        Sample ``i`` depends only on ``(recipe, params, seed, i)``.
    out : path
        The store file (its folder must exist).
    workers : int
        Local processes (or Dask workers for ``scheduler="local"``).
    scheduler : None, "local", str or dask.distributed.Client
        ``None``: serial / process pool; ``"local"``: a dask LocalCluster with ``workers``
        processes; ``"tcp://host:port"``: a running scheduler; or a Client.
    progress : bool, optional
        Progress bar (``None``: shown on a terminal).
    scheduler_timeout : float
        Seconds to wait for a scheduler to answer, for a first worker to join, and, during
        the run, with no worker left, before failing with :class:`GenerationError`.
    **params
        Recipe parameters (``resolution=421, subsample=5, chunk=8, ...``).

    Returns
    -------
    Path
        ``out``.

    Raises
    ------
    ValueError, TypeError
        Bad arguments (before any work). ``DamagedDatasetError`` (a ValueError) when ``out``
        is a damaged store file.
    FileExistsError
        ``out`` exists and was made with other settings (left untouched).
    sciml._util.io.OutputLockedError
        Another process is writing ``out``.
    ValueError
        Not enough disk space for the shards and the final file (checked before work).
    OSError
        A disk error while writing (ENOSPC, EIO, ...); finished chunks are kept.
    GenerationError
        A worker died, or the Dask cluster is unreachable or has no workers; finished chunks
        are kept.

    Notes
    -----
    An existing complete file with the same recipe, parameters, seed and n is returned as
    is. An interrupted run with the same arguments resumes where it stopped (and removes the
    temporary files a killed run left).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "darcy.h5"
    >>> _ = generate("darcy", 2, out=out, resolution=16, subsample=1, progress=False)
    >>> with open_dataset(out) as ds:
    ...     ds["u"].shape
    (2, 1, 16, 16)
    """
    rec = recipe if isinstance(recipe, Recipe) else get_recipe(recipe)
    n, seed, workers, out = _check_args(n, seed, workers, out, scheduler_timeout)
    p = rec.resolve(**params)
    rec.check_resources(p, n)  # memory; the disk is checked under the lock, for what is left to do
    layout = rec.layout(p)
    chunks = chunk_ranges(n, rec.chunk_size(p))
    identity = {"recipe": rec.name, "params": p, "seed": seed, "n": n}
    if scheduler is not None and not isinstance(scheduler, str) and type(scheduler).__name__ != "Client":
        raise TypeError(f"scheduler must be None, 'local', an address string or a dask Client, "
                        f"got {type(scheduler).__name__}")
    if workers > 1 or scheduler is not None:
        _check_sendable(rec)

    with OutputLock(out):
        _at("locked", out=out)
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
            started_with = m.get("environment")
        else:
            created = None
        shards.remove_stale_temporaries()
        todo = sorted(set(range(len(chunks))) - (shards.done() if created else set()))
        final = estimate_bytes(rec, n, {k: v for k, v in p.items()})
        _check_disk(out, final + int(final * len(todo) / max(len(chunks), 1)),
                    f"{out} (recipe {rec.name!r}, n={n:,}: shards + final file)")
        environment = software_environment()
        if created is None:
            created, started_with = _now(), environment
            shards.create({**identity, "n_chunks": len(chunks), "created": created, "sciml_version": __version__,
                           "environment": environment})
        # samples made now by other software than the earlier chunks' (a resume that only assembles makes none)
        resumed_otherwise = bool(todo) and started_with is not None and started_with != environment
        if resumed_otherwise:
            warnings.warn("resuming with other libraries or BLAS kernels than the run that started this file "
                          f"({describe_environment(environment)}; started with {describe_environment(started_with)}):"
                          " its samples can differ in their last bits from an uninterrupted run's", stacklevel=2)

        with _caller_one_thread(), _progress(n, f"generate {rec.name}", enabled=progress, unit="samples",
                                             done=n - sum(len(chunks[c]) for c in todo)) as bar:
            for cid, arrays in _run(rec, p, seed, chunks, todo, workers, scheduler, scheduler_timeout, shards):
                if arrays is not None:  # None: a pool worker wrote the shard
                    shards.write(cid, chunks[cid], arrays, layout)
                bar.advance(len(chunks[cid]))
                _at("chunk", chunk=cid)

        attrs = {**identity, "chunk": rec.chunk_size(p), "sciml_version": __version__, "created": created,
                 "environment": started_with if started_with is not None else environment}
        if resumed_otherwise:
            attrs["resumed_environment"] = environment
        _at("assemble", out=out)
        shards.assemble(layout, attrs, len(chunks))
    return out


def _check_sendable(rec: Recipe) -> None:
    """Refuse, before any work, a recipe that worker processes cannot receive (pickle)."""
    import pickle

    try:
        pickle.dumps(rec)
    except (pickle.PicklingError, AttributeError, TypeError) as e:
        raise ValueError(f"recipe {rec.name!r} cannot be sent to worker processes ({e}); define its functions "
                         "at module level (not lambdas or closures), or use workers=1") from None


def _run(rec, p, seed, chunks, todo, workers, scheduler, timeout, shards):
    """Yield ``(chunk_id, arrays)`` as chunks finish."""
    if not todo:
        return
    if scheduler is not None:
        yield from _run_dask(rec, p, seed, chunks, todo, workers, scheduler, timeout, shards)
    elif workers == 1:
        for cid in todo:
            yield cid, _solve_chunk(rec, p, seed, chunks[cid])
    else:
        from concurrent.futures import as_completed
        from concurrent.futures.process import BrokenProcessPool

        with single_thread_env(), process_pool(workers) as ex:
            futures = {ex.submit(_solve_and_write, rec, p, seed, cid, list(chunks[cid]), str(shards.out)): cid
                       for cid in todo}
            for fut in as_completed(futures):
                try:
                    fut.result()
                except BrokenProcessPool:
                    for f in futures:
                        f.cancel()
                    raise GenerationError(
                        f"a worker process died (out of memory or killed); the {len(shards.done())} finished "
                        f"chunks are kept in {shards.dir}: rerun to resume (in a script, call generate(..., "
                        f"workers>1) under `if __name__ == \"__main__\":`)") from None
                yield futures[fut], None


def _run_dask(rec, p, seed, chunks, todo, workers, scheduler, timeout, shards):
    require("dask.distributed", "dask", "the Dask executor (scheduler=)")
    from dask.distributed import Client, LocalCluster, wait

    own_cluster = own_client = None
    if scheduler == "local":
        with single_thread_env():
            own_cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                       dashboard_address=None)
        client = own_client = Client(own_cluster)
    elif isinstance(scheduler, str):
        try:
            client = own_client = _connect(scheduler, timeout)
        except (OSError, TimeoutError) as exc:
            raise GenerationError(f"cannot reach the Dask scheduler {scheduler} within {timeout:g} s "
                                  f"({type(exc).__name__})") from None
    else:
        client = scheduler
    try:
        try:
            client.wait_for_workers(1, timeout=timeout)
        except (OSError, TimeoutError):
            raise GenerationError(f"no Dask worker joined the scheduler {client.scheduler.address} within "
                                  f"{timeout:g} s") from None
        futures = {client.submit(_solve_chunk, rec, p, seed, list(chunks[cid]), pure=False): cid for cid in todo}
        pending = set(futures)
        idle_since = None
        while pending:
            try:
                done = set(wait(list(pending), timeout=min(1.0, timeout), return_when="FIRST_COMPLETED").done)
            except TimeoutError:
                done = set()
            got = False
            for fut in done:
                try:
                    # a finished chunk whose worker is lost goes back to pending: wait for it again
                    result = fut.result(timeout=min(1.0, timeout))
                except TimeoutError:
                    continue
                except Exception as exc:  # noqa: BLE001 - a lost worker (KilledWorker) or a failed task
                    if type(exc).__name__ != "KilledWorker":
                        raise
                    raise GenerationError(f"Dask workers died running chunk {futures[fut]} "
                                          f"({len(shards.done())} finished chunks are kept in {shards.dir}; "
                                          f"rerun to resume)") from None
                pending.discard(fut)
                got = True
                yield futures[fut], result
            if got or client.nthreads():  # asks the scheduler (scheduler_info() is a cached copy)
                idle_since = None
            else:
                idle_since = idle_since or time.monotonic()
                if time.monotonic() - idle_since > timeout:
                    raise GenerationError(f"no Dask worker left for {timeout:g} s ({len(pending)} chunks not done; "
                                          f"{len(shards.done())} finished chunks are kept in {shards.dir}; "
                                          f"rerun to resume)")
    finally:
        if own_client is not None:
            own_client.close()
        if own_cluster is not None:
            own_cluster.close()


def _connect(address: str, timeout: float):
    """A Client for ``address`` that gives up after ``timeout`` seconds, without dask's
    connection-retry log lines."""
    import logging

    from dask.distributed import Client

    quiet = [logging.getLogger(n) for n in ("distributed.client", "distributed.core", "distributed.comm")]
    levels = [lg.level for lg in quiet]
    for lg in quiet:
        lg.setLevel(logging.CRITICAL)
    try:
        return Client(address, timeout=timeout)
    finally:
        for lg, lv in zip(quiet, levels):
            lg.setLevel(lv)
