"""Verification of sciml.solvers.navier_stokes: exact Taylor-Green decay, measured temporal orders,
enstrophy/energy budgets, FNO-scheme reproduction, batch independence, input errors."""
import math

import numpy as np
import pytest
import torch

from sciml.solvers.navier_stokes import (
    NavierStokes2D,
    energy,
    enstrophy,
    fno_forcing,
    phi_coefficients,
    taylor_green_vorticity,
)

N = 32


def smooth_w0(n=N, amp=1.0):
    """A smooth band-limited initial vorticity (modes |k| <= 3), zero mean."""
    x = np.arange(n) / n
    X, Y = np.meshgrid(x, x, indexing="ij")
    p = 2 * np.pi
    return amp * (np.sin(p * X) * np.cos(2 * p * Y) + 0.6 * np.cos(3 * p * X + 0.3) + 0.8 * np.sin(p * (X + 2 * Y))
                  + 0.5 * np.cos(2 * p * Y - 1.0))


def rel(a, b):
    return np.linalg.norm(a - b) / np.linalg.norm(b)


@pytest.mark.parametrize("scheme,nu,dt,times,modes", [
    ("etdrk4", 1e-2, 2e-3, [0.1, 0.25], (1, 2)), ("rk4-cn", 1e-2, 2e-3, [0.1, 0.25], (1, 2)),
    ("etdrk4", 1e-2, None, [0.25, 1.0], (1, 2)), ("rk4-cn", 1e-2, None, [0.25, 1.0], (1, 2)),
    # Crank-Nicolson's decay factor differs from exp(-z) by z^3/12 per step: 1e-10 needs a small step
    ("imex-euler", 1e-2, 1e-4, [0.1, 0.25], (1,)),
])
def test_taylor_green_exact_decay(scheme, nu, dt, times, modes):
    for m in modes:
        w0 = taylor_green_vorticity(N, m)
        out = NavierStokes2D(N, nu, scheme=scheme, dt=dt).solve(w0, times)
        exact = np.stack([taylor_green_vorticity(N, m, t, nu) for t in times])
        assert out.shape == (1, 2, N, N)
        assert rel(out[0], exact) < 1e-10


def test_phi_coefficients_match_closed_form():
    z = torch.tensor([-50.0, -5.0, -1.0, -0.1, -1e-3, 0.0], dtype=torch.float64)
    c = phi_coefficients(z)
    zz = -5.0
    e = math.exp(zz)
    assert abs(c["f1"][1] - (-4 - zz + e * (4 - 3 * zz + zz ** 2)) / zz ** 3) < 1e-14
    assert abs(c["f2"][1] - (2 + zz + e * (zz - 2)) / zz ** 3) < 1e-14
    assert abs(c["f3"][1] - (-4 - 3 * zz - zz ** 2 + e * (4 - zz)) / zz ** 3) < 1e-14
    # limits at z = 0: Q -> 1/2, f1 -> 1/6, f2 -> 1/6, f3 -> 1/6
    assert torch.allclose(c["Q"][-1], torch.tensor(0.5, dtype=torch.float64), atol=1e-14)
    for k in ("f1", "f2", "f3"):
        assert abs(float(c[k][-1]) - 1 / 6) < 1e-14
    # ETDRK4 integrates a constant forcing exactly: f1 + 4 f2 + f3 = phi1 = (e^z - 1)/z
    s = c["f1"] + 4 * c["f2"] + c["f3"]
    phi1 = torch.where(z == 0, torch.ones_like(z), torch.expm1(z) / torch.where(z == 0, torch.ones_like(z), z))
    assert torch.allclose(s, phi1, atol=1e-13, rtol=0)


def _orders(errors, dts):
    e, d = np.log(np.asarray(errors)), np.log(np.asarray(dts))
    return np.diff(e) / np.diff(d)


@pytest.fixture(scope="module")
def reference():
    """Forced smooth case, nu = 1e-2, T = 1: a fine ETDRK4 reference."""
    w0 = smooth_w0()
    ref = NavierStokes2D(N, 1e-2, "fno", scheme="etdrk4", dt=1 / 512).solve(w0, [0.5, 1.0])
    return w0, ref


@pytest.mark.parametrize("scheme,dts,order,tol", [
    ("etdrk4", [1 / 8, 1 / 16, 1 / 32], 4.0, 0.35),
    ("rk4-cn", [1 / 8, 1 / 16, 1 / 32], 4.0, 0.35),
    ("imex-euler", [1 / 100, 1 / 200, 1 / 400], 1.0, 0.1),
])
def test_temporal_convergence_order(reference, scheme, dts, order, tol):
    w0, ref = reference
    errs = [rel(NavierStokes2D(N, 1e-2, "fno", scheme=scheme, dt=dt).solve(w0, [0.5, 1.0])[0], ref[0]) for dt in dts]
    p = _orders(errs, dts)
    assert np.all(np.abs(p - order) < tol), (errs, p)
    assert errs[-1] < (1e-6 if order == 4 else 1e-2)


