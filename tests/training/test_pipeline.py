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
