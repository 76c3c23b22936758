import pytest
import torch
from torch import nn

from sciml.training import RolloutModel, SpaceTimeModel, Trainer, rollout, rollout_errors


class LastFrameScale(nn.Module):
    """Exact step model of u_{t+1} = c * u_t for a window of t_in frames of C channels."""

    def __init__(self, c, t_in, channels):
        super().__init__()
        self.c, self.t_in, self.channels = c, t_in, channels
        self.dummy = nn.Parameter(torch.zeros(()))

    def forward(self, x):
        return self.c * x[:, (self.t_in - 1) * self.channels:] + 0 * self.dummy


def _decay(n, t, c=0.9, channels=2, s=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    u0 = torch.randn(n, 1, channels, s, s, generator=g, dtype=torch.float64)
    return torch.cat([u0 * c ** k for k in range(t)], dim=1)  # (n, t, C, s, s)


def test_rollout_shapes_and_exact_linear_dynamics():
    traj = _decay(3, 15)
    window, future = traj[:, :10], traj[:, 10:]
    out = rollout(LastFrameScale(0.9, 10, 2), window, 5)
    assert out.shape == (3, 5, 2, 6, 6)
    torch.testing.assert_close(out, future, atol=1e-14, rtol=0)
    model = RolloutModel(LastFrameScale(0.9, 10, 2), t_in=10, t_out=5)
    errs = rollout_errors(model, window, future)
    assert errs.shape == (5,) and errs.max() < 1e-14
    # a wrong rate gives the exact per-step relative error |0.8^k - 0.9^k| / 0.9^k, k = 1..5
    wrong = RolloutModel(LastFrameScale(0.8, 10, 2), t_in=10, t_out=5)
    expected = torch.tensor([abs(0.8 ** k - 0.9 ** k) / 0.9 ** k for k in range(1, 6)], dtype=torch.float64)
    torch.testing.assert_close(rollout_errors(wrong, window, future), expected, atol=1e-12, rtol=0)


def test_rollout_with_multi_frame_steps_truncates():
    traj = _decay(2, 12, channels=1)
    step2 = nn.Conv2d(3, 2, 1, bias=False).double()  # 3 frames in, 2 out
    out = RolloutModel(step2, t_in=3, t_out=5, step=2)(traj[:, :3])
    assert out.shape == (2, 5, 1, 6, 6)


def test_trained_linear_step_model_rolls_out_accurately():
    traj = _decay(32, 8, c=0.9, channels=1).float()
    ds = torch.utils.data.TensorDataset(traj[:, :2], traj[:, 2:])
    torch.manual_seed(0)
    model = RolloutModel(nn.Conv2d(2, 1, 1, bias=False), t_in=2, t_out=6)
    Trainer(model, lr=2e-2, epochs=40, batch_size=8, scheduler="cosine", weight_decay=0.0, progress=False).fit(ds)
    errs = rollout_errors(model, traj[:, :2], traj[:, 2:])
    assert errs.max() < 1e-2  # learned u_{t+1} = 0.9 u_t; error grows with the step but stays small


def test_rollout_bad_input():
    with pytest.raises(ValueError, match="t_in"):
        RolloutModel(nn.Identity(), t_in=0, t_out=3)
    with pytest.raises(ValueError, match="expected"):
        RolloutModel(nn.Conv2d(2, 1, 1), t_in=2, t_out=3)(torch.zeros(1, 3, 1, 4, 4))
    with pytest.raises(ValueError, match="step model returned"):
        rollout(nn.Conv2d(2, 2, 1), torch.zeros(1, 2, 1, 4, 4), 3)


class LastFrameDecay(nn.Module):
    """Exact space-time model of u_{t+k} = c^k u_t: the window's last frame times c^(k+1) along the time axis."""

    def __init__(self, c, t_in, channels):
        super().__init__()
        self.c, self.t_in, self.channels = c, t_in, channels
        self.dummy = nn.Parameter(torch.zeros(()))

    def forward(self, z):  # (B, t_in * C, *s, T)
        t_out = z.shape[-1]
        rate = self.c ** torch.arange(1, t_out + 1, dtype=z.dtype)
        return z[:, (self.t_in - 1) * self.channels:] * rate + 0 * self.dummy


def test_space_time_model_orders_frames_like_a_rollout():
    # the same exact dynamics through both wrappers: frame k of the block is frame k of the rollout
    traj = _decay(3, 15)
    window, future = traj[:, :10], traj[:, 10:]
    st = SpaceTimeModel(LastFrameDecay(0.9, 10, 2), t_in=10, t_out=5)
    out = st(window)
    assert out.shape == (3, 5, 2, 6, 6)
    torch.testing.assert_close(out, future, atol=1e-14, rtol=0)
    torch.testing.assert_close(out, RolloutModel(LastFrameScale(0.9, 10, 2), t_in=10, t_out=5)(window),
                               atol=1e-14, rtol=0)
    assert rollout_errors(st, window, future).max() < 1e-14
    assert st.config == {"t_in": 10, "t_out": 5}


def test_space_time_model_bad_input():
    with pytest.raises(ValueError, match="t_out"):
        SpaceTimeModel(nn.Identity(), t_in=2, t_out=0)
    with pytest.raises(ValueError, match="expected"):
        SpaceTimeModel(LastFrameDecay(0.9, 2, 1), t_in=2, t_out=3)(torch.zeros(1, 3, 1, 4, 4))
    with pytest.raises(ValueError, match="space-time model returned"):
        SpaceTimeModel(nn.Identity(), t_in=2, t_out=3)(torch.zeros(1, 2, 1, 4, 4))  # 2 channels, not 1


def test_trajectory_windows_hold_every_true_window():
    from sciml.training import TrajectoryWindows

    traj = _decay(3, 9, channels=2)  # (3, 9, 2, 6, 6)
    w = TrajectoryWindows(traj[:, :4], traj[:, 4:], frames=2)
    assert len(w) == 3 * (9 - 4 - 2 + 1) and w.n_starts == 4
    x, y = w.get_batch(torch.arange(len(w)))
    assert x.shape == (12, 4, 2, 6, 6) and y.shape == (12, 2, 2, 6, 6)
    for i in range(len(w)):
        n, k = divmod(i, 4)
        assert torch.equal(x[i], traj[n, k:k + 4]) and torch.equal(y[i], traj[n, k + 4:k + 6])
        xi, yi = w[i]
        assert torch.equal(xi, x[i]) and torch.equal(yi, y[i])
    with pytest.raises(IndexError):
        w.get_batch([12])
    with pytest.raises(ValueError, match="frames"):
        TrajectoryWindows(traj[:, :4], traj[:, 4:], frames=6)
    with pytest.raises(ValueError, match="same N"):
        TrajectoryWindows(traj[:2, :4], traj[:, 4:])


def test_rollout_model_unrolls_train_frames_in_training_and_t_out_in_evaluation():
    from sciml.training.checkpoint import model_from_spec, model_spec

    model = RolloutModel(LastFrameScale(0.9, 3, 1), t_in=3, t_out=5, train_frames=2)
    window = _decay(2, 3, channels=1)
    assert model.train()(window).shape == (2, 2, 1, 6, 6)
    assert model.eval()(window).shape == (2, 5, 1, 6, 6)
    assert RolloutModel(LastFrameScale(0.9, 3, 1), t_in=3, t_out=5).train()(window).shape == (2, 5, 1, 6, 6)
    from sciml.operators import FNO

    fno = RolloutModel(FNO(in_channels=3, out_channels=1, n_modes=(2, 2), hidden_channels=2), t_in=3, t_out=5,
                       train_frames=2)
    spec = model_spec(fno)
    assert spec["train_frames"] == 2 and model_from_spec(spec).train_frames == 2
    with pytest.raises(ValueError, match="train_frames"):
        RolloutModel(nn.Identity(), t_in=3, t_out=5, train_frames=6)


def test_teacher_forcing_learns_the_dynamics_in_fewer_epochs_than_the_full_rollout():
    # u_{t+1} = 0.9 u_t from a 2-frame window; one pass over the 6 windows of each of 16 trajectories
    # gives 6x the optimiser steps of a pass over the trajectories, at the same cost per epoch
    from sciml.training import TrajectoryWindows

    traj = _decay(16, 8, c=0.9, channels=1).float()
    x, y = traj[:, :2], traj[:, 2:]
    errors = {}
    for frames in (None, 1):
        torch.manual_seed(0)
        model = RolloutModel(nn.Conv2d(2, 1, 1, bias=False), t_in=2, t_out=6, train_frames=frames)
        data = torch.utils.data.TensorDataset(x, y) if frames is None else TrajectoryWindows(x, y, frames=frames)
        Trainer(model, lr=2e-2, epochs=5, batch_size=8, scheduler="cosine", weight_decay=0.0,
                progress=False).fit(data)
        errors[frames] = float(rollout_errors(model, x, y).mean())
    # measured: full rollout 0.616, teacher forcing 0.017 (both: the 6-frame rollout, in evaluation)
    assert errors[1] < 0.05 and errors[1] < 0.1 * errors[None], errors
