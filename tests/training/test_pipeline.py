import json

import numpy as np
import pytest

from sciml.datasets import save_dataset
from sciml.training.pipeline import fft_friendly_padding, train_operator


def test_trajectory_rollout_pipeline(tmp_path):
    rng = np.random.default_rng(0)
    w0 = rng.normal(size=(10, 1, 1, 8, 8))
    w = np.concatenate([w0 * 0.9 ** k for k in range(7)], axis=1)  # (N, T=7, C=1, 8, 8)
    path = save_dataset(tmp_path / "traj.h5", {"w": w})
    res = train_operator(path, tmp_path / "run", model="fno", inputs="w", outputs="w", t_in=3, t_out=4, epochs=2,
                         batch_size=4, model_config={"n_modes": [4, 4], "hidden_channels": 4, "n_layers": 1},
                         progress=False)
    assert res["model_config"]["in_channels"] == 3 and res["model_config"]["out_channels"] == 1
    assert len(res["rollout_rel_l2_per_step"]) == 4 and res["n_train"] == 8 and res["n_test"] == 2
    assert (tmp_path / "run" / "rollout_errors.png").exists()


def test_teacher_forced_rollout_pipeline_resumes_bit_for_bit(tmp_path):
    # train_frames=1: the step FNO trains on every 3-frame window of the true trajectories and is
    # tested by its 4-frame rollout; a run stopped after one epoch and resumed ends as an unbroken one
    import torch

    from sciml.training import load_model

    rng = np.random.default_rng(0)
    w0 = rng.normal(size=(10, 1, 1, 8, 8))
    w = np.concatenate([w0 * 0.9 ** k for k in range(7)], axis=1)  # (N, T=7, C=1, 8, 8)
    path = save_dataset(tmp_path / "traj.h5", {"w": w})
    kw = dict(model="fno", inputs="w", outputs="w", t_in=3, t_out=4, train_frames=1, batch_size=4, lr=1e-2,
              scheduler="step", step_size=1, gamma=0.5,  # a schedule that does not depend on the epoch count
              model_config={"n_modes": [4, 4], "hidden_channels": 4, "n_layers": 1}, progress=False, figures=False)
    full = train_operator(path, tmp_path / "full", epochs=3, **kw)
    assert full["train_frames"] == 1 and full["train_windows"] == 8 * 4  # 8 trajectories x (7 - 3) windows
    assert len(full["rollout_rel_l2_per_step"]) == 4
    train_operator(path, tmp_path / "cut", epochs=1, **kw)
    resumed = train_operator(path, tmp_path / "cut", epochs=3, resume=True, **kw)
    assert resumed["test_rel_l2"] == full["test_rel_l2"]
    assert [h["train_loss"] for h in resumed["history"]] == [h["train_loss"] for h in full["history"]]
    a, b = load_model(full["checkpoint"]), load_model(resumed["checkpoint"])
    assert a.train_frames == 1 and all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert a.eval()(torch.zeros(2, 3, 1, 8, 8)).shape == (2, 4, 1, 8, 8)  # tested as a 4-frame rollout
    with pytest.raises(ValueError, match="train_frames needs a rollout"):
        train_operator(path, tmp_path / "st", epochs=1, **dict(kw, space_time=True))


def test_space_time_pipeline_learns_and_reloads(tmp_path):
    # FNO-3D: one FNO over (x, y, t) on decaying trajectories u_k = 0.9^k u_0; it must learn them
    # (error far below the 1 - 0.9^k of predicting zero change) and reload from its checkpoint
    import torch

    from sciml.training import NormalizedModel, SpaceTimeModel, load_model

    rng = np.random.default_rng(0)
    w0 = rng.normal(size=(40, 1, 1, 8, 8))
    w = np.concatenate([w0 * 0.9 ** k for k in range(8)], axis=1)  # (N, T=8, C=1, 8, 8)
    path = save_dataset(tmp_path / "traj.h5", {"w": w})
    res = train_operator(path, tmp_path / "run", model="fno", inputs="w", outputs="w", t_in=2, t_out=6,
                         space_time=True, n_train=32, n_test=8, epochs=30, batch_size=8, lr=5e-3,
                         model_config={"n_modes": [4, 4, 4], "hidden_channels": 8, "n_layers": 1,
                                       "domain_padding": [0.0, 0.0, 0.5], "positional_embedding": "grid"},
                         progress=False)
    assert res["model_config"]["in_channels"] == 2 and res["model_config"]["out_channels"] == 1
    assert res["resolution"] == [8, 8] and len(res["rollout_rel_l2_per_step"]) == 6
    assert res["history"][-1]["train_loss"] < 0.2 * res["history"][0]["train_loss"]
    assert res["test_rel_l2"] < 0.05, res["test_rel_l2"]  # measured 0.021; the last frame held: 0.45
    model = load_model(res["checkpoint"])
    assert isinstance(model, NormalizedModel) and isinstance(model.model, SpaceTimeModel)
    x = torch.as_tensor(w[-8:, :2], dtype=torch.float32)
    y = torch.as_tensor(w[-8:, 2:], dtype=torch.float32)
    with torch.no_grad():
        err = ((model(x) - y).flatten(1).norm(dim=1) / y.flatten(1).norm(dim=1)).mean()
    assert abs(float(err) - res["test_rel_l2"]) < 1e-5
    with pytest.raises(ValueError, match="space_time needs trajectories"):
        train_operator(path, tmp_path / "r2", model="fno", inputs="w", outputs="w", space_time=True, epochs=1)


