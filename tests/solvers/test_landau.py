"""Landau solvers: BKW exact solution, collocation operator, blob and score particle methods."""
import math

import numpy as np
import pytest
import torch

from sciml.solvers.landau import (
    bkw_density,
    bkw_dfdt,
    bkw_K,
    bkw_min_time,
    bkw_score,
    blob_density,
    blob_eps,
    blob_method,
    kde_density,
    landau_kernel,
    landau_operator_grid,
    landau_velocity,
    moments,
    relative_l2,
    sample_bkw,
    score_method,
    velocity_grid,
)


def test_bkw_K_matches_reference_formula_in_2d():
    t = np.linspace(0, 5, 11)
    np.testing.assert_allclose(bkw_K(t, 2, 1 / 16), 1 - np.exp(-t / 8) / 2, rtol=0, atol=1e-15)


@pytest.mark.parametrize("dim,n,ts", [(2, 160, (0.0, 1.0, 5.0)), (3, 48, (1.0, 2.0, 6.0))])
def test_bkw_mass_momentum_energy(dim, n, ts):
    x, _, h = velocity_grid(n, 8.0, dim)
    for t in ts:
        f = bkw_density(x, t, dim)
        assert float(f.min()) >= 0
        mass = float(f.sum() * h ** dim)
        mom = (x * f[:, None]).sum(0) * h ** dim
        energy = float(((x * x).sum(-1) * f).sum() * h ** dim)
        assert abs(mass - 1) < 1e-10
        assert float(mom.abs().max()) < 1e-12
        assert abs(energy - dim) < 1e-8          # E|v|^2 = d for every t (derivation in bkw_density)


def test_bkw_score_and_dfdt_match_finite_differences():
    rng = np.random.default_rng(0)
    v = torch.as_tensor(rng.standard_normal((50, 3)))
    t, e = 2.0, 1e-5
    fd_t = (bkw_density(v, t + e, 3) - bkw_density(v, t - e, 3)) / (2 * e)
    assert float((bkw_dfdt(v, t, 3) - fd_t).abs().max()) < 1e-8
    vr = v.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(torch.log(bkw_density(vr, t, 3)).sum(), vr)
    assert float((bkw_score(v, t, 3) - g).abs().max()) < 1e-12


def test_bkw_3d_negative_before_min_time():
    t_min = bkw_min_time(3)
    assert abs(bkw_K(t_min, 3) - 0.6) < 1e-12
    with pytest.raises(ValueError, match="negative"):
        sample_bkw(10, 0.0, 3)


@pytest.mark.parametrize("dim,t", [(2, 1.0), (3, 2.0)])
def test_sample_bkw_moments(dim, t):
    s = sample_bkw(200_000, t, dim, rng=1)
    assert np.abs(s.mean(0)).max() < 0.02
    r2 = (s ** 2).sum(1)
    assert abs(r2.mean() - dim) < 4 * r2.std() / math.sqrt(len(r2))
    # fourth moment against the density's: E|v|^4 = K^2 d (d+2) alpha + (1-alpha) K^2 (d+2)(d+4)
    K = float(bkw_K(t, dim))
    alpha = ((dim + 2) * K - dim) / (2 * K)
    m4 = K ** 2 * (dim + 2) * (dim * alpha + (1 - alpha) * (dim + 4))
    assert abs((r2 ** 2).mean() - m4) < 5 * (r2 ** 2).std() / math.sqrt(len(r2))


def test_landau_kernel_properties():
    z = torch.randn(100, 3, dtype=torch.float64)
    for gamma, delta in ((0.0, 0.0), (-3.0, 0.05)):
        A = landau_kernel(z, gamma, 1.0, delta)
        assert float((A @ z[..., None]).abs().max()) < 1e-12          # A(z) z = 0
        assert float((A - A.transpose(-1, -2)).abs().max()) == 0
        assert float(torch.linalg.eigvalsh(A).min()) > -1e-12          # positive semi-definite


