"""The one local process pool: spawn start method, one thread per worker, workers die with the parent.

``process_pool(workers)`` returns a ``concurrent.futures.ProcessPoolExecutor`` whose workers

* are *spawned* (a fresh interpreter: no inherited locks, OpenMP state or CUDA context, the
  same behaviour on Linux and macOS), so the submitted function and its arguments must be
  picklable and a script must guard its entry point with ``if __name__ == "__main__":``;
* run BLAS / OpenMP / torch on one thread each (parallelism comes from the workers, and
  threaded reductions would make results depend on the thread count);
* exit on their own within about a second when the parent process dies (even by SIGKILL),
  instead of staying behind as orphans holding memory.

A worker that dies makes the pool raise ``concurrent.futures.process.BrokenProcessPool``;
callers turn that into a one-line error naming what was kept.

Examples
--------
>>> with process_pool(2) as pool:
...     sorted(pool.map(abs, [-1, -2]))
[1, 2]
"""
from __future__ import annotations

import multiprocessing as mp
import os
import threading
from concurrent.futures import ProcessPoolExecutor

__all__ = ["process_pool", "THREAD_VARS", "single_thread_env"]

THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
_WATCH_INTERVAL_S = 0.25


def _watch_parent(parent_pid: int):
    import time

    while True:
        if os.getppid() != parent_pid:
            os._exit(1)
        time.sleep(_WATCH_INTERVAL_S)


def _worker_init(parent_pid: int, initializer, initargs):
    if os.getppid() != parent_pid:
        os._exit(1)
    threading.Thread(target=_watch_parent, args=(parent_pid,), name="sciml-parent-watch", daemon=True).start()
    for var in THREAD_VARS:
        os.environ[var] = "1"
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:  # pragma: no cover
        pass
    if initializer is not None:
        initializer(*initargs)


class single_thread_env:
    """Set the thread variables to 1 in this process's environment for the block (children
    spawned inside inherit them before any library reads them), then restore them."""

    def __enter__(self):
        self._saved = {v: os.environ.get(v) for v in THREAD_VARS}
        os.environ.update({v: "1" for v in THREAD_VARS})
        return self

    def __exit__(self, *exc):
        for v, old in self._saved.items():
            if old is None:
                os.environ.pop(v, None)
            else:
                os.environ[v] = old
        return False


def process_pool(workers: int, *, initializer=None, initargs=()) -> ProcessPoolExecutor:
    """A spawn-context ``ProcessPoolExecutor`` of ``workers`` single-threaded processes that exit
    when this process dies; ``initializer(*initargs)`` runs in each worker after that setup."""
    return ProcessPoolExecutor(max_workers=int(workers), mp_context=mp.get_context("spawn"),
                               initializer=_worker_init, initargs=(os.getpid(), initializer, tuple(initargs)))
