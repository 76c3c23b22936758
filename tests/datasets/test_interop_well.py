"""sciml <-> The Well: The Well's own WellDataset reads what sciml writes; sciml reads Well files."""
import json
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from sciml.datasets import open_dataset, save_dataset
from sciml.datasets.interop import export_well, import_well, read_well, write_well_file

from ._peers import run_peer

STORES = Path(__file__).resolve().parents[1] / "fixtures" / "stores_v0"
RECIPES = ["burgers", "burgers-traj", "burgers-raissi", "darcy", "heat", "helmholtz", "landau", "ns2d", "poisson"]

# Runs with the_well==1.2.0 on the path: every sample of every split, as WellDataset gives it.
WELL_READ = r'''
import json, sys, numpy as np
from the_well.data import WellDataset
from the_well.data.normalization import ZScoreNormalization
path, out, opts = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
arrays, meta = {}, {}
for split, o in opts.items():
    norm = dict(use_normalization=True, normalization_type=ZScoreNormalization) if o.pop("normalize", False) else {}
    xarray = o.pop("xarray", True)
    ds = WellDataset(path=path, well_split_name=split, **o, **norm)
    md = ds.metadata
    meta[split] = {"len": len(ds), "field_names": md.field_names, "constant_field_names": md.constant_field_names,
                   "n_spatial_dims": md.n_spatial_dims, "spatial_resolution": list(md.spatial_resolution),
                   "constant_scalar_names": md.constant_scalar_names, "bc_types": md.boundary_condition_types,
                   "dataset_name": md.dataset_name,
                   "xarray_vars": sorted(ds.to_xarray(backend="numpy").data_vars) if xarray else []}
    for i in range(len(ds)):
        for k, v in ds[i].items():
            arrays[f"{split}/{i}/{k}"] = v.numpy()
np.savez(out, **arrays)
print(json.dumps(meta))
'''


def well_read(path, tmp_path, **opts):
    out = run_peer("well", WELL_READ, path, tmp_path / "read.npz", json.dumps(opts))
    meta = json.loads(out.strip().splitlines()[-1])
    return meta, dict(np.load(tmp_path / "read.npz"))


def _xy(a):
    """sciml (..., y, x) -> the Well's (..., x, y)."""
    return np.swapaxes(a, -1, -2)


def test_well_reads_a_sciml_trajectory_store(tmp_path):
    files = export_well(STORES / "ns2d.h5", tmp_path / "ns2d", splits=(1, 1, 0))
    assert sorted(files) == ["train", "valid"]
    meta, got = well_read(tmp_path / "ns2d", tmp_path, train={"n_steps_input": 1, "n_steps_output": 1},
                          valid={"n_steps_input": 2, "n_steps_output": 1})
    with open_dataset(STORES / "ns2d.h5") as ds:
        w, c = ds["w"][()].astype(np.float32), ds.coords  # (N, T, 1, x, y)
    assert meta["train"]["len"] == 2 and meta["valid"]["len"] == 1  # 3 frames: 2 windows of 1+1, one of 2+1
    assert meta["train"]["field_names"]["0"] == ["w"] and meta["train"]["n_spatial_dims"] == 2
    assert meta["train"]["bc_types"] == ["PERIODIC"] and meta["train"]["dataset_name"] == "ns2d"
    assert "w" in meta["train"]["xarray_vars"]
    for j in range(2):
        assert np.array_equal(got[f"train/{j}/input_fields"], w[0, j:j + 1, 0, :, :, None])
        assert np.array_equal(got[f"train/{j}/output_fields"], w[0, j + 1:j + 2, 0, :, :, None])
    assert np.array_equal(got["valid/0/input_fields"][..., 0], w[1, :2, 0])
    assert np.array_equal(got["valid/0/output_fields"][..., 0], w[1, 2:, 0])
    grid = got["train/0/space_grid"]
    assert np.array_equal(grid[:, 0, 0], c["x"].astype(np.float32))
    assert np.array_equal(grid[0, :, 1], c["y"].astype(np.float32))
    assert np.array_equal(got["train/0/boundary_conditions"], np.full((2, 2), 2.0))  # PERIODIC on both ends
    t = c["time"] if "time" in c else c["t"]  # the time coordinate's name in store formats 2 / 1
    assert np.allclose(got["train/1/output_time_grid"], np.float32(t[2] - t[1]))


