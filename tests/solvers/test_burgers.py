"""Verification of sciml.solvers.burgers: Cole-Hopf exact solution, spectral solver order, conservation."""
import numpy as np
import pytest
import torch

from sciml.solvers.burgers import Burgers1D, burgers_exact, burgers_grid

NU_RAISSI = 0.01 / np.pi


def trapezoid_cole_hopf(x, t, nu, h=0.004, L=14.0):
    """Cole-Hopf integrals by the (spectrally accurate) trapezoid rule on a wide uniform grid."""
    z = np.arange(-L, L + h / 2, h)
    y = x[..., None] - 2 * np.sqrt(nu * t[..., None]) * z
    g = -z ** 2 - np.cos(np.pi * y) / (2 * np.pi * nu)
    g -= g.max(-1, keepdims=True)
    e = np.exp(g)
    return -(np.sin(np.pi * y) * e).sum(-1) / e.sum(-1)


def test_burgers_exact_quadrature_and_boundary():
    x = np.linspace(-1, 1, 101)
    t = np.array([0.0, 0.05, 0.25, 1 / np.pi, 0.5, 1.0])
    X, T = np.meshgrid(x, t)
    u = burgers_exact(X, T, NU_RAISSI)
    assert u.shape == X.shape
    assert np.array_equal(u[0], -np.sin(np.pi * x))
    assert np.allclose(trapezoid_cole_hopf(X[1:], T[1:], NU_RAISSI), u[1:], atol=1e-12, rtol=0)
    assert np.abs(u[:, [0, -1]]).max() < 1e-12  # u(+-1, t) = 0
    assert np.allclose(u, -u[:, ::-1], atol=1e-12)  # odd in x
    # the steep front at x = 0 has formed by t = 1: slope ~ -1/(2 nu) scale
    assert (u[-1, 49] - u[-1, 51]) / (x[51] - x[49]) > 30


def test_spectral_solver_matches_cole_hopf():
    """The Dirichlet problem on [-1, 1] is the periodic one with xi = (x + 1)/2, U = u/2, nu' = nu/4."""
    nu, n = 0.05 / np.pi, 512  # at 256 the 2/3-rule truncation of the front already costs 3e-7
    xi = burgers_grid(n)
    times = [0.25, 0.5, 1.0]
    exact = burgers_exact((2 * xi - 1)[None], np.array(times)[:, None], nu)
    for scheme in ("etdrk4", "rk4-cn"):
        U = Burgers1D(n, nu / 4, scheme=scheme, dt=1 / 1600).solve(0.5 * np.sin(2 * np.pi * xi), times)
        assert np.abs(2 * U[0] - exact).max() < 1e-8


def _grf_u0(n, seed):
    from sciml.random_fields import grf_torus
    return grf_torus(n, dim=1, alpha=2.0, tau=5.0, sigma=25.0, rng=seed)


def test_temporal_order_and_mass_conservation():
    """Order 4 / 4 / 1 on smooth data. (Rough GRF data show the known stiff order reduction of
    exponential RK methods: ~2.5 for both ETDRK4 and IF-RK4, measured.)"""
    n, nu = 64, 0.02
    x = burgers_grid(n)
    u0 = np.stack([0.5 * np.sin(2 * np.pi * x) + a * np.cos(4 * np.pi * x + 1) for a in (0.1, 0.3)])
    ref = Burgers1D(n, nu, dt=1 / 1024).solve(u0, [1.0])
    for scheme, dts, p in [("etdrk4", [1 / 32, 1 / 64, 1 / 128], 4), ("rk4-cn", [1 / 32, 1 / 64, 1 / 128], 4),
                           ("imex-euler", [1 / 500, 1 / 1000, 1 / 2000], 1)]:
        errs = [np.linalg.norm(Burgers1D(n, nu, scheme=scheme, dt=dt).solve(u0, [1.0]) - ref) / np.linalg.norm(ref)
                for dt in dts]
        orders = np.diff(np.log(errs)) / np.diff(np.log(dts))
        assert np.all(np.abs(orders - p) < 0.35 * p), (scheme, errs, orders)
    # the mean (mass) of the conservative form is invariant
    out = Burgers1D(n, nu).solve(u0, [0.5, 1.0])
    drift = np.abs(out.mean(-1) - u0.mean(-1)[:, None]).max()
    assert drift < 1e-13


def test_batch_independence_and_adaptive_accuracy():
    n, nu = 512, 0.01
    u0 = np.stack([a * _grf_u0(n, s) for s, a in ((0, 1.0), (1, 3.0))])
    s = Burgers1D(n, nu)
    out = s.solve(u0, [0.5, 1.0])
    assert s.last_steps[0] != s.last_steps[1]
    for b in range(2):
        assert np.array_equal(Burgers1D(n, nu).solve(u0[b], [0.5, 1.0])[0], out[b])
    ref = Burgers1D(n, nu, dt=1 / 1024).solve(u0, [0.5, 1.0])
    assert np.linalg.norm(out - ref) / np.linalg.norm(ref) < 1e-5  # default cfl on rough GRF data: 3e-6


def test_tensor_io():
    u0 = torch.tensor(_grf_u0(128, 3), dtype=torch.float32)
    out = Burgers1D(128, 0.1).solve(u0, [0.0, 0.1])
    assert isinstance(out, torch.Tensor) and out.dtype == torch.float32 and out.shape == (1, 2, 128)


@pytest.mark.parametrize("kwargs,name", [
    (dict(resolution=255, viscosity=0.1), "resolution"),
    (dict(resolution=256, viscosity=0.0), "viscosity"),
    (dict(resolution=256, viscosity=0.1, scheme="euler"), "scheme"),
    (dict(resolution=256, viscosity=0.1, dt=0.0), "dt"),
])
def test_bad_arguments(kwargs, name):
    with pytest.raises(ValueError, match=name):
        Burgers1D(**kwargs)


def test_unstable_dt_and_bad_exact_args():
    with pytest.raises(ValueError, match="dt"):
        Burgers1D(1024, 1e-3, scheme="imex-euler", dt=0.05).solve(np.sin(2 * np.pi * burgers_grid(1024)), [1.0])
    with pytest.raises(ValueError, match="viscosity"):
        burgers_exact(0.0, 0.5, -1.0)
    with pytest.raises(ValueError, match="t"):
        burgers_exact(0.0, -0.5)


@pytest.mark.slow
def test_raissi_setting_spectral_vs_cole_hopf():
    """The benchmark viscosity 0.01/pi: the steep front needs 4096 points; agreement ~1e-7 at dt = 1/8000."""
    n = 4096
    xi = burgers_grid(n)
    times = [0.25, 0.5, 1.0]
    U = Burgers1D(n, NU_RAISSI / 4, dt=1 / 8000).solve(0.5 * np.sin(2 * np.pi * xi), times)
    exact = burgers_exact((2 * xi - 1)[None], np.array(times)[:, None], NU_RAISSI)
    assert np.abs(2 * U[0] - exact).max() < 1e-6


@pytest.mark.timeout(60)
def test_step_count_checked_before_work():
    with pytest.raises(ValueError, match="dt=1e-300"):
        Burgers1D(16, 0.1, dt=1e-300).solve(np.zeros(16), [1.0])
    assert Burgers1D(16, 0.1, dt=0.25).check_steps(1.0) == 4
