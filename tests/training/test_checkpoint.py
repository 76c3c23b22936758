"""The one checkpoint format: every kind round-trips, the earlier layouts load, nothing unsafe runs,
and an edited, corrupt or mismatched checkpoint is refused naming the file."""
import json
import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from sciml.training import load_checkpoint, load_model, save_checkpoint
from sciml.training.checkpoint import CheckpointError

V0 = Path(__file__).resolve().parents[1] / "fixtures" / "checkpoints_v0"


def _npy(name):
    return torch.as_tensor(np.load(V0 / f"{name}.npy"))


# -- checkpoints written by the code before the single format --------------------------------
def test_v0_operator_checkpoint_loads_and_predicts_the_same():
    from sciml.operators import layers, spectral

    model = load_model(V0 / "operator")
    # the code path the fixture was written with (FFT spectral path, unfused blocks) agrees to float32
    # rounding, not to the bit: another CPU picks other FFT / matrix-product kernels (the fixture was
    # written on an AVX2 machine; on an AVX-512 one 41 of 128 outputs differ, by at most 2.4e-7, 3e-6
    # relative); the default (DFT) path is another path: the same map to the same float32 tolerance
    old = spectral.set_spectral_impl("fft"), layers.set_fused(False)
    try:
        with torch.no_grad():
            torch.testing.assert_close(model(_npy("operator_input")), _npy("operator_output"), rtol=1e-5, atol=1e-6)
    finally:
        spectral.set_spectral_impl(old[0])
        layers.set_fused(old[1])
    with torch.no_grad():
        torch.testing.assert_close(model(_npy("operator_input")), _npy("operator_output"), rtol=1e-5, atol=1e-6)
    assert load_checkpoint(V0 / "operator")["legacy"] == "sciml-checkpoint/1"


def test_v0_emulator_loads_and_predicts_the_same():
    from sciml.training.emulator import load_emulator

    emu = load_emulator(V0 / "emulator").double()
    args = [_npy(f"emulator_input_{k}") for k in ("q", "m_now", "m_next", "forcing")]
    with torch.no_grad():
        torch.testing.assert_close(emu(*args), _npy("emulator_output"), rtol=0, atol=0)


def test_v0_pinn_checkpoint_loads_into_the_trainer_and_predicts_the_same():
    from sciml.pinns.networks import MLP
    from sciml.pinns.training import LossTerm, PINNTrainer

    net = MLP(2, 1, width=8, depth=2, activation="tanh", lower=[0, 0], upper=[1, 1], dtype=torch.float64, seed=99)
    term = LossTerm("fit", lambda model, x: model(x)[:, 0], np.zeros((4, 2)))
    tr = PINNTrainer(net, [term], checkpoint=V0 / "pinn.pt", resume=True, progress=False)
    assert tr.iterations["adam"] == 10 and len(tr.result.history) == 2
    with torch.no_grad():
        torch.testing.assert_close(net(_npy("pinn_input")), _npy("pinn_output"), rtol=0, atol=0)


def test_v0_pinn_pm_state_dict_loads_and_predicts_the_same():
    from sciml.pinns.landau import LandauPINNPM

    model = load_model(V0 / "pinn_pm.pt", model=LandauPINNPM(dim=2, t_end=0.5, width=8, depth=2, seed=0))
    v = _npy("pinn_pm_input")
    with torch.no_grad():
        torch.testing.assert_close(model.flow(0.3, v), _npy("pinn_pm_output_flow"), rtol=0, atol=0)
        torch.testing.assert_close(model.score(0.3, v), _npy("pinn_pm_output_score"), rtol=0, atol=0)
    assert model.v0.shape == (12, 2)


# -- the one format, every kind --------------------------------------------------------------
def _emulator():
    from sciml.conservation import ConservativeEmulator
    from sciml.conservation.increments import compute_stats
    from sciml.operators import build_model

    rng = np.random.default_rng(0)
    q, m = 400 + rng.standard_normal((4, 2, 6, 8)), 1 + 0.1 * rng.random((4, 2, 6, 8))
    torch.manual_seed(0)
    bb = build_model("fno", in_channels=2, out_channels=2, n_modes=[2, 2], hidden_channels=4, n_layers=1)
    return ConservativeEmulator(bb, stats=compute_stats(q, None, m), mass_unit=1e6, bound_radius=1), q, m


