"""neuraloperator 2.0.0 checkpoints load into sciml (no neuralop installed, nothing unpickled) and back.

The fixtures in tests/fixtures/neuralop were written by neuraloperator 2.0.0 itself
(tests/fixtures/neuralop/make_fixtures.py, run in the benchmark environment).
"""
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from sciml.operators import FNO, TFNO
from sciml.operators.neuraloperator import (
    from_neuraloperator_state_dict,
    load_neuraloperator,
    read_neuraloperator_state_dict,
    save_neuraloperator,
    to_neuraloperator_state_dict,
)

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "neuralop"
NAMES = {"fno2d": FNO, "tfno2d": TFNO, "fno1d_groupnorm": FNO, "fno3d_cp_instancenorm": FNO}


def _rel(a, b):
    return float((a - b).norm() / b.norm())


def _io(name):
    return torch.load(FIX / f"{name}_io.pt", weights_only=True)


def test_neuralop_is_not_installed_here():
    assert importlib.util.find_spec("neuralop") is None  # the loader must work without it


@pytest.mark.parametrize("name", sorted(NAMES))
def test_fixture_outputs_match_neuraloperator(name):
    model = load_neuraloperator(FIX / f"{name}.pt")
    assert type(model) is NAMES[name] and not model.training
    io = _io(name)
    with torch.no_grad():
        y = model(io["x"])
    assert y.shape == io["y"].shape
    assert _rel(y, io["y"]) <= 1e-6
    assert "neuralop" not in sys.modules


def test_configuration_read_from_metadata_and_keys():
    m = load_neuraloperator(FIX / "tfno2d.pt")
    assert m.config["factorization"] == "tucker" and m.config["positional_embedding"] == "neuralop-grid"
    tensors, meta = read_neuraloperator_state_dict(FIX / "tfno2d.pt")
    assert list(m.config["rank"]) == list(tensors["fno_blocks.convs.0.weight.core"].shape)
    assert meta["_name"] == "TFNO"
    m = load_neuraloperator(FIX / "fno3d_cp_instancenorm.pt")
    assert m.config["factorization"] == "cp" and m.config["rank"] == 4 and m.config["norm"] == "instance"
    assert m.config["positional_embedding"] is None
    m = load_neuraloperator(FIX / "fno1d_groupnorm.pt")
    assert (m.config["norm"], m.config["skip"], m.config["channel_mlp_skip"], m.config["lifting_channels"]) == \
        ("group", "soft-gating", "linear", 0)
    _, meta = read_neuraloperator_state_dict(FIX / "fno2d.pt")
    assert meta["non_linearity"] == "torch._C._nn.gelu"
    assert meta["conv_module"] == "neuralop.layers.spectral_convolution.SpectralConv"


def test_grid_embedding_is_what_makes_outputs_agree():
    model = load_neuraloperator(FIX / "fno2d.pt")
    io = _io("fno2d")
    errors = {}
    for pe in ("neuralop-grid", "periodic-grid", "grid"):
        clone = FNO(**{**model.config, "positional_embedding": pe})
        clone.load_state_dict(model.state_dict())
        with torch.no_grad():
            errors[pe] = _rel(clone.eval()(io["x"]), io["y"])
    assert errors["neuralop-grid"] <= 1e-6
    assert errors["periodic-grid"] <= 1e-5  # the same torus points to one float32 rounding
    assert errors["grid"] > 1e-4  # linspace(0, 1, n) shifts every coordinate


@pytest.mark.parametrize("name", sorted(NAMES))
def test_export_of_a_loaded_checkpoint_gives_back_the_file(name):
    tensors, meta = read_neuraloperator_state_dict(FIX / f"{name}.pt")
    out = to_neuraloperator_state_dict(load_neuraloperator(FIX / f"{name}.pt"))
    back_meta = out.pop("_metadata")
    assert set(out) == set(tensors)
    for k, t in tensors.items():
        assert out[k].dtype == t.dtype and torch.equal(out[k], t), k
    assert back_meta["_name"] == meta["_name"] and tuple(back_meta["n_modes"]) == tuple(meta["n_modes"])


@pytest.mark.parametrize("cls,kw", [(FNO, {}), (TFNO, {}), (FNO, {"factorization": "cp", "rank": 3}),
                                    (FNO, {"norm": "group", "skip": "soft-gating"})])
def test_sciml_model_round_trips_through_the_format(tmp_path, cls, kw):
    torch.manual_seed(0)
    m = cls(2, 1, (6, 4), hidden_channels=8, n_layers=2, positional_embedding="neuralop-grid", **kw).eval()
    path = save_neuraloperator(m, tmp_path / "sd.pt")
    back = load_neuraloperator(path)
    assert type(back) is cls
    x = torch.randn(2, 2, 12, 10)
    with torch.no_grad():
        assert torch.equal(back(x), m(x))
    with pytest.raises(FileExistsError, match="overwrite"):
        save_neuraloperator(m, path)
    save_neuraloperator(m, path, overwrite=True)


