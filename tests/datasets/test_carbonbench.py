"""CarbonBench schema reader, CF export and the synthetic generator (sciml.datasets.carbonbench)."""

import numpy as np
import pytest

from sciml.datasets import carbonbench as cb
from sciml.grids import LatLonGrid


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("cb")
    res = cb.generate_tiny_carbonbench(root, days=4)
    return root, res


def test_tiny_store_schema(tiny):
    root, res = tiny
    for split in ("train", "val", "test"):
        assert res[split] == cb.store_path(root, split, "latlon22.5", "l3", "6h")
        assert res[f"{split}_stats"].is_dir()
        s = cb.open_carbonbench(root, split)
        assert len(s) == 16
        v3, v2 = s.ds["variables_3d"], s.ds["variables_2d"]
        assert v3.dims == ("time", "vari_3d", "level", "lat", "lon") and v3.dtype == np.float32
        assert v2.dims == ("time", "vari_2d", "lat", "lon") and v2.dtype == np.float32
        assert v3.shape == (16, 10, 3, 8, 16) and v2.shape == (16, 7, 8, 16)
        assert s.variables_3d == cb.VARIABLES_3D and s.variables_2d == cb.VARIABLES_2D
        dts = np.diff(s.time).astype("timedelta64[h]").astype(int)
        assert np.all(dts == 6)
        assert str(s.time[0])[:4] == {"train": "2000", "val": "2001", "test": "2002"}[split]
        np.testing.assert_allclose(s.lat, LatLonGrid(8, 16).lat)
        assert not np.isnan(s.ds["variables_3d"].values).any()
    s = cb.open_carbonbench(root, "train", grid="latlon22.5", levels="l3")
    np.testing.assert_allclose(s.cell_area, LatLonGrid(8, 16).cell_area, rtol=1e-6)
    assert s["co2massmix"].dims == ("time", "level", "lat", "lon")
    assert s["co2flux_land"].attrs["units"] == "kg m-2 s-1"
    x3, x2 = s.sample(3)
    np.testing.assert_array_equal(x3[0], s.read("co2massmix", 3))
    ppm = s.read("co2massmix", 0) * cb.MASSMIX_TO_PPM
    assert 360 < ppm.min() and ppm.max() < 380  # ~370 ppm
    ppm = s.read("co2massmix") * cb.MASSMIX_TO_PPM  # fluxes mixed through the boundary layer: no pile-up
    assert 340 < ppm.min() and ppm.max() < 460


def test_mass_budget_and_air_mass(tiny):
    root, _ = tiny
    s = cb.open_carbonbench(root, "train")
    # recorded in float64 by the generator
    assert s.attrs["max_relative_mass_budget_error_per_step"] <= 1e-13
    assert s.attrs["max_relative_transport_mass_drift_per_step"] <= 1e-13
    assert s.attrs["max_relative_airmass_mismatch"] <= 1e-13
    # and visible in the float32 store: M(t+1) = M(t) + sum F A dt
    q = s.read("co2massmix").astype(np.float64) * 1e-6
    m = s.read("airmass").astype(np.float64) * 1e12
    M = (q * m).sum(axis=(1, 2, 3))
    F = sum(s.read(n).astype(np.float64) for n in ("co2flux_land", "co2flux_ocean", "co2flux_anthro"))
    dM = (F * s.cell_area).sum(axis=(1, 2)) * 6 * 3600.0
    err = np.abs(M[1:] - M[:-1] - dM[:-1]) / M[:-1]
    assert err.max() < 5e-6  # float32 storage
    assert np.abs(dM).max() / M[0] > 1e-6  # the fluxes really change the budget
    # the global air mass is constant (prescribed surface pressure keeps it)
    total_air = m.sum(axis=(1, 2, 3))
    assert np.ptp(total_air) / total_air[0] < 1e-6
    # hydrostatic: p_bottom of level 0 = surface pressure, layers ordered
    pb, pt = s.read("p_bottom", 0), s.read("p_top", 0)
    assert np.all(pb > pt) and np.all(pb[1:] == pt[:-1])
    g = LatLonGrid(8, 16)
    np.testing.assert_allclose(m[0].sum(axis=0), pb[0] * 100 * g.cell_area / 9.80665, rtol=1e-5)
    # the store's grid carries the generator's hybrid levels: air mass from p_bottom reproduces airmass
    np.testing.assert_allclose(s.grid.air_mass(pb[0] * 100.0), m[0], rtol=1e-5)