def test_well_reads_a_static_store_as_constant_inputs_and_one_output_step(tmp_path):
    export_well(STORES / "darcy.h5", tmp_path / "darcy", splits="train")
    meta, got = well_read(tmp_path / "darcy", tmp_path, train={"n_steps_input": 0, "n_steps_output": 1,
                                                               "normalize": True})
    with open_dataset(STORES / "darcy.h5") as ds:
        a, u = ds["a"][()], ds["u"][()]  # (N, 1, y, x)
    m = meta["train"]
    assert m["len"] == 2 and m["field_names"]["0"] == ["u"] and m["constant_field_names"]["0"] == ["a"]
    assert m["bc_types"] == ["WALL"] and m["constant_scalar_names"]  # the recipe's numeric parameters
    stats = {k: float(np.std(v)) for k, v in (("u", u), ("a", a))}
    means = {"u": u.mean(), "a": a.mean()}
    for i in range(2):  # z-scored by the stats.yaml sciml wrote
        ref_u = (_xy(u[i, 0]) - means["u"]) / max(stats["u"], 1e-4)
        ref_a = (_xy(a[i, 0]) - means["a"]) / max(stats["a"], 1e-4)
        assert np.allclose(got[f"train/{i}/output_fields"][0, ..., 0], ref_u, rtol=1e-5, atol=1e-5)
        assert np.allclose(got[f"train/{i}/constant_fields"][..., 0], ref_a, rtol=1e-5, atol=1e-5)
    assert np.array_equal(got["train/0/boundary_conditions"], np.zeros((2, 2)))  # WALL


def test_well_reads_1d_and_3d_multichannel_stores(tmp_path):
    export_well(STORES / "burgers-traj.h5", tmp_path / "b", splits="train")
    meta, got = well_read(tmp_path / "b", tmp_path, train={"n_steps_input": 1, "n_steps_output": 1})
    with open_dataset(STORES / "burgers-traj.h5") as ds:
        u, u0 = ds["u"][()].astype(np.float32), ds["u0"][()].astype(np.float32)
    assert meta["train"]["n_spatial_dims"] == 1 and meta["train"]["constant_field_names"]["0"] == ["u0"]
    assert np.array_equal(got["train/1/input_fields"][0, :, 0], u[1, 0, 0])
    assert np.array_equal(got["train/1/constant_fields"][:, 0], u0[1, 0])

    rng = np.random.default_rng(1)
    v = rng.random((3, 4, 2, 5, 6, 7))  # (N, T, C, z, y, x)
    axes = {"z": np.linspace(0, 1, 5), "y": np.linspace(0, 2, 6), "x": np.linspace(0, 3, 7)}
    store = save_dataset(tmp_path / "v.h5", {"v": v}, dims={"v": ("time", "channel", "z", "y", "x")},
                         coords={**{k: ((k,), c, "m") for k, c in axes.items()}, "t": (("time",), np.arange(4.0), "s")},
                         recipe="synthetic3d", params={"nu": 0.1})
    export_well(store, tmp_path / "v3", splits="train", boundary={"x": "periodic", "y": "wall", "z": "open"})
    meta, got = well_read(tmp_path / "v3", tmp_path, train={"n_steps_input": 2, "n_steps_output": 2})
    m = meta["train"]
    assert m["spatial_resolution"] == [7, 6, 5] and m["field_names"]["0"] == ["v_0", "v_1"]
    assert sorted(m["bc_types"]) == ["OPEN", "PERIODIC", "WALL"]
    ref = np.transpose(v.astype(np.float32), (0, 1, 5, 4, 3, 2))  # (N, T, x, y, z, C)
    assert np.array_equal(got["train/2/input_fields"], ref[2, :2])
    assert np.array_equal(got["train/2/output_fields"], ref[2, 2:])
    assert np.array_equal(got["train/0/boundary_conditions"], [[2, 2], [0, 0], [1, 1]])


