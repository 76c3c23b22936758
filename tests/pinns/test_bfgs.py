import numpy as np
import pytest
import torch

from sciml.pinns.bfgs import DenseBFGS


def _quadratic(n=12, seed=0, cond=1e3):
    rng = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    A = torch.tensor(Q @ np.diag(np.logspace(0, np.log10(cond), n)) @ Q.T)
    b = torch.tensor(rng.standard_normal(n))
    return A, b, torch.linalg.solve(A, b)


@pytest.mark.parametrize("self_scaling", [False, True])
def test_quadratic_solved_and_inverse_hessian_learned(self_scaling):
    A, b, xstar = _quadratic()

    def f(x):
        return float(0.5 * x @ A @ x - b @ x), A @ x - b

    opt = DenseBFGS(f, torch.zeros(12, dtype=torch.float64), self_scaling=self_scaling)
    why = ""
    for _ in range(200):  # stops on a zero gradient or when no further decrease is possible
        why = opt.step(1)
        if why or float(opt.g.norm()) < 1e-12:
            break
    assert float((opt.x - xstar).norm() / xstar.norm()) < 1e-6
    assert opt.iterations < 5 * 12
    assert torch.allclose(opt.H, opt.H.T) and float(torch.linalg.eigvalsh(opt.H).min()) > 0


def test_rosenbrock_beats_gradient_descent_budget():
    def f(x):
        x = x.clone().requires_grad_(True)
        val = (100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2).sum()
        (g,) = torch.autograd.grad(val, x)
        return float(val.detach()), g

    opt = DenseBFGS(f, torch.full((6,), -1.2, dtype=torch.float64))
    opt.step(300)
    assert float((opt.x - 1).abs().max()) < 1e-6
    assert opt.evaluations < 600


def test_update_is_the_textbook_bfgs_formula():
    """One update from a known H against the dense (I - r s y^T) H (I - r y s^T) + r s s^T form."""
    rng = np.random.default_rng(3)
    n = 7
    M = rng.standard_normal((n, n))
    H0 = torch.tensor(M @ M.T + n * np.eye(n))
    s, y = torch.tensor(rng.standard_normal(n)), torch.tensor(rng.standard_normal(n))
    if float(s @ y) < 0:
        y = -y
    opt = DenseBFGS(lambda x: (0.0, x), torch.zeros(n, dtype=torch.float64), self_scaling=False)
    opt.H, opt.g = H0.clone(), torch.zeros(n, dtype=torch.float64)
    opt._update(s, y, 1.0)
    r = 1 / float(s @ y)
    eye = torch.eye(n, dtype=torch.float64)
    ref = (eye - r * torch.outer(s, y)) @ H0 @ (eye - r * torch.outer(y, s)) + r * torch.outer(s, s)
    assert torch.allclose(opt.H, ref, rtol=1e-12, atol=1e-12)
    assert torch.allclose(opt.H @ y, s, rtol=1e-10)  # secant condition


def test_self_scaling_enlarges_old_part_when_curvature_overestimated():
    n = 5
    opt = DenseBFGS(lambda x: (0.0, x), torch.zeros(n, dtype=torch.float64), self_scaling=True)
    opt.H = 0.01 * torch.eye(n, dtype=torch.float64)  # B = 100 I, far above the true curvature 1
    opt.g = torch.ones(n, dtype=torch.float64)
    s = -opt.H @ opt.g  # alpha = 1 along p = -H g
    y = s.clone()  # true Hessian I
    opt._update(s, y, 1.0)
    assert torch.allclose(opt.H @ y, s)  # the secant condition still holds
    w = torch.tensor([1.0, -1.0, 0, 0, 0], dtype=torch.float64)  # orthogonal to s: scaled by b = 100
    assert float(w @ opt.H @ w / (w @ w)) == pytest.approx(1.0, rel=1e-9)


def test_rejects_bad_arguments():
    f = lambda x: (0.0, x)  # noqa: E731
    with pytest.raises(ValueError, match="c1"):
        DenseBFGS(f, torch.zeros(3, dtype=torch.float64), c1=0.9, c2=0.1)
    with pytest.raises(ValueError, match="x0"):
        DenseBFGS(f, torch.zeros(3, 2, dtype=torch.float64))
