"""``sciml export`` / ``sciml import``: round trips through every format; user mistakes are one line, exit 2."""
from pathlib import Path

import numpy as np
import torch

from sciml.cli import main
from sciml.datasets import open_dataset
from sciml.operators.neuraloperator import read_neuraloperator_state_dict
from sciml.training.checkpoint import load_model

STORES = Path(__file__).resolve().parents[1] / "fixtures" / "stores_v0"
NEURALOP = Path(__file__).resolve().parents[1] / "fixtures" / "neuralop"


def _same_store(a_path, b_path):
    with open_dataset(a_path) as a, open_dataset(b_path) as b:
        assert b.fields == a.fields
        for k in a.fields:
            ref = a[k][()]
            assert np.array_equal(b[k][()], ref.astype(np.float32).astype(ref.dtype))
        assert all(np.array_equal(b.coords[k], c) for k, c in a.coords.items())
        assert b.attrs["params"] == a.attrs["params"] and b.attrs["recipe"] == a.attrs["recipe"]


def test_export_import_well_and_pdebench(tmp_path, capsys):
    assert main(["export", str(STORES / "ns2d.h5"), "--format", "well", "--out", str(tmp_path / "w"),
                 "--splits", "1,1,0"]) == 0
    assert (tmp_path / "w" / "data" / "valid" / "ns2d.hdf5").exists() and (tmp_path / "w" / "stats.yaml").exists()
    assert main(["import", str(tmp_path / "w"), "--out", str(tmp_path / "back.h5")]) == 0
    _same_store(STORES / "ns2d.h5", tmp_path / "back.h5")
    assert main(["import", str(tmp_path / "w"), "--split", "valid", "--out", str(tmp_path / "valid.h5")]) == 0
    with open_dataset(tmp_path / "valid.h5") as ds:
        assert ds.n == 1
    assert main(["export", str(STORES / "darcy.h5"), "--format", "pdebench", "--out", str(tmp_path / "d.hdf5")]) == 0
    assert main(["import", str(tmp_path / "d.hdf5"), "--out", str(tmp_path / "d.h5")]) == 0
    _same_store(STORES / "darcy.h5", tmp_path / "d.h5")
    assert "wrote" in capsys.readouterr().out


def test_neuraloperator_checkpoint_through_the_cli(tmp_path):
    src = NEURALOP / "tfno2d.pt"
    assert main(["import", str(src), "--out", str(tmp_path / "ck")]) == 0
    model = load_model(tmp_path / "ck")
    io = torch.load(NEURALOP / "tfno2d_io.pt", weights_only=True)
    with torch.no_grad():
        y = model(io["x"])
    assert float((y - io["y"]).norm() / io["y"].norm()) <= 1e-6
    assert main(["export", str(tmp_path / "ck"), "--format", "neuralop", "--out", str(tmp_path / "t.pt")]) == 0
    a, _ = read_neuraloperator_state_dict(src)
    b, meta = read_neuraloperator_state_dict(tmp_path / "t.pt")
    assert set(a) == set(b) and all(torch.equal(a[k], b[k]) for k in a) and meta["_name"] == "TFNO"


def test_user_mistakes_are_one_line_exit_2_and_write_nothing(tmp_path, capsys):
    def fails(argv, text):
        assert main(argv) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and text in err, err

    out = tmp_path / "o"
    fails(["import", str(STORES / "darcy.h5"), "--out", str(out)], "not a Well, PDEBench or neuraloperator file")
    fails(["import", str(STORES / "darcy.h5"), "--format", "well", "--out", str(out)], "missing group 'dimensions'")
    fails(["import", str(tmp_path / "none.h5"), "--out", str(out)], "none.h5")
    fails(["export", str(STORES / "ns2d.h5"), "--format", "well", "--out", str(out), "--layout", "groups"],
          "--layout does not apply to --format well")
    fails(["export", str(STORES / "ns2d.h5"), "--format", "well", "--out", str(out), "--splits", "0.5,0.5"],
          "three comma-separated values")
    fails(["export", str(STORES / "ns2d.h5"), "--format", "neuralop", "--out", str(out)], "checkpoint folder")
    assert not out.exists()
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "keep.txt").write_text("mine")
    fails(["export", str(STORES / "ns2d.h5"), "--format", "well", "--out", str(tmp_path / "taken")], "--overwrite")
    fails(["import", str(NEURALOP / "fno2d.pt"), "--out", str(NEURALOP / "fno2d.pt"), "--overwrite"],
          "is also an input")
    assert [p.name for p in (tmp_path / "taken").iterdir()] == ["keep.txt"]
