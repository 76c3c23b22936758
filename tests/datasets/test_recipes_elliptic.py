"""Darcy / Poisson / heat / Helmholtz recipes solved through solve_sequence (sciml.datasets.recipes_elliptic)."""
import numpy as np
import pytest
import scipy.sparse.linalg as spla

from sciml.datasets.recipes import get_recipe
from sciml.datasets.recipes_elliptic import heat_inputs, helmholtz_inputs, poisson_inputs
from sciml.solvers.elliptic import assemble_helmholtz, assemble_poisson, interior_to_grid


def test_darcy_auto_matches_direct_per_sample():
    r = get_recipe("darcy")
    p = r.resolve(resolution=33, subsample=2)
    assert p["solver"] == "auto"
    out = r.solve_chunk(p, 5, [0, 1, 2, 3])
    ref = r.solve_chunk(r.resolve(resolution=33, subsample=2, solver="direct"), 5, [0, 1, 2, 3])
    np.testing.assert_array_equal(out["a"], ref["a"])
    assert np.abs(out["u"] - ref["u"]).max() <= 1e-8 * np.abs(ref["u"]).max()
    # a sample is independent of the chunk it is solved in (to the solver tolerance)
    one = r.solve_chunk(p, 5, [2])
    assert np.abs(one["u"][0] - out["u"][2]).max() <= 1e-8 * np.abs(ref["u"]).max()


def test_poisson_recipe():
    r = get_recipe("poisson")
    p = r.resolve(resolution=24)
    out = r.solve_chunk(p, 1, [0, 1, 2])
    f, g = poisson_inputs(p, 1, 1)
    A, b = assemble_poisson(f, g)
    u = interior_to_grid(spla.spsolve(A.tocsc(), b), 24)
    u[0, :], u[-1, :], u[:, 0], u[:, -1] = g[0, :], g[-1, :], g[:, 0], g[:, -1]
    np.testing.assert_allclose(out["u"][1, 0], u, atol=1e-9 * np.abs(u).max())
    assert out["u"].shape == (3, 1, 24, 24)


def test_heat_recipe_decays_and_stays_bounded():
    r = get_recipe("heat")
    p = r.resolve(resolution=24, steps=4, dt=1e-2)
    out = r.solve_chunk(p, 0, [0, 1])
    # backward Euler with zero Dirichlet data is a contraction in max norm (M-matrix)
    assert np.all(np.abs(out["u"]).max(axis=(1, 2, 3)) <= np.abs(out["u0"]).max(axis=(1, 2, 3)))
    kappa, u0 = heat_inputs(p, 0, 1)
    np.testing.assert_array_equal(out["kappa"][1, 0], kappa)


@pytest.mark.parametrize("solver", ["auto", "gcrodr"])
def test_helmholtz_recipe(solver):
    r = get_recipe("helmholtz")
    p = r.resolve(resolution=33, k0=8.0, solver=solver)
    out = r.solve_chunk(p, 0, [0, 1, 2])
    k, f = helmholtz_inputs(p, 0, 2)
    A, b = assemble_helmholtz(k, f)
    u = interior_to_grid(spla.spsolve(A.tocsc(), b), 33)
    np.testing.assert_allclose(out["u"][2, 0], u, atol=1e-8 * np.abs(u).max())


def test_bad_parameters():
    with pytest.raises(ValueError, match="solver"):
        get_recipe("darcy").resolve(solver="magic")
    with pytest.raises(ValueError, match="under-resolved"):
        get_recipe("helmholtz").resolve(resolution=16, k0=50.0)
    with pytest.raises(ValueError, match="steps"):
        get_recipe("heat").resolve(steps=0)
