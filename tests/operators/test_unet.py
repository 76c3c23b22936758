"""UNet: shapes (odd sizes), periodic padding along the last axis, overfitting, config round trip."""
import json

import pytest
import torch

from sciml.operators import UNet, build_model


@pytest.mark.parametrize("shape", [(16, 16), (17, 23), (32, 64)])
def test_shapes(shape):
    model = UNet(2, 3, base_channels=4, depth=3)
    assert model(torch.randn(2, 2, *shape)).shape == (2, 3, *shape)


def test_longitude_periodic_commutes_with_zonal_shifts_only():
    torch.manual_seed(0)
    model = UNet(1, 1, base_channels=4, depth=3, periodic_dims=(-1,)).eval()
    x = torch.randn(1, 1, 16, 32)
    with torch.no_grad():
        y = model(x)
        y_lon = model(torch.roll(x, 8, dims=-1))
        y_lat = model(torch.roll(x, 8, dims=-2))
    assert torch.allclose(y_lon, torch.roll(y, 8, dims=-1), atol=1e-5)
    assert not torch.allclose(y_lat, torch.roll(y, 8, dims=-2), atol=1e-3)  # latitude is bounded
    plain = UNet(1, 1, base_channels=4, depth=3).eval()
    with torch.no_grad():
        assert not torch.allclose(plain(torch.roll(x, 8, dims=-1)), torch.roll(plain(x), 8, dims=-1), atol=1e-3)


def test_overfits_tiny_batch():
    torch.manual_seed(0)
    x = torch.randn(4, 1, 16, 16)
    y = torch.randn(4, 1, 16, 16).cumsum(-1).cumsum(-2) / 16
    model = UNet(1, 1, base_channels=8, depth=3)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    first = None
    for _ in range(150):
        opt.zero_grad()
        loss = torch.mean((model(x) - y) ** 2) / torch.mean(y**2)
        loss.backward()
        opt.step()
        first = loss.item() if first is None else first
    assert loss.item() < first / 10, (first, loss.item())


def test_config_round_trip():
    model = build_model("unet", in_channels=1, out_channels=2, base_channels=4, depth=2, periodic=True,
                        norm="instance")
    assert model.config["periodic_dims"] == [-2, -1]
    clone = build_model("unet", **json.loads(json.dumps(model.config)))
    clone.load_state_dict(model.state_dict())
    x = torch.randn(2, 1, 12, 12)
    with torch.no_grad():
        assert torch.equal(model(x), clone(x))


@pytest.mark.parametrize("kwargs, name", [
    (dict(base_channels=0), "base_channels"),
    (dict(depth=0), "depth"),
    (dict(periodic_dims=(-2,)), "periodic_dims"),
    (dict(periodic=True, periodic_dims=(-1,)), "periodic"),
    (dict(norm="layer"), "norm"),
])
def test_bad_arguments(kwargs, name):
    with pytest.raises(ValueError, match=name):
        UNet(1, 1, **kwargs)


@pytest.mark.parametrize("n", [64, 101])
def test_1d_shapes_and_periodic_shift(n):
    torch.manual_seed(0)
    model = UNet(2, 3, base_channels=4, depth=3, periodic_dims=(-1,), n_dim=1).eval()
    x = torch.randn(2, 2, n)
    with torch.no_grad():
        y = model(x)
        assert y.shape == (2, 3, n)
        if n % 4 == 0:  # shifts by multiples of 2**(depth-1) commute with the periodic network
            assert torch.allclose(model(torch.roll(x, 8, -1)), torch.roll(y, 8, -1), atol=1e-5)
    with pytest.raises(ValueError, match="periodic_dims"):
        UNet(1, 1, periodic_dims=(-2, -1), n_dim=1)
    with pytest.raises(ValueError, match="n_dim"):
        UNet(1, 1, n_dim=3)


