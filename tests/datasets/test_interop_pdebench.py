"""sciml <-> PDEBench: PDEBench's own FNODatasetSingle / FNODatasetMult read what sciml writes.

pdebench==0.1.0 declares Python < 3.11 and torch ~= 1.13, but its FNO dataset classes
(``pdebench.models.fno.utils``) import only torch, numpy and h5py, so ``make test`` installs the
package without dependencies and the tests run those classes, unchanged, in a subprocess.
"""
import json
from pathlib import Path

import h5py
import numpy as np
import pytest

from sciml.datasets import open_dataset, save_dataset
from sciml.datasets.interop import export_pdebench, import_pdebench, read_pdebench

from ._peers import run_peer

STORES = Path(__file__).resolve().parents[1] / "fixtures" / "stores_v0"

PDEBENCH_READ = r'''
import json, sys, numpy as np
from pdebench.models.fno.utils import FNODatasetSingle, FNODatasetMult
folder, name, kind, out, opts = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], json.loads(sys.argv[5])
cls = FNODatasetSingle if kind == "single" else FNODatasetMult
ds = cls(name, saved_folder=folder + "/", **opts)
arrays = {}
for i in range(len(ds)):
    x, y, grid = ds[i]
    arrays[f"{i}/x"], arrays[f"{i}/y"], arrays[f"{i}/grid"] = x.numpy(), y.numpy(), grid.numpy()
np.savez(out, **arrays)
print(json.dumps({"len": len(ds)}))
'''


def pdebench_read(tmp_path, path, kind, **opts):
    name = path.name if kind == "single" else path.stem  # FNODatasetMult appends ".h5"
    out = run_peer("pdebench", PDEBENCH_READ, path.parent, name, kind, tmp_path / "r.npz", json.dumps(opts))
    return json.loads(out.strip().splitlines()[-1])["len"], dict(np.load(tmp_path / "r.npz"))


def test_pdebench_reads_a_sciml_darcy_store(tmp_path):
    path = export_pdebench(STORES / "darcy.h5", tmp_path / "2D_DarcyFlow_beta1.0_Train.hdf5")
    n, got = pdebench_read(tmp_path, path, "single", initial_step=1, test_ratio=0.0)
    with open_dataset(STORES / "darcy.h5") as ds:
        a, u, c = ds["a"][()], ds["u"][()], ds.coords  # (N, 1, y, x)
    assert n == 2
    for i in range(2):  # PDEBench: (X, Y, t, 1) with t=0 the coefficient, t=1 the solution
        y = got[f"{i}/y"]
        assert y.shape == (8, 8, 2, 1)
        assert np.array_equal(y[:, :, 0, 0], a[i, 0].T.astype(np.float32))
        assert np.array_equal(y[:, :, 1, 0], u[i, 0].T.astype(np.float32))
        assert np.array_equal(got[f"{i}/x"], y[:, :, :1])
    grid = got["0/grid"]  # (X, Y, 2), x along the first axis
    assert np.array_equal(grid[:, 0, 0], c["x"].astype(np.float32))
    assert np.array_equal(grid[0, :, 1], c["y"].astype(np.float32))


def test_pdebench_reads_1d_tensor_and_2d_group_layouts(tmp_path):
    path = export_pdebench(STORES / "burgers-raissi.h5", tmp_path / "1D_Burgers_Sols_Nu0.01.hdf5")
    n, got = pdebench_read(tmp_path, path, "single", initial_step=2, test_ratio=0.0)
    with open_dataset(STORES / "burgers-raissi.h5") as ds:
        u = ds["u"][()].astype(np.float32)  # (N, T, 1, x)
    assert n == 1 and np.array_equal(got["0/y"][..., 0], u[0, :, 0].T)  # (X, T, 1)
    assert np.array_equal(got["0/x"][..., 0], u[0, :2, 0].T)

    path = export_pdebench(STORES / "ns2d.h5", tmp_path / "2D_ns_sciml.h5")
    n, got = pdebench_read(tmp_path, path, "mult", initial_step=1, test_ratio=0.5, if_test=True)
    with open_dataset(STORES / "ns2d.h5") as ds:
        w, c = ds["w"][()].astype(np.float32), ds.coords  # (N, T, 1, x, y)
    assert n == 1  # the last half of the sorted trajectory groups
    assert np.array_equal(got["0/y"], np.transpose(w[1], (2, 3, 0, 1)))  # (X, Y, T, C)
    assert np.array_equal(got["0/grid"][:, 0, 0], c["x"].astype(np.float32))

    rng = np.random.default_rng(2)
    v = rng.random((3, 4, 2, 5, 6))  # two channels, (N, T, C, y, x)
    store = save_dataset(tmp_path / "v.h5", {"v": v}, dims={"v": ("time", "channel", "y", "x")}, recipe="synth")
    path = export_pdebench(store, tmp_path / "2D_two_channels.h5")
    n, got = pdebench_read(tmp_path, path, "mult", initial_step=1, test_ratio=0.0)
    assert n == 3 and np.array_equal(got["2/y"], np.transpose(v[2].astype(np.float32), (3, 2, 0, 1)))