def test_stats_match_data(tiny):
    root, _ = tiny
    s = cb.open_carbonbench(root, "val")
    st = s.stats
    assert list(st["stats"].values) == ["min", "mean", "max", "std"]
    tr = cb.open_carbonbench(root, "train")
    x = tr.read("co2massmix").astype(np.float64)
    np.testing.assert_allclose(st["co2massmix"].values, [x.min(), x.mean(), x.max(), x.std()], rtol=1e-6)
    d = np.diff(tr.read("u").astype(np.float64), axis=0)
    assert st["u_delta"].dims == ("stats", "level")
    np.testing.assert_allclose(st["u_delta"].sel(stats="std").values, d.std(axis=(0, 2, 3)), rtol=1e-5)
    np.testing.assert_allclose(st["co2massmix_next"].values, st["co2massmix"].values)
    assert st["tisr_delta"].dims == ("stats",)


def test_cf_netcdf_export(tiny, tmp_path):
    import xarray as xr

    root, _ = tiny
    s = cb.open_carbonbench(root, "test")
    out = s.to_netcdf(tmp_path / "cb.nc", time=slice(0, 4))
    with xr.open_dataset(out) as ds:
        assert ds["t"].attrs["standard_name"] == "air_temperature" and ds["t"].attrs["units"] == "K"
        assert ds["lat"].attrs["units"] == "degrees_north"
        assert ds["co2massmix"].dims == ("time", "level", "lat", "lon")
        np.testing.assert_array_equal(ds["co2massmix"].values, s.read("co2massmix", slice(0, 4)))
        assert ds.sizes["time"] == 4


def test_reads_store_written_by_xarray(tiny, tmp_path):
    """A store written the way the published one was (xarray.to_zarr of the stacked arrays)."""
    import xarray as xr

    root, _ = tiny
    s = cb.open_carbonbench(root, "train")
    ds = xr.Dataset({"variables_3d": s.ds["variables_3d"].load(), "variables_2d": s.ds["variables_2d"].load()})
    ds = ds.drop_encoding()
    dst = cb.store_path(tmp_path, "train", "latlon22.5", "l3", "6h")
    dst.parent.mkdir(parents=True)
    ds.to_zarr(dst, zarr_format=2)
    s2 = cb.open_carbonbench(tmp_path, "train")
    np.testing.assert_array_equal(s2.read("q", 5), s.read("q", 5))
    assert s2.stats is None


def test_bad_stores(tiny, tmp_path):
    import xarray as xr

    root, _ = tiny
    s = cb.open_carbonbench(root, "train")
    # a store without "t" and "tisr"
    keep3 = [i for i, n in enumerate(s.variables_3d) if n != "t"]
    keep2 = [i for i, n in enumerate(s.variables_2d) if n != "tisr"]
    ds = xr.Dataset({"variables_3d": s.ds["variables_3d"].isel(vari_3d=keep3).load(),
                     "variables_2d": s.ds["variables_2d"].isel(vari_2d=keep2).load()}).drop_encoding()
    bad = tmp_path / "bad.zarr"
    ds.to_zarr(bad, zarr_format=2)
    with pytest.raises(ValueError, match=r"missing variables \['t', 'tisr'\]"):
        cb.open_carbonbench(bad)
    # a store with only one of the two arrays
    bad2 = tmp_path / "bad2.zarr"
    xr.Dataset({"variables_3d": s.ds["variables_3d"].isel(time=slice(0, 2)).load()}).drop_encoding().to_zarr(
        bad2, zarr_format=2
    )
    with pytest.raises(ValueError, match="missing arrays \\['variables_2d'\\]"):
        cb.open_carbonbench(bad2)
    # the wrong grid
    with pytest.raises(ValueError, match="expected 32 x 64"):
        cb.open_carbonbench(s.path, grid="latlon5.625")
    with pytest.raises(FileNotFoundError, match="latlon5.625"):
        cb.open_carbonbench(root, "train", grid="latlon5.625")
    with pytest.raises(ValueError, match="split"):
        cb.open_carbonbench(root, "validation")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        cb.open_carbonbench(tmp_path / "nowhere", "train")
    with pytest.raises(KeyError, match="co2"):
        s["co2"]


