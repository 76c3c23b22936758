"""Zero-mean centering of the normalised tracer input.

CO2 grows by ~2 ppm per year, so a network fed raw (even normalised) mixing ratios sees
inputs drift out of its training range. Centering removes the (weighted) global mean of each
sample before the network sees it: the network only sees the spatial structure, and the
increments it predicts do not depend on the global level.
"""
from __future__ import annotations

import torch

__all__ = ["normalize", "denormalize", "center", "uncenter"]


def _normalizer(x: torch.Tensor, mean, std):
    from ..datasets.loaders import UnitGaussianNormalizer  # the one normaliser

    return UnitGaussianNormalizer.per_channel(mean, std, spatial_dims=max(x.dim() - 2, 0), eps=0.0)


def normalize(x: torch.Tensor, mean, std) -> torch.Tensor:
    """``(x - mean) / std`` with scalar or per-channel (C,) statistics; x (B, C, ...)."""
    std_t = torch.as_tensor(std)
    if bool((std_t <= 0).any()):
        raise ValueError("std must be positive")
    return _normalizer(x, mean, std).encode(x)


def denormalize(x: torch.Tensor, mean, std) -> torch.Tensor:
    """Inverse of :func:`normalize`."""
    return _normalizer(x, mean, std).decode(x)


def center(x: torch.Tensor, weights: torch.Tensor | None = None):
    """Remove the per-sample global mean.

    Parameters
    ----------
    x : (B, C, *spatial) normalised field (levels in channels).
    weights : optional (*spatial) or (C, *spatial) non-negative weights (e.g. cos-lat or air mass);
        the mean is ``sum w x / sum w`` over all non-batch dimensions.

    Returns
    -------
    (x_centred, mean) with ``mean`` of shape (B,) so that ``uncenter(x_centred, mean) == x``.
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}")
    if x.dim() < 2:
        raise ValueError(f"x must have shape (B, C, *spatial), got {tuple(x.shape)}")
    if weights is None:
        mean = x.flatten(1).mean(dim=1)
    else:
        w = torch.as_tensor(weights, dtype=x.dtype, device=x.device).expand_as(x[0])
        if bool((w < 0).any()) or float(w.sum()) <= 0:
            raise ValueError("weights must be non-negative with a positive sum")
        mean = (x * w).flatten(1).sum(dim=1) / w.sum()
    return x - mean.view(-1, *([1] * (x.dim() - 1))), mean


def uncenter(x: torch.Tensor, mean: torch.Tensor) -> torch.Tensor:
    """Add back the per-sample mean (B,) removed by :func:`center`."""
    return x + mean.view(-1, *([1] * (x.dim() - 1)))
