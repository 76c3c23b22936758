"""Poisson, heat-step and Helmholtz assembly (sciml.solvers.elliptic): manufactured solutions, order 2."""
import numpy as np
import pytest
import scipy.sparse.linalg as spla

from sciml.solvers.elliptic import (
    assemble_heat_step,
    assemble_helmholtz,
    assemble_poisson,
    darcy_grid,
    interior_to_grid,
    laplacian_matrix,
)


def _grid(s):
    x = darcy_grid(s)
    return np.meshgrid(x, x, indexing="xy")


def _orders(errs):
    e = np.array(errs)
    return np.log2(e[:-1] / e[1:])


def test_poisson_inhomogeneous_dirichlet_second_order_and_shared_matrix():
    errs = []
    for s in (17, 33, 65, 129):
        X, Y = _grid(s)
        u = np.exp(X) * np.cos(2 * Y) + X * Y            # -Laplace u = 3 e^x cos 2y
        f = 3 * np.exp(X) * np.cos(2 * Y)
        A, b = assemble_poisson(f, u)
        assert A is laplacian_matrix(s)
        uh = interior_to_grid(spla.spsolve(A.tocsc(), b), s)
        errs.append(np.abs(uh - u)[1:-1, 1:-1].max())
    order = _orders(errs)
    assert np.all(order[-2:] > 1.9) and np.all(order < 2.2), order


def test_heat_step_manufactured_second_order_in_space():
    errs = []
    dt = 1e-3
    for s in (17, 33, 65):
        X, Y = _grid(s)
        kappa = 1 + X * Y
        u1 = np.sin(np.pi * X) * np.sin(np.pi * Y)
        # -div(kappa grad u1)
        ux, uy = np.pi * np.cos(np.pi * X) * np.sin(np.pi * Y), np.pi * np.sin(np.pi * X) * np.cos(np.pi * Y)
        lap = -2 * np.pi ** 2 * u1
        Ku = -(Y * ux + X * uy + kappa * lap)
        u0 = u1 + dt * Ku  # exact backward-Euler predecessor of u1 (f = 0)
        A, b = assemble_heat_step(kappa, u0, dt)
        uh = interior_to_grid(spla.spsolve(A.tocsc(), b), s)
        errs.append(np.abs(uh - u1).max())
    order = _orders(errs)
    assert np.all(order > 1.8), order


def test_helmholtz_manufactured_second_order_and_indefinite():
    errs = []
    for s in (33, 65, 129):
        X, Y = _grid(s)
        k = 15 + 3 * X
        u = np.sin(np.pi * X) * np.sin(2 * np.pi * Y)
        f = (5 * np.pi ** 2 - k ** 2) * u
        A, b = assemble_helmholtz(k, f)
        uh = interior_to_grid(spla.spsolve(A.tocsc(), b), s)
        errs.append(np.abs(uh - u).max())
    order = _orders(errs)
    assert np.all(order > 1.9), order
    lam = spla.eigsh(A, k=1, sigma=-1000, which="LM", return_eigenvectors=False)
    assert lam.min() < 0  # k^2 > 2 pi^2: indefinite


def test_bad_input():
    with pytest.raises(ValueError, match="dt"):
        assemble_heat_step(np.ones((5, 5)), np.zeros((5, 5)), -1.0)
    with pytest.raises(ValueError, match="g must"):
        assemble_poisson(np.ones((5, 5)), np.ones((4, 4)))
    with pytest.raises(ValueError, match="resolution"):
        laplacian_matrix(2)
