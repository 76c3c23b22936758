import math

import pytest
import torch

from sciml.training import H1Loss, LpLoss, metrics


def _grid(n, d=2, dtype=torch.float64):
    x = torch.arange(n, dtype=dtype) / n  # periodic grid on [0, 1)
    return torch.meshgrid(*([x] * d), indexing="ij")


def test_relative_l2_of_scaled_field_is_exact():
    X, Y = _grid(32)
    f = (torch.sin(2 * math.pi * X) * torch.cos(4 * math.pi * Y) + 0.3)[None, None]
    f = f.repeat(3, 2, 1, 1)
    assert LpLoss(d=2)(2 * f, f).item() == pytest.approx(1.0, abs=1e-14)
    assert LpLoss(d=2, p=3)(1.5 * f, f).item() == pytest.approx(0.5, abs=1e-14)
    assert LpLoss(d=2, p=float("inf"))(0.25 * f, f).item() == pytest.approx(0.75, abs=1e-14)
    per = LpLoss(d=2, reduction="none")(torch.cat([2 * f[:1], 3 * f[1:]]), f)
    assert per.shape == (3,)
    assert per.tolist() == pytest.approx([1.0, 2.0, 2.0], abs=1e-14)


def test_absolute_lp_norm_uses_quadrature_measure():
    # ||sin(2 pi x) sin(2 pi y)||_{L2([0,1]^2)} = 1/2 ; on [0, 2]^2 the integral is 4x larger -> norm 1.
    X, Y = _grid(24)
    f = (torch.sin(2 * math.pi * X) * torch.sin(2 * math.pi * Y))[None, None]
    zero = torch.zeros_like(f)
    assert LpLoss(d=2, relative=False)(f, zero).item() == pytest.approx(0.5, rel=1e-12)
    assert LpLoss(d=2, relative=False, measure=2.0)(f, zero).item() == pytest.approx(1.0, rel=1e-12)
    assert LpLoss(d=2, relative=False, spacing=(1 / 24, 1 / 24))(f, zero).item() == pytest.approx(0.5, rel=1e-12)
    # L1 norm of |sin(2 pi x)| on [0,1) is 2/pi; the rectangle rule on 4096 points is accurate to ~1e-7
    x = torch.arange(4096, dtype=torch.float64) / 4096
    g = torch.sin(2 * math.pi * x)[None, None]
    assert LpLoss(d=1, p=1, relative=False)(g, torch.zeros_like(g)).item() == pytest.approx(2 / math.pi, rel=1e-6)


def test_h1_spectral_matches_analytic_derivative():
    # u = sin(2 pi x) cos(2 pi y): ||u||^2 = 1/4, ||grad u||^2 = 2 (2 pi)^2 / 4
    X, Y = _grid(32)
    u = (torch.sin(2 * math.pi * X) * torch.cos(2 * math.pi * Y))[None, None]
    zero = torch.zeros_like(u)
    semi = (2 * (2 * math.pi) ** 2 / 4) ** 0.5
    full = (0.25 + semi ** 2) ** 0.5
    assert H1Loss(d=2, relative=False)(u, zero).item() == pytest.approx(full, rel=1e-12)
    assert H1Loss(d=2, relative=False, semi=True)(u, zero).item() == pytest.approx(semi, rel=1e-12)
    assert H1Loss(d=2)(3 * u, u).item() == pytest.approx(2.0, rel=1e-12)


def test_h1_finite_difference_converges_second_order():
    # u = x^2 (1 - y) sin(y) on [0,1]^2 (not periodic): compare to the exact H1 seminorm
    def exact_semi_sq():
        # int (2x)^2 dx * int ((1-y) sin y)^2 dy + int x^4 dx * int (d/dy[(1-y) sin y])^2 dy, by fine quadrature
        y = torch.linspace(0, 1, 200001, dtype=torch.float64)
        g = ((1 - y) * torch.sin(y)) ** 2
        gp = (-torch.sin(y) + (1 - y) * torch.cos(y)) ** 2
        return (4 / 3) * torch.trapezoid(g, y).item() + (1 / 5) * torch.trapezoid(gp, y).item()

    ref = exact_semi_sq() ** 0.5
    errs = []
    for n in (33, 65, 129):
        x = torch.linspace(0, 1, n, dtype=torch.float64)
        X, Y = torch.meshgrid(x, x, indexing="ij")
        u = (X ** 2 * (1 - Y) * torch.sin(Y))[None, None]
        val = H1Loss(d=2, method="fd", relative=False, semi=True)(u, torch.zeros_like(u)).item()
        errs.append(abs(val - ref))
    orders = [math.log2(errs[i] / errs[i + 1]) for i in range(2)]
    assert errs[-1] < 1e-4 * ref
    assert min(orders) > 1.8  # second-order differences and trapezoid quadrature


def test_loss_bad_arguments():
    with pytest.raises(ValueError, match="p must"):
        LpLoss(p=0.5)
    with pytest.raises(ValueError, match="reduction"):
        LpLoss(reduction="avg")
    with pytest.raises(ValueError, match="measure"):
        LpLoss(d=2, measure=(1.0,))
    with pytest.raises(ValueError, match="method"):
        H1Loss(method="fem")
    with pytest.raises(ValueError, match="same shape"):
        LpLoss()(torch.zeros(1, 1, 4, 4), torch.zeros(1, 1, 4, 5))


def test_metrics_known_values():
    t = torch.ones(2, 1, 4, 4)
    p = t.clone()
    p[1] = 3.0
    assert metrics.relative_l2(p, t).tolist() == pytest.approx([0.0, 2.0])
    assert metrics.mse(p, t).tolist() == pytest.approx([0.0, 4.0])
    assert metrics.rmse(p, t).tolist() == pytest.approx([0.0, 2.0])
    assert metrics.nrmse(p, t).tolist() == pytest.approx([0.0, 2.0])
    assert metrics.max_error(p, t).tolist() == pytest.approx([0.0, 2.0])
    x = torch.linspace(-1, 1, 16).reshape(1, 1, 16)
    assert metrics.vrmse(x + 0.1, x).item() == pytest.approx(0.1 / x.var(unbiased=False).sqrt().item(), rel=1e-4)