@pytest.mark.parametrize("recipe", RECIPES)
def test_round_trip_gives_back_the_store(tmp_path, recipe):
    src = STORES / f"{recipe}.h5"
    export_well(src, tmp_path / "w")
    out = import_well(tmp_path / "w", tmp_path / "back.h5")
    with open_dataset(src) as a, open_dataset(out) as b:
        assert b.fields == a.fields and b.n == a.n
        for k in a.fields:
            assert b.field_info(k)["dims"] == a.field_info(k)["dims"]
            assert b.field_info(k)["units"] == a.field_info(k)["units"]
            assert b[k].dtype == a[k].dtype
            ref = a[k][()]
            assert np.array_equal(b[k][()], ref.astype(np.float32).astype(ref.dtype)), k  # float32 rounding only
        assert set(b.coords) == set(a.coords)
        for k, c in a.coords.items():
            assert np.array_equal(b.coords[k], c) and b.coords[k].dtype == c.dtype  # exact
        for key in ("recipe", "params", "seed", "created", "sciml_version"):
            assert b.attrs[key] == a.attrs[key], key


def test_sciml_reads_a_file_written_by_the_well_and_trains_on_it(tmp_path):
    code = ("import sys\nfrom the_well.utils.dummy_data import write_dummy_data\n"
            "import os\nos.makedirs(sys.argv[1] + '/data/train')\n"
            "write_dummy_data(sys.argv[1] + '/data/train/dummy.hdf5')\n")
    run_peer("well", code, tmp_path / "dummy")
    # (the Well's dummy writer leaves out dimensions' time_varying flag, which its own to_xarray needs)
    meta, got = well_read(tmp_path / "dummy", tmp_path, train={"n_steps_input": 1, "n_steps_output": 1,
                                                               "xarray": False})
    data = read_well(tmp_path / "dummy")
    f = data["fields"]
    assert f["field"].shape == (2, 10, 2, 32, 32) and f["constant_field"].shape == (2, 1, 32, 32)
    assert f["time_varying_scalar"].shape == (2, 10, 1) and data["params"] == {"a": 0.25, "b": 0.75}
    # the store's axis order (z, y, x); channel axes of different sizes get the field's name
    assert data["dims"]["field"] == ("time", "channel_field", "y", "x")
    assert data["dims"]["constant_field"] == ("channel_constant_field", "y", "x")
    # the Well's own reader and sciml's see the same numbers: sample j = trajectory j // 9, step j % 9
    for j in (0, 13):
        tr, t = divmod(j, 9)
        assert np.array_equal(got[f"train/{j}/input_fields"][0], np.transpose(f["field"][tr, t], (2, 1, 0)))
        assert np.array_equal(got[f"train/{j}/constant_fields"][..., 0], f["constant_field"][tr, 0].T)
    store = import_well(tmp_path / "dummy", tmp_path / "dummy.h5")
    from sciml.datasets.loaders import FieldDataset
    from sciml.operators import FNO

    ds = FieldDataset(store, inputs="field", outputs="field", t_in=1, t_out=1, in_memory=True)
    x, y = ds[0]
    assert x.shape == (1, 2, 32, 32) and y.shape == (1, 2, 32, 32)
    torch.manual_seed(0)
    model = FNO(2, 2, (8, 8), hidden_channels=8, n_layers=2)
    opt = torch.optim.Adam(model.parameters(), 1e-2)
    xs = torch.stack([ds[i][0][0] for i in range(len(ds))])
    ys = torch.stack([ds[i][1][0] for i in range(len(ds))])
    losses = []
    for _ in range(30):
        opt.zero_grad()
        loss = torch.mean((model(xs) - ys) ** 2)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


