"""MgNO: V-cycle linearity and shapes, boundary handling, overfitting, config round trip, errors."""
import json

import pytest
import torch

from sciml.operators import MgNO, build_model
from sciml.operators.mgno import VCycle


@pytest.mark.parametrize("shape", [(16, 16), (17, 13), (85, 85)])
def test_vcycle_is_linear_and_keeps_odd_sizes(shape):
    torch.manual_seed(0)
    cycle = VCycle(2, 3, n_levels=3, pre_smooth=(1, 2, 1), post_smooth=(1, 0, 0))
    a, b = torch.randn(2, 2, *shape), torch.randn(2, 2, *shape)
    ya, yb, yab = cycle(a), cycle(b), cycle(2.0 * a - 0.5 * b)
    assert ya.shape == (2, 3, *shape)
    assert torch.allclose(yab, 2.0 * ya - 0.5 * yb, atol=1e-4)


def test_circular_padding_commutes_with_coarse_shifts():
    """Periodic MgNO: shifting the input by 2**(n_levels-1) points shifts the output the same way."""
    torch.manual_seed(0)
    model = MgNO(1, 1, hidden_channels=4, n_levels=3, n_layers=2, padding_mode="circular")
    x = torch.randn(1, 1, 16, 16)
    shift = (4, -8)
    with torch.no_grad():
        y = model(x)
        ys = model(torch.roll(x, shift, dims=(-2, -1)))
    assert torch.allclose(ys, torch.roll(y, shift, dims=(-2, -1)), atol=1e-5)


def test_zero_padding_sees_the_boundary():
    """Dirichlet-type model: the response to a point source depends on its distance to the wall
    (a field translated towards the boundary is not mapped to a translated output)."""
    torch.manual_seed(0)
    model = MgNO(1, 1, hidden_channels=4, n_levels=3, n_layers=2, padding_mode="zeros")
    x = torch.zeros(1, 1, 16, 16)
    x[..., 8, 8] = 1.0
    with torch.no_grad():
        y = model(x)
        ys = model(torch.roll(x, (8, 0), dims=(-2, -1)))  # source now on the wall
    assert not torch.allclose(ys, torch.roll(y, (8, 0), dims=(-2, -1)), atol=1e-3)


def test_overfits_tiny_batch():
    torch.manual_seed(0)
    x = torch.randn(4, 1, 16, 16)
    y = torch.randn(4, 1, 16, 16).cumsum(-1).cumsum(-2) / 16
    model = MgNO(1, 1, hidden_channels=8, n_levels=3, n_layers=3)
    opt = torch.optim.Adam(model.parameters(), lr=5e-3)
    first = None
    for _ in range(150):
        opt.zero_grad()
        loss = torch.mean((model(x) - y) ** 2) / torch.mean(y**2)
        loss.backward()
        opt.step()
        first = loss.item() if first is None else first
    assert loss.item() < first / 10, (first, loss.item())


def test_config_round_trip():
    model = build_model("mgno", in_channels=2, out_channels=1, hidden_channels=6, n_levels=3, n_layers=3,
                        post_smooth=(1, 1, 0), norm="group", padding_mode="circular")
    clone = build_model("mgno", **json.loads(json.dumps(model.config)))
    clone.load_state_dict(model.state_dict())
    x = torch.randn(2, 2, 12, 12)
    with torch.no_grad():
        assert torch.equal(model(x), clone(x))


@pytest.mark.parametrize("kwargs, name", [
    (dict(hidden_channels=0), "hidden_channels"),
    (dict(n_levels=0), "n_levels"),
    (dict(n_layers=1), "n_layers"),
    (dict(pre_smooth=0), "pre_smooth"),
    (dict(post_smooth=(1, 2)), "post_smooth"),
    (dict(padding_mode="reflect"), "padding_mode"),
])
def test_bad_arguments(kwargs, name):
    args = dict(in_channels=1, out_channels=1, n_levels=3)
    args.update(kwargs)
    with pytest.raises(ValueError, match=name):
        MgNO(**args)


def test_input_too_small_for_levels():
    model = MgNO(1, 1, hidden_channels=4, n_levels=4, n_layers=2)
    with pytest.raises(ValueError, match="n_levels"):
        model(torch.randn(1, 1, 4, 4))
