import numpy as np
import pytest
import torch
from torch import nn

from sciml.conservation import ConservativeEmulator, compute_stats, global_mass

B, L, NLAT, NLON, CF = 2, 4, 8, 16, 2


class _RandomNet(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.c1 = nn.Conv2d(cin, 16, 3, padding=1, padding_mode="circular")
        self.c2 = nn.Conv2d(16, cout, 3, padding=1, padding_mode="circular")

    def forward(self, x):
        return self.c2(torch.tanh(self.c1(x)))


def _data(T=101, seed=0):
    rng = np.random.default_rng(seed)
    q = 400 + rng.normal(0, 1, (T, L, NLAT, NLON)).cumsum(0) * 0.1
    m = 1.0 + 0.2 * rng.random((1, L, NLAT, NLON)) + 0.02 * np.sin(np.arange(T))[:, None, None, None]
    m = np.broadcast_to(m, (T, L, NLAT, NLON)).copy()
    f = rng.normal(size=(T, CF, NLAT, NLON))
    return q, m, f


@pytest.mark.parametrize("mode,fixer", [("fixer", "scale"), ("fixer", "shift"), ("flux", None)])
def test_rollout_drift_random_backbone(mode, fixer):
    torch.manual_seed(0)
    q, m, f = _data()
    stats = compute_stats(q, f, m)
    cin, cout = ConservativeEmulator.backbone_channels(L, CF, mode)
    emu = ConservativeEmulator(_RandomNet(cin, cout), mode=mode, fixer=fixer, stats=stats).double()
    q0 = torch.as_tensor(q[:1]).repeat(B, 1, 1, 1)
    mt = torch.as_tensor(m)[None].repeat(B, 1, 1, 1, 1)
    ft = torch.as_tensor(f)[None].repeat(B, 1, 1, 1, 1)
    with torch.no_grad():
        traj = emu.rollout(q0, mt, ft)  # 100 steps
    assert traj.shape == (B, 101, L, NLAT, NLON)
    mass = torch.stack([global_mass(traj[:, t], mt[:, t]) for t in range(101)], 1)
    per_step = ((mass[:, 1:] - mass[:, :-1]) / mass[:, :-1]).abs().max()
    total = ((mass[:, -1] - mass[:, 0]) / mass[:, 0]).abs().max()
    assert per_step <= 1e-12, per_step
    assert total <= 1e-12, total
    assert (traj[:, -1] - traj[:, 0]).abs().max() > 1e-3  # the random network did move the field


def test_without_fixer_mass_drifts():
    torch.manual_seed(0)
    q, m, f = _data(T=11)
    stats = compute_stats(q, f, m)
    emu = ConservativeEmulator(_RandomNet(L + CF, L), fixer=None, stats=stats).double()
    mt = torch.as_tensor(m)[None]
    with torch.no_grad():
        traj = emu.rollout(torch.as_tensor(q[:1]), mt, torch.as_tensor(f)[None])
    rel = (global_mass(traj[:, -1], mt[:, -1]) - global_mass(traj[:, 0], mt[:, 0])).abs() / global_mass(
        traj[:, 0], mt[:, 0]
    )
    assert rel > 1e-8


def test_surface_flux_budget_and_positivity_in_flux_mode():
    torch.manual_seed(1)
    q, m, f = _data(T=6)
    stats = compute_stats(q, f, m)
    emu = ConservativeEmulator(_RandomNet(L + CF, 3 * L), mode="flux", stats=stats, positive=True,
                               mass_unit=1e6).double()
    area = torch.full((NLAT, NLON), 1e10, dtype=torch.float64)
    flux = 1e-9 * torch.randn(1, 5, 3, NLAT, NLON, dtype=torch.float64)
    mt = torch.as_tensor(m)[None]
    with torch.no_grad():
        traj = emu.rollout(torch.as_tensor(q[:1]), mt, torch.as_tensor(f)[None], flux, area, 21600.0)
    expected = global_mass(traj[:, 0], mt[:, 0]) + (flux.sum(2) * area).sum((1, 2, 3)) * 21600.0 / 1e6
    assert torch.allclose(global_mass(traj[:, -1], mt[:, -1]), expected, rtol=1e-14)
    assert traj.min() > 0


def test_gradients_flow_and_errors():
    q, m, f = _data(T=4)
    stats = compute_stats(q, f, m)
    emu = ConservativeEmulator(_RandomNet(L + CF, L), stats=stats)
    qt, mt, ft = (torch.as_tensor(a, dtype=torch.float32)[None] for a in (q, m, f))
    loss = (emu.rollout(qt[:, 0], mt, ft)[:, 1:] - qt[:, 1:]).pow(2).mean()
    loss.backward()
    assert emu.backbone.c1.weight.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="mode"):
        ConservativeEmulator(_RandomNet(1, 1), mode="bogus", stats=stats)
    with pytest.raises(ValueError, match="fixer"):
        ConservativeEmulator(_RandomNet(1, 1), mode="flux", fixer="scale", stats=stats)
    with pytest.raises(TypeError, match="stats"):
        ConservativeEmulator(_RandomNet(1, 1), stats=None)
    with pytest.raises(ValueError, match="forcing"):
        emu(qt[:, 0], mt[:, 0], mt[:, 1])