def test_1d_overfits_a_burgers_like_batch():
    torch.manual_seed(0)
    s = torch.linspace(0, 2 * torch.pi, 128)
    x = torch.stack([torch.sin(k * s) for k in (1, 2, 3, 4)])[:, None]
    y = torch.roll(x, 5, -1) ** 2
    model = UNet(1, 1, base_channels=8, depth=3, periodic=True, n_dim=1)
    assert model.config["periodic_dims"] == [-1]
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(150):
        opt.zero_grad()
        loss = torch.mean((model(x) - y) ** 2) / torch.mean(y**2)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0] / 10, (losses[0], losses[-1])


@pytest.mark.parametrize("norm", ["group", "instance", "batch"])
def test_scale_of_the_input_reaches_the_output_only_with_batch_norm(norm):
    """Group/instance norm after bias-free convolutions make f(c x) = f(x): amplitudes that vary across
    samples cannot be learned (the documented reason burgers' U-Net uses batch norm)."""
    from sciml.training.metrics import relative_l2

    torch.manual_seed(0)
    s = torch.linspace(0, 2 * torch.pi, 65)[:-1]
    amp = torch.tensor([0.5, 1.0, 2.0, 4.0])[:, None, None]
    x = amp * torch.sin(s)  # one shape, four amplitudes; the target is the input itself
    model = UNet(1, 1, base_channels=8, depth=2, periodic=True, n_dim=1, norm=norm)
    invariance = (model.eval()(3 * x) - model(x)).norm() / model(x).norm()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(300):
        model.train()
        opt.zero_grad()
        loss = (relative_l2(model(x), x) ** 2).mean()
        loss.backward()
        opt.step()
    with torch.no_grad():
        err = relative_l2(model.eval()(x), x).mean().item()
    if norm == "batch":
        assert err < 0.1, err  # measured 0.010
    else:  # the best scale-blind fit of a * sin: one amplitude for all (measured 0.544)
        assert invariance < 1e-2 and err > 0.3, (invariance, err)


def test_config_without_n_dim_is_2d():
    # configs written before n_dim existed build the same 2D network
    cfg = UNet(1, 1, base_channels=4, depth=2).config
    old = {k: v for k, v in cfg.items() if k != "n_dim"}
    assert UNet(**old).config == cfg


def test_max_channels_caps_the_coarse_levels():
    deep = UNet(1, 1, base_channels=4, depth=6, n_dim=1, max_channels=16)
    assert [b.conv2.out_channels for b in deep.down] == [4, 8, 16, 16, 16, 16]
    uncapped = UNet(1, 1, base_channels=4, depth=6, n_dim=1)
    assert [b.conv2.out_channels for b in uncapped.down] == [4, 8, 16, 32, 64, 128]
    assert sum(p.numel() for p in deep.parameters()) < sum(p.numel() for p in uncapped.parameters()) / 10
    clone = build_model("unet", **json.loads(json.dumps(deep.config)))
    clone.load_state_dict(deep.state_dict())
    x = torch.randn(2, 1, 100)
    with torch.no_grad():
        assert torch.equal(deep(x), clone(x))
    with pytest.raises(ValueError, match="max_channels"):
        UNet(1, 1, max_channels=0)
    with pytest.raises(ValueError, match="max_channels must be an integer >= 8"):  # below the finest level's width
        UNet(1, 1, base_channels=8, max_channels=4)


@pytest.mark.parametrize("depth, reach", [(3, "local"), (8, "global")])
def test_receptive_field_of_a_periodic_1d_unet(depth, reach):
    # which inputs one output point depends on (norm=None: group statistics would couple every point);
    # 3 levels see a few dozen of 256 points, 8 levels (8 points at the coarsest) the whole circle
    torch.manual_seed(0)
    model = UNet(1, 1, base_channels=4, depth=depth, periodic=True, n_dim=1, max_channels=16, norm=None)
    x = torch.randn(1, 1, 256, requires_grad=True)
    model(x)[0, 0, 128].backward()
    seen = int((x.grad[0, 0] != 0).sum())
    if reach == "local":
        assert seen < 64, seen
    else:
        assert seen == 256, seen
