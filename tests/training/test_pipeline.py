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
