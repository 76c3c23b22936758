"""The demo prints a figure a user can reproduce: fixed epochs, a cap, and which of the two ended it."""
import sciml.training.loop as loop
from sciml import demo


class _Clock:
    def __init__(self, tick):
        self.t, self.tick = 0.0, tick

    def __call__(self):
        self.t += self.tick
        return self.t


def test_demo_reports_fixed_epochs_and_whether_the_cap_bit(tmp_path, monkeypatch):
    lines = []
    res = demo.run(tmp_path / "a", n=20, resolution=33, epochs=2, cap_seconds=600, log=lines.append)
    assert res["epochs"] == 2 and res["summary"].startswith("FNO, 2 epochs (cap 600 s): test rel. L2 0.")
    again = demo.run(tmp_path / "b", n=20, resolution=33, epochs=2, cap_seconds=600, log=lines.append)
    assert again["test_rel_l2"] == res["test_rel_l2"]  # the printed figure is reproducible
    monkeypatch.setattr(loop, "clock", _Clock(1.0))  # a machine far too slow for the cap
    capped = demo.run(tmp_path / "c", n=20, resolution=33, epochs=50, cap_seconds=5, log=lines.append)
    assert capped["epochs"] < 50
    assert f"stopped by the cap after {capped['epochs']} epochs" in capped["summary"]
    assert any(line.startswith("[3/3] FNO, 50 epochs (cap 5 s), stopped by the cap") for line in lines)


def test_demo_defaults_are_the_documented_short_run():
    assert demo.DEFAULTS == {"n": 200, "resolution": 61, "epochs": 20, "cap_seconds": 120.0}
