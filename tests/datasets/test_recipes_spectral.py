"""Recipes ns2d / burgers / burgers-raissi through the store, executor and chunk independence, CLI, and the
FNO Navier-Stokes .mat reader."""
import numpy as np
import pytest

from sciml.datasets import generate, get_recipe, open_dataset
from sciml.datasets.external import read_fno_navier_stokes
from sciml.datasets.recipes_spectral import burgers_initial_condition, ns_initial_vorticity
from sciml.solvers.burgers import Burgers1D, burgers_exact
from sciml.solvers.navier_stokes import NavierStokes2D

NS_SMALL = dict(resolution=32, store_resolution=16, T=2.0)


def _read(path):
    with open_dataset(path) as ds:
        return {k: ds[k][()] for k in ds.fields}, ds.coords, ds.attrs


@pytest.mark.slow
def test_ns2d_independent_of_process_pool(tmp_path):
    a = generate("ns2d", 4, seed=3, out=tmp_path / "a.h5", progress=False, chunk=4, **NS_SMALL)
    b = generate("ns2d", 4, seed=3, out=tmp_path / "b.h5", progress=False, workers=2, chunk=1, **NS_SMALL)
    assert np.array_equal(_read(a)[0]["w"], _read(b)[0]["w"])


def test_ns2d_independent_of_chunking(tmp_path):
    a = generate("ns2d", 5, seed=3, out=tmp_path / "a.h5", progress=False, chunk=5, **NS_SMALL)
    b = generate("ns2d", 5, seed=3, out=tmp_path / "b.h5", progress=False, chunk=2, **NS_SMALL)
    (fa, ca, attrs), (fb, _, _) = _read(a), _read(b)
    assert fa["w"].shape == (5, 3, 1, 16, 16)
    assert np.array_equal(fa["w"], fb["w"])  # bit-identical whatever the chunk size and the executor
    assert np.array_equal(ca["time"], [0.0, 1.0, 2.0]) and np.allclose(ca["x"], np.arange(16) / 16)
    assert attrs["recipe"] == "ns2d"
    # sample 4 = a lone solve of its own initial vorticity
    p = get_recipe("ns2d").resolve(**NS_SMALL)
    w0 = ns_initial_vorticity(p, 3, 4)  # solver axes (x, y); stored (y, x)
    assert np.array_equal(fa["w"][4, 0, 0], w0[::2, ::2].T) or np.allclose(fa["w"][4, 0, 0], w0[::2, ::2].T, atol=1e-13)
    # a separately constructed solver call is another code path (thread count, SIMD kernels):
    # equal to round-off (measured <= 1e-15 relative; Intel vs AMD differ by ~5e-18)
    lone = NavierStokes2D(32, 1e-3, "fno").solve(w0, [1.0, 2.0])
    np.testing.assert_allclose(fa["w"][4, 1:, 0], lone[0, :, ::2, ::2].swapaxes(-1, -2), rtol=0,
                               atol=1e-12 * np.abs(lone).max())
    # the FNO initial-vorticity statistics: spectrum 7^3 (4 pi^2 |k|^2 + 49)^-2.5 (mode (1, 0))
    draws = np.stack([ns_initial_vorticity(p, 0, i) for i in range(400)])
    c = np.fft.fft2(draws)[:, 1, 0] / 32 ** 2
    expected = 7 ** 3 * (4 * np.pi ** 2 + 49) ** -2.5
    assert abs(np.mean(np.abs(c) ** 2) / expected - 1) < 0.2


def test_ns2d_defaults_and_bad_parameters():
    r = get_recipe("ns2d")
    assert r.resolve()["T"] == 50.0 and r.resolve(viscosity=1e-4)["T"] == 30.0
    assert r.resolve(viscosity=1e-5)["T"] == 20.0
    lay = r.layout(r.resolve())
    assert lay.fields["w"].shape == (51, 1, 64, 64)
    for kwargs, name in [(dict(viscosity=0.0), "viscosity"), (dict(resolution=250, store_resolution=64),
                                                                "store_resolution"),
                         (dict(resolution=33), "resolution"), (dict(T=2.5), "T"), (dict(scheme="euler"), "scheme"),
                         (dict(dt=-1.0), "dt"), (dict(device="tpu"), "device"), (dict(forcing="kolmogorov"), "forcing")]:
        with pytest.raises(ValueError, match=name):
            r.resolve(**kwargs)