def test_every_kind_round_trips_with_identical_outputs(tmp_path):
    from sciml.pinns.landau import LandauPINNPM
    from sciml.pinns.networks import MLP
    from sciml.training.emulator import load_emulator, save_emulator

    emu, q, m = _emulator()
    (tmp_path / "emu").mkdir()
    (tmp_path / "emu" / "result.json").write_text("{}")  # an experiment folder: its other files stay
    save_emulator(emu, tmp_path / "emu", extra={"note": "x"})
    again = load_emulator(tmp_path / "emu")
    args = [torch.as_tensor(a[:2]).float() for a in (q, m)] + [torch.as_tensor(m[1:3]).float()]
    with torch.no_grad():
        assert torch.equal(again(args[0], args[1], args[2]), emu.eval()(args[0], args[1], args[2]))
    assert (tmp_path / "emu" / "result.json").exists() and again.bound_radius == 1
    assert json.loads((tmp_path / "emu" / "config.json").read_text())["kind"] == "emulator"

    net = MLP(3, 2, width=8, depth=2, activation="sin", periodic={0: 2.0}, fourier_features=4, seed=1)
    x = torch.rand(5, 3)
    assert torch.equal(load_model(save_checkpoint(tmp_path / "mlp", net))(x), net(x))
    assert load_checkpoint(tmp_path / "mlp")["kind"] == "pinn"

    pm = LandauPINNPM(dim=2, width=8, depth=2, seed=2)
    pm.v0, pm.w0 = torch.randn(7, 2, dtype=torch.float64), torch.full((7,), 1 / 7, dtype=torch.float64)
    back = load_model(save_checkpoint(tmp_path / "pm", pm))
    v = torch.randn(4, 2, dtype=torch.float64)
    assert torch.equal(back.flow(0.2, v), pm.flow(0.2, v)) and torch.equal(back.v0, pm.v0)
    assert load_checkpoint(tmp_path / "pm")["kind"] == "pinn_pm"


# -- refusals --------------------------------------------------------------------------------
class _Exploit:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))  # unpickling would create the marker file


def test_a_crafted_pickle_is_refused_and_runs_nothing(tmp_path):
    from sciml.pinns.networks import MLP
    from sciml.pinns.training import LossTerm, PINNTrainer

    marker = tmp_path / "PWNED"
    bad = tmp_path / "evil.pt"
    torch.save({"model": {}, "iterations": {}, "payload": _Exploit(str(marker))}, bad)
    assert not marker.exists()
    net = MLP(1, 1, width=4, depth=1)
    term = LossTerm("fit", lambda model, x: model(x)[:, 0], np.zeros((2, 1)))
    with pytest.raises(CheckpointError, match=r"evil\.pt: refused: .*run code"):
        PINNTrainer(net, [term], checkpoint=bad, resume=True, progress=False)
    # the same payload inside a checkpoint directory's weights
    ck = save_checkpoint(tmp_path / "ck", net)
    with open(ck / "model.pt", "wb") as fh:
        pickle.dump(_Exploit(str(marker)), fh)
    with pytest.raises(CheckpointError, match=r"model\.pt"):
        load_model(ck)
    assert not marker.exists()


def test_an_edited_config_is_refused(tmp_path):
    from sciml.datasets.loaders import UnitGaussianNormalizer
    from sciml.operators import build_model
    from sciml.pinns.networks import MLP
    from sciml.training import NormalizedModel

    ck = save_checkpoint(tmp_path / "mlp", MLP(2, 1, width=8, depth=2, activation="tanh"))
    cfg = json.loads((ck / "config.json").read_text())
    cfg["model"]["config"]["activation"] = "sin"  # same weights, another function
    (ck / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError, match=r"config\.json: does not match the weights"):
        load_model(ck)

    x = torch.randn(6, 1, 8, 8)
    fno = build_model("fno", in_channels=1, out_channels=1, n_modes=[2, 2], hidden_channels=4, n_layers=1)
    ck = save_checkpoint(tmp_path / "op", NormalizedModel(fno, UnitGaussianNormalizer.fit(x), None))
    text = (ck / "config.json").read_text()
    assert '"eps": 1e-05' in text
    (ck / "config.json").write_text(text.replace('"eps": 1e-05', '"eps": 0.1'))
    with pytest.raises(CheckpointError, match="does not match the weights"):
        load_checkpoint(ck)


