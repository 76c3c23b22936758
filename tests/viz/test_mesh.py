import pytest

from sciml.viz.mesh import plot_multimesh


def test_multimesh_figure(tmp_path):
    out = tmp_path / "mesh.png"
    fig = plot_multimesh(1, nlat=8, nlon=16, out=out)
    assert out.stat().st_size > 20000
    globe, latlon = fig.axes
    labels = [t.get_text() for t in globe.get_legend().get_texts()]
    assert labels == ["M1 edges (120)", "M0 edges (30)"]  # finest drawn first, coarse on top
    assert "42 vertices, 150 edges" in globe.get_title()
    assert "384 mesh->grid" in latlon.get_title()  # 3 x 8 x 16
    with pytest.raises(ValueError, match="level"):
        plot_multimesh(9)