def test_resume_after_interruption(tmp_path, monkeypatch):
    """Interrupted in the second year, the rerun finishes; the result equals an uninterrupted run."""
    kw = dict(grid="latlon22.5", levels=2, years=(2000, 2002), days_per_year=2, progress=False)
    cb.generate_carbonbench(tmp_path / "ref", **kw)
    calls = {"n": 0}
    orig = cb._Simulator.step

    def flaky(self, *a, **k):
        calls["n"] += 1
        if calls["n"] == 12:  # inside year 2001 (8 steps per year)
            raise KeyboardInterrupt
        return orig(self, *a, **k)

    monkeypatch.setattr(cb._Simulator, "step", flaky)
    with pytest.raises(KeyboardInterrupt):
        cb.generate_carbonbench(tmp_path / "run", **kw)
    assert (cb.store_path(tmp_path / "run", "train", "latlon22.5", "l2")).is_dir()  # 2000 done
    assert not cb.store_path(tmp_path / "run", "val", "latlon22.5", "l2").is_dir()
    monkeypatch.setattr(cb._Simulator, "step", orig)
    calls["n"] = 0
    res = cb.generate_carbonbench(tmp_path / "run", **kw)
    for split in ("train", "val", "test"):
        a = cb.open_carbonbench(tmp_path / "run", split)
        b = cb.open_carbonbench(tmp_path / "ref", split)
        assert len(a) == 8
        np.testing.assert_array_equal(a.array_3d[:], b.array_3d[:])
        np.testing.assert_array_equal(a.array_2d[:], b.array_2d[:])
    # a finished run is skipped
    again = cb.generate_carbonbench(tmp_path / "run", **kw)
    assert again["seconds"] < res["seconds"] + 5
    with pytest.raises(ValueError, match="other parameters"):
        cb.generate_carbonbench(tmp_path / "run", **{**kw, "seed": 1})


def test_synthetic_atmosphere_physics():
    g = LatLonGrid.from_name("latlon11.25", 5)
    atm = cb.SyntheticAtmosphere(g, seed=0)
    day = 86400.0
    ps = np.stack([atm.surface_pressure(t * day) for t in range(0, 60, 7)])
    mean = g.area_mean(ps)
    assert np.ptp(mean) / mean[0] < 1e-12  # global air mass constant
    assert ps.min() > 5.0e4 and ps.max() < 1.06e5
    u, v = atm.winds(0.0)
    assert 20 < np.abs(u).max() < 80 and np.abs(v).max() < 40
    # annual-mean fluxes (PgC/yr): land sink ~ -1.5, ocean ~ -2, anthro ~ 7 growing 2 %/yr
    ts = np.arange(0, 365.25 * day, day / 4 + 1234.5)
    tot = np.zeros(3)
    for t in ts:
        tot += [(f * g.cell_area).sum() for f in atm.fluxes(t)]
    pgc = tot / len(ts) * 365.25 * day * cb.PGC_PER_KG_CO2
    assert -2.5 < pgc[0] < -0.5 and -3 < pgc[1] < -1 and 6.5 < pgc[2] < 7.6
    a0 = (atm.fluxes(0.0)[2] * g.cell_area).sum()
    a1 = (atm.fluxes(4 * 365.25 * day)[2] * g.cell_area).sum()  # same season and hour, 4 years later
    assert a1 / a0 == pytest.approx(np.exp(0.08), rel=1e-9)


def test_year_outside_splits_is_simulated_not_stored(tmp_path):
    kw = dict(grid="latlon22.5", levels=2, days_per_year=1, progress=False)
    gap = cb.generate_carbonbench(tmp_path / "gap", years=(2000, 2002),
                                  splits={"train": (2000, 2000), "test": (2002, 2002)}, **kw)
    full = cb.generate_carbonbench(tmp_path / "full", years=(2000, 2002), **kw)
    assert not (tmp_path / "gap" / "Carbontracker" / "val").exists()
    a = cb.open_carbonbench(tmp_path / "gap", "test")
    b = cb.open_carbonbench(tmp_path / "full", "test")
    np.testing.assert_array_equal(a.array_3d[:], b.array_3d[:])  # the gap year was simulated
    assert "val" not in gap and "val" in full


def test_default_splits():
    assert cb.default_splits((2000, 2020)) == cb.PUBLISHED_SPLITS
    assert cb.default_splits((2000, 2003)) == {"train": (2000, 2001), "val": (2002, 2002), "test": (2003, 2003)}
    assert cb.default_splits((2005, 2006)) == {"train": (2005, 2005), "test": (2006, 2006)}


def test_generator_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="grid"):
        cb.generate_carbonbench(tmp_path, grid="gaussian", progress=False)
    with pytest.raises(ValueError, match="years"):
        cb.generate_carbonbench(tmp_path, years=(2003, 2000), progress=False)
    with pytest.raises(ValueError, match="two splits"):
        cb.generate_carbonbench(tmp_path, years=(2000, 2001), splits={"train": (2000, 2001), "test": (2001, 2001)},
                                progress=False)
    with pytest.raises(ValueError, match="within years"):
        cb.generate_carbonbench(tmp_path, years=(2000, 2002), splits={"train": (1999, 2000)}, progress=False)
    with pytest.raises(ValueError, match="days_per_year"):
        cb.generate_carbonbench(tmp_path, days_per_year=0, progress=False)


