import numpy as np
import pytest
import torch

from sciml.pinns.geometry import Difference, Disk, GeometryXTime, Interval, Polygon, Rectangle, TimeDomain, Union
from sciml.pinns.problems import LSHAPE_VERTICES


def _geoms():
    return {
        "interval": Interval(-1.0, 2.0),
        "rectangle": Rectangle([0, -1], [2, 1]),
        "disk": Disk([0.5, 0.5], 0.3),
        "lshape": Polygon(LSHAPE_VERTICES),
        "union": Union(Rectangle([0, 0], [1, 1]), Disk([1, 0.5], 0.4)),
        "difference": Difference(Rectangle([-1, -1], [1, 1]), Disk([0, 0], 0.5)),
    }


@pytest.mark.parametrize("name", list(_geoms()))
@pytest.mark.parametrize("method", ["uniform", "lhs", "sobol"])
def test_samples_inside_and_on_boundary(name, method):
    g = _geoms()[name]
    xi = g.sample_interior(257, method, rng=1)
    assert xi.shape == (257, g.dim)
    assert np.all(g.contains(xi)) and not np.any(g.on_boundary(xi))
    assert np.all(g.distance(xi) > 0)
    xb = g.sample_boundary(64, method, rng=2)
    assert xb.shape == (64, g.dim)
    assert np.all(g.on_boundary(xb)) and np.all(g.contains(xb))
    assert np.max(np.abs(g.distance(xb))) < 1e-12


def test_polygon_contains_and_outside_distance_sign():
    L = Polygon(LSHAPE_VERTICES)
    pts = np.array([[-0.5, 0.5], [0.5, -0.5], [0.5, 0.5], [1.5, 0.0], [-0.5, -0.5]])
    np.testing.assert_array_equal(L.contains(pts), [True, True, False, False, True])
    d = L.distance(pts)
    assert d[2] < 0 and d[3] < 0 and d[0] > 0
    # near the boundary the R-function distance is close to the true distance
    assert abs(L.distance(np.array([[-0.5, -0.99]]))[0] - 0.01) < 2e-3
    assert abs(L.perimeter - 8.0) < 1e-14


def test_area_fractions_of_interior_sampling():
    rng = np.random.default_rng(0)
    # fraction of uniform box samples that a rejection sampler keeps equals the area ratio
    L = Polygon(LSHAPE_VERTICES)
    box = rng.random((200_000, 2)) * 2 - 1
    assert abs(L.contains(box).mean() - 0.75) < 5e-3
    D = Difference(Rectangle([-1, -1], [1, 1]), Disk([0, 0], 0.5))
    assert abs(D.contains(box).mean() - (4 - np.pi * 0.25) / 4) < 5e-3
    # boundary of the difference: outer square (8) and inner circle (pi): arc-length uniform
    xb = D.sample_boundary(20_000, rng=3)
    inner = np.abs(np.hypot(xb[:, 0], xb[:, 1]) - 0.5) < 1e-9
    assert abs(inner.mean() - np.pi / (8 + np.pi)) < 0.015


def test_disk_interior_is_area_uniform():
    d = Disk([0, 0], 1.0)
    x = d.sample_interior(50_000, rng=0)
    r = np.hypot(x[:, 0], x[:, 1])
    assert abs((r < 0.5).mean() - 0.25) < 0.01


def test_space_time_sampling():
    st = GeometryXTime(Interval(-1, 1), TimeDomain(0, 2))
    xi = st.sample_interior(100, "lhs", 0)
    assert xi.shape == (100, 2) and np.all(st.contains(xi)) and np.all(np.abs(xi[:, 0]) < 1)
    # LHS: one point per time stratum
    assert np.array_equal(np.sort(np.floor(xi[:, 1] / 2 * 100)), np.arange(100))
    xb = st.sample_boundary(50, rng=1)
    assert np.all(np.abs(np.abs(xb[:, 0]) - 1) == 0) and np.all(st.on_boundary(xb))
    x0 = st.sample_initial(30, rng=2)
    assert np.all(x0[:, 1] == 0) and np.all(st.on_initial(x0))
    assert np.all(st.initial_distance(x0) == 0)


def test_distance_is_differentiable_torch():
    g = Polygon(LSHAPE_VERTICES)
    x = torch.tensor([[-0.5, 0.5], [0.3, -0.4]], dtype=torch.float64, requires_grad=True)
    d = g.distance(x)
    (gr,) = torch.autograd.grad(d.sum(), x)
    assert torch.all(torch.isfinite(gr)) and d.dtype == torch.float64


def test_bad_inputs():
    with pytest.raises(ValueError, match="a < b"):
        Interval(1, 0)
    with pytest.raises(ValueError, match="radius"):
        Disk([0, 0], -1)
    with pytest.raises(ValueError, match="vertices"):
        Polygon([[0, 0], [1, 1]])
    with pytest.raises(ValueError, match="method"):
        Rectangle([0, 0], [1, 1]).sample_interior(4, "grid")
    with pytest.raises(TypeError, match="n must be an int"):
        Disk([0, 0], 1).sample_boundary(2.5)
    with pytest.raises(ValueError, match="same dim"):
        Union(Interval(0, 1), Disk([0, 0], 1))