def test_fft_friendly_padding():
    assert fft_friendly_padding([43, 85, 64]) == pytest.approx([5 / 43, 11 / 85, 8 / 64])
    with pytest.raises(ValueError, match="epochs or seconds"):
        train_operator("x.h5", "out")


def test_nan_in_a_test_sample_is_a_failure_not_a_result(tmp_path):
    from sciml.training import NonFiniteMetricError

    rng = np.random.default_rng(0)
    a = rng.normal(size=(10, 1, 8, 8))
    u = 0.5 * a
    u[9, 0, 3, 3] = np.nan  # the last sample: in the test split (n_test=2 takes the last two)
    path = save_dataset(tmp_path / "nan.h5", {"a": a, "u": u})
    with pytest.raises(NonFiniteMetricError, match=r"test set \(1 of 2 samples: positions 1\)"):
        train_operator(path, tmp_path / "run", model="fno", n_train=8, n_test=2, epochs=1, batch_size=4,
                       model_config={"n_modes": [4, 4], "hidden_channels": 4, "n_layers": 1}, progress=False,
                       figures=False)
    assert not (tmp_path / "run" / "results.json").exists()


def _tiny_store(tmp_path, s=8):
    rng = np.random.default_rng(1)
    a = rng.normal(size=(10, 1, s, s))
    return save_dataset(tmp_path / f"d{s}.h5", {"a": a, "u": 0.5 * a})


def test_an_existing_run_is_refused_without_resume_or_overwrite(tmp_path):
    path = _tiny_store(tmp_path)
    kw = dict(model="fno", epochs=1, batch_size=4, progress=False, figures=False,
              model_config={"n_modes": [4, 4], "hidden_channels": 4, "n_layers": 1})
    first = train_operator(path, tmp_path / "run", **kw)
    with pytest.raises(FileExistsError, match="already holds a run"):
        train_operator(path, tmp_path / "run", **kw)
    again = train_operator(path, tmp_path / "run", overwrite=True, **kw)
    assert again["test_rel_l2"] == first["test_rel_l2"]  # same seed, same run
    more = train_operator(path, tmp_path / "run", resume=True, **dict(kw, epochs=2))
    assert more["epochs"] == 2
    assert not (tmp_path / "run.lock").exists()  # the lock is released


def test_a_run_directory_being_written_is_locked(tmp_path):
    from sciml._util.io import OutputLock, OutputLockedError

    path = _tiny_store(tmp_path)
    (tmp_path / "run").mkdir()
    with OutputLock(tmp_path / "run"):
        import multiprocessing as mp

        ctx = mp.get_context("spawn")
        q = ctx.Queue()
        p = ctx.Process(target=_train_into, args=(str(path), str(tmp_path / "run"), q))
        p.start()
        p.join(120)
        kind, msg = q.get(timeout=5)
    assert kind == "OutputLockedError" and "is being written by PID" in msg
    assert OutputLockedError.__name__ == kind


def _train_into(path, out, q):
    try:
        train_operator(path, out, model="fno", epochs=1, batch_size=4, progress=False, figures=False,
                       model_config={"n_modes": [4, 4], "hidden_channels": 4, "n_layers": 1})
        q.put(("ok", ""))
    except Exception as exc:  # noqa: BLE001 - report any outcome to the parent
        q.put((type(exc).__name__, str(exc)))


def test_modes_larger_than_the_grid_are_refused_before_building(tmp_path):
    path = _tiny_store(tmp_path, s=13)
    with pytest.raises(ValueError, match=r"modes: 1000 per sign .* exceed its 13-point grid"):
        train_operator(path, tmp_path / "run", model="fno", epochs=1, progress=False, figures=False,
                       model_config={"n_modes": [2000, 2000], "hidden_channels": 4, "n_layers": 1})