def test_bkw_satisfies_landau_equation_second_order():
    """Collocation operator on the exact BKW density vs exact df/dt: error O(h^2)."""
    errs = []
    for n in (32, 64):
        x, _, h = velocity_grid(n, 7.0, 2)
        f = bkw_density(x, 2.0, 2).reshape(n, n)
        Q = landau_operator_grid(f, h, C=1 / 16)
        errs.append(relative_l2(Q, bkw_dfdt(x, 2.0, 2).reshape(n, n)))
    order = math.log2(errs[0] / errs[1])
    assert errs[1] < 0.15 and order > 1.5, (errs, order)
    # a wrong collision constant is caught
    x, _, h = velocity_grid(64, 7.0, 2)
    f = bkw_density(x, 2.0, 2).reshape(64, 64)
    assert relative_l2(landau_operator_grid(f, h, C=1 / 8), bkw_dfdt(x, 2.0, 2).reshape(64, 64)) > 0.5


def test_bkw_satisfies_landau_equation_3d():
    errs = []
    for n in (16, 24):
        x, _, h = velocity_grid(n, 6.0, 3)
        f = bkw_density(x, 2.0, 3).reshape(n, n, n)
        errs.append(relative_l2(landau_operator_grid(f, h), bkw_dfdt(x, 2.0, 3).reshape(n, n, n)))
    assert errs[1] < 0.8 * errs[0] and errs[1] < 0.45, errs


def test_velocity_moment_expansion_matches_pairwise_and_conserves():
    g = torch.Generator().manual_seed(0)
    v = torch.randn(300, 3, dtype=torch.float64, generator=g)
    s = torch.randn(300, 3, dtype=torch.float64, generator=g)
    w = torch.rand(300, dtype=torch.float64, generator=g)
    U1 = landau_velocity(v, s, w, method="moments")
    U2 = landau_velocity(v, s, w, method="pairwise", chunk=37)
    assert float((U1 - U2).abs().max()) < 1e-11 * float(U2.abs().max())
    for gamma, delta in ((0.0, 0.0), (-3.0, 0.1), (1.0, 0.0)):
        U = landau_velocity(v, s, w, gamma=gamma, delta=delta, method="pairwise")
        scale = float((w[:, None] * U.abs()).sum())
        assert float((w[:, None] * U).sum(0).abs().max()) < 1e-13 * scale       # momentum
        assert abs(float((w * (v * U).sum(-1)).sum())) < 1e-13 * scale * 5      # energy (A(z) z = 0)


def _bkw_grid(n, L=4.0):
    x, axis, h = velocity_grid(n, L, 2)
    return x, axis, h, bkw_density(x, 0.0, 2) * h * h


def test_blob_conservation_and_entropy():
    x, axis, h, w = _bkw_grid(16)
    v, info = blob_method(x, w, 1.0, 0.05, eps=blob_eps(h), quad_axis=axis)
    assert info["mass_drift"] == 0
    assert info["momentum_drift"] < 1e-14
    assert info["energy_drift"] < 1e-10
    dS = torch.diff(info["entropy"])
    assert float(dS.max()) <= 1e-14 and float(info["entropy"][-1] - info["entropy"][0]) < -1e-4
    # without the projection, RK4 alone still keeps energy to ~1e-10 at this dt
    _, raw = blob_method(x, w, 1.0, 0.05, eps=blob_eps(h), quad_axis=axis, energy_fix=False)
    assert raw["energy_drift"] < 1e-9 and raw["momentum_drift"] < 1e-14


def test_blob_error_falls_with_particles_bkw_2d():
    xe, _, _ = velocity_grid(64, 4.0, 2)
    fe = bkw_density(xe, 1.0, 2)
    errs = []
    for n in (16, 24, 32):
        x, axis, h, w = _bkw_grid(n)
        v, _ = blob_method(x, w, 1.0, 0.05, eps=blob_eps(h), quad_axis=axis)
        errs.append(relative_l2(blob_density(v, w, xe, blob_eps(h)), fe))
    assert errs[0] > errs[1] > errs[2] and errs[2] < 0.04, errs
    order = math.log(errs[0] / errs[2]) / math.log(32 / 16)
    assert order > 1.5, (errs, order)


def test_blob_batched_equals_single():
    x, axis, h, w = _bkw_grid(12)
    w2 = w * (1 + 0.2 * torch.cos(x[:, 0]))
    vb, info = blob_method(torch.stack([x, x]), torch.stack([w, w2]), 0.2, 0.1, eps=blob_eps(h), quad_axis=axis,
                           save_times=[0.1])
    v1, _ = blob_method(x, w2, 0.2, 0.1, eps=blob_eps(h), quad_axis=axis)
    assert vb.shape == (2, 144, 2) and info["energy"].shape == (3, 2)
    assert float((vb[1] - v1).abs().max()) < 1e-13
    assert set(info["snapshots"]) == {0.1}