def test_corrupt_or_mismatched_checkpoints_are_refused_naming_the_file(tmp_path):
    from sciml.pinns.networks import MLP

    ck = save_checkpoint(tmp_path / "a", MLP(2, 1, width=8, depth=2))
    blob = (ck / "model.pt").read_bytes()
    (ck / "model.pt").write_bytes(blob[: len(blob) // 2])
    with pytest.raises(CheckpointError, match=r"a/model\.pt: not a readable weights file"):
        load_model(ck)

    ck = save_checkpoint(tmp_path / "b", MLP(2, 1, width=8, depth=2))
    (ck / "config.json").write_text('{"format": "sciml-checkpoint/2", "model"')
    with pytest.raises(CheckpointError, match=r"b/config\.json: not valid JSON"):
        load_model(ck)

    with pytest.raises(CheckpointError, match="not a sciml checkpoint"):
        load_model(tmp_path)  # a directory without config.json
    with pytest.raises(FileNotFoundError):
        load_model(tmp_path / "nothing")

    # weights of one model into another: every key and shape is checked
    ck = save_checkpoint(tmp_path / "c", MLP(2, 1, width=8, depth=2))
    with pytest.raises(CheckpointError, match=r"c/model\.pt: weight 'layers.0.weight' has shape \(8, 2\)"):
        load_checkpoint(ck, model=MLP(2, 1, width=16, depth=2))
    with pytest.raises(CheckpointError, match="missing 2"):
        load_checkpoint(ck, model=MLP(2, 1, width=8, depth=3))


def test_resume_with_another_model_is_refused(tmp_path):
    import sys

    sys.path.insert(0, str(Path(__file__).parent))
    from _tiny import Tiny, builder, smoothing_data  # noqa: F401

    from sciml.training import Trainer

    Trainer(Tiny(width=4), epochs=1, batch_size=8, progress=False, checkpoint_dir=tmp_path).fit(smoothing_data(16))
    other = Trainer(Tiny(width=4, dropout=0.5), epochs=2, batch_size=8, progress=False, checkpoint_dir=tmp_path)
    with pytest.raises(CheckpointError, match=r"written for another model: .*dropout: 0.5 here, 0.0 in the checkpoint"):
        other.fit(smoothing_data(16), resume=True)


def test_files_get_the_umask_permissions(tmp_path):
    from sciml.pinns.networks import MLP

    old = os.umask(0o022)
    try:
        ck = save_checkpoint(tmp_path / "p", MLP(2, 1, width=4, depth=1))
    finally:
        os.umask(old)
    assert oct(os.stat(ck / "config.json").st_mode & 0o777) == oct(0o644)


def test_a_pinn_run_resumed_from_an_old_pt_file_continues_in_the_new_format(tmp_path):
    import shutil

    from sciml.pinns.networks import MLP
    from sciml.pinns.training import LossTerm, PINNTrainer

    old = tmp_path / "run.pt"
    shutil.copy(V0 / "pinn.pt", old)
    net = MLP(2, 1, width=8, depth=2, activation="tanh", lower=[0, 0], upper=[1, 1], dtype=torch.float64, seed=0)
    term = LossTerm("fit", lambda model, x: model(x)[:, 0] - torch.sin(x[:, 0]) * x[:, 1],
                    np.random.default_rng(2).random((16, 2)))
    tr = PINNTrainer(net, [term], checkpoint=old, resume=True, progress=False, log_every=5)
    tr.adam(5, lr=1e-2)
    assert old.is_dir() and load_checkpoint(old)["config"]["trainer"]["iterations"]["adam"] == 15
    assert list(tmp_path.iterdir()) == [old]  # nothing left aside


def test_an_option_added_after_the_checkpoint_reads_as_its_default(tmp_path):
    # a checkpoint written before FNO had spectral_init (its config has no key for it) resumes into the
    # model built with the default, and is still refused for a model built with another value
    from sciml.operators import FNO

    old = FNO(1, 1, (4, 4), hidden_channels=4, n_layers=1)
    del old.config["spectral_init"]
    ck = save_checkpoint(tmp_path / "c", old, name="fno")
    assert "spectral_init" not in json.loads((ck / "config.json").read_text())["model"]["config"]
    same = FNO(1, 1, (4, 4), hidden_channels=4, n_layers=1)
    r = load_checkpoint(ck, model=same, same_as="fno")
    torch.testing.assert_close(r["model"].blocks[0].conv.weight.weight, old.blocks[0].conv.weight.weight)
    with pytest.raises(CheckpointError, match=r"spectral_init: 'uniform' here, 'normal' in the checkpoint"):
        load_checkpoint(ck, model=FNO(1, 1, (4, 4), hidden_channels=4, n_layers=1, spectral_init="uniform"),
                        same_as="fno")
    with pytest.raises(CheckpointError, match=r"hidden_channels: 8 here, 4 in the checkpoint"):
        load_checkpoint(ck, model=FNO(1, 1, (4, 4), hidden_channels=8, n_layers=1), same_as="fno")