# the command line (sciml generate carbonbench) is tested in tests/cli/test_carbonbench_cli.py


def test_synthetic_flux_budgets_are_realistic():
    """Global budgets (PgC/yr) of the synthetic fluxes over a year match CarbonTracker magnitudes:
    fossil ~7-8, land net sink ~1.5 with a seasonal swing of ~+-15 in monthly means, ocean ~2."""
    g = LatLonGrid.from_name("latlon11.25", 5)
    atm = cb.SyntheticAtmosphere(g, seed=0)
    t0 = cb._seconds_since_2000(2004)
    t = t0 + (np.arange(1460) + 0.5) * 6 * 3600.0
    k = 365.25 * 86400.0 * cb.PGC_PER_KG_CO2
    tot = np.array([[(f * g.cell_area).sum() * k for f in atm.fluxes(ti)] for ti in t])  # (T, 3)
    land, ocean, anth = tot.mean(axis=0)
    assert -2.5 < land < -0.5 and -2.5 < ocean < -1.5 and 6.5 < anth < 9.0
    monthly = tot[:1440, 0].reshape(12, 120).mean(axis=1)
    assert 8.0 < monthly.max() < 20.0 and -22.0 < monthly.min() < -10.0
    assert np.argmin(monthly) in (5, 6, 7)  # northern summer uptake


@pytest.mark.slow
def test_synthetic_co2_variability_is_realistic():
    """One simulated year (11.25 deg, 5 levels): northern boundary-layer seasonal range ~15 ppm,
    southern a few ppm, spatial std of the field a few ppm, growth ~1.5-2 ppm/yr."""
    g = LatLonGrid.from_name("latlon11.25", 5)
    sim = cb._Simulator(g, 0, 6 * 3600.0, "mc")
    t0 = cb._seconds_since_2000(2000)
    ps = sim.atm.surface_pressure(t0)
    r = sim.atm.initial_co2(ps) * g.air_mass(ps)
    zonal, std, gmean = [], [], []
    for n in range(1460):
        t = t0 + n * sim.dt
        m = g.air_mass(sim.atm.surface_pressure(t))
        q = r / m * 1e6 * cb.MASSMIX_TO_PPM
        w = m / m.sum()
        gm = (q * w).sum()
        zonal.append(q[0].mean(axis=-1)), std.append(np.sqrt(((q - gm) ** 2 * w).sum())), gmean.append(gm)
        land, ocean, anth = sim.atm.fluxes(t + 0.5 * sim.dt)
        r = sim.step(t, r, m, land + ocean + anth)
    daily = np.array(zonal).reshape(365, 4, g.nlat).mean(axis=1)
    rng = daily.max(axis=0) - daily.min(axis=0)
    north, south = rng[np.argmin(abs(g.lat - 56))], rng[np.argmin(abs(g.lat + 45))]
    assert 8.0 < north < 25.0, north
    assert south < 4.0, south
    assert 1.0 < np.mean(std) < 6.0
    assert 1.3 < gmean[-1] - gmean[0] < 2.3


def test_emulator_arrays_from_store(tiny):
    from sciml.training.emulator import carbon_arrays_from_store

    root, _ = tiny
    s = cb.open_carbonbench(root, "train")
    d = carbon_arrays_from_store(s, forcing_2d=("blh", "tisr"), flux_forcing=True)
    L = s.level.size
    assert d.forcing.shape == (16, 3 * L + 3, 8, 16) and d.surface_flux.shape == (16, 3, 8, 16)
    np.testing.assert_allclose(d.forcing[:, -1], d.surface_flux.sum(axis=1), rtol=1e-6)
    np.testing.assert_array_equal(d.forcing[:, 3 * L], s.read("blh"))
    assert carbon_arrays_from_store(s).forcing.shape[1] == 3 * L