@pytest.mark.parametrize("recipe,layout", [("darcy", "darcy"), ("burgers-traj", "tensor"), ("burgers-raissi", None),
                                           ("ns2d", "groups"), ("landau", None), ("heat", "darcy")])
def test_round_trip_gives_back_the_fields(tmp_path, recipe, layout):
    src = STORES / f"{recipe}.h5"
    kw = {"input": "kappa"} if recipe == "heat" else {}
    path = export_pdebench(src, tmp_path / "f.hdf5", layout=layout, **kw)
    out = import_pdebench(path, tmp_path / "back.h5")
    with open_dataset(src) as a, open_dataset(out) as b:
        for k in b.fields:
            assert b.field_info(k)["dims"] == a.field_info(k)["dims"] and b[k].dtype == a[k].dtype
            ref = a[k][()]
            assert np.array_equal(b[k][()], ref.astype(np.float32).astype(ref.dtype)), k
        for k, c in a.coords.items():
            assert np.array_equal(b.coords[k], c) and b.coords[k].dtype == c.dtype
        for key in ("recipe", "params", "seed", "created"):
            assert b.attrs[key] == a.attrs[key]
        assert len(b.fields) == (2 if layout == "darcy" else 1)


def test_reads_pdebench_files_without_sciml_provenance(tmp_path):
    rng = np.random.default_rng(3)
    nu, t = rng.random((3, 6, 5)), rng.random((3, 1, 6, 5))
    with h5py.File(tmp_path / "darcy.hdf5", "w") as f:
        f["nu"], f["tensor"] = nu, t
        f["x-coordinate"], f["y-coordinate"] = np.linspace(0, 1, 6), np.linspace(0, 1, 5)
    d = read_pdebench(tmp_path / "darcy.hdf5")
    assert d["dims"]["u"] == ("channel", "y", "x")  # the store's axis order
    assert np.array_equal(d["fields"]["a"][:, 0], np.swapaxes(nu, 1, 2).astype(np.float32))
    with h5py.File(tmp_path / "cfd.hdf5", "w") as f:
        for k in ("density", "pressure", "Vx"):
            f[k] = rng.random((2, 4, 7))
        f["x-coordinate"], f["t-coordinate"] = np.arange(7.0), np.arange(5.0)
    d = read_pdebench(tmp_path / "cfd.hdf5")
    assert sorted(d["fields"]) == ["Vx", "density", "pressure"] and d["fields"]["Vx"].shape == (2, 4, 1, 7)
    assert d["coords"]["time"][1].shape == (4,)  # PDEBench keeps T + 1 times; the frames have T


def test_bad_input_names_the_file_and_writes_nothing(tmp_path):
    with pytest.raises(ValueError, match=r"darcy\.h5 is not a PDEBench file"):
        import_pdebench(STORES / "darcy.h5", tmp_path / "x.h5")
    assert not (tmp_path / "x.h5").exists()
    with h5py.File(tmp_path / "nocoord.hdf5", "w") as f:
        f["tensor"] = np.zeros((2, 3, 4))
    with pytest.raises(ValueError, match=r"nocoord\.hdf5.*\['x-coordinate', 't-coordinate'\]"):
        read_pdebench(tmp_path / "nocoord.hdf5")
    with pytest.raises(ValueError, match="output"):
        export_pdebench(STORES / "burgers-traj.h5", tmp_path / "b.hdf5", output="u0")
    with pytest.raises(ValueError, match="layout"):
        export_pdebench(STORES / "ns2d.h5", tmp_path / "b.hdf5", layout="tensor")
    path = export_pdebench(STORES / "darcy.h5", tmp_path / "d.hdf5")
    with pytest.raises(FileExistsError, match="overwrite"):
        export_pdebench(STORES / "darcy.h5", path)
    with pytest.raises(ValueError, match="is also an input"):
        import_pdebench(path, path, overwrite=True)
    assert not (tmp_path / "b.hdf5").exists()


def test_export_and_import_keep_the_software_the_data_was_made_with(tmp_path):
    from sciml.datasets import generate

    src = generate("darcy", 2, seed=1, out=tmp_path / "d.h5", progress=False, resolution=17, subsample=1)
    path = export_pdebench(src, tmp_path / "2D_DarcyFlow_beta1.0_Train.hdf5", layout="darcy")
    out = import_pdebench(path, tmp_path / "back.h5")
    with open_dataset(src) as a, open_dataset(out) as b:
        assert a.attrs["environment"]["packages"]["numpy"] == np.__version__
        assert b.attrs["environment"] == a.attrs["environment"] and "resumed_environment" not in b.attrs
