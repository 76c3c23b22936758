import math

import numpy as np
import pytest
import torch

from sciml.pinns.conditions import HardDirichlet, dirichlet, pde_residual
from sciml.pinns.derivatives import gradient
from sciml.pinns.geometry import Interval
from sciml.pinns.networks import MLP
from sciml.pinns.training import CausalWeighting, LossTerm, PINNTrainer, train_pinn


def _poisson_1d(hard=True, seed=0, n=64):
    """-u'' = pi^2 sin(pi x) on [0, 1], u(0) = u(1) = 0; exact u = sin(pi x)."""
    geom = Interval(0.0, 1.0)
    net = MLP(1, 1, 20, 2, dtype=torch.float64, seed=seed, lower=[0], upper=[1])
    model = HardDirichlet(net, geom.distance) if hard else net

    def res(m, x):
        u = m(x)
        ux = gradient(u, x)
        return -gradient(ux, x) - math.pi ** 2 * torch.sin(math.pi * x)

    terms = [pde_residual(geom.sample_interior(n, "sobol", rng=seed), res)]
    if not hard:
        terms.append(dirichlet(np.array([[0.0], [1.0]]), 0.0))
    return model, terms


def _error(model):
    x = torch.linspace(0, 1, 201, dtype=torch.float64)[:, None]
    with torch.no_grad():
        return float((model(x) - torch.sin(math.pi * x)).abs().max())


def test_small_poisson_reaches_bounded_error():
    model, terms = _poisson_1d(hard=True)
    res = train_pinn(model, terms, adam_iterations=200, lr=1e-2, lbfgs_iterations=150, progress=False)
    assert _error(model) < 1e-2, _error(model)
    assert res.history[-1]["loss"] < 1e-3 * res.history[0]["loss"]
    assert res.timings["adam"]["iterations"] == 200 and res.timings["lbfgs"]["iterations"] <= 150


def test_lbfgs_decreases_loss_and_tolerances_apply():
    model, terms = _poisson_1d(hard=False, seed=1, n=32)
    tr = PINNTrainer(model, terms, progress=False, log_every=10)
    tr.adam(20, lr=1e-3)
    before = tr.evaluate()["loss"]
    tr.lbfgs(60, history_size=10)
    after = tr.evaluate()["loss"]
    assert after < 0.1 * before
    assert tr.iterations["lbfgs"] == 60
    # a loose tolerance_change makes torch stop early; the trainer reports it and stops
    tr2 = PINNTrainer(model, terms, progress=False, log_every=10)
    tr2.lbfgs(500, tolerance_change=1e3)
    assert tr2.iterations["lbfgs"] < 10 and "converged" in tr2.result.stopped
    # a huge gradient tolerance: no iteration at all
    tr3 = PINNTrainer(model, terms, progress=False)
    tr3.lbfgs(50, tolerance_grad=1e9)
    assert tr3.iterations["lbfgs"] == 0


def test_lr_annealing_weight_formula():
    model, terms = _poisson_1d(hard=False, seed=2, n=32)
    params = list(model.parameters())
    Lr, Lb = terms[0].loss(model), terms[1].loss(model)
    gr = torch.cat([g.reshape(-1) for g in torch.autograd.grad(Lr, params, allow_unused=True) if g is not None])
    gb = torch.cat([g.reshape(-1) for g in torch.autograd.grad(Lb, params, allow_unused=True) if g is not None])
    gr, gb = gr.abs(), gb.abs()
    expected = 0.1 * 1.0 + 0.9 * float(gr.max() / gb.mean())
    tr = PINNTrainer(model, terms, adaptive_weights="lr_annealing", annealing_every=1, progress=False)
    tr.adam(1, lr=1e-12)
    assert terms[0].weight == 1.0  # the PDE term is the reference
    assert terms[1].weight == pytest.approx(expected, rel=1e-9)
    assert tr.result.history[-1]["weight_bc"] == terms[1].weight


def test_causal_weights():
    cw = CausalWeighting(n_chunks=4, epsilon=2.0, t0=0.0, t1=1.0)
    t = torch.tensor([0.1, 0.2, 0.3, 0.6, 0.9, 0.95], dtype=torch.float64)
    idx = cw.chunk_index(torch.stack([t * 0, t], 1))
    assert idx.tolist() == [0, 0, 1, 2, 3, 3]
    r2 = torch.tensor([1.0, 3.0, 0.5, 0.25, 4.0, 0.0], dtype=torch.float64)
    L = cw.chunk_losses(r2, idx)
    torch.testing.assert_close(L, torch.tensor([2.0, 0.5, 0.25, 2.0], dtype=torch.float64))
    w = cw.weights(L)
    torch.testing.assert_close(w, torch.exp(-2.0 * torch.tensor([0.0, 2.0, 2.5, 2.75], dtype=torch.float64)))
    # in a LossTerm: causally weighted mean, and epsilon = 0 -> mean of chunk means
    pts = torch.stack([t * 0, t], 1)
    r = r2.sqrt()[:, None]
    term = LossTerm("pde", lambda m, x: r, pts, kind="pde", causal=cw)
    m = torch.nn.Linear(1, 1).double()
    assert float(term.loss(m)) == pytest.approx(float((w * L).mean()))
    term0 = LossTerm("pde", lambda m, x: r, pts, kind="pde", causal=CausalWeighting(4, 0.0, t0=0.0, t1=1.0))
    assert float(term0.loss(m)) == pytest.approx(float(L.mean()))


