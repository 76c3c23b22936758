import json

import h5py
import numpy as np
import pytest

from sciml.datasets import describe, open_dataset, save_dataset


def test_save_open_roundtrip_and_xarray(tmp_path):
    rng = np.random.default_rng(0)
    a = rng.random((5, 1, 8, 8))
    w = rng.random((5, 3, 1, 8, 8)).astype(np.float32)
    x = np.linspace(0, 1, 8)
    path = save_dataset(tmp_path / "d.h5", {"a": a, "w": w}, units={"a": "m2"},
                        coords={"x": (("x",), x, "m"), "y": (("y",), x, "m")}, params={"k": 1}, seed=3)
    with open_dataset(path) as ds:
        assert ds.fields == ["a", "w"] and ds.n == 5 and ds.complete.all()
        assert np.array_equal(ds["a"][2], a[2]) and ds["w"].dtype == np.float32
        assert ds["a"].chunks == (1, 1, 8, 8)  # one sample per chunk: cheap random access
        assert ds.attrs["params"] == {"k": 1} and ds.attrs["seed"] == 3
        assert ds.field_info("w")["dims"] == ("sample", "time", "channel", "y", "x")
        xa = ds.to_xarray()
        assert xa["a"].dims == ("sample", "channel", "y", "x") and xa["a"].attrs["units"] == "m2"
        assert np.array_equal(xa["a"].values, a) and xa["x"].attrs["units"] == "m"
        nc = ds.to_netcdf(tmp_path / "d.nc")
    import xarray as xr

    with xr.open_dataset(nc) as back:
        assert back.attrs["Conventions"] == "CF-1.8"
        assert np.array_equal(back["a"].values, a)
        assert json.loads(back.attrs["params"]) == {"k": 1}
    text = describe(path)
    assert "(5, 1, 8, 8)" in text and "units=m2" in text


def test_open_rejects_other_files(tmp_path):
    with pytest.raises(FileNotFoundError):
        open_dataset(tmp_path / "missing.h5")
    with h5py.File(tmp_path / "other.h5", "w") as f:
        f["x"] = 1
    with pytest.raises(ValueError, match="not a sciml dataset"):
        open_dataset(tmp_path / "other.h5")
    (tmp_path / "text.h5").write_text("hello")
    with pytest.raises(ValueError, match="not a readable HDF5"):
        open_dataset(tmp_path / "text.h5")


def test_save_dataset_bad_input(tmp_path):
    with pytest.raises(ValueError, match="same number of samples"):
        save_dataset(tmp_path / "x.h5", {"a": np.zeros((2, 1, 4)), "b": np.zeros((3, 1, 4))})
    with pytest.raises(ValueError, match="at least one"):
        save_dataset(tmp_path / "x.h5", {})
    assert not list(tmp_path.iterdir())  # nothing half-written left behind


def test_save_dataset_fields_of_different_sizes_and_xarray(tmp_path):
    import xarray as xr

    t = np.linspace(0, 1, 3)
    path = save_dataset(tmp_path / "t.h5", {"w": np.random.rand(2, 3, 1, 8, 8), "u": np.random.rand(2, 1, 16)},
                        coords={"t": (("time",), t, "s")})
    with open_dataset(path) as ds:
        assert ds.field_info("w")["dims"] == ("sample", "time", "channel", "y", "x")
        assert ds.field_info("u")["dims"] == ("sample", "channel", "x_u")
    with xr.open_dataset(path, engine="h5netcdf") as x:
        assert x["u"].dims == ("sample", "channel", "x_u") and x.sizes["x"] == 8 and x.sizes["x_u"] == 16
        np.testing.assert_array_equal(x["t"].values, t)
        assert x["t"].dims == ("time",) and "t" in x.coords
    with pytest.raises(ValueError, match="dimension 'x' has size"):
        save_dataset(tmp_path / "bad.h5", {"a": np.zeros((2, 1, 4)), "b": np.zeros((2, 1, 5))},
                     dims={"a": ("channel", "x"), "b": ("channel", "x")})
    assert not (tmp_path / "bad.h5").exists()
