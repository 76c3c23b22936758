import json
from pathlib import Path

import pytest

import sciml.training.loop as loop
from sciml.datasets import generate
from sciml.training import quick_train


class FakeClock:
    """A clock that advances ``tick`` seconds each time it is read: a run's length in clock
    readings, not in the machine's speed."""

    def __init__(self, tick):
        self.t, self.tick, self.reads = 1000.0, tick, 0

    def __call__(self):
        self.t += self.tick
        self.reads += 1
        return self.t


def test_quick_train_respects_budget_and_writes_figures(tmp_path):
    data = generate("darcy", 20, seed=0, out=tmp_path / "d.h5", resolution=16, subsample=1, progress=False)
    res = quick_train(data, tmp_path / "q", seconds=3, seed=0, progress=False)
    assert 0 < res["test_rel_l2"] < 1.5
    assert res["epochs"] >= 1 and res["train_seconds"] < 30
    for key in ("predictions_figure", "loss_curves_figure"):
        assert Path(res[key]).stat().st_size > 1000


@pytest.fixture
def darcy(tmp_path):
    return generate("darcy", 20, seed=0, out=tmp_path / "d.h5", resolution=16, subsample=1, progress=False)


def test_budget_is_read_from_the_clock_as_the_run_goes(darcy, tmp_path, monkeypatch):
    # 16 training samples, batch 8: 2 batches per epoch; the fake clock advances 0.5 s per reading,
    # a few readings per batch, so a 20 s budget spans several epochs whatever the machine's load
    clock = FakeClock(0.5)
    monkeypatch.setattr(loop, "clock", clock)
    res = quick_train(darcy, tmp_path / "q", seconds=20, seed=0, progress=False)
    assert res["stopped"].startswith("time budget of 20 s")
    assert res["epochs"] > 2, res["epochs"]  # the budget is used, not estimated away by a probe
    assert 20 - 2 <= res["train_seconds"] <= 20 + 2  # stopped at the batch that reached the budget
    lrs = [h["lr"] for h in res["history"]]
    assert lrs[0] == pytest.approx(3e-3, rel=0.05) and lrs[-1] < 0.5 * lrs[0]  # cosine follows the budget
    # the same clock gives the same run
    clock2 = FakeClock(0.5)
    monkeypatch.setattr(loop, "clock", clock2)
    again = quick_train(darcy, tmp_path / "q2", seconds=20, seed=0, progress=False)
    assert again["epochs"] == res["epochs"] and again["test_rel_l2"] == res["test_rel_l2"]


def test_fixed_epochs_with_a_time_cap(darcy, tmp_path, monkeypatch):
    res = quick_train(darcy, tmp_path / "a", epochs=3, seconds=600, seed=0, progress=False)
    assert res["epochs"] == 3 and res["stopped"] == ""
    monkeypatch.setattr(loop, "clock", FakeClock(1.0))
    capped = quick_train(darcy, tmp_path / "b", epochs=50, seconds=10, seed=0, progress=False)
    assert capped["epochs"] < 50 and capped["stopped"].startswith("time budget of 10 s")
    json.loads((tmp_path / "b" / "results.json").read_text())  # strict, complete JSON


def test_quick_train_refuses_bad_budgets(darcy, tmp_path):
    for kw in ({"seconds": 0}, {"seconds": float("nan")}, {"seconds": None}, {"epochs": 0, "seconds": 5}):
        with pytest.raises(ValueError):
            quick_train(darcy, tmp_path / "x", **kw)
