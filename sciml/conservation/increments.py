"""Increment (delta) prediction with one-step difference statistics.

The network predicts ``y = (q(t+1) - q(t) - diff_mean) / diff_std`` (per level), a target of
order one; ``apply_increment`` maps it back. Statistics come from training trajectories.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

__all__ = ["EmulatorStats", "compute_stats", "to_increment", "apply_increment"]


@dataclass
class EmulatorStats:
    """Normalisation statistics of an emulator (per level / per forcing channel, float64 numpy).

    q_mean, q_std : (L,) tracer mixing-ratio statistics.
    diff_mean, diff_std : (L,) statistics of one-step differences ``q(t+1) - q(t)``.
    forcing_mean, forcing_std : (C_f,) statistics of the forcing channels (may be empty).
    air_mass_mean : (L,) mean air mass per cell and level (sets the flux-head scale).
    """

    q_mean: np.ndarray
    q_std: np.ndarray
    diff_mean: np.ndarray
    diff_std: np.ndarray
    forcing_mean: np.ndarray = field(default_factory=lambda: np.zeros(0))
    forcing_std: np.ndarray = field(default_factory=lambda: np.ones(0))
    air_mass_mean: np.ndarray | None = None

    def __post_init__(self):
        for name in ("q_mean", "q_std", "diff_mean", "diff_std", "forcing_mean", "forcing_std"):
            setattr(self, name, np.asarray(getattr(self, name), dtype=np.float64).reshape(-1))
        L = self.q_mean.size
        for name in ("q_std", "diff_mean", "diff_std"):
            if getattr(self, name).size != L:
                raise ValueError(f"stats.{name} must have {L} entries (one per level)")
        if self.forcing_mean.size != self.forcing_std.size:
            raise ValueError("stats.forcing_mean and stats.forcing_std must have the same length")
        for name in ("q_std", "diff_std", "forcing_std"):
            if (getattr(self, name) <= 0).any():
                raise ValueError(f"stats.{name} must be positive")
        if self.air_mass_mean is not None:
            self.air_mass_mean = np.asarray(self.air_mass_mean, dtype=np.float64).reshape(-1)
            if self.air_mass_mean.size != L:
                raise ValueError(f"stats.air_mass_mean must have {L} entries")

    @property
    def n_levels(self) -> int:
        return int(self.q_mean.size)

    @property
    def n_forcing(self) -> int:
        return int(self.forcing_mean.size)

    def normalizer(self, which: str = "q", spatial_dims: int = 2):
        """The :class:`~sciml.datasets.loaders.UnitGaussianNormalizer` (eps 0, float64 statistics) of
        ``which`` in ``("q", "diff", "forcing")``: the one normaliser, as the emulator applies it."""
        from ..datasets.loaders import UnitGaussianNormalizer

        if which not in ("q", "diff", "forcing"):
            raise ValueError(f"which must be 'q', 'diff' or 'forcing', got {which!r}")
        return UnitGaussianNormalizer.per_channel(getattr(self, f"{which}_mean"), getattr(self, f"{which}_std"),
                                                  spatial_dims, eps=0.0)

    def to_dict(self) -> dict:
        """JSON-serialisable dict (lists of floats)."""
        d = {k: getattr(self, k) for k in ("q_mean", "q_std", "diff_mean", "diff_std", "forcing_mean", "forcing_std")}
        d["air_mass_mean"] = self.air_mass_mean
        return {k: (None if v is None else [float(x) for x in v]) for k, v in d.items()}

    @classmethod
    def from_dict(cls, d: dict) -> EmulatorStats:
        return cls(**d)


def compute_stats(q: np.ndarray, forcing: np.ndarray | None = None, air_mass: np.ndarray | None = None,
               eps: float = 1e-12) -> EmulatorStats:
    """Statistics from a trajectory.

    q : (T, L, lat, lon) mixing ratio; forcing : (T, C_f, lat, lon) or None;
    air_mass : (T, L, lat, lon) or None. T >= 2.
    """
    q = np.asarray(q, dtype=np.float64)
    if q.ndim != 4 or q.shape[0] < 2:
        raise ValueError(f"q must have shape (T >= 2, L, lat, lon), got {q.shape}")
    axes = (0, 2, 3)
    d = np.diff(q, axis=0)
    kw = {}
    if forcing is not None:
        forcing = np.asarray(forcing, dtype=np.float64)
        if forcing.ndim != 4 or forcing.shape[0] != q.shape[0]:
            raise ValueError(f"forcing must have shape (T, C_f, lat, lon) with T={q.shape[0]}, got {forcing.shape}")
        kw["forcing_mean"] = forcing.mean(axis=axes)
        kw["forcing_std"] = np.maximum(forcing.std(axis=axes), eps)
    if air_mass is not None:
        kw["air_mass_mean"] = np.asarray(air_mass, dtype=np.float64).mean(axis=axes)
    return EmulatorStats(q_mean=q.mean(axis=axes), q_std=np.maximum(q.std(axis=axes), eps),
                         diff_mean=d.mean(axis=axes), diff_std=np.maximum(d.std(axis=axes), eps), **kw)


def _lv(x: torch.Tensor, v) -> torch.Tensor:
    return torch.as_tensor(v, dtype=x.dtype, device=x.device).view(1, -1, *([1] * (x.dim() - 2)))


def to_increment(q_now: torch.Tensor, q_next: torch.Tensor, stats: EmulatorStats) -> torch.Tensor:
    """Normalised increment target (B, L, ...) = (q_next - q_now - diff_mean) / diff_std."""
    return (q_next - q_now - _lv(q_now, stats.diff_mean)) / _lv(q_now, stats.diff_std)


def apply_increment(q_now: torch.Tensor, y: torch.Tensor, stats: EmulatorStats) -> torch.Tensor:
    """Inverse of :func:`to_increment`: ``q_now + y diff_std + diff_mean``."""
    return q_now + y * _lv(q_now, stats.diff_std) + _lv(q_now, stats.diff_mean)
