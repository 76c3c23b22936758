import numpy as np
import pytest

from sciml.bench.carbonbench import RolloutScores
from sciml.viz.carbon import (
    column_mean,
    plot_co2_map,
    plot_error_map,
    plot_mass_drift,
    plot_rollout_curves,
    pyvista_offscreen_available,
    render_co2_column_3d,
)

LAT = np.linspace(-78.75, 78.75, 8)
LON = np.arange(16) * 22.5


def _q(seed=0):
    rng = np.random.default_rng(seed)
    return 600 + 3 * np.cos(np.deg2rad(LAT))[None, :, None] + rng.normal(size=(3, 8, 16))


def test_maps_written(tmp_path):
    q = _q()
    out = tmp_path / "map.png"
    fig = plot_co2_map(q, LAT, LON, out=out)
    assert out.stat().st_size > 5000
    im = fig.axes[0].images[0].get_array()
    assert np.allclose(im, column_mean(q) * 28.97 / 44.01)  # ppm column mean is what is shown
    fig = plot_error_map(q + 1.0, q, LAT, LON, level=0, out=tmp_path / "err.png")
    assert np.allclose(fig.axes[2].images[0].get_array(), 28.97 / 44.01)  # error panel = offset in ppm
    with pytest.raises(ValueError, match="level"):
        plot_co2_map(q, LAT, LON, level=5)
    with pytest.raises(ValueError, match="lat"):
        plot_co2_map(q, LAT[:-1], LON)


def test_column_mean_air_mass_weighted():
    q = np.array([[[1.0]], [[3.0]]])
    m = np.array([[[3.0]], [[1.0]]])
    assert np.isclose(column_mean(q, m)[0, 0], 1.5)


def test_curves(tmp_path):
    days = np.linspace(0, 90, 10)
    s = RolloutScores(days, np.linspace(1, 0.8, 10), np.linspace(0, 1, 10), np.zeros(10))
    plot_rollout_curves({"a": s}, out=tmp_path / "c.png")
    plot_mass_drift({"a": (days, 1 + 1e-14 * days, np.ones(10))}, out=tmp_path / "d.png")
    assert (tmp_path / "c.png").stat().st_size > 5000 and (tmp_path / "d.png").stat().st_size > 5000


def test_render_3d(tmp_path, capfd):
    ok, why = pyvista_offscreen_available()
    if not ok:
        pytest.skip(why)
    out = render_co2_column_3d(_q(), LAT, LON, tmp_path / "col.png", window_size=(240, 200))
    # VTK's fallback to off-screen rendering without a display is not a warning a user should see
    assert "WARN" not in capfd.readouterr().err
    import matplotlib.image as mpimg

    img = mpimg.imread(out)
    assert img.shape[:2] == (200, 240)
    assert img[..., :3].std() > 0.05  # not a blank frame
