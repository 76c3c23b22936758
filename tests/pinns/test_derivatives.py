import math

import pytest
import torch

from sciml.pinns.derivatives import (
    divergence,
    func_gradient,
    func_hessian,
    func_laplacian,
    gradient,
    jet,
    laplacian,
    partial,
    pointwise,
)
from sciml.pinns.networks import MLP


def _analytic(x):  # u = sin(x0) * exp(2 x1) + x0^2 x1
    return torch.sin(x[:, 0]) * torch.exp(2 * x[:, 1]) + x[:, 0] ** 2 * x[:, 1]


def test_autograd_against_analytic():
    x = torch.rand(40, 2, dtype=torch.float64).requires_grad_(True)
    u = _analytic(x)[:, None]
    g = gradient(u, x)
    x0, x1 = x[:, 0].detach(), x[:, 1].detach()
    torch.testing.assert_close(g[:, 0], torch.cos(x0) * torch.exp(2 * x1) + 2 * x0 * x1)
    torch.testing.assert_close(g[:, 1], 2 * torch.sin(x0) * torch.exp(2 * x1) + x0 ** 2)
    lap = laplacian(u, x)[:, 0]
    torch.testing.assert_close(lap, 3 * torch.sin(x0) * torch.exp(2 * x1) + 2 * x1)
    torch.testing.assert_close(partial(u, x, (0, 1))[:, 0], 2 * torch.cos(x0) * torch.exp(2 * x1) + 2 * x0)
    torch.testing.assert_close(divergence(torch.stack([x[:, 0] ** 2, x[:, 1] ** 3], 1), x)[:, 0],
                               2 * x0 + 3 * x1 ** 2)


def _fd(model, x, i, h=1e-5):
    e = torch.zeros_like(x)
    e[:, i] = h
    with torch.no_grad():
        up, um, u0 = model(x + e)[:, 0], model(x - e)[:, 0], model(x)[:, 0]
    return (up - um) / (2 * h), (up - 2 * u0 + um) / h ** 2


@pytest.mark.parametrize("route", ["autograd", "func", "jet"])
def test_network_derivatives_against_finite_differences(route):
    """Space (x, y) and time (t, last input) derivatives of a float64 MLP, checked by central differences."""
    net = MLP(3, 1, 24, 3, dtype=torch.float64, seed=0, lower=[-1, -1, 0], upper=[1, 1, 2])
    x = torch.rand(30, 3, dtype=torch.float64) * 2 - 1
    if route == "autograd":
        xr = x.clone().requires_grad_(True)
        u = net(xr)
        g = gradient(u, xr)
        d2 = torch.stack([partial(u, xr, (i, i))[:, 0] for i in range(3)], 1)
        lap = laplacian(u, xr, dims=(0, 1))[:, 0]
    elif route == "func":
        f = pointwise(net)
        g = func_gradient(f, x)
        H = func_hessian(f, x)
        d2 = torch.diagonal(H, dim1=1, dim2=2)
        lap = func_laplacian(f, x, dims=(0, 1))[:, 0]
        torch.testing.assert_close(H, H.transpose(1, 2))
    else:
        _, d1, dd = jet(net, x)
        g, d2 = d1[..., 0].T, dd[..., 0].T
        lap = d2[:, 0] + d2[:, 1]
    for i in range(3):
        fd1, fd2 = _fd(net, x, i)
        torch.testing.assert_close(g[:, i].detach(), fd1, atol=1e-8, rtol=1e-6)
        torch.testing.assert_close(d2[:, i].detach(), fd2, atol=2e-4, rtol=1e-3)
    torch.testing.assert_close(lap.detach(), _fd(net, x, 0)[1] + _fd(net, x, 1)[1], atol=4e-4, rtol=1e-3)


def test_routes_agree_to_roundoff():
    net = MLP(2, 1, 16, 3, dtype=torch.float64, seed=3, periodic={0: 2 * math.pi}, periodic_modes=2)
    x = torch.rand(25, 2, dtype=torch.float64)
    xr = x.clone().requires_grad_(True)
    lap_a = laplacian(net(xr), xr)
    lap_f = func_laplacian(pointwise(net), x)
    u, d1, d2 = jet(net, x)
    torch.testing.assert_close(lap_a, lap_f, atol=1e-12, rtol=1e-10)
    torch.testing.assert_close(lap_a, d2.sum(0), atol=1e-12, rtol=1e-10)
    # derivatives stay differentiable w.r.t. parameters (used inside losses)
    loss = (d2 ** 2).mean()
    loss.backward()
    assert all(lin.weight.grad is not None and torch.isfinite(lin.weight.grad).all() for lin in net.layers)


def test_errors():
    x = torch.rand(4, 2)
    with pytest.raises(ValueError, match="requires_grad"):
        gradient(x[:, :1], x)
    with pytest.raises(ValueError, match="scalar field"):
        gradient(torch.rand(4, 2, requires_grad=True), torch.rand(4, 2, requires_grad=True))
    with pytest.raises(ValueError, match="jet needs"):
        MLP(2, 1, 4, 1, activation="relu").jet(x)
