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
