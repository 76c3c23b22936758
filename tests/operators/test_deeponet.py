"""DeepONet and POD-DeepONet on grid data: shapes, overfitting, POD exactness, config round trip."""
import json

import pytest
import torch

from sciml.operators import DeepONet, PODDeepONet, build_model


def test_shapes_and_resampled_sensors():
    model = DeepONet(branch_in=64, trunk_in=2, width=16, depth=2, n_basis=8, sensor_shape=(8, 8), out_channels=2)
    assert model(torch.randn(3, 1, 8, 8)).shape == (3, 2, 8, 8)
    assert model(torch.randn(3, 1, 15, 15)).shape == (3, 2, 15, 15)  # other grid: sensors resampled
    pts = torch.rand(10, 2)
    assert model(torch.randn(3, 1, 8, 8), coords=pts).shape == (3, 2, 10)
    fixed = DeepONet(branch_in=64, width=16, depth=2, n_basis=8)
    with pytest.raises(ValueError, match="branch_in"):
        fixed(torch.randn(1, 1, 9, 9))


def test_overfits_tiny_batch():
    torch.manual_seed(0)
    x = torch.randn(4, 1, 12, 12)
    y = torch.randn(4, 1, 12, 12).cumsum(-1).cumsum(-2) / 12
    model = DeepONet(branch_in=144, width=64, depth=2, n_basis=32)
    opt = torch.optim.Adam(model.parameters(), lr=5e-3)
    first = None
    for _ in range(200):
        opt.zero_grad()
        loss = torch.mean((model(x) - y) ** 2) / torch.mean(y**2)
        loss.backward()
        opt.step()
        first = loss.item() if first is None else first
    assert loss.item() < first / 10, (first, loss.item())


def test_periodic_trunk_is_periodic_on_the_torus_grid():
    """With periodic_harmonics the output repeats with period 1 in every coordinate, the grid's nodes
    are j / n (not linspace(0, 1, n), whose two ends are one point of the torus), and it learns."""
    torch.manual_seed(0)
    model = DeepONet(branch_in=48, trunk_in=2, width=16, depth=2, n_basis=8, periodic_harmonics=2,
                     sensor_shape=(6, 8))
    x = torch.randn(3, 1, 6, 8)
    y = torch.rand(5, 2)
    shifted = y + torch.tensor([[1.0, -2.0]])
    assert torch.allclose(model(x, coords=y), model(x, coords=shifted), atol=1e-5)
    nodes = torch.stack(torch.meshgrid(torch.arange(6) / 6, torch.arange(8) / 8, indexing="ij"), -1).reshape(-1, 2)
    assert torch.allclose(model(x), model(x, coords=nodes).reshape(3, 1, 6, 8), atol=1e-6)
    plain = DeepONet(branch_in=48, trunk_in=2, width=16, depth=2, n_basis=8, sensor_shape=(6, 8))
    assert not torch.allclose(plain(x, coords=y), plain(x, coords=shifted), atol=1e-3)
    # 1D: outputs a cos(2 pi x) + b sin(4 pi x) from inputs carrying (a, b), same seed, data and steps;
    # measured: K = 2 reaches 4e-4, the plain trunk 0.47 after 150 Adam steps
    n = 32
    grid = torch.arange(n) / n
    c = torch.randn(16, 2)
    target = (c[:, :1] * torch.cos(2 * torch.pi * grid) + c[:, 1:] * torch.sin(4 * torch.pi * grid))[:, None]
    inputs = c[:, :, None].expand(16, 2, n)
    final = {}
    for harmonics in (2, 0):
        torch.manual_seed(1)
        model = DeepONet(branch_in=2 * n, trunk_in=1, width=32, depth=2, n_basis=8, in_channels=2,
                         periodic_harmonics=harmonics)
        opt = torch.optim.Adam(model.parameters(), lr=3e-3)
        for _ in range(150):
            opt.zero_grad()
            loss = torch.mean((model(inputs) - target) ** 2) / torch.mean(target**2)
            loss.backward()
            opt.step()
        final[harmonics] = loss.item()
    assert final[2] < 1e-2 and final[0] > 10 * final[2], final


def test_pod_modes_reproduce_low_rank_outputs():
    """Outputs spanning a 3-dimensional affine space are captured exactly by 3 POD modes, and the
    network then fits them once its branch learns the coefficients."""
    torch.manual_seed(0)
    n = 10
    g = torch.linspace(0, 1, n)
    X, Y = torch.meshgrid(g, g, indexing="ij")
    basis = torch.stack([torch.sin(torch.pi * X) * torch.sin(torch.pi * Y), X * Y, torch.cos(3 * X)])  # (3, n, n)
    c = torch.randn(16, 3)
    y = (1.0 + torch.einsum("sk,kij->sij", c, basis))[:, None]
    x = c[:, :, None, None].expand(16, 3, n, n)  # inputs carry the coefficients
    model = PODDeepONet(branch_in=3 * n * n, out_shape=(n, n), n_basis=3, width=32, depth=2, in_channels=3)
    captured = model.fit_pod(y)
    assert captured.item() > 1 - 1e-8
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    first = None
    for _ in range(300):
        opt.zero_grad()
        loss = torch.mean((model(x) - y) ** 2) / torch.mean((y - y.mean(0)) ** 2)
        loss.backward()
        opt.step()
        first = loss.item() if first is None else first
    assert loss.item() < first / 10, (first, loss.item())


def test_pod_requires_fit_and_checks_shapes():
    model = PODDeepONet(branch_in=16, out_shape=(4, 4), n_basis=2, width=8, depth=1)
    with pytest.raises(RuntimeError, match="fit_pod"):
        model(torch.randn(1, 1, 4, 4))
    with pytest.raises(ValueError, match="y must have shape"):
        model.fit_pod(torch.randn(5, 1, 3, 4))


@pytest.mark.parametrize("name", ["deeponet", "pod-deeponet"])
def test_config_round_trip(name):
    if name == "deeponet":
        model = build_model(name, branch_in=36, width=16, depth=2, n_basis=8, sensor_shape=(6, 6),
                            periodic_harmonics=1)
    else:
        model = build_model(name, branch_in=36, out_shape=(6, 6), n_basis=4, width=16, depth=2)
        model.fit_pod(torch.randn(10, 1, 6, 6))
    clone = build_model(name, **json.loads(json.dumps(model.config)))
    clone.load_state_dict(model.state_dict())
    x = torch.randn(2, 1, 6, 6)
    with torch.no_grad():
        assert torch.equal(model(x), clone(x))


@pytest.mark.parametrize("kwargs, name", [
    (dict(branch_in=0), "branch_in"),
    (dict(branch_in=16, width=0), "width"),
    (dict(branch_in=16, n_basis=0), "n_basis"),
    (dict(branch_in=15, sensor_shape=(4, 4)), "branch_in"),
    (dict(branch_in=16, sensor_shape=(4, 4, 1)), "sensor_shape"),
    (dict(branch_in=16, non_linearity="swish"), "non_linearity"),
    (dict(branch_in=16, periodic_harmonics=-1), "periodic_harmonics"),
])
def test_bad_arguments(kwargs, name):
    with pytest.raises(ValueError, match=name):
        DeepONet(**kwargs)