def test_bad_arguments_write_nothing(tmp_path):
    """Issue 13 #7: a refused argument leaves no trace, so the corrected command then runs."""
    out = tmp_path / "cb"
    kw = dict(grid="latlon22.5", levels=2, years=(2000, 2000), days_per_year=1, progress=False)
    for bad, match in (({"seed": -1}, "seed"), ({"levels": 0}, "levels"), ({"limiter": "none"}, "limiter"),
                       ({"years": "2000..2001"}, "years"), ({"chunk_time": 3}, "chunk_time"),
                       ({"splits": "train:2000"}, "splits"), ({"block_days": 0}, "block_days")):
        with pytest.raises((ValueError, TypeError), match=match):
            cb.generate_carbonbench(out, **{**kw, **bad})
        assert not out.exists()
    res = cb.generate_carbonbench(out, **{**kw, "seed": 1})
    assert cb.open_carbonbench(out, "train").attrs["synthetic_params"].count('"seed": 1') == 1
    assert sorted(k for k in res if k != "seconds") == ["train", "train_stats"]
    # years and splits as text (what a command line passes)
    res2 = cb.generate_carbonbench(tmp_path / "txt", **{**kw, "seed": 1, "years": "2000", "splits": "train=2000"})
    np.testing.assert_array_equal(cb.open_carbonbench(tmp_path / "txt").array_3d[:],
                                  cb.open_carbonbench(out).array_3d[:])
    assert res2["train"].is_dir()


def test_second_writer_is_refused_and_overwrite(tmp_path):
    from sciml._util.io import OutputLock

    out = tmp_path / "cb"
    kw = dict(grid="latlon22.5", levels=2, years=(2000, 2000), days_per_year=1, progress=False)
    out.mkdir()
    with OutputLock(out / "Carbontracker"):
        # the lock is re-entrant in one process: take it from a child process instead
        import subprocess
        import sys

        code = ("import sys; from sciml.datasets.carbonbench import generate_carbonbench\n"
                "from sciml._util.io import OutputLockedError\n"
                "try:\n    generate_carbonbench(sys.argv[1], grid='latlon22.5', levels=2, years=(2000, 2000), "
                "days_per_year=1, progress=False)\n"
                "except OutputLockedError as e:\n    print('LOCKED', e); sys.exit(3)\n")
        r = subprocess.run([sys.executable, "-c", code, str(out)], capture_output=True, text=True)
        assert r.returncode == 3 and "LOCKED" in r.stdout and f"PID {__import__('os').getpid()}" in r.stdout
    assert not (out / "Carbontracker" / ".restart").exists()
    cb.generate_carbonbench(out, **kw)
    with pytest.raises(ValueError, match="other parameters"):
        cb.generate_carbonbench(out, **{**kw, "seed": 2})
    cb.generate_carbonbench(out, **{**kw, "seed": 2}, overwrite=True)
    assert '"seed": 2' in cb.open_carbonbench(out).attrs["synthetic_params"]
    assert not (out / "Carbontracker.lock").exists()


def test_stale_temporaries_removed(tmp_path):
    out = tmp_path / "cb"
    kw = dict(grid="latlon22.5", levels=2, years=(2000, 2001), days_per_year=1, progress=False)
    cb.generate_carbonbench(out, **{**kw, "years": (2000, 2000)})  # a different run leaves its state
    stale = out / "Carbontracker" / ".restart" / ".2000.npz.abc123.tmp.npz"
    stale.write_bytes(b"half")
    stale_dir = out / "Carbontracker" / "train" / ".carbontracker_x.zarr.abc.tmp"
    stale_dir.mkdir()
    cb.generate_carbonbench(out, **{**kw, "years": (2000, 2000)})
    assert not stale.exists() and not stale_dir.exists()


def test_fixture_written_by_earlier_code_opens_and_regenerates(tmp_path):
    """The one-day store in tests/fixtures/stores_v0 (written before the package split) reads the
    same, and the split generator reproduces it bit for bit (same arithmetic, same code path)."""
    from pathlib import Path

    here = Path(__file__).resolve().parents[1] / "fixtures" / "stores_v0"
    exp = np.load(here / "carbonbench.expected.npz")
    s = cb.open_carbonbench(here / "carbonbench", "train")
    for v in s.variables_3d + s.variables_2d:
        np.testing.assert_array_equal(s.read(v), exp[f"train/{v}"])
    for c in ("lat", "lon", "level"):
        np.testing.assert_array_equal(getattr(s, c), exp[f"train/coord/{c}"])
    np.testing.assert_array_equal(s.time.astype("datetime64[h]").astype(np.int64), exp["train/coord/time"])
    np.testing.assert_array_equal(s.stats["co2massmix_delta"].values, exp["train/stats/co2massmix_delta"])
    new = cb.generate_carbonbench(tmp_path, grid="latlon22.5", levels=2, years=(2000, 2000), seed=0,
                                  progress=False, days_per_year=1)
    t = cb.open_carbonbench(tmp_path, "train")
    np.testing.assert_array_equal(t.array_3d[:], s.array_3d[:])
    np.testing.assert_array_equal(t.array_2d[:], s.array_2d[:])
    assert new["train"].is_dir()
