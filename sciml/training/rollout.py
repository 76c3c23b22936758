"""Autoregressive rollouts for trajectory data ``(batch, time, channels, *spatial)``.

A *step model* maps a window of the last ``t_in`` frames, flattened into channels
``(batch, t_in * C, *spatial)``, to the next ``step`` frames ``(batch, step * C, *spatial)``
(the FNO-2D Navier-Stokes set-up: 10 frames in, one out, repeated). :class:`RolloutModel`
unrolls it over ``t_out`` frames, so a trajectory model is an ordinary
``nn.Module`` ``(B, t_in, C, *s) -> (B, t_out, C, *s)`` that the :class:`Trainer` trains
with back-propagation through the whole rollout, and :func:`rollout_errors` gives the
per-step error curve that leaderboards report. :class:`SpaceTimeModel` is the other way
to the same signature: one call of an operator over space *and* time (the FNO-3D set-up).
:class:`TrajectoryWindows` cuts trajectories into short training windows for teacher-forced
(one-step) or briefly unrolled training of a :class:`RolloutModel` with ``train_frames``.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.utils.data import Dataset

from .._util.validation import check_int

__all__ = ["RolloutModel", "SpaceTimeModel", "TrajectoryWindows", "rollout", "rollout_errors"]


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
    train_frames: frames unrolled in training mode (``model.train()``); ``None``: ``t_out``. With
        ``1`` the step model is trained by teacher forcing on windows of the true trajectory
        (:class:`TrajectoryWindows`), with ``k`` by ``k``-frame unrolls from true windows; in
        evaluation mode the model always rolls out ``t_out`` frames. The FNO code trains its
        FNO-2D through the whole rollout (``None``); short windows give one optimiser step per
        window batch instead of one per trajectory batch, for the same cost per epoch.

    Examples
    --------
    >>> import torch
    >>> from sciml.operators import FNO
    >>> net = RolloutModel(FNO(in_channels=10, out_channels=1, n_modes=(8, 8), hidden_channels=8),
    ...                    t_in=10, t_out=40, train_frames=1)
    >>> net.eval()(torch.randn(2, 10, 1, 16, 16)).shape
    torch.Size([2, 40, 1, 16, 16])
    >>> net.train()(torch.randn(2, 10, 1, 16, 16)).shape
    torch.Size([2, 1, 1, 16, 16])
    """

    def __init__(self, model: nn.Module, t_in: int, t_out: int, step: int = 1, detach: bool = False,
                 train_frames: int | None = None):
        super().__init__(model, t_in, t_out)
        self.step = check_int(step, "step", min=1)
        self.detach = bool(detach)
        if train_frames is not None:
            train_frames = check_int(train_frames, "train_frames", min=1)
            if train_frames > self.t_out:
                raise ValueError(f"train_frames ({train_frames}) must not exceed t_out ({self.t_out})")
        self.train_frames = train_frames

    @property
    def config(self) -> dict:
        return {**super().config, "step": self.step, "detach": self.detach, "train_frames": self.train_frames}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check_window(x)
        n = self.train_frames if self.training and self.train_frames is not None else self.t_out
        return rollout(self.model, x, n, step=self.step, detach=self.detach)


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


class TrajectoryWindows(Dataset):
    """Every window of ``t_in`` true frames and the ``frames`` frames after it, from trajectories.

    ``x`` ``(N, t_in, C, *s)`` and ``y`` ``(N, t_out, C, *s)`` (a trajectory data set's input and
    output frames) are joined into trajectories of ``T = t_in + t_out`` frames; sample ``i`` is
    the window starting at frame ``k`` of trajectory ``n`` (``i = n * n_starts + k``,
    ``n_starts = T - t_in - frames + 1``): ``(x_i, y_i)`` of shapes ``(t_in, C, *s)`` and
    ``(frames, C, *s)``. Windows start in the input frames too: every true transition is used.
    The data stay in memory once; batches are gathered by index (``get_batch``), as the
    :class:`~sciml.training.Trainer` reads in-memory data.

    Examples
    --------
    >>> import torch
    >>> w = TrajectoryWindows(torch.zeros(3, 10, 1, 8, 8), torch.ones(3, 40, 1, 8, 8), frames=1)
    >>> len(w), w[0][0].shape, w[0][1].shape
    (120, torch.Size([10, 1, 8, 8]), torch.Size([1, 1, 8, 8]))
    """

    in_memory = True

    def __init__(self, x: torch.Tensor, y: torch.Tensor, frames: int = 1):
        if x.ndim < 4 or y.ndim != x.ndim or x.shape[0] != y.shape[0] or x.shape[2:] != y.shape[2:]:
            raise ValueError(f"x and y must be (N, t_in, C, *s) and (N, t_out, C, *s) of the same N, C and s, got "
                             f"{tuple(x.shape)} and {tuple(y.shape)}")
        self.frames = check_int(frames, "frames", min=1)
        if self.frames > y.shape[1]:
            raise ValueError(f"frames ({self.frames}) must not exceed the {y.shape[1]} output frames")
        self.t_in = x.shape[1]
        self.trajectories = torch.cat([x, y], dim=1)
        self.n_starts = self.trajectories.shape[1] - self.t_in - self.frames + 1

    def __len__(self) -> int:
        return self.trajectories.shape[0] * self.n_starts

    def get_batch(self, idx) -> tuple[torch.Tensor, torch.Tensor]:
        idx = torch.as_tensor(idx, dtype=torch.long).reshape(-1)
        if len(idx) and (int(idx.min()) < 0 or int(idx.max()) >= len(self)):
            raise IndexError(f"window index out of range for {len(self)} windows")
        n, k = idx // self.n_starts, idx % self.n_starts
        frames = k[:, None] + torch.arange(self.t_in + self.frames)
        block = self.trajectories[n[:, None], frames]
        return block[:, :self.t_in], block[:, self.t_in:]

    def __getitem__(self, i):
        x, y = self.get_batch([int(i)])
        return x[0], y[0]

    def __repr__(self) -> str:
        n, t = self.trajectories.shape[:2]
        return (f"TrajectoryWindows({n} trajectories of {t} frames: {len(self)} windows of {self.t_in} -> "
                f"{self.frames} frames)")


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