def test_bad_input_names_the_file_and_writes_nothing(tmp_path):
    with pytest.raises(ValueError, match=r"darcy\.h5 is not a Well file: missing group 'dimensions'"):
        import_well(STORES / "darcy.h5", tmp_path / "x.h5")
    assert not (tmp_path / "x.h5").exists()
    export_well(STORES / "ns2d.h5", tmp_path / "w", splits="train")
    bad = tmp_path / "w" / "data" / "train" / "ns2d.hdf5"
    with h5py.File(bad, "a") as f:
        del f["t0_fields"]
    with pytest.raises(ValueError, match=r"ns2d\.hdf5 is not a Well file: missing group 't0_fields'"):
        import_well(tmp_path / "w", tmp_path / "y.h5")
    assert not (tmp_path / "y.h5").exists()
    (tmp_path / "text.hdf5").write_text("not hdf5")
    with pytest.raises(ValueError, match=r"text\.hdf5 is not a readable HDF5 file"):
        read_well(tmp_path / "text.hdf5")
    with pytest.raises(ValueError, match="no Well HDF5 files"):
        read_well(tmp_path / "w" / "data", split="test")


def test_outputs_are_checked_before_writing(tmp_path):
    export_well(STORES / "ns2d.h5", tmp_path / "w")
    with pytest.raises(FileExistsError, match="overwrite"):
        export_well(STORES / "ns2d.h5", tmp_path / "w")
    export_well(STORES / "ns2d.h5", tmp_path / "w", overwrite=True, splits="valid")
    assert sorted(p.name for p in (tmp_path / "w" / "data").iterdir()) == ["valid"]  # replaced as a whole
    with pytest.raises(ValueError, match="is also an input"):
        import_well(tmp_path / "w", tmp_path / "w", overwrite=True)
    inner = tmp_path / "w" / "inside.h5"
    import shutil

    shutil.copy(STORES / "ns2d.h5", inner)
    with pytest.raises(ValueError, match="holds the input"):
        export_well(inner, tmp_path / "w", overwrite=True)
    assert inner.exists()
    store = save_dataset(tmp_path / "s.h5", {"q": np.zeros((2, 1, 4, 4))}, recipe="mystery")
    with pytest.raises(ValueError, match="boundary"):
        export_well(store, tmp_path / "m")
    with pytest.raises(ValueError, match="splits"):
        export_well(store, tmp_path / "m", boundary="wall", splits=(0.5, 0.6, 0.1))
    with pytest.raises(ValueError, match="outputs"):
        export_well(STORES / "ns2d.h5", tmp_path / "m", outputs="w")
    assert not (tmp_path / "m").exists()
    p = write_well_file(store, tmp_path / "one.hdf5", boundary="wall", samples=(1, 2))
    with h5py.File(p) as f:
        assert f.attrs["n_trajectories"] == 1 and f["t1_fields"].attrs["field_names"].size == 0


def test_export_and_import_keep_the_software_the_data_was_made_with(tmp_path):
    # a generated file records its libraries and BLAS kernels; a Well copy and the store read back
    # from it keep them (in the Well file's sciml provenance attribute)
    from sciml.datasets import generate

    src = generate("darcy", 2, seed=1, out=tmp_path / "d.h5", progress=False, resolution=17, subsample=1)
    export_well(src, tmp_path / "w")
    out = import_well(tmp_path / "w", tmp_path / "back.h5")
    with open_dataset(src) as a, open_dataset(out) as b:
        assert a.attrs["environment"]["packages"]["numpy"] == np.__version__
        assert b.attrs["environment"] == a.attrs["environment"] and "resumed_environment" not in b.attrs
