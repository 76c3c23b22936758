"""PINN-PM for the Landau equation: flow-map structure, queries, a short training run whose losses fall."""
import pytest
import torch

from sciml.pinns.landau import LandauPINNPM, train_pinn_pm
from sciml.solvers.landau import bkw_density, bkw_score, relative_l2, velocity_grid

T0 = 1.0  # BKW 2D start time (smooth, positive density)


def _setup(n=8):
    x, axis, h = velocity_grid(n, 4.0, 2)
    w = bkw_density(x, T0, 2) * h * h
    return x, w / w.sum()


def _f0(v):
    return bkw_density(v, T0, 2)


def _s0(v):
    return bkw_score(v, T0, 2)


def test_flow_is_identity_at_t0_and_density_query():
    x, w = _setup()
    m = LandauPINNPM(2, 0.5, width=16, depth=2)
    m, _ = train_pinn_pm(m, x, w, iters=1, init_iters=0, f0=_f0, score0=_s0)
    y = torch.randn(20, 2, dtype=torch.float64)
    assert torch.equal(m.particles(0.0, y), y)
    q, _, _ = velocity_grid(12, 3.0, 2)
    assert relative_l2(m.density(0.0, q), bkw_density(q, T0, 2)) < 1e-12
    # Newton inversion of the (non-trivial) flow at t > 0
    yi, ok = m.invert(0.5, q)
    assert bool(ok.all()) and float((m.particles(0.5, yi) - q).abs().max()) < 1e-8
    # the pushforward score at t = 0 is the initial score
    assert float((m.pushforward_score(0.0, y) - _s0(y)).abs().max()) < 1e-10


def test_pinn_pm_losses_fall():
    x, w = _setup()
    m = LandauPINNPM(2, 0.5, width=16, depth=2, seed=1)
    m, info = train_pinn_pm(m, x, w, iters=150, init_iters=50, lr=5e-3, f0=_f0, score0=_s0, n_times=2)
    def avg(key, sl):
        vals = info[key][sl]
        return sum(vals) / len(vals)

    first = sum(avg(k, slice(0, 5)) for k in ("loss_dyn", "loss_sm", "loss_init"))
    last = sum(avg(k, slice(-5, None)) for k in ("loss_dyn", "loss_sm", "loss_init"))
    assert last < 0.85 * first, (first, last)
    assert avg("loss_dyn", slice(-5, None)) < 0.2 * avg("loss_dyn", slice(0, 5))
    assert all(torch.isfinite(torch.tensor(info["loss_dyn"])))
    cert = m.certificate([0.0, 0.5])
    assert len(cert["fisher_rel"]) == 2 and all(c >= 0 for c in cert["fisher"])
    # mass of the pushed weighted particles is exact; the query at any t needs no time stepping
    assert float(m.w0.sum()) == pytest.approx(1.0, abs=1e-14)
    assert m.particles(0.37).shape == x.shape


def test_pinn_pm_validation():
    x, w = _setup()
    with pytest.raises(ValueError, match="dim"):
        LandauPINNPM(4)
    with pytest.raises(ValueError, match="score_loss"):
        train_pinn_pm(LandauPINNPM(2), x, w, score_loss="dsm")
    with pytest.raises(ValueError, match="iters"):
        train_pinn_pm(LandauPINNPM(2), x, w, iters=0)
    with pytest.raises(TypeError):
        train_pinn_pm(torch.nn.Linear(2, 2), x, w)
    m = LandauPINNPM(2)
    with pytest.raises(ValueError, match="f0"):
        train_pinn_pm(m, x, w, iters=1, init_iters=0)
        m.density(0.1, x)


@pytest.mark.slow
def test_pinn_pm_bkw_2d_accuracy():
    """256 grid particles from BKW at t = 0, trained to T = 1: density error through the flow map < 8%."""
    x, axis, h = velocity_grid(16, 4.0, 2)
    w = bkw_density(x, 0.0, 2) * h * h
    m = LandauPINNPM(2, 1.0, v_max=4.0)
    m, info = train_pinn_pm(m, x, w / w.sum(), iters=2500, f0=lambda v: bkw_density(v, 0.0, 2),
                            score0=lambda v: bkw_score(v, 0.0, 2).clamp(-50, 50))
    q, _, _ = velocity_grid(80, 4.0, 2)
    assert relative_l2(m.density(1.0, q), bkw_density(q, 1.0, 2)) < 0.08
    cert = m.certificate([0.5, 1.0])
    assert max(cert["fisher_rel"]) < 0.1


def test_pinn_pm_nan_guard_time_cap_callback_and_checkpoint(tmp_path, monkeypatch):
    import numpy as np
    import pytest
    import torch

    import sciml.training.loop as loop
    from sciml.pinns.landau import LandauPINNPM, train_pinn_pm
    from sciml.training import NonFiniteLossError, load_model

    v0 = torch.as_tensor(np.random.default_rng(0).standard_normal((10, 2)))
    model = LandauPINNPM(dim=2, width=8, depth=2, seed=0)
    _, info = train_pinn_pm(model, v0, iters=6, init_iters=2, n_times=2, checkpoint=tmp_path / "ck", checkpoint_every=2,
                            callback=lambda it, info: it == 3)
    assert info["stopped"] == "callback stop" and len(info["loss_dyn"]) == 4
    back = load_model(tmp_path / "ck")
    x = torch.randn(3, 2, dtype=torch.float64)
    assert torch.equal(back.flow(0.4, x), model.flow(0.4, x)) and back.v0.shape == (10, 2)

    ticks = iter(range(0, 10_000, 1))
    monkeypatch.setattr(loop, "clock", lambda: float(next(ticks)))
    _, info = train_pinn_pm(LandauPINNPM(dim=2, width=8, depth=2), v0, iters=500, init_iters=0, n_times=2, seconds=5)
    assert info["stopped"].startswith("time budget of 5 s") and len(info["loss_dyn"]) < 10

    with pytest.raises(NonFiniteLossError, match="iteration 1"):
        train_pinn_pm(LandauPINNPM(dim=2, width=8, depth=2), v0 * float("nan"), iters=3, init_iters=0)
