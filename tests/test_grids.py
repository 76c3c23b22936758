import numpy as np
import pytest

from sciml.grids import (
    EARTH_RADIUS,
    GRAVITY,
    LatLonGrid,
    default_hybrid_levels,
    periodic_grid,
    torus_grid,
    unit_square_grid,
)


def test_carbonbench_lowres_coordinates():
    g = LatLonGrid.carbonbench("lowres")
    assert g.shape == (10, 32, 64)
    assert g.name == "latlon5.625" and g.vertical_name == "l10"
    np.testing.assert_allclose(g.lat[[0, -1]], [-87.1875, 87.1875], atol=1e-12)
    np.testing.assert_allclose(g.lon[[0, -1]], [0.0, 354.375], atol=1e-12)
    np.testing.assert_allclose(np.diff(g.lat), 5.625, atol=1e-12)
    np.testing.assert_allclose(g.lat_bounds[[0, -1]], [-90, 90], atol=1e-12)
    np.testing.assert_allclose(g.level[:4], [1013, 1005, 995, 971])
    m = LatLonGrid.carbonbench("midres")
    assert m.shape == (20, 64, 128) and m.name == "latlon2.8125"
    assert LatLonGrid.from_name("latlon22.5", 3).shape == (3, 8, 16)


@pytest.mark.parametrize("nlat", [8, 32, 64, 90])
def test_cell_areas_exact(nlat):
    g = LatLonGrid(nlat, 2 * nlat)
    total = 4 * np.pi * EARTH_RADIUS ** 2
    assert abs(g.total_area - total) / total < 1e-14
    # area of the band between two latitudes: 2 pi R^2 (sin b - sin a)
    j = nlat // 4
    band = g.cell_area[j].sum()
    exact = 2 * np.pi * EARTH_RADIUS ** 2 * (np.sin(g.lat_bounds_rad[j + 1]) - np.sin(g.lat_bounds_rad[j]))
    assert abs(band - exact) / exact < 1e-13
    # symmetric about the equator
    np.testing.assert_allclose(g.cell_area, g.cell_area[::-1], rtol=1e-13)


def test_air_mass_from_pressure():
    g = LatLonGrid.from_name("latlon11.25", 7)
    rng = np.random.default_rng(0)
    ps = 1.0e5 + 2000 * rng.standard_normal((2, g.nlat, g.nlon))
    pb = g.pressure_bounds(ps)
    assert pb.shape == (2, 8, 16, 32)
    np.testing.assert_allclose(pb[:, 0], ps)
    assert np.all(np.diff(pb, axis=1) < 0)
    m = g.air_mass(ps)
    np.testing.assert_allclose(m.sum(axis=1), ps * g.cell_area / GRAVITY, rtol=1e-14)
    np.testing.assert_allclose(g.column_mass(ps), m.sum(axis=1), rtol=1e-13)


def test_sigma_and_custom_levels():
    a, b = default_hybrid_levels(5, kind="sigma", p_top=1000.0)
    g = LatLonGrid(4, 8, (a, b))
    ps = np.full((4, 8), 9.0e4)
    np.testing.assert_allclose(g.dp(ps).sum(axis=0), ps - 1000.0)
    with pytest.raises(ValueError, match="decrease"):
        LatLonGrid(4, 8, (a[::-1], b[::-1]))


def test_bad_input():
    with pytest.raises(ValueError, match="latlon5.625"):
        LatLonGrid.from_name("gaussian64")
    with pytest.raises(ValueError, match="divide 180"):
        LatLonGrid.from_name("latlon7")
    with pytest.raises(TypeError, match="nlat"):
        LatLonGrid(8.0, 16)
    with pytest.raises(ValueError, match="variant"):
        LatLonGrid.carbonbench("hires")
    with pytest.raises(ValueError, match="ps must have shape"):
        LatLonGrid(4, 8, 3).air_mass(np.ones((3, 3)))
    with pytest.raises(ValueError, match="no vertical levels"):
        LatLonGrid(4, 8).dp(np.ones((4, 8)))


def test_uniform_grids():
    x = periodic_grid(8, 2 * np.pi)
    assert x.shape == (8,) and x[1] == pytest.approx(np.pi / 4) and x[-1] < 2 * np.pi
    X, Y = torus_grid(4)
    assert X.shape == (4, 4) and Y[0, 1] == 0.25
    X, Y = unit_square_grid(5)
    assert X[-1, 0] == 1.0 and Y[0, -1] == 1.0