def test_causal_term_trains_with_adam_and_lbfgs():
    """Transport u_t + u_x = 0 with causal weighting: the weights are frozen per L-BFGS chunk and the loss falls."""
    net = MLP(2, 1, 16, 2, dtype=torch.float64, seed=0)
    pts = np.random.default_rng(0).random((128, 2))

    def res(m, x):
        g = gradient(m(x), x)
        return g[:, 1:] + g[:, :1]

    x0 = np.stack([np.linspace(0, 1, 32), np.zeros(32)], 1)
    terms = [pde_residual(pts, res, causal=CausalWeighting(8, 5.0, t0=0.0, t1=1.0)),
             dirichlet(x0, np.sin(2 * np.pi * x0[:, 0]), name="ic")]
    tr = PINNTrainer(net, terms, progress=False, log_every=10)
    tr.adam(20, lr=1e-2)
    first = tr.evaluate()["loss"]
    tr.lbfgs(30)
    assert tr.evaluate()["loss"] < first
    assert "causal_min_pde" in tr.result.history[-1] and terms[0].frozen_causal_weights is None


def test_checkpoint_roundtrip(tmp_path):
    model, terms = _poisson_1d(hard=True, seed=3, n=16)
    path = tmp_path / "ck.pt"
    tr = PINNTrainer(model, terms, checkpoint=path, checkpoint_every=5, progress=False, log_every=5)
    tr.adam(10, lr=1e-2)
    tr.lbfgs(5)
    model2, terms2 = _poisson_1d(hard=True, seed=4, n=16)
    tr2 = PINNTrainer(model2, terms2, checkpoint=path, resume=True, progress=False)
    assert tr2.iterations == tr.iterations
    assert len(tr2.result.history) == len(tr.result.history)
    x = torch.rand(7, 1, dtype=torch.float64)
    torch.testing.assert_close(model(x), model2(x))
    assert not (tmp_path / "ck.pt.tmp").exists()


def test_resampling_callback_adds_points_where_residual_is_large():
    from sciml.pinns.training import resampling_callback

    model, terms = _poisson_1d(hard=True, seed=5, n=16)
    pde = terms[0]
    cand = np.linspace(0.001, 0.999, 400)[:, None]
    cb = resampling_callback(pde, lambda n, rng: cand, every=5, n_candidates=400, n_points=8)
    tr = PINNTrainer(model, terms, progress=False, log_every=5, callback=cb)
    tr.adam(10, lr=1e-3)
    assert pde.points.shape[0] == 16 + 2 * 8
    # the last 8 added points are where |residual| is largest among the candidates
    r = np.abs(LossTerm("probe", pde.fn, cand, kind="pde").residual(model).detach().numpy()[:, 0])
    added = np.asarray(pde.points)[-8:, 0]
    assert np.min(np.abs(np.interp(added, cand[:, 0], r))) >= np.sort(r)[-40]
    rad = resampling_callback(pde, lambda n, rng: cand, every=1, n_points=32, method="rad", rng=0)
    rad(tr, "adam", 100)
    assert pde.points.shape == (32, 1)


def test_trainer_errors():
    model, terms = _poisson_1d()
    with pytest.raises(ValueError, match="unique"):
        PINNTrainer(model, terms + terms)
    with pytest.raises(ValueError, match="adaptive_weights"):
        PINNTrainer(model, terms, adaptive_weights="ntk-ish")
    with pytest.raises(TypeError, match="LossTerm"):
        PINNTrainer(model, [lambda m: 0])
    with pytest.raises(ValueError, match="lr"):
        PINNTrainer(model, terms, progress=False).adam(10, lr=-1)
    with pytest.raises(ValueError, match="kind"):
        LossTerm("x", lambda m: 0, kind="boundaryish")