def test_local_bounds_keep_free_runs_bounded_and_conservative():
    """An untrained network scaled up 50x blows a plain fixer run up; with the local-bounds
    limiter and the bounds-preserving fixer the same run stays within the initial range and
    conserves mass to round-off."""
    torch.manual_seed(2)
    q, m, f = _data(T=201)
    m = m * (m[:1].sum() / m.sum(axis=(1, 2, 3), keepdims=True))  # constant global air mass, as in the atmosphere
    stats = compute_stats(q, f, m)
    net = _RandomNet(L + CF, L)
    with torch.no_grad():
        net.c2.weight.mul_(50.0)
    q0, mt, ft = torch.as_tensor(q[:1]), torch.as_tensor(m)[None], torch.as_tensor(f)[None]
    runs = {}
    for radius in (None, 1):
        emu = ConservativeEmulator(net, stats=stats, bound_radius=radius).double()
        with torch.no_grad():
            runs[radius] = emu.rollout(q0, mt, ft)
        mass = torch.stack([global_mass(runs[radius][:, t], mt[:, t]) for t in range(201)], 1)
        assert ((mass[:, 1:] - mass[:, :-1]) / mass[:, :-1]).abs().max() <= 1e-12
    lo, hi = float(q0.min()), float(q0.max())
    assert runs[None].max() - runs[None].min() > 5 * (hi - lo)  # unbounded without the limiter
    bounded = runs[1]
    assert bounded.min() >= lo - 1e-9 and bounded.max() <= hi + 1e-9
    with pytest.raises(ValueError, match="bound_radius"):
        ConservativeEmulator(net, mode="flux", stats=stats, bound_radius=1)


def test_local_bounds_neighbourhood():
    from sciml.conservation import clip_to_bounds, local_bounds

    q = torch.zeros(1, 2, 6, 8, dtype=torch.float64)
    q[0, 1, 2, 0] = 5.0  # a peak at longitude 0: its neighbourhood wraps to the last column
    q[0, 0, 5, 3] = -1.0
    lo, hi = local_bounds(q, 1)
    assert hi[0, 0, 1:4, [7, 0, 1]].eq(5.0).all() and hi[0, 0, 4].eq(0.0).all()  # whole column
    assert lo[0, 1, 4:, 2:5].eq(-1.0).all() and lo[0, 1, :4].eq(0.0).all()  # pole row clamped
    lo1, hi1 = local_bounds(q, 1, column=False)
    assert hi1[0, 0, 2, 0] == 5.0 and lo1[0, 1, 5, 3] == -1.0
    x = clip_to_bounds(torch.full_like(q, 10.0), lo, hi)
    assert torch.equal(x, hi)
    with pytest.raises(ValueError, match="radius"):
        local_bounds(q, -1)
