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