def test_lbfgs_chunk_evaluation_budget_is_not_convergence():
    """A chunk whose evaluation budget runs out before its iterations (max_eval_per_iteration=1) is not a
    tolerance stop: the trainer goes on with the next chunk until the iteration budget is used."""
    model, terms = _poisson_1d(hard=True, seed=2, n=32)
    tr = PINNTrainer(model, terms, progress=False, log_every=5)
    before = tr.evaluate()["loss"]
    tr.lbfgs(40, tolerance_grad=0.0, tolerance_change=0.0, max_eval_per_iteration=1)
    assert tr.iterations["lbfgs"] >= 40 and tr.result.stopped == "", (tr.iterations, tr.result.stopped)
    assert tr.evaluate()["loss"] < 1e-2 * before


def test_lbfgs_loss_scale_restores_curvature_updates_on_tiny_losses():
    """torch's L-BFGS drops curvature pairs with y.s <= 1e-10: on a loss multiplied by 1e-8 it degrades to
    gradient steps; loss_scale="auto" (1 / initial loss) makes it converge as on the unscaled loss."""
    out = {}
    for weight, scale in ((1.0, 1.0), (1e-8, 1.0), (1e-8, "auto")):
        model, terms = _poisson_1d(hard=True, seed=2, n=32)
        terms[0].weight = weight
        tr = PINNTrainer(model, terms, progress=False, log_every=10)
        tr.lbfgs(200, tolerance_grad=0.0, tolerance_change=0.0, loss_scale=scale)
        assert tr.result.history[-1]["loss"] == pytest.approx(tr.evaluate()["loss"])  # unscaled history
        out[(weight, scale)] = tr.evaluate()["pde"]
    assert out[(1e-8, 1.0)] > 100 * out[(1.0, 1.0)], out
    assert out[(1e-8, "auto")] < 10 * out[(1.0, 1.0)], out
    with pytest.raises(ValueError, match="loss_scale"):
        PINNTrainer(*_poisson_1d(), progress=False).lbfgs(5, loss_scale="big")
    with pytest.raises(ValueError, match="loss_scale"):
        PINNTrainer(*_poisson_1d(), progress=False).lbfgs(5, loss_scale=-1.0)


def test_bfgs_phase_beats_lbfgs_on_same_budget_and_continues():
    """Dense BFGS after the same Adam warm-up reaches a lower loss than L-BFGS in the same number of
    iterations; a second call continues the run (same matrix)."""
    losses = {}
    for method in ("lbfgs", "bfgs"):
        model, terms = _poisson_1d(hard=False, seed=5, n=48)
        tr = PINNTrainer(model, terms, progress=False, log_every=20)
        tr.adam(50, lr=1e-2)
        getattr(tr, method)(60)
        losses[method] = tr.evaluate()["loss"]
        if method == "bfgs":
            H = tr._bfgs_state.H
            tr.bfgs(40)
            assert tr._bfgs_state.H is H and tr.iterations["bfgs"] == 100, tr.result.stopped
            assert tr.evaluate()["loss"] < losses["bfgs"]
            assert tr.result.timings["bfgs"]["iterations"] == 100
            assert _error(model) < 1e-3
    assert losses["bfgs"] < losses["lbfgs"], losses


def test_bfgs_needs_float64():
    net = MLP(1, 1, 8, 1, dtype=torch.float32, seed=0)
    terms = [dirichlet(np.array([[0.0]]), 0.0)]
    with pytest.raises(TypeError, match="float64"):
        PINNTrainer(net, terms, progress=False).bfgs(5)


def test_bfgs_continuation_is_invariant_to_a_new_loss_scale():
    """BFGS is scale-covariant: continuing a run with a different loss_scale rescales the kept matrix, so the
    iterates are those of continuing with the old scale."""
    import copy

    model, terms = _poisson_1d(hard=False, seed=6, n=32)
    tr = PINNTrainer(model, terms, progress=False, log_every=10)
    tr.adam(30, lr=1e-2)
    tr.bfgs(20, loss_scale=1.0)
    twin = copy.deepcopy(tr)
    tr.bfgs(10, loss_scale=1.0)
    twin.bfgs(10, loss_scale=16.0)
    a = torch.nn.utils.parameters_to_vector(tr.model.parameters()).detach()
    b = torch.nn.utils.parameters_to_vector(twin.model.parameters()).detach()
    assert float((a - b).norm() / a.norm()) < 1e-8


def test_non_finite_loss_raises_and_names_the_phase(tmp_path):
    from sciml.pinns.training import LossTerm, PINNTrainer
    from sciml.training import NonFiniteLossError

    net = torch.nn.Linear(1, 1).double()
    calls = {"n": 0}

    def fn(model, x):
        calls["n"] += 1
        return model(x)[:, 0] * (float("nan") if calls["n"] > 3 else 1.0)

    tr = PINNTrainer(net, [LossTerm("r", fn, np.ones((4, 1)))], progress=False, log_every=1)
    with pytest.raises(NonFiniteLossError, match="Adam iteration 4"):
        tr.adam(10, lr=1e-2)
    assert tr.result.stopped == "non-finite loss at Adam iteration 4"
