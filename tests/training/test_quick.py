from pathlib import Path

from sciml.datasets import generate
from sciml.training import quick_train


def test_quick_train_respects_budget_and_writes_figures(tmp_path):
    data = generate("darcy", 20, seed=0, out=tmp_path / "d.h5", resolution=16, subsample=1, progress=False)
    res = quick_train(data, tmp_path / "q", seconds=3, seed=0, progress=False)
    assert 0 < res["test_rel_l2"] < 1.5
    assert res["epochs"] >= 1 and res["train_seconds"] < 30
    for key in ("predictions_figure", "loss_curves_figure"):
        assert Path(res[key]).stat().st_size > 1000
