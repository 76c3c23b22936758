"""Autoregressive rollouts for trajectory data ``(batch, time, channels, *spatial)``.

A *step model* maps a window of the last ``t_in`` frames, flattened into channels
``(batch, t_in * C, *spatial)``, to the next ``step`` frames ``(batch, step * C, *spatial)``
(the FNO-2D Navier-Stokes set-up: 10 frames in, one out, repeated). :class:`RolloutModel`
unrolls it over ``t_out`` frames, so a trajectory model is an ordinary
``nn.Module`` ``(B, t_in, C, *s) -> (B, t_out, C, *s)`` that the :class:`Trainer` trains
with back-propagation through the whole rollout, and :func:`rollout_errors` gives the
per-step error curve that leaderboards report. :class:`SpaceTimeModel` is the other way
to the same signature: one call of an operator over space *and* time (the FNO-3D set-up).
"""
from __future__ import annotations

import torch
from torch import nn

from .._util.validation import check_int

__all__ = ["RolloutModel", "SpaceTimeModel", "rollout", "rollout_errors"]


def rollout(model: nn.Module, window: torch.Tensor, n_frames: int, *, step: int = 1,
            detach: bool = False) -> torch.Tensor:
    """Unroll ``model`` from ``window`` ``(B, t_in, C, *s)`` for ``n_frames`` frames.

    Each call sees the latest ``t_in`` frames flattened to ``(B, t_in * C, *s)`` and must
    return ``(B, step * C, *s)``. Returns ``(B, n_frames, C, *s)``. ``detach=True`` cuts
    the gradient between calls (one-step training, cheaper memory).
    """
    n_frames = check_int(n_frames, "n_frames", min=1)
    step = check_int(step, "step", min=1)
    if window.ndim < 4:
        raise ValueError(f"window must be (batch, time, channels, *spatial), got shape {tuple(window.shape)}")
    b, t_in, c, *spatial = window.shape
    frames = []
    produced = 0
    current = window
    while produced < n_frames:
        out = model(current.reshape(b, t_in * c, *spatial))
        if out.shape != (b, step * c, *spatial):
            raise ValueError(f"step model returned shape {tuple(out.shape)}, expected {(b, step * c, *spatial)}")
        out = out.reshape(b, step, c, *spatial)
        frames.append(out)
        produced += step
        nxt = out.detach() if detach else out
        current = torch.cat([current, nxt], dim=1)[:, -t_in:]
    return torch.cat(frames, dim=1)[:, :n_frames]


class _TrajectoryModel(nn.Module):
    """``(B, t_in, C, *s) -> (B, t_out, C, *s)`` around one inner ``model`` (the shared part of the two)."""

    def __init__(self, model: nn.Module, t_in: int, t_out: int):
        super().__init__()
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        self.model = model
        self.t_in = check_int(t_in, "t_in", min=1)
        self.t_out = check_int(t_out, "t_out", min=1)

    @property
    def config(self) -> dict:
        return {"t_in": self.t_in, "t_out": self.t_out}

    def _check_window(self, x: torch.Tensor) -> None:
        if x.ndim < 4 or x.shape[1] != self.t_in:
            raise ValueError(f"expected (batch, {self.t_in}, channels, *spatial), got shape {tuple(x.shape)}")


class RolloutModel(_TrajectoryModel):
    """``(B, t_in, C, *s) -> (B, t_out, C, *s)`` by repeated calls of a step model.

    Parameters
    ----------
    model: step model ``(B, t_in * C, *s) -> (B, step * C, *s)``.
    t_in: frames in the input window (10 for the NS task).
    t_out: frames to predict (40 for ns-1e-3, T = 50).
    step: frames produced per call.
    detach: cut gradients between calls (no back-propagation through time).
    """

    def __init__(self, model: nn.Module, t_in: int, t_out: int, step: int = 1, detach: bool = False):
        super().__init__(model, t_in, t_out)
        self.step = check_int(step, "step", min=1)
        self.detach = bool(detach)

    @property
    def config(self) -> dict:
        return {**super().config, "step": self.step, "detach": self.detach}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check_window(x)
        return rollout(self.model, x, self.t_out, step=self.step, detach=self.detach)


class SpaceTimeModel(_TrajectoryModel):
    r"""``(B, t_in, C, *s) -> (B, t_out, C, *s)`` in one call of an operator on space-time.

    The input window, flattened to ``t_in * C`` channels, is repeated along a new last axis
    of ``t_out`` points, one per predicted frame, and ``model`` maps that block
    ``(B, t_in * C, *s, t_out) -> (B, C, *s, t_out)``: time is one more axis of the
    operator, so every frame is predicted at once and nothing compounds step by step
    (Li et al. 2021, FNO-3D for Navier-Stokes: 10 frames in, an FNO over
    :math:`(x, y, t)`, 40 frames out). Time is not periodic: give the model a padding along
    the last axis (FNO-3D: 6 of 40 points) and a non-periodic coordinate embedding.

    Parameters
    ----------
    model: an ``(n + 1)``-D operator with ``t_in * C`` input and ``C`` output channels.
    t_in: frames in the input window. t_out: frames predicted (the time axis length).

    Examples
    --------
    >>> import torch
    >>> from sciml.operators import FNO
    >>> net = SpaceTimeModel(FNO(in_channels=10, out_channels=1, n_modes=(8, 8, 8), hidden_channels=8,
    ...                          domain_padding=[0.0, 0.0, 0.15]), t_in=10, t_out=40)
    >>> net(torch.randn(2, 10, 1, 16, 16)).shape
    torch.Size([2, 40, 1, 16, 16])
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check_window(x)
        b, t_in, c, *spatial = x.shape
        block = x.reshape(b, t_in * c, *spatial, 1).expand(*([-1] * (len(spatial) + 2)), self.t_out)
        out = self.model(block)
        if out.shape != (b, c, *spatial, self.t_out):
            raise ValueError(f"space-time model returned shape {tuple(out.shape)}, expected "
                             f"{(b, c, *spatial, self.t_out)}")
        return out.movedim(-1, 1)


@torch.no_grad()
def rollout_errors(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, batch_size: int = 32) -> torch.Tensor:
    """Relative L2 error per predicted frame, averaged over samples: shape ``(t_out,)``.

    model: a trajectory model ``(B, t_in, C, *s) -> (B, t_out, C, *s)`` (e.g. a
    :class:`RolloutModel`); x ``(N, t_in, C, *s)``, y ``(N, t_out, C, *s)``.
    """
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"x and y must hold the same number of samples, got {x.shape[0]} and {y.shape[0]}")
    was_training = model.training
    model.eval()
    param = next(model.parameters(), None)
    device = param.device if param is not None else x.device
    total = torch.zeros(y.shape[1], dtype=torch.float64)
    for i in range(0, x.shape[0], batch_size):
        pred = model(x[i:i + batch_size].to(device)).cpu()
        true = y[i:i + batch_size]
        if pred.shape != true.shape:
            raise ValueError(f"model returned {tuple(pred.shape)}, expected {tuple(true.shape)}")
        diff = (pred - true).flatten(2).norm(dim=2)
        total += (diff / true.flatten(2).norm(dim=2)).sum(0).double()
    model.train(was_training)
    return total / x.shape[0]