def test_enstrophy_and_energy_budget_close_to_scheme_order():
    """Z(T) - Z(0) = int_0^T (-nu <|grad w|^2> + <f w>) dt and E(T) - E(0) = int (-nu <w^2> + <f psi>) dt.

    The 2/3-rule advection of a band-limited field conserves both exactly in space, so a fine solve
    closes the budgets to round-off, and a scheme at step dt closes them to O(dt^p)."""
    nu, T = 1e-2, 1.0
    w0 = smooth_w0()
    # Gauss-Legendre quadrature of the budget integrands along a fine reference trajectory
    zq, wq = np.polynomial.legendre.leggauss(24)
    tq, wq = 0.5 * T * (zq + 1), 0.5 * T * wq
    ref = NavierStokes2D(N, nu, "fno", scheme="etdrk4", max_dt=1 / 500)
    traj = ref.solve(w0, np.concatenate([tq, [T]]))[0]
    k = np.fft.fftfreq(N, 1.0 / N) * 2 * np.pi
    k2 = k[:, None] ** 2 + k[None, :] ** 2
    f = fno_forcing(np.arange(N)[:, None] / N, np.arange(N)[None, :] / N)

    def grad2(w):
        wh = np.fft.fft2(w) / N ** 2
        return np.sum(k2 * np.abs(wh) ** 2, axis=(-2, -1))

    def psi(w):
        wh = np.fft.fft2(w)
        k2s = k2.copy()
        k2s[0, 0] = 1.0
        wh = wh / k2s
        wh[..., 0, 0] = 0
        return np.fft.ifft2(wh).real

    frames = traj[:-1]
    dZ = np.sum(wq * (-nu * grad2(frames) + np.mean(f * frames, axis=(-2, -1))))
    dE = np.sum(wq * (-nu * np.mean(frames ** 2, axis=(-2, -1)) + np.mean(f * psi(frames), axis=(-2, -1))))
    z0, e0 = enstrophy(w0), energy(w0)
    # the reference closes both budgets to round-off
    assert abs(enstrophy(traj[-1]) - z0 - dZ) < 1e-10 * z0
    assert abs(energy(traj[-1]) - e0 - dE) < 1e-10 * e0

    for scheme, dts, p in [("etdrk4", [1 / 8, 1 / 16, 1 / 32], 4), ("imex-euler", [1 / 100, 1 / 200, 1 / 400], 1)]:
        res = []
        for dt in dts:
            wT = NavierStokes2D(N, nu, "fno", scheme=scheme, dt=dt).solve(w0, [T])[0, 0]
            res.append(abs(enstrophy(wT) - z0 - dZ) / z0)
        orders = _orders(res, dts)
        # at least the scheme's order (explicit Euler's enstrophy error converges faster here: measured ~2.8)
        assert np.all(orders > p - 0.3), (scheme, res, orders)
        assert res[-1] < (1e-8 if p == 4 else 1e-6)


def fno_reference_steps(w0, f, visc, dt, steps):
    """The FNO data-generator step written on the full (two-sided) spectrum with complex FFTs.

    An independent transcription of the published algorithm (Li et al. 2021): stream function,
    velocity (psi_y, -psi_x), vorticity gradient, product in physical space, FFT, 2/3 dealias,
    Crank-Nicolson diffusion with explicit Euler advection and forcing.
    """
    n = w0.shape[-1]
    kmax = n // 2
    k = torch.cat([torch.arange(0, kmax), torch.arange(-kmax, 0)]).double()
    kx, ky = k[:, None].expand(n, n), k[None, :].expand(n, n)
    lap = 4 * math.pi ** 2 * (kx ** 2 + ky ** 2)
    lap[0, 0] = 1.0
    dealias = ((kx.abs() <= 2 / 3 * kmax) & (ky.abs() <= 2 / 3 * kmax)).double()
    w_h = torch.fft.fft2(w0)
    f_h = torch.fft.fft2(f)
    for _ in range(steps):
        psi_h = w_h / lap
        q = torch.fft.ifft2(2j * math.pi * ky * psi_h).real
        v = torch.fft.ifft2(-2j * math.pi * kx * psi_h).real
        w_x = torch.fft.ifft2(2j * math.pi * kx * w_h).real
        w_y = torch.fft.ifft2(2j * math.pi * ky * w_h).real
        F_h = torch.fft.fft2(q * w_x + v * w_y) * dealias
        w_h = (-dt * F_h + dt * f_h + (1.0 - 0.5 * dt * visc * lap) * w_h) / (1.0 + 0.5 * dt * visc * lap)
    return torch.fft.ifft2(w_h).real