def test_score_method_runs_and_conserves_momentum():
    v0 = torch.as_tensor(sample_bkw(256, 0.5, 2, rng=3))
    v, info = score_method(v0, None, 0.02, 0.01, init_iters=30, step_iters=3,
                           score0=lambda z: bkw_score(z, 0.5, 2))
    assert v.shape == v0.shape and torch.isfinite(v).all()
    assert info["momentum_drift"] < 1e-14
    assert info["mass_drift"] == 0
    assert float((v - v0).abs().max()) > 0       # particles moved
    assert info["energy_drift"] < 1e-3


def test_kde_and_moments():
    pts = torch.as_tensor(sample_bkw(4000, 1.0, 2, rng=0))
    x, _, h = velocity_grid(60, 6.0, 2)
    f = kde_density(pts, x)
    assert abs(float(f.sum()) * h * h - 1) < 1e-3
    assert relative_l2(f, bkw_density(x, 1.0, 2)) < 0.15
    m = moments(pts)
    assert abs(float(m["mass"]) - 1) < 1e-12


def test_validation_errors():
    x, axis, h, w = _bkw_grid(8)
    with pytest.raises(ValueError, match="dim"):
        bkw_density(np.zeros((3, 4)), 0.0, 4)
    for fn in (bkw_density, bkw_score, bkw_dfdt):  # 3-component velocities given to the 2D solution
        with pytest.raises(ValueError, match="last axis of length dim=2"):
            fn(np.zeros((5, 3)), 1.0, 2)
    with pytest.raises(ValueError, match="t_end"):
        blob_method(x, w, 1.0, 0.3, eps=0.1, quad_axis=axis)
    with pytest.raises(ValueError, match="quad_axis"):
        blob_method(x, w, 1.0, 0.5, eps=0.1, quad_axis=torch.tensor([0.0, 1.0, 3.0]))
    with pytest.raises(ValueError, match="eps"):
        blob_method(x, w, 1.0, 0.5, eps=-1.0, quad_axis=axis)
    with pytest.raises(ValueError, match="weights"):
        landau_velocity(x, x, -w)
    with pytest.raises(ValueError, match="gamma"):
        landau_velocity(x, x, w, gamma=-3.0, method="moments")
    with pytest.raises(TypeError):
        landau_velocity(torch.zeros(4, 2, dtype=torch.int64), torch.zeros(4, 2))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_blob_on_cuda_matches_cpu():
    x, axis, h, w = _bkw_grid(12)
    v_cpu, _ = blob_method(x, w, 0.2, 0.1, eps=blob_eps(h), quad_axis=axis)
    v_gpu, _ = blob_method(x.cuda(), w.cuda(), 0.2, 0.1, eps=blob_eps(h), quad_axis=axis.cuda())
    assert float((v_gpu.cpu() - v_cpu).abs().max()) < 1e-10


def test_blob_coulomb_conserves_and_dissipates():
    x, axis, h, w = _bkw_grid(12)
    v, info = blob_method(x, w, 0.2, 0.05, eps=blob_eps(h), quad_axis=axis, gamma=-3.0, C=1.0, delta=0.1,
                          energy_fix=False)
    assert info["momentum_drift"] < 1e-14
    assert info["energy_drift"] < 1e-6            # RK4 only (no projection) for the stiffer Coulomb kernel
    assert float(torch.diff(info["entropy"]).max()) <= 1e-14
    assert float((v - x).abs().max()) > 1e-3


@pytest.mark.timeout(60)
@pytest.mark.parametrize("t_end,dt", [(1.0, 1e-300), (1e308, 0.05)])
def test_step_count_checked_before_work(t_end, dt):
    from sciml.solvers.landau import check_time, score_method

    x, axis, h, w = _bkw_grid(8)
    with pytest.raises(ValueError, match="dt=.* more than the maximum"):
        blob_method(x, w, t_end, dt, eps=blob_eps(h), quad_axis=axis)
    with pytest.raises(ValueError, match="dt=.* more than the maximum"):
        score_method(x, w, t_end, dt)
    assert check_time(1.0, 0.05) == (1.0, 0.05, 20)
