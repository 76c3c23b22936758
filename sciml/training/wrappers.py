"""Model wrappers the trainer and checkpoints understand.

* :class:`NormalizedModel`: ``decode_out(model(encode_in(x)))``, so a model trained on
  normalised fields is used (and evaluated) on physical ones.
* :class:`RolloutModel`: an autoregressive step model unrolled over ``t_out`` frames
  (see :mod:`sciml.training.rollout`).
"""
from __future__ import annotations

import torch
from torch import nn

from ..datasets.loaders import UnitGaussianNormalizer

__all__ = ["NormalizedModel"]


class NormalizedModel(nn.Module):
    """``y = output_normalizer.decode(model(input_normalizer.encode(x)))``.

    Either normaliser may be ``None`` (identity). Shapes are those of ``model``.
    """

    def __init__(self, model: nn.Module, input_normalizer: UnitGaussianNormalizer | None = None,
                 output_normalizer: UnitGaussianNormalizer | None = None):
        super().__init__()
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        for name, n in (("input_normalizer", input_normalizer), ("output_normalizer", output_normalizer)):
            if n is not None and not isinstance(n, UnitGaussianNormalizer):
                raise TypeError(f"{name} must be a UnitGaussianNormalizer or None, got {type(n).__name__}")
        self.model = model
        self.input_normalizer = input_normalizer
        self.output_normalizer = output_normalizer

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.input_normalizer is not None:
            x = self.input_normalizer.encode(x)
        y = self.model(x)
        if self.output_normalizer is not None:
            y = self.output_normalizer.decode(y)
        return y