def test_imex_euler_reproduces_fno_scheme():
    from sciml.random_fields import grf_torus
    n, nu, dt = 48, 1e-3, 1e-4
    w0 = torch.tensor(grf_torus(n, alpha=2.5, tau=7.0, rng=3))
    # band-limit to the modes the two-sided and one-sided transforms treat alike (no Nyquist row/column)
    wh = torch.fft.fft2(w0)
    k = torch.fft.fftfreq(n, 1 / n).abs()
    wh[(k[:, None] >= n // 2) | (k[None, :] >= n // 2)] = 0
    w0 = torch.fft.ifft2(wh).real
    x = torch.arange(n, dtype=torch.float64) / n
    f = torch.tensor(fno_forcing(x[:, None].numpy(), x[None, :].numpy()))
    steps = 100
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small FFTs: many threads only slow them down on a busy machine
    try:
        ref = fno_reference_steps(w0, f, nu, dt, steps)
    finally:
        torch.set_num_threads(threads)
    out = NavierStokes2D(n, nu, "fno", scheme="imex-euler", dt=dt).solve(w0, [steps * dt])[0, 0]
    assert (out - ref).abs().max() / ref.abs().max() < 1e-12


def test_batch_independence_adaptive():
    """Each sample marches with its own adaptive steps: batched == alone, bit for bit."""
    w0 = np.stack([smooth_w0(amp=a) for a in (0.5, 2.0, 4.0)])
    s = NavierStokes2D(N, 1e-2, "fno", scheme="etdrk4")
    batch = s.solve(w0, [0.3, 0.6])
    steps = list(s.last_steps)
    assert len(set(steps)) > 1  # the samples really took different step sequences
    for b in range(3):
        alone = NavierStokes2D(N, 1e-2, "fno", scheme="etdrk4").solve(w0[b], [0.3, 0.6])
        assert np.array_equal(alone[0], batch[b])
    # and for a subset in another order
    sub = s.solve(w0[[2, 0]], [0.3, 0.6])
    assert np.array_equal(sub[0], batch[2]) and np.array_equal(sub[1], batch[0])


def test_tensor_in_tensor_out_and_record_t0():
    w0 = torch.tensor(smooth_w0(), dtype=torch.float32)
    out = NavierStokes2D(N, 1e-2, "fno", max_dt=0.1).solve(w0, [0.0, 0.2])
    assert isinstance(out, torch.Tensor) and out.dtype == torch.float32 and out.shape == (1, 2, N, N)
    assert torch.allclose(out[0, 0], w0, atol=1e-6)


@pytest.mark.parametrize("kwargs,name", [
    (dict(resolution=33, viscosity=1e-3), "resolution"),
    (dict(resolution=32, viscosity=0.0), "viscosity"),
    (dict(resolution=32, viscosity=-1e-3), "viscosity"),
    (dict(resolution=32, viscosity=1e-3, scheme="rk45"), "scheme"),
    (dict(resolution=32, viscosity=1e-3, dt=-1.0), "dt"),
    (dict(resolution=32, viscosity=1e-3, cfl=5.0), "cfl"),
    (dict(resolution=32, viscosity=1e-3, forcing="kolmogorov"), "forcing"),
    (dict(resolution=32, viscosity=1e-3, forcing=np.zeros((16, 16))), "forcing"),
])
def test_bad_arguments(kwargs, name):
    with pytest.raises(ValueError, match=name):
        NavierStokes2D(**kwargs)


def test_unstable_dt_rejected_before_work():
    s = NavierStokes2D(64, 1e-3, "fno", scheme="imex-euler", dt=0.05)
    calls = []
    with pytest.raises(ValueError, match="dt"):
        s.solve(smooth_w0(64, amp=5.0), [1.0], callback=lambda *a: calls.append(a))
    assert not calls
    with pytest.raises(ValueError, match="w0"):
        s.solve(np.zeros((2, 32, 32)), [1.0])
    with pytest.raises(ValueError, match="record_times"):
        NavierStokes2D(32, 1e-3).solve(np.zeros((32, 32)), [1.0, 0.5])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_matches_cpu():
    w0 = np.stack([smooth_w0(amp=a) for a in (1.0, 2.0)])
    cpu = NavierStokes2D(N, 1e-2, "fno").solve(w0, [0.5])
    gpu = NavierStokes2D(N, 1e-2, "fno", device="cuda").solve(torch.tensor(w0, device="cuda"), [0.5])
    assert gpu.device.type == "cuda"
    assert rel(gpu.cpu().numpy(), cpu) < 1e-10


@pytest.mark.timeout(60)
def test_step_count_checked_before_work():
    """dt = 1e-300 used to loop for ever; the step budget refuses it (naming dt / max_dt) before a step."""
    from sciml.solvers.exponential import MAX_STEPS

    calls = []
    with pytest.raises(ValueError, match=r"dt=1e-300 .* more than the maximum"):
        NavierStokes2D(16, 1e-3, dt=1e-300).solve(np.zeros((16, 16)), [0.0, 1.0], callback=lambda *a: calls.append(a))
    with pytest.raises(ValueError, match="max_dt"):
        NavierStokes2D(16, 1e-3, max_dt=1e-300).solve(np.zeros((16, 16)), [1.0])
    assert not calls
    assert NavierStokes2D(16, 1e-3, dt=0.01).check_steps(1.0) == 100
    assert NavierStokes2D(16, 1e-3, dt=1.0 / MAX_STEPS).check_steps(1.0) == MAX_STEPS
