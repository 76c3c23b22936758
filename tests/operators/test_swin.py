import pytest
import torch

from sciml.operators.swin import SwinBlock, SwinTransformer2d


def test_shapes_and_errors():
    torch.manual_seed(0)
    m = SwinTransformer2d(3, 5, 16, 32, patch=2, embed_dim=16, depths=(2, 2), heads=(2, 4), window=(2, 4))
    assert m(torch.randn(2, 3, 16, 32)).shape == (2, 5, 16, 32)
    m1 = SwinTransformer2d(3, 2, 8, 16, patch=1, embed_dim=8, depths=(2,), heads=(2,), window=(4, 4))
    assert m1(torch.randn(1, 3, 8, 16)).shape == (1, 2, 8, 16)
    with pytest.raises(ValueError, match="divisible"):
        SwinTransformer2d(3, 5, 12, 32, patch=2, window=(4, 8))
    with pytest.raises(ValueError, match="x must"):
        m(torch.randn(2, 3, 16, 16))


def test_longitude_shift_equivariance_and_latitude_mask():
    # shifting by a whole coarsest window (patch * 2**(stages-1) * ww pixels) commutes with the network:
    # the shifted windows wrap around longitude freely (periodic), tokens never mix across the poles
    torch.manual_seed(1)
    m = SwinTransformer2d(2, 2, 16, 32, patch=2, embed_dim=16, depths=(2, 2), heads=(2, 4), window=(2, 4)).double()
    x = torch.randn(1, 2, 16, 32, dtype=torch.float64)
    s = 2 * 2 * 4
    assert torch.allclose(m(torch.roll(x, s, -1)), torch.roll(m(x), s, -1), atol=1e-10)
    blk = SwinBlock(8, 2, (4, 4), shift=True)
    mask = blk._mask(8, 8, "cpu")
    # the last window row mixes the two poles' rows after the roll: masked; lon windows are not masked
    assert mask[-1].min() < 0 and mask[0].min() == 0


def test_overfits_tiny_batch():
    torch.manual_seed(0)
    m = SwinTransformer2d(2, 1, 16, 32, patch=2, embed_dim=16, depths=(2, 2), heads=(2, 4), window=(2, 4))
    x = torch.randn(4, 2, 16, 32)
    y = torch.tanh(x[:, :1] + torch.roll(x[:, 1:], 1, -1))
    opt = torch.optim.Adam(m.parameters(), lr=5e-3)
    first = None
    for _ in range(60):
        opt.zero_grad()
        loss = (m(x) - y).pow(2).mean()
        loss.backward()
        opt.step()
        first = first if first is not None else loss.item()
    assert loss.item() < 0.2 * first, (first, loss.item())


def test_config_roundtrip():
    import json

    m = SwinTransformer2d(3, 2, 16, 32, patch=2, embed_dim=16, depths=(2, 2), heads=(2, 4), window=(2, 4))
    clone = SwinTransformer2d(**json.loads(json.dumps(m.config)))
    clone.load_state_dict(m.state_dict())
    x = torch.randn(1, 3, 16, 32)
    assert torch.equal(clone(x), m(x))
