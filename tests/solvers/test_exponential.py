"""The shared exponential integrator (sciml.solvers.exponential): ETDRK4 exactness and the step budget."""
import numpy as np
import pytest
import torch

from sciml._util.validation import check_step_count
from sciml.solvers.exponential import MAX_STEPS, etdrk4_coefficients, etdrk4_step


def test_etdrk4_is_exact_for_linear_problems_with_constant_forcing():
    # v' = L v + g (g constant): v(h) = e^{hL} v + (e^{hL} - 1) / L g, for stiff, tiny and zero L
    L = np.array([-1e4, -3.0, -1e-9, 0.0, 0.5, 5.0])
    h = 0.1
    c = {k: v.numpy() for k, v in etdrk4_coefficients(torch.from_numpy(h * L), h).items()}
    v0 = np.linspace(-1, 2, L.size)
    g = np.array([2.0, -1.0, 0.3, 1.0, 0.7, -0.2])
    v1 = etdrk4_step(v0, g, lambda v: g, c)
    with np.errstate(divide="ignore", invalid="ignore"):
        phi1 = np.where(L == 0, h, np.expm1(h * L) / np.where(L == 0, 1, L))
    np.testing.assert_allclose(v1, np.exp(h * L) * v0 + phi1 * g, rtol=1e-13, atol=1e-15)


def test_etdrk4_step_same_for_numpy_and_torch():
    L = -np.linspace(0, 50, 9)
    h = 0.05
    ct = etdrk4_coefficients(torch.from_numpy(h * L), h)
    cn = {k: v.numpy() for k, v in ct.items()}
    v0 = np.cos(np.arange(9.0))

    def N(v):
        return -(v ** 3)

    vn = etdrk4_step(v0, N(v0), N, cn)
    vt = etdrk4_step(torch.from_numpy(v0), N(torch.from_numpy(v0)), N, ct)
    np.testing.assert_allclose(vt.numpy(), vn, rtol=1e-15, atol=1e-15)


def test_allen_cahn_reference_uses_the_step_budget():
    from sciml.pinns.problems import allen_cahn_reference

    with pytest.raises(ValueError, match="dt=1e-300"):
        allen_cahn_reference(16, 1e-300, np.array([0.0, 1.0]))


def test_check_step_count():
    assert check_step_count(1.0, 0.1, max_steps=10) == 10
    assert check_step_count(1.0, 0.3, max_steps=10) == 4
    with pytest.raises(ValueError, match="dt"):
        check_step_count(1.0, 0.099, max_steps=10)
    with pytest.raises(ValueError, match="t_end"):
        check_step_count(float("nan"), 0.1, max_steps=10)
    assert MAX_STEPS >= 10 ** 6
