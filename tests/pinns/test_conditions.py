import math

import numpy as np
import pytest
import torch

from sciml.pinns.conditions import (
    HardDirichlet,
    HardInitial,
    dirichlet,
    initial_condition,
    neumann,
    pde_residual,
    periodic,
)
from sciml.pinns.geometry import Difference, Disk, GeometryXTime, Interval, Polygon, Rectangle, TimeDomain
from sciml.pinns.networks import MLP
from sciml.pinns.problems import LSHAPE_VERTICES


def _g(x):
    return torch.sin(3 * x[:, 0]) + x[:, 1] ** 2 + 2.0


@pytest.mark.parametrize("geom", [Rectangle([-1, 0], [2, 1]), Disk([0.2, -0.1], 0.7), Polygon(LSHAPE_VERTICES),
                                  Difference(Rectangle([-1, -1], [1, 1]), Disk([0, 0], 0.4))],
                         ids=["rectangle", "disk", "lshape", "square-minus-disk"])
def test_hard_dirichlet_exact_on_boundary(geom):
    net = MLP(2, 1, 16, 2, dtype=torch.float64, seed=0)
    with torch.no_grad():  # make the free network large so that a leak would show
        net.layers[-1].weight.mul_(50)
    model = HardDirichlet(net, geom.distance, _g)
    xb = torch.as_tensor(geom.sample_boundary(500, rng=1))
    u = model(xb)[:, 0]
    assert torch.max(torch.abs(u - _g(xb))) <= 1e-14
    xi = torch.as_tensor(geom.sample_interior(200, rng=2))
    assert torch.max(torch.abs(model(xi)[:, 0] - _g(xi))) > 1e-3  # not trivially equal inside


def test_hard_initial_exact_and_interval_hard_bc():
    st = GeometryXTime(Interval(-1, 1), TimeDomain(0, 1))
    net = MLP(2, 1, 16, 2, dtype=torch.float64, seed=0)
    model = HardInitial(net, lambda p: p[:, 0] ** 2 * torch.cos(math.pi * p[:, 0]))
    x0 = torch.as_tensor(st.sample_initial(100, rng=0))
    torch.testing.assert_close(model(x0)[:, 0], x0[:, 0] ** 2 * torch.cos(math.pi * x0[:, 0]), atol=1e-15, rtol=0)
    both = HardDirichlet(HardInitial(net, lambda p: torch.sin(math.pi * p[:, 0])), st.distance)
    xb = torch.as_tensor(st.sample_boundary(100, rng=1))
    assert torch.max(torch.abs(both(xb))) <= 1e-14


def test_soft_terms_vanish_for_exact_functions():
    class Quad(torch.nn.Module):  # u = x^2 + 3 t
        def __init__(self):
            super().__init__()
            self.p = torch.nn.Parameter(torch.zeros((), dtype=torch.float64))

        def forward(self, x):
            return (x[:, :1] ** 2 + 3 * x[:, 1:2]) + 0 * self.p

    m = Quad()
    xb = np.array([[1.0, 0.3], [1.0, 0.7]])
    assert neumann(xb, np.array([[1.0, 0.0], [1.0, 0.0]]), 2.0).loss(m) < 1e-28  # du/dx = 2 at x = 1
    assert float(neumann(xb, np.array([[1.0, 0.0], [1.0, 0.0]]), 1.0).loss(m)) == pytest.approx(1.0)
    assert dirichlet(xb, lambda x: x[:, 0] ** 2 + 3 * x[:, 1]).loss(m) < 1e-28
    x0 = np.array([[0.5, 0.0], [-0.2, 0.0]])
    ic = initial_condition(x0, lambda x: x[:, 0] ** 2, velocity=3.0)
    assert ic.loss(m) < 1e-28
    left, right = np.array([[-1.0, 0.1], [-1.0, 0.9]]), np.array([[1.0, 0.1], [1.0, 0.9]])
    assert periodic(left, right).loss(m) < 1e-28
    assert float(periodic(left, right, derivative_index=0).loss(m)) == pytest.approx(8.0)  # u_x = -2 vs 2
    pde = pde_residual(np.random.default_rng(0).random((10, 2)),
                       lambda mm, x: torch.autograd.grad(mm(x).sum(), x, create_graph=True)[0][:, 1:] - 3.0)
    assert pde.loss(m) < 1e-28


def test_condition_errors():
    with pytest.raises(ValueError, match="normals"):
        neumann(np.zeros((3, 2)), np.zeros((2, 2)))
    with pytest.raises(ValueError, match="one row per point"):
        dirichlet(np.zeros((3, 2)), np.zeros(4)).loss(MLP(2, 1, 4, 1))
    with pytest.raises(TypeError, match="callable"):
        HardDirichlet(MLP(2, 1, 4, 1), distance=3)