def test_burgers_recipe(tmp_path):
    small = dict(resolution=512, subsample=4)
    path = generate("burgers", 3, seed=1, out=tmp_path / "b.h5", progress=False, **small)
    f, c, _ = _read(path)
    assert f["u0"].shape == (3, 1, 128) and f["u"].shape == (3, 1, 128)
    p = get_recipe("burgers").resolve(**small)
    u0 = burgers_initial_condition(p, 1, 2)
    assert np.array_equal(f["u0"][2, 0], u0[::4])
    lone = Burgers1D(512, 0.1).solve(u0, [1.0])[0, 0, ::4]
    # another code path than the recipe's chunk solve: equal to round-off, not bit for bit
    np.testing.assert_allclose(f["u"][2, 0], lone, rtol=0, atol=1e-12 * np.abs(lone).max())
    # trajectory variant
    path = generate("burgers", 2, seed=1, out=tmp_path / "bt.h5", progress=False, n_times=4, chunk=1, **small)
    f2, c2, _ = _read(path)
    assert f2["u"].shape == (2, 4, 1, 128) and np.allclose(c2["time"], [0.25, 0.5, 0.75, 1.0])
    # other record times mean other step sequences: equal to the solver's accuracy, not bit for bit
    assert np.abs(f2["u"][:, -1] - f["u"][:2]).max() < 1e-6 * np.abs(f["u"]).max()
    with pytest.raises(ValueError, match="subsample"):
        get_recipe("burgers").resolve(resolution=512, subsample=3)
    with pytest.raises(ValueError, match="viscosity"):
        get_recipe("burgers").resolve(viscosity=-0.1)


def test_burgers_raissi_recipe(tmp_path):
    path = generate("burgers-raissi", 1, out=tmp_path / "r.h5", progress=False, n_x=65, n_t=11)
    f, c, _ = _read(path)
    assert f["u"].shape == (1, 11, 1, 65)
    assert np.allclose(f["u"][0, :, 0], burgers_exact(c["x"][None], c["time"][:, None], 0.01 / np.pi), atol=0, rtol=0)
    assert np.allclose(f["u"][0, 0, 0], -np.sin(np.pi * c["x"]), atol=1e-15)


def test_cli_generate_ns2d(tmp_path, capsys):
    from sciml.cli import main

    out = tmp_path / "ns.h5"
    assert main(["generate", "ns2d", "--n", "2", "--resolution", "32", "--store-resolution", "16", "--T", "1",
                 "--out", str(out), "--no-progress"]) == 0
    f, _, _ = _read(out)
    assert f["w"].shape == (2, 2, 1, 16, 16)
    assert main(["generate", "ns2d", "--n", "2", "--viscosity", "0", "--out", str(tmp_path / "x.h5")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "viscosity" in err[0]
    assert not (tmp_path / "x.h5").exists()


def _fno_like_arrays(N=3, s=8, T=4, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((N, s, s)), rng.standard_normal((N, s, s, T)), np.arange(1, T + 1, dtype=float)


def test_read_fno_navier_stokes_v5(tmp_path):
    import scipy.io

    a, u, t = _fno_like_arrays()
    path = tmp_path / "ns_v5.mat"
    scipy.io.savemat(path, {"a": a.astype(np.float32), "u": u.astype(np.float32), "t": t})
    fields, tt = read_fno_navier_stokes(path, with_times=True)
    assert fields["a"].shape == (3, 1, 8, 8) and fields["u"].shape == (3, 4, 1, 8, 8)
    assert np.array_equal(fields["u"][1, 2, 0], u[1, :, :, 2].T.astype(np.float32))  # stored (y, x)
    assert np.array_equal(fields["a"][2, 0], a[2].T.astype(np.float32))
    assert np.array_equal(tt, t)
    sub = read_fno_navier_stokes(path, n=2, subsample=2)
    assert sub["u"].shape == (2, 4, 1, 4, 4)
    assert np.array_equal(sub["u"][1, 3, 0], u[1, ::2, ::2, 3].T.astype(np.float32))


def test_read_fno_navier_stokes_v73_hdf5(tmp_path):
    import h5py

    a, u, t = _fno_like_arrays(seed=1)
    path = tmp_path / "ns_v73.mat"
    with h5py.File(path, "w", userblock_size=512) as f:  # MATLAB v7.3: HDF5 with a 512-byte header, axes reversed
        f.create_dataset("a", data=a.T)
        f.create_dataset("u", data=u.T)
        f.create_dataset("t", data=t[:, None].T)
    with open(path, "r+b") as fh:
        fh.write(b"MATLAB 7.3 MAT-file".ljust(128, b" "))
    fields, tt = read_fno_navier_stokes(path, with_times=True)
    assert np.array_equal(fields["u"][2, 1, 0], u[2, :, :, 1].T)
    assert np.array_equal(fields["a"][0, 0], a[0].T)
    assert np.array_equal(tt, t)
    part = read_fno_navier_stokes(path, n=1, subsample=4)
    assert part["u"].shape == (1, 4, 1, 2, 2) and np.array_equal(part["u"][0, 3, 0], u[0, ::4, ::4, 3].T)


def test_read_fno_navier_stokes_bad_input(tmp_path):
    import scipy.io

    with pytest.raises(FileNotFoundError):
        read_fno_navier_stokes(tmp_path / "none.mat")
    path = tmp_path / "bad.mat"
    scipy.io.savemat(path, {"a": np.zeros((2, 4, 4)), "u": np.zeros((2, 4, 4))})
    with pytest.raises(ValueError, match="u"):
        read_fno_navier_stokes(path)
    with pytest.raises(ValueError, match="subsample"):
        read_fno_navier_stokes(path, subsample=0)
