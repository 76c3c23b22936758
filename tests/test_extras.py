"""Optional extras: a feature called without its extra names the extra to install.

Each test hides the optional package (``sys.modules[name] = None`` makes ``import name``
raise ModuleNotFoundError, as for a package that is not installed) and calls the public
feature that needs it.
"""
import sys

import numpy as np
import pytest

from sciml._util.extras import require


def _hide(monkeypatch, *names):
    for name in names:
        for mod in [m for m in sys.modules if m == name or m.startswith(name + ".")]:
            monkeypatch.delitem(sys.modules, mod)
        monkeypatch.setitem(sys.modules, name, None)


def test_require_returns_the_module():
    import json

    assert require("json", "none") is json


def test_require_names_feature_package_and_extra(monkeypatch):
    _hide(monkeypatch, "tensorly")
    with pytest.raises(ModuleNotFoundError) as e:
        require("tensorly.cp_tensor", "tensorly", "CP weights")
    msg = str(e.value)
    assert msg.startswith("CP weights needs 'tensorly', which is not installed")
    assert "pip install 'sciml[tensorly]'" in msg
    assert e.value.name.split(".")[0] == "tensorly"


def test_require_reports_a_missing_dependency_of_the_module(monkeypatch):
    # 'json' is importable, but pretend its own import of a dependency fails.
    import importlib

    def fake(name, *a, **k):
        raise ModuleNotFoundError("No module named 'vtk'", name="vtk")

    monkeypatch.setattr(importlib, "import_module", fake)
    with pytest.raises(ModuleNotFoundError, match=r"needs 'pyvista', which is not installed \(No module named "
                                                  r"'vtk'\); install the 'viz3d' extra"):
        require("pyvista", "viz3d")


def test_require_lets_other_import_errors_through(monkeypatch):
    import importlib

    def fake(name, *a, **k):
        raise ImportError("libGL.so.1: cannot open shared object file")

    monkeypatch.setattr(importlib, "import_module", fake)
    with pytest.raises(ImportError, match="libGL") as e:
        require("pyvista", "viz3d")
    assert "sciml[" not in str(e.value)


def test_factorized_weights_without_tensorly(monkeypatch):
    from sciml.operators.tensorized import make_spectral_weight

    _hide(monkeypatch, "tensorly")
    make_spectral_weight((2, 2, 4, 3), None, 1.0, 0.1)  # dense weights need no extra
    for fact in ("cp", "tucker"):
        with pytest.raises(ImportError, match=r"factorized spectral weights .* pip install 'sciml\[tensorly\]'"):
            make_spectral_weight((2, 2, 4, 3), fact, 0.5, 0.1)


def test_dask_executor_without_distributed(monkeypatch, tmp_path):
    from sciml.datasets import generate

    _hide(monkeypatch, "dask.distributed", "distributed")
    with pytest.raises(ImportError, match=r"the Dask executor .* pip install 'sciml\[dask\]'"):
        generate("darcy", 2, seed=0, out=tmp_path / "d.h5", scheduler="local", workers=1, progress=False,
                 resolution=9, subsample=1)


def test_netcdf_export_without_netcdf4(monkeypatch, tmp_path):
    from sciml.datasets import generate, open_dataset

    path = generate("darcy", 2, seed=0, out=tmp_path / "d.h5", progress=False, resolution=9, subsample=1)
    _hide(monkeypatch, "netCDF4")
    with open_dataset(path) as ds:
        with pytest.raises(ImportError, match=r"netCDF export .* pip install 'sciml\[netcdf\]'"):
            ds.to_netcdf(tmp_path / "d.nc")
    assert not (tmp_path / "d.nc").exists()


def test_3d_render_without_pyvista(monkeypatch, tmp_path):
    from sciml.viz.carbon import render_co2_column_3d

    _hide(monkeypatch, "pyvista")
    q = np.full((2, 4, 8), 4e-4)
    lat = np.linspace(-67.5, 67.5, 4)
    lon = np.arange(8) * 45.0
    with pytest.raises(ImportError, match=r"render_co2_column_3d needs 'pyvista'.* pip install 'sciml\[viz3d\]'"):
        render_co2_column_3d(q, lat, lon, tmp_path / "c.png")
    assert not (tmp_path / "c.png").exists()


def test_carbonbench_netcdf_export_without_netcdf4(monkeypatch, tmp_path):
    from sciml.datasets.carbonbench import generate_tiny_carbonbench, open_carbonbench

    generate_tiny_carbonbench(tmp_path / "cb", days=1)
    store = open_carbonbench(tmp_path / "cb", "test")
    _hide(monkeypatch, "netCDF4")
    with pytest.raises(ImportError, match=r"netCDF export .* pip install 'sciml\[netcdf\]'"):
        store.to_netcdf(tmp_path / "cb.nc")
    assert not (tmp_path / "cb.nc").exists()


def test_every_module_imports_without_the_extras():
    # What `make test`'s doctest collection and a user's `import sciml.x` rely on: no module
    # imports an optional extra at import time.
    import subprocess
    import textwrap

    code = textwrap.dedent("""
        import importlib, pkgutil, sys
        for name in ("dask.distributed", "distributed", "tensorly", "pyvista", "vtk", "netCDF4"):
            sys.modules[name] = None
        import sciml
        bad = []
        for mod in pkgutil.walk_packages(sciml.__path__, "sciml."):
            if mod.name.rsplit(".", 1)[-1] == "__main__":
                continue
            try:
                importlib.import_module(mod.name)
            except ImportError as exc:
                bad.append(f"{mod.name}: {exc}")
        print("\\n".join(bad))
        sys.exit(1 if bad else 0)
    """)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
