"""Data conventions of every recipe's store: one axis order, one time name, dimension scales that
xarray reads with no sciml code (h5netcdf and netCDF-C), CF units; and files written by the old
layout (tests/fixtures/stores_v0, format sciml-dataset/1) still open with the same values."""
import json
from pathlib import Path

import numpy as np
import pytest

from sciml.datasets import generate, list_recipes, open_dataset
from sciml.datasets._h5layout import canonical_dims

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "stores_v0"
EXPECTED = json.loads((FIXTURES / "expected.json").read_text())

# tiny parameters of every registered recipe (a new recipe must be added here: see the test below)
TINY = {
    "darcy": dict(resolution=8, subsample=1, chunk=2),
    "poisson": dict(resolution=8, chunk=2),
    "heat": dict(resolution=8, steps=1, chunk=2),
    "helmholtz": dict(resolution=8, k0=3.0, chunk=2),
    "ns2d": dict(resolution=16, store_resolution=8, T=2.0, record_dt=1.0, chunk=2),
    "burgers": dict(resolution=32, subsample=4, chunk=2),
    "burgers-raissi": dict(n_x=9, n_t=3),
    "landau": dict(particles=4, grid=4, n_times=2, t_end=0.1, dt=0.05, chunk=2),
}


def test_every_recipe_has_tiny_parameters():
    assert sorted(TINY) == list_recipes()


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    root = tmp_path_factory.mktemp("conv")
    out = {}
    for name, params in TINY.items():
        n = 1 if name == "burgers-raissi" else 2
        out[name] = generate(name, n, seed=1, out=root / f"{name}.h5", progress=False, **params)
    return out


@pytest.mark.parametrize("recipe", sorted(TINY))
def test_h5netcdf_and_netcdf4_give_named_dims_and_coords(stores, recipe):
    import xarray as xr

    path = stores[recipe]
    with open_dataset(path) as ds:
        fields = {k: ds[k][()] for k in ds.fields}
        info = {k: ds.field_info(k) for k in ds.fields}
        coords = ds.coords
    for engine in ("h5netcdf", "netcdf4"):
        with xr.open_dataset(path, engine=engine) as x:
            for name, arr in fields.items():
                dims = info[name]["dims"]
                assert x[name].dims == dims, (engine, name)
                assert dims == canonical_dims(dims) and dims[0] == "sample"
                assert "t" not in dims and "channel" in dims
                assert dims[1:3] == ("time", "channel") if "time" in dims else dims[1] == "channel"
                np.testing.assert_array_equal(x[name].values, arr)
                assert x[name].attrs["units"] == info[name]["units"] and x[name].attrs["long_name"]
            for c, values in coords.items():
                assert c in x.coords and x[c].dims == (c,)
                np.testing.assert_array_equal(x[c].values, values)
                assert "units" in x[c].attrs
            np.testing.assert_array_equal(x["sample"].values, np.arange(len(x["sample"])))
            assert x.attrs["Conventions"] == "CF-1.8" and x.attrs["recipe"] == recipe
            assert bool(x["complete"].values.all())
    # the spatial coordinates are the dims with that name, in y-then-x order
    some = next(iter(info.values()))["dims"]
    if "x" in some and "y" in some:
        assert some.index("y") < some.index("x")


def test_to_xarray_matches_h5netcdf(stores):
    import xarray as xr

    with open_dataset(stores["ns2d"]) as ds:
        mine = ds.to_xarray(lazy=False)
    with xr.open_dataset(stores["ns2d"], engine="h5netcdf") as theirs:
        assert mine["w"].dims == theirs["w"].dims == ("sample", "time", "channel", "y", "x")
        np.testing.assert_array_equal(mine["w"].values, theirs["w"].values)
        assert mine["time"].attrs["axis"] == "T" and theirs["x"].attrs["axis"] == "X"


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_old_layout_files_open_with_the_same_values(name, tmp_path):
    """Fixture written by the code before the change: same arrays and coordinates (``t`` is now
    called ``time``); to_xarray gives today's axis order, and regenerating with today's code
    gives the same data (a stated tolerance: the fixture came from another machine/kernels)."""
    meta = EXPECTED[name]
    exp = np.load(FIXTURES / f"{name}.expected.npz")
    with open_dataset(FIXTURES / f"{name}.h5") as ds:
        assert ds.version == 1 and ds.n == meta["n"] and ds.attrs["recipe"] == meta["recipe"]
        for f, finfo in meta["fields"].items():
            np.testing.assert_array_equal(ds[f][()], exp[f"field/{f}"])
            assert ds.field_info(f)["dims"] == tuple("time" if d == "t" else d for d in finfo["dims"])
            assert ds.field_info(f)["units"] == finfo["units"]
        for key in exp.files:
            if key.startswith("coord/"):
                c = key[6:]
                np.testing.assert_array_equal(ds.coords["time" if c == "t" else c], exp[key])
        old = ds.to_xarray(lazy=False)
    fresh = generate(meta["recipe"], meta["n"], seed=meta["seed"], out=tmp_path / "new.h5", progress=False,
                     **meta["params"])
    with open_dataset(fresh) as ds:
        new = ds.to_xarray(lazy=False)
    for f in meta["fields"]:
        assert old[f].dims == new[f].dims
        np.testing.assert_allclose(old[f].values, new[f].values, rtol=1e-12, atol=1e-12 * np.abs(new[f].values).max())
    for c in new.coords:
        np.testing.assert_allclose(old[c].values, new[c].values, rtol=1e-15)


def test_v1_ns2d_reads_in_todays_order():
    """The old ns2d file stored (x, y); to_xarray transposes it to (y, x): the values at a named
    (x, y) point are the same."""
    exp = np.load(FIXTURES / "ns2d.expected.npz")["field/w"]  # (N, T, C, x, y)
    with open_dataset(FIXTURES / "ns2d.h5") as ds:
        x = ds.to_xarray(lazy=False)
    assert x["w"].dims == ("sample", "time", "channel", "y", "x")
    np.testing.assert_array_equal(x["w"].values, exp.swapaxes(-1, -2))
    assert float(x["w"].isel(sample=1, time=2, channel=0, x=3, y=5)) == exp[1, 2, 0, 3, 5]
