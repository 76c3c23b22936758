"""The batches a :class:`~sciml.training.Trainer` draws: one reproducible order per epoch.

The order of an epoch is a permutation from the trainer's own ``torch.Generator`` (single
process) or a ``DistributedSampler`` seeded by ``(seed, epoch)`` (under ``torchrun``: each rank
its share), so a resumed run draws the same batches as an uninterrupted one. In-memory data
(a two-tensor ``TensorDataset``, or a dataset with ``in_memory`` and ``get_batch``) is indexed
directly; anything else goes through a ``DataLoader`` with that batch order.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Iterator

import torch
from torch.utils.data import DataLoader, Dataset, TensorDataset

__all__ = ["check_dataset", "fast_getter", "epoch_batches", "n_batches", "ordered_batches"]


def check_dataset(data, name: str) -> None:
    """``TypeError`` unless ``data`` is a torch ``Dataset``; ``ValueError`` if it is empty."""
    if not isinstance(data, Dataset):
        raise TypeError(f"{name} must be a torch Dataset of (x, y) pairs, got {type(data).__name__}")
    if len(data) == 0:
        raise ValueError(f"{name} is empty")


def fast_getter(data, num_workers: int = 0) -> Callable | None:
    """In-memory data: a ``get(indices) -> (x, y)`` function; None where a ``DataLoader`` is needed."""
    if num_workers:
        return None
    if isinstance(data, TensorDataset) and len(data.tensors) == 2:
        return lambda idx: (data.tensors[0][idx], data.tensors[1][idx])
    if getattr(data, "in_memory", False) and hasattr(data, "get_batch"):
        return data.get_batch
    return None


def n_batches(n: int, batch_size: int, world_size: int = 1) -> int:
    """Batches per epoch for ``n`` samples (per rank under ``world_size`` ranks)."""
    if world_size > 1:
        n = math.ceil(n / world_size)
    return math.ceil(n / batch_size)


def epoch_batches(data, epoch: int, *, batch_size: int, generator: torch.Generator, seed: int,
                  world_size: int = 1, rank: int = 0, num_workers: int = 0) -> Iterator:
    """Yield the ``(x, y)`` batches of one epoch in its reproducible order (see the module docstring)."""
    if world_size > 1:
        from torch.utils.data.distributed import DistributedSampler

        sampler = DistributedSampler(data, num_replicas=world_size, rank=rank, shuffle=True, seed=seed)
        sampler.set_epoch(epoch)
        order = torch.tensor(list(iter(sampler)), dtype=torch.long)
    else:
        order = torch.randperm(len(data), generator=generator)
    chunks = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    get = fast_getter(data, num_workers)
    if get is not None:
        for idx in chunks:
            yield get(idx)
        return
    yield from DataLoader(data, batch_sampler=[c.tolist() for c in chunks], num_workers=num_workers,
                          persistent_workers=False)


def ordered_batches(data, batch_size: int, num_workers: int = 0) -> Iterator:
    """Yield ``(x, y)`` batches of ``data`` in stored order (evaluation, prediction)."""
    get = fast_getter(data, num_workers)
    n = len(data)
    if get is not None:
        return (get(torch.arange(i, min(i + batch_size, n))) for i in range(0, n, batch_size))
    return iter(DataLoader(data, batch_size=batch_size, shuffle=False, num_workers=num_workers))
