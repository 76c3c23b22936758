"""Evaluation metrics on batches ``(batch, ..., *spatial)``; each returns one value per sample.

``relative_l2`` is the neural-operator leaderboard metric; ``nrmse`` is PDEBench's and
``vrmse`` The Well's (``sqrt(MSE / Var(true))``).
"""
from __future__ import annotations

import torch

__all__ = ["relative_l2", "mse", "rmse", "nrmse", "vrmse", "max_error", "METRICS"]


def _check(pred: torch.Tensor, true: torch.Tensor):
    if pred.shape != true.shape:
        raise ValueError(f"pred and true must have the same shape, got {tuple(pred.shape)} and {tuple(true.shape)}")
    if pred.ndim < 2:
        raise ValueError(f"expected (batch, ...) tensors, got shape {tuple(pred.shape)}")
    return pred.reshape(pred.shape[0], -1), true.reshape(true.shape[0], -1)


def relative_l2(pred: torch.Tensor, true: torch.Tensor) -> torch.Tensor:
    """``||pred - true||_2 / ||true||_2`` per sample, shape ``(batch,)``.

    Examples
    --------
    >>> true = torch.tensor([[3.0, 4.0], [1.0, 0.0]])
    >>> relative_l2(true + torch.tensor([[0.0, 0.5], [0.1, 0.0]]), true)
    tensor([0.1000, 0.1000])
    """
    p, t = _check(pred, true)
    return torch.linalg.vector_norm(p - t, dim=1) / torch.linalg.vector_norm(t, dim=1)


def mse(pred: torch.Tensor, true: torch.Tensor) -> torch.Tensor:
    """Mean squared error per sample, shape ``(batch,)``."""
    p, t = _check(pred, true)
    return (p - t).square().mean(1)


def rmse(pred: torch.Tensor, true: torch.Tensor) -> torch.Tensor:
    """Root mean squared error per sample, shape ``(batch,)``."""
    return mse(pred, true).sqrt()


def nrmse(pred: torch.Tensor, true: torch.Tensor) -> torch.Tensor:
    """RMSE normalised by the RMS of ``true`` per sample (PDEBench nRMSE), shape ``(batch,)``."""
    p, t = _check(pred, true)
    return (p - t).square().mean(1).sqrt() / t.square().mean(1).sqrt()


def vrmse(pred: torch.Tensor, true: torch.Tensor, eps: float = 1e-7) -> torch.Tensor:
    """``sqrt(MSE / Var(true))`` per sample (The Well's VRMSE), shape ``(batch,)``.

    Examples
    --------
    >>> true = torch.tensor([[1.0, -1.0, 1.0, -1.0]])   # variance 1
    >>> vrmse(true.mean() + 0 * true, true)              # predicting the mean scores about 1
    tensor([1.0000])
    """
    p, t = _check(pred, true)
    return ((p - t).square().mean(1) / (t.var(1, unbiased=False) + eps)).sqrt()


def max_error(pred: torch.Tensor, true: torch.Tensor) -> torch.Tensor:
    """Largest absolute pointwise error per sample, shape ``(batch,)``."""
    p, t = _check(pred, true)
    return (p - t).abs().amax(1)


METRICS = {"rel_l2": relative_l2, "mse": mse, "rmse": rmse, "nrmse": nrmse, "vrmse": vrmse, "max_error": max_error}