def test_malicious_pickle_is_refused(tmp_path):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    tensors, meta = read_neuraloperator_state_dict(FIX / "fno2d.pt")
    torch.save({**tensors, "_metadata": {**meta, "_name": "FNO", "hook": Evil()}}, tmp_path / "evil.pt")
    with pytest.raises(ValueError, match=r"evil\.pt.*refused.*system"):
        load_neuraloperator(tmp_path / "evil.pt")
    assert not marker.exists()


def test_bad_checkpoints_name_the_file_and_the_problem(tmp_path):
    tensors, meta = read_neuraloperator_state_dict(FIX / "fno2d.pt")
    with h5py.File(tmp_path / "other.pt", "w") as f:
        f["x"] = np.zeros(3)
    with pytest.raises(ValueError, match=r"other\.pt is not a torch\.save checkpoint"):
        load_neuraloperator(tmp_path / "other.pt")
    with pytest.raises(FileNotFoundError, match="none.pt"):
        load_neuraloperator(tmp_path / "none.pt")
    cases = {
        "unknown": ({**tensors, "fno_blocks.extra.weight": torch.zeros(2)}, meta,
                    r"unknown key\(s\) \['fno_blocks\.extra\.weight'\]"),
        "misshaped": ({**tensors, "lifting.fcs.0.bias": torch.zeros(5)}, meta,
                      r"'lifting\.fcs\.0\.bias' has shape \(5,\).*needs \(12,\)"),
        "missing": ({k: v for k, v in tensors.items() if k != "projection.fcs.1.weight"}, meta,
                    r"missing key 'projection\.fcs\.1\.weight'"),
        "nometa": (tensors, {}, r"no _metadata"),
        "padding": (tensors, {**meta, "domain_padding": 0.25}, r"domain_padding=0\.25"),
        "relu": (tensors, {**meta, "non_linearity": "torch.nn.functional.relu"}, r"non_linearity.*gelu"),
        "model": (tensors, {**meta, "_name": "UNO"}, r"'UNO'"),
    }
    for case, (t, md, pattern) in cases.items():
        p = tmp_path / f"{case}.pt"
        torch.save({**t, "_metadata": md} if md else dict(t), p)
        with pytest.raises(ValueError, match=rf"{case}\.pt.*{pattern}"):
            load_neuraloperator(p)
    with pytest.raises(ValueError, match="source-name"):
        from_neuraloperator_state_dict(tensors, {**meta, "_name": "UNO"}, source="source-name")


def test_export_refuses_what_neuraloperator_cannot_express(tmp_path):
    for kw, pattern in (({"positional_embedding": "grid"}, "neuralop-grid"),
                        ({"domain_padding": 0.1}, "domain_padding"),
                        ({"non_linearity": "relu"}, "gelu")):
        m = FNO(1, 1, (4, 4), hidden_channels=4, n_layers=1, **{"positional_embedding": "neuralop-grid", **kw})
        with pytest.raises(ValueError, match=pattern):
            save_neuraloperator(m, tmp_path / "x.pt")
        assert not (tmp_path / "x.pt").exists()
    with pytest.raises(TypeError, match="FNO"):
        to_neuraloperator_state_dict(torch.nn.Linear(2, 2))


BENCH_PY = Path(__file__).resolve().parents[2] / ".bench-venv" / "bin" / "python"


@pytest.mark.skipif(not BENCH_PY.exists(), reason="neuraloperator's own environment (.bench-venv) is not built")
def test_real_neuraloperator_loads_the_export(tmp_path):
    torch.manual_seed(1)
    m = TFNO(1, 1, (6, 6), hidden_channels=8, n_layers=2, positional_embedding="neuralop-grid").eval()
    x = torch.randn(2, 1, 16, 12)
    with torch.no_grad():
        y = m(x)
    save_neuraloperator(m, tmp_path / "m.pt")
    torch.save({"x": x}, tmp_path / "x.pt")
    code = ("import sys, json, torch\nfrom neuralop.models import TFNO\n"
            "sd = torch.load(sys.argv[1], weights_only=False)\n"
            "kw = {k: v for k, v in sd['_metadata'].items() if not k.startswith('_') and k != 'args'}\n"
            "m = TFNO(**kw); m.load_state_dict(sd, strict=True); m.eval()\n"
            "x = torch.load(sys.argv[2])['x']\n"
            "with torch.no_grad(): torch.save({'y': m(x)}, sys.argv[3])\n")
    subprocess.run([str(BENCH_PY), "-c", code, str(tmp_path / "m.pt"), str(tmp_path / "x.pt"),
                    str(tmp_path / "y.pt")], check=True, capture_output=True, timeout=300)
    assert _rel(torch.load(tmp_path / "y.pt")["y"], y) <= 1e-6
    assert json.loads((FIX / "export_check.json").read_text())  # recorded by make_fixtures.py
