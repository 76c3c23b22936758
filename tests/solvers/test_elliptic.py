import numpy as np
import pytest
import scipy.sparse.linalg as spla

from sciml.solvers.elliptic import assemble_darcy, darcy_coefficient, darcy_grid, solve_darcy


def _manufactured(s):
    x = darcy_grid(s)
    X, Y = np.meshgrid(x, x, indexing="xy")  # rows are y, columns x
    pi = np.pi
    u = np.sin(pi * X) * np.sin(pi * Y) * np.exp(X)
    ux = np.sin(pi * Y) * np.exp(X) * (pi * np.cos(pi * X) + np.sin(pi * X))
    uy = pi * np.sin(pi * X) * np.cos(pi * Y) * np.exp(X)
    uxx = np.sin(pi * Y) * np.exp(X) * (2 * pi * np.cos(pi * X) + (1 - pi ** 2) * np.sin(pi * X))
    uyy = -pi ** 2 * u
    a = 2 + np.sin(2 * pi * X) * np.cos(pi * Y) + X * Y
    ax = 2 * pi * np.cos(2 * pi * X) * np.cos(pi * Y) + Y
    ay = -pi * np.sin(2 * pi * X) * np.sin(pi * Y) + X
    f = -(ax * ux + ay * uy + a * (uxx + uyy))
    return a, f, u


@pytest.mark.parametrize("mean", ["harmonic", "arithmetic"])
def test_darcy_manufactured_solution_second_order(mean):
    sizes = [17, 33, 65, 129]
    e2, einf = [], []
    for s in sizes:
        a, f, u = _manufactured(s)
        uh = solve_darcy(a, f, mean=mean, solver="direct")
        err = uh - u
        e2.append(np.sqrt(np.mean(err ** 2)))
        einf.append(np.abs(err).max())
    order2 = np.log2(np.array(e2[:-1]) / np.array(e2[1:]))
    orderinf = np.log2(np.array(einf[:-1]) / np.array(einf[1:]))
    assert np.all(order2[-2:] > 1.9) and np.all(order2 < 2.2), order2
    assert np.all(orderinf[-2:] > 1.9) and np.all(orderinf < 2.2), orderinf
    assert e2[-1] < 1e-4


def test_darcy_matrix_is_spd_and_solvers_agree():
    a = darcy_coefficient(33, np.random.default_rng(0))
    A, b = assemble_darcy(a)
    assert abs(A - A.T).max() < 1e-12
    assert spla.eigsh(A, k=1, which="SA", return_eigenvectors=False)[0] > 0
    u_direct = solve_darcy(a, solver="direct")
    u_amg, info = solve_darcy(a, solver="amg", rtol=1e-12, return_info=True)
    u_cg = solve_darcy(a, solver="cg", rtol=1e-12)
    assert np.allclose(u_amg, u_direct, rtol=0, atol=1e-10 * np.abs(u_direct).max())
    assert np.allclose(u_cg, u_direct, rtol=0, atol=1e-9 * np.abs(u_direct).max())
    assert info["iterations"] < 30 and info["residual"] < 1e-11
    assert np.all(u_direct[0] == 0) and np.all(u_direct[:, -1] == 0)
    assert u_direct.min() >= 0  # maximum principle for f = 1 > 0


def test_darcy_coefficient_recipe_values_and_reproducibility():
    a = darcy_coefficient(64, np.random.default_rng(7))
    assert set(np.unique(a)) == {3.0, 12.0}
    assert 0.2 < (a == 12).mean() < 0.8
    assert np.array_equal(a, darcy_coefficient(64, np.random.default_rng(7)))


def test_darcy_bad_input():
    with pytest.raises(ValueError, match="square"):
        assemble_darcy(np.ones((4, 5)))
    with pytest.raises(ValueError, match="positive"):
        assemble_darcy(-np.ones((5, 5)))
    with pytest.raises(TypeError, match="numpy array"):
        assemble_darcy([[1.0]])
    with pytest.raises(ValueError, match="mean"):
        assemble_darcy(np.ones((5, 5)), mean="geometric")
    with pytest.raises(ValueError, match="solver"):
        solve_darcy(np.ones((5, 5)), solver="magic")
    with pytest.raises(ValueError, match="f must be"):
        assemble_darcy(np.ones((5, 5)), f=np.ones((4, 4)))


@pytest.mark.parametrize("f", [np.nan, np.inf, "f"])
def test_darcy_refuses_non_finite_or_non_numeric_source(f):
    bad = f if not isinstance(f, float) else np.full((9, 9), f)
    for value in (f, bad):
        with pytest.raises((ValueError, TypeError), match="f "):
            solve_darcy(np.ones((9, 9)), f=value)


@pytest.mark.parametrize("scale", [1e-300, 1e305])
def test_darcy_refuses_coefficients_whose_face_means_under_or_overflow(scale):
    with pytest.raises(ValueError, match="a must stay within the range"):
        solve_darcy(scale * np.ones((9, 9)))
    # the same problem rescaled is solved, and u scales as 1 / a
    u = solve_darcy(np.ones((9, 9)), solver="direct")
    u2 = solve_darcy(2.0 * np.ones((9, 9)), solver="direct")
    np.testing.assert_allclose(u2, u / 2, rtol=1e-12)
    assert np.all(np.isfinite(u))