def test_pod_deeponet_basis_is_fitted_from_the_training_outputs(tmp_path):
    # outputs in a 3-dimensional space: a 3-mode POD basis holds them, so the test error is
    # the branch's only; without the fit the model refuses to run
    rng = np.random.default_rng(2)
    s = np.linspace(0, 1, 12)
    basis = np.stack([np.outer(np.sin(np.pi * k * s), np.sin(np.pi * s)) for k in (1, 2, 3)])
    coef = rng.normal(size=(40, 3))
    u = np.einsum("nk,kxy->nxy", coef, basis)[:, None]
    a = np.einsum("nk,kxy->nxy", coef, basis[::-1])[:, None]
    path = save_dataset(tmp_path / "pod.h5", {"a": a, "u": u})
    cfg = {"branch_in": 144, "out_shape": [12, 12], "n_basis": 3, "width": 32, "depth": 2}
    res = train_operator(path, tmp_path / "run", model="pod-deeponet", model_config=cfg, n_train=32, n_test=8,
                         epochs=60, batch_size=8, lr=3e-3, progress=False, figures=False)
    assert res["test_rel_l2"] < 0.1, res["test_rel_l2"]
    traj = save_dataset(tmp_path / "traj.h5", {"w": np.stack([u, u, u], axis=1)})  # (N, T=3, 1, 12, 12)
    with pytest.raises(ValueError, match="rollouts"):
        train_operator(traj, tmp_path / "r2", model="pod-deeponet", model_config=cfg, inputs="w", outputs="w",
                       t_in=1, t_out=2, epochs=1, progress=False, figures=False)


def test_train_cli_space_time(tmp_path, capsys):
    from sciml.cli import main

    rng = np.random.default_rng(1)
    w0 = rng.normal(size=(6, 1, 1, 8, 8))
    path = save_dataset(tmp_path / "traj.h5", {"w": np.concatenate([w0 * 0.9 ** k for k in range(6)], axis=1)})
    common = ["train", "--data", str(path), "--inputs", "w", "--outputs", "w", "--epochs", "1", "--modes", "2",
              "--width", "4", "--layers", "1", "--no-progress"]
    assert main([*common, "--out", str(tmp_path / "bad"), "--space-time"]) == 2
    err = capsys.readouterr().err
    assert "--space-time needs --t-in" in err and not (tmp_path / "bad").exists()
    assert main([*common, "--out", str(tmp_path / "run"), "--t-in", "2", "--space-time",
                 "--model-arg", "domain_padding=[0.0, 0.0, 0.5]"]) == 0
    res = json.loads((tmp_path / "run" / "results.json").read_text())
    assert res["model_config"]["n_modes"] == [4, 4, 4] and len(res["rollout_rel_l2_per_step"]) == 4


def test_resume_on_other_data_is_refused_and_the_run_kept(tmp_path):
    # a regenerated file with other last bits (another BLAS kernel), or another split, must not
    # continue a run's optimiser state as if nothing changed
    rng = np.random.default_rng(0)
    a = rng.normal(size=(12, 1, 8, 8))
    path = save_dataset(tmp_path / "d.h5", {"a": a, "u": 2 * a})
    kw = dict(model="fno", inputs="a", outputs="u", n_train=8, n_test=4, batch_size=4, progress=False,
              figures=False, model_config={"n_modes": [4, 4], "hidden_channels": 4, "n_layers": 1})
    train_operator(path, tmp_path / "run", epochs=1, **kw)
    stamp = json.loads((tmp_path / "run" / "data.json").read_text())
    assert len(stamp["sha256"]) == 64 and stamp["n_train"] == 8 and stamp["n_test"] == 4
    checkpoint = (tmp_path / "run" / "checkpoints" / "last" / "model.pt").read_bytes()

    # last bits of what the run reads (float32): a change below them is the same samples
    other = save_dataset(tmp_path / "e.h5", {"a": a, "u": 2 * a * (1 + 1e-6)})
    with pytest.raises(ValueError, match="trained on other samples"):
        train_operator(other, tmp_path / "run", epochs=2, resume=True, **kw)
    with pytest.raises(ValueError, match="trained on other samples"):  # same file, other split
        train_operator(path, tmp_path / "run", epochs=2, resume=True, **dict(kw, n_train=7))
    assert (tmp_path / "run" / "checkpoints" / "last" / "model.pt").read_bytes() == checkpoint

    res = train_operator(path, tmp_path / "run", epochs=2, resume=True, **kw)  # the same data resumes
    assert res["epochs"] == 2
    res = train_operator(other, tmp_path / "run", epochs=1, overwrite=True, **kw)  # a new run records its data
    assert json.loads((tmp_path / "run" / "data.json").read_text())["sha256"] != stamp["sha256"]
