"""Torch access to store files: a ``Dataset`` of (input, target) pairs, normalisers, splits.

``FieldDataset(path, inputs="a", outputs="u")`` yields ``(x, y)`` with ``x`` of shape
``(C_in, *spatial)`` (input fields stacked along channels) and ``y`` likewise. For a
trajectory field ``(N, T, C, *spatial)`` give ``t_in``/``t_out``: the first ``t_in`` frames
are the input ``(t_in, C, *spatial)`` and the next ``t_out`` frames the target.

Reads are lazy (one sample per read) and each DataLoader worker opens its own file
handle, so ``num_workers > 0`` works; ``in_memory=True`` reads the selected samples
once into tensors, which is much faster for datasets that fit in memory.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from torch import nn
from torch.utils.data import Dataset

from .store import open_dataset

__all__ = ["FieldDataset", "UnitGaussianNormalizer", "split_indices"]


def _names(value, what: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise TypeError(f"{what} must be a field name or a non-empty list of field names, got {value!r}")


def split_indices(n: int, sizes: Sequence[int | float], *, seed: int | None = 0,
                  available: np.ndarray | None = None) -> tuple[np.ndarray, ...]:
    """Split sample indices ``0..n-1`` into disjoint parts (train, test) or (train, val, test).

    sizes: counts (ints) or fractions of ``n`` (floats summing to <= 1).
    seed: a seeded permutation decides membership; ``None`` keeps the stored order
        (the FNO convention: the first ``n_train`` samples train, the last ``n_test`` test).
    available: optional boolean mask of usable samples (e.g. the store's ``complete``).
    Returns one sorted int64 array per part.
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    idx = np.arange(n) if available is None else np.flatnonzero(np.asarray(available, bool))
    m = idx.size
    if not isinstance(sizes, (list, tuple)) or not sizes:
        raise TypeError(f"sizes must be a non-empty list of counts or fractions, got {sizes!r}")
    if all(isinstance(s, float) for s in sizes):
        if any(s < 0 for s in sizes) or sum(sizes) > 1 + 1e-12:
            raise ValueError(f"fractional sizes must be >= 0 and sum to <= 1, got {sizes!r}")
        counts = [int(round(s * m)) for s in sizes]
        counts[-1] = min(counts[-1], m - sum(counts[:-1]))
    elif all(isinstance(s, (int, np.integer)) and not isinstance(s, bool) for s in sizes):
        counts = [int(s) for s in sizes]
        if any(c < 0 for c in counts):
            raise ValueError(f"sizes must be non-negative, got {sizes!r}")
    else:
        raise TypeError(f"sizes must be all ints (counts) or all floats (fractions), got {sizes!r}")
    if sum(counts) > m:
        raise ValueError(f"sizes {counts} need {sum(counts)} samples but only {m} are available")
    if seed is None:
        parts, start = [], 0
        for i, c in enumerate(counts):
            if i == len(counts) - 1 and len(counts) > 1:
                parts.append(idx[m - c:])  # the last part takes the last samples
            else:
                parts.append(idx[start:start + c])
                start += c
        return tuple(np.sort(p).astype(np.int64) for p in parts)
    perm = np.random.default_rng(seed).permutation(idx)
    out, start = [], 0
    for c in counts:
        out.append(np.sort(perm[start:start + c]).astype(np.int64))
        start += c
    return tuple(out)


class FieldDataset(Dataset):
    """(input, target) pairs read from a sciml store file.

    Parameters
    ----------
    path: store file written by :func:`sciml.datasets.generate` / ``save_dataset``.
    inputs, outputs: field name(s); several are concatenated along the channel axis.
    indices: which samples (default: all complete ones).
    t_in, t_out: for trajectory fields ``(N, T, C, *spatial)``: input = frames
        ``[0, t_in)``, target = frames ``[t_in, t_in + t_out)`` (``t_out=None``: the rest).
    in_memory: read the selected samples once into tensors.
    dtype: torch dtype of the returned tensors (default float32).

    ``ds[i]`` -> ``(x, y)``: ``(C_in, *spatial)``/``(C_out, *spatial)`` for fields,
    ``(t_in, C, *spatial)``/``(t_out, C, *spatial)`` for trajectories.
    """

    def __init__(self, path, inputs="a", outputs="u", *, indices=None, t_in: int | None = None,
                 t_out: int | None = None, in_memory: bool = False, dtype: torch.dtype = torch.float32):
        self.path = Path(path)
        self.inputs = _names(inputs, "inputs")
        self.outputs = _names(outputs, "outputs")
        if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
            raise TypeError(f"dtype must be a floating torch.dtype, got {dtype!r}")
        self.dtype = dtype
        with open_dataset(self.path) as ds:
            for name in self.inputs + self.outputs:
                if name not in ds:
                    raise ValueError(f"field {name!r} not in {self.path.name}; fields: {ds.fields}")
            shapes = {name: tuple(ds[name].shape) for name in set(self.inputs + self.outputs)}
            complete = ds.complete
            self.n_stored = ds.n
            self.coords = ds.coords
            self.attrs = ds.attrs
        nd = {len(s) for s in shapes.values()}
        if len(nd) != 1:
            raise ValueError(f"input and output fields must have the same number of axes, got {shapes}")
        self.trajectory = t_in is not None
        if self.trajectory:
            T = next(iter(shapes.values()))[1]
            if isinstance(t_in, bool) or not isinstance(t_in, int) or not 1 <= t_in < T:
                raise ValueError(f"t_in must be an integer in [1, {T - 1}] for {T} stored frames, got {t_in!r}")
            t_out = T - t_in if t_out is None else t_out
            if isinstance(t_out, bool) or not isinstance(t_out, int) or not 1 <= t_out <= T - t_in:
                raise ValueError(f"t_out must be an integer in [1, {T - t_in}], got {t_out!r}")
        elif t_out is not None:
            raise ValueError("t_out needs t_in (it is for trajectory fields)")
        self.t_in, self.t_out = t_in, t_out
        if indices is None:
            indices = np.flatnonzero(complete)
        indices = np.asarray(indices, dtype=np.int64).reshape(-1)
        if indices.size and (indices.min() < 0 or indices.max() >= self.n_stored):
            raise ValueError(f"indices must lie in [0, {self.n_stored}), got min {indices.min()} max {indices.max()}")
        if indices.size and not complete[indices].all():
            raise ValueError(f"indices include incomplete samples of {self.path.name}")
        self.indices = indices
        self._store = None
        self._pid = None
        self.in_memory = bool(in_memory)
        self._x = self._y = None
        if self.in_memory:
            self._x, self._y = self._read(self.indices)

    # -- reading --------------------------------------------------------------------------
    def _handle(self):
        # one handle per process: DataLoader workers are forked/spawned copies of this object
        if self._store is None or self._pid != os.getpid():
            self._store = open_dataset(self.path)
            self._pid = os.getpid()
        return self._store

    def _read(self, idx: np.ndarray):
        """Read samples ``idx`` (sorted or not) -> tensors ``(len(idx), ...)``."""
        ds = self._handle()
        order = np.argsort(idx, kind="stable")
        sorted_idx = idx[order]
        inverse = np.empty_like(order)
        inverse[order] = np.arange(order.size)

        def block(names, frames):
            arrays = []
            for name in names:
                d = ds[name]
                if len(sorted_idx) == 1:
                    a = d[int(sorted_idx[0])][None]
                else:
                    a = d[sorted_idx] if np.all(np.diff(sorted_idx) > 0) else np.stack([d[int(i)] for i in sorted_idx])
                if frames is not None:
                    a = a[:, frames]
                arrays.append(a)
            axis = 2 if self.trajectory else 1
            return torch.from_numpy(np.concatenate(arrays, axis=axis)[inverse]).to(self.dtype)

        if self.trajectory:
            fx, fy = slice(0, self.t_in), slice(self.t_in, self.t_in + self.t_out)
        else:
            fx = fy = None
        return block(self.inputs, fx), block(self.outputs, fy)

    def __len__(self) -> int:
        return int(self.indices.size)

    def __getitem__(self, i):
        if self.in_memory:
            return self._x[i], self._y[i]
        if not -len(self) <= i < len(self):
            raise IndexError(f"index {i} out of range for {len(self)} samples")
        x, y = self._read(self.indices[[i]])
        return x[0], y[0]

    def tensors(self) -> tuple[torch.Tensor, torch.Tensor]:
        """All selected samples as ``(X, Y)`` tensors (read now unless ``in_memory``)."""
        if self.in_memory:
            return self._x, self._y
        return self._read(self.indices)

    def get_batch(self, batch_indices) -> tuple[torch.Tensor, torch.Tensor]:
        """Positions ``batch_indices`` (into this dataset) as one batch ``(B, ...)``."""
        batch_indices = torch.as_tensor(batch_indices, dtype=torch.long)
        if self.in_memory:
            return self._x[batch_indices], self._y[batch_indices]
        return self._read(self.indices[batch_indices.numpy()])

    @property
    def sample_shapes(self) -> tuple[tuple[int, ...], tuple[int, ...]]:
        x, y = self[0]
        return tuple(x.shape), tuple(y.shape)

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_store"] = None  # h5py handles do not cross process boundaries
        state["_pid"] = None
        return state

    def close(self):
        if self._store is not None:
            self._store.close()
            self._store = None

    def __repr__(self):
        mode = "in memory" if self.in_memory else "lazy"
        return (f"FieldDataset({self.path.name}: {len(self)} samples, inputs={list(self.inputs)}, "
                f"outputs={list(self.outputs)}, {mode})")


class UnitGaussianNormalizer(nn.Module):
    """``encode(x) = (x - mean) / (std + eps)``, ``decode`` its inverse: sciml's one normaliser.

    Statistics are taken over ``reduce_dims`` of the training data, by default the batch
    axis only (pointwise mean and std, the FNO recipe); ``reduce_dims=(0, 2, 3)`` gives
    per-channel statistics of ``(N, C, H, W)`` data. ``mean``/``std`` are buffers, so they
    travel with ``.to(device)`` and ``state_dict()``; they are cast to the input's dtype and
    device when they differ (float64 statistics serve a float32 model unchanged).

    Build with :meth:`fit` (a tensor or an iterable of batches, streamed in float64) or, from
    known per-channel statistics (the emulators' :class:`~sciml.conservation.EmulatorStats`),
    with :meth:`per_channel`.

    Examples
    --------
    >>> x = torch.randn(100, 3, 8, 8)
    >>> norm = UnitGaussianNormalizer.fit(x)
    >>> bool(torch.allclose(norm.decode(norm.encode(x)), x, atol=1e-5))
    True
    """

    def __init__(self, mean: torch.Tensor, std: torch.Tensor, eps: float = 1e-5):
        super().__init__()
        mean, std = torch.as_tensor(mean), torch.as_tensor(std)
        if mean.shape != std.shape:
            raise ValueError(f"mean and std must have the same shape, got {tuple(mean.shape)} and {tuple(std.shape)}")
        if isinstance(eps, bool) or not (isinstance(eps, (int, float)) and eps >= 0 and np.isfinite(eps)):
            raise ValueError(f"eps must be a non-negative number, got {eps!r}")
        self.register_buffer("mean", mean.clone())
        self.register_buffer("std", std.clone())
        self.eps = float(eps)

    @classmethod
    def per_channel(cls, mean, std, spatial_dims: int, eps: float = 0.0) -> "UnitGaussianNormalizer":
        """Per-channel statistics ``(C,)`` (or scalars) for ``(B, C, *spatial)`` inputs with
        ``spatial_dims`` spatial axes; ``eps=0`` gives exactly ``(x - mean) / std``."""
        mean = torch.as_tensor(np.asarray(mean) if not isinstance(mean, torch.Tensor) else mean)
        std = torch.as_tensor(np.asarray(std) if not isinstance(std, torch.Tensor) else std)
        if mean.dim() == 1:
            mean = mean.reshape(-1, *([1] * spatial_dims))
        if std.dim() == 1:
            std = std.reshape(-1, *([1] * spatial_dims))
        mean, std = torch.broadcast_tensors(mean, std)
        return cls(mean, std, eps=eps)

    @classmethod
    def fit(cls, data, reduce_dims: Sequence[int] = (0,), eps: float = 1e-5, dtype: torch.dtype = torch.float32):
        """Statistics of ``data``: a tensor ``(N, ...)`` or an iterable of such batches."""
        reduce_dims = tuple(int(d) for d in reduce_dims)
        if 0 not in reduce_dims:
            raise ValueError(f"reduce_dims must include the batch axis 0, got {reduce_dims}")
        batches = [data] if isinstance(data, torch.Tensor) else data
        total = total2 = None
        count = 0
        for b in batches:
            b = torch.as_tensor(b).to(torch.float64)
            s = b.sum(dim=reduce_dims, keepdim=True)
            s2 = b.square().sum(dim=reduce_dims, keepdim=True)
            total = s if total is None else total + s
            total2 = s2 if total2 is None else total2 + s2
            count += int(np.prod([b.shape[d] for d in reduce_dims]))
        if total is None or count < 1:
            raise ValueError("data must hold at least one sample")
        mean = total / count
        var = (total2 / count - mean.square()).clamp_min(0.0)
        # drop the batch axis: stats broadcast against (B, ...) batches
        return cls(mean[0].to(dtype), var.sqrt()[0].to(dtype), eps=eps)

    def _stats(self, x: torch.Tensor):
        mean, std = self.mean, self.std
        if mean.dtype != x.dtype or mean.device != x.device:
            mean, std = mean.to(device=x.device, dtype=x.dtype), std.to(device=x.device, dtype=x.dtype)
        return mean, std

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """``(x - mean) / (std + eps)``, broadcasting the statistics against ``x``."""
        mean, std = self._stats(x)
        return (x - mean) / (std + self.eps)

    def decode(self, x: torch.Tensor) -> torch.Tensor:
        """``x * (std + eps) + mean``: the inverse of :meth:`encode`."""
        mean, std = self._stats(x)
        return x * (std + self.eps) + mean

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.encode(x)

    @property
    def config(self) -> dict:
        return {"shape": list(self.mean.shape), "eps": self.eps}

    @classmethod
    def from_config(cls, config: dict) -> "UnitGaussianNormalizer":
        """An unfitted normaliser of the right shape, to load a state dict into."""
        shape = tuple(config["shape"])
        return cls(torch.zeros(shape), torch.ones(shape), eps=float(config.get("eps", 1e-5)))

    def extra_repr(self) -> str:
        return f"shape={tuple(self.mean.shape)}, eps={self.eps:g}"
