import math

import pytest
import torch

from sciml.operators.sfno import SFNO, SphericalConv


def test_shapes_and_resolution():
    torch.manual_seed(0)
    m = SFNO(3, 5, 16, 32, width=8, n_layers=2)
    assert m(torch.randn(2, 3, 16, 32)).shape == (2, 5, 16, 32)
    # the spectral weights are per degree: the same model runs on a finer grid
    assert m(torch.randn(1, 3, 32, 64)).shape == (1, 5, 32, 64)
    with pytest.raises(ValueError, match="x must"):
        m(torch.randn(2, 4, 16, 32))
    with pytest.raises(ValueError, match="width"):
        SFNO(3, 5, 16, 32, width=0)
    with pytest.raises(ValueError, match="grid"):
        SphericalConv(1, 1, 8, 16, grid="healpix")


def test_longitude_rotation_equivariance():
    torch.manual_seed(1)
    m = SFNO(2, 2, 16, 32, width=8, n_layers=2).double()
    x = torch.randn(1, 2, 16, 32, dtype=torch.float64)
    for shift in (1, 5, 16):
        y1 = m(torch.roll(x, shift, dims=-1))
        y2 = torch.roll(m(x), shift, dims=-1)
        assert torch.allclose(y1, y2, atol=1e-5), (y1 - y2).abs().max()


def test_spherical_conv_reproduces_smooth_field():
    # identity weights on degree l: a band-limited field is reproduced by SHT -> ISHT
    conv = SphericalConv(1, 1, 32, 64, grid="legendre-gauss")
    with torch.no_grad():
        conv.weight.zero_()
        conv.weight[0, 0, :, 0] = 1.0
    lat = torch.as_tensor(
        __import__("numpy").polynomial.legendre.leggauss(32)[0][::-1].copy()
    )  # cos(colat), north first
    lon = torch.arange(64) * 2 * math.pi / 64
    f = (lat[:, None] ** 2 + torch.sqrt(1 - lat[:, None] ** 2) * torch.cos(lon[None]))  # degrees <= 2
    out = conv(f[None, None].float())
    assert torch.allclose(out[0, 0], f.float(), atol=1e-4)


def test_overfits_tiny_batch():
    torch.manual_seed(0)
    m = SFNO(2, 1, 16, 32, width=16, n_layers=2)
    x = torch.randn(4, 2, 16, 32)
    y = torch.sin(x[:, :1]) * x[:, 1:]  # a nonlinear pointwise map
    opt = torch.optim.Adam(m.parameters(), lr=1e-2)
    first = None
    for _ in range(60):
        opt.zero_grad()
        loss = (m(x) - y).pow(2).mean()
        loss.backward()
        opt.step()
        first = first if first is not None else loss.item()
    assert loss.item() < 0.1 * first, (first, loss.item())


def test_config_roundtrip():
    import json

    m = SFNO(3, 2, 16, 32, width=8, n_layers=1)
    clone = SFNO(**json.loads(json.dumps(m.config)))
    clone.load_state_dict(m.state_dict())
    x = torch.randn(1, 3, 16, 32)
    assert torch.equal(clone(x), m(x))
