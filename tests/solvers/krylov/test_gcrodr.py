import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from sciml.solvers.krylov import RecycleSpace, gcrodr

from .conftest import convection_diffusion


@pytest.mark.parametrize("side", ["right", "left"])
def test_matches_spsolve(side):
    A = convection_diffusion(20, 30.0)
    b = np.random.default_rng(0).standard_normal(A.shape[0])
    ilu = spla.spilu(A.tocsc(), drop_tol=1e-2)
    for M in (None, spla.LinearOperator(A.shape, ilu.solve)):
        x, info = gcrodr(A, b, rtol=1e-10, m=30, k=10, M=M, side=side)
        assert info == 0
        assert np.linalg.norm(b - A @ x) / np.linalg.norm(b) <= 1e-10
        np.testing.assert_allclose(x, spla.spsolve(A.tocsc(), b), rtol=1e-6, atol=1e-8)


def test_recycled_space_is_consistent_and_reduces_iterations():
    rng = np.random.default_rng(3)
    R = RecycleSpace(15)
    its = []
    fresh = []
    for _ in range(5):
        A = convection_diffusion(25, 20.0 + rng.standard_normal(), shift=100.0)
        b = rng.standard_normal(A.shape[0])
        x, info, st = gcrodr(A, b, rtol=1e-8, m=35, k=15, recycle=R, full_output=True)
        assert info == 0 and st["residual"] <= 1e-8
        its.append(st["iterations"])
        fresh.append(gcrodr(A, b, rtol=1e-8, m=35, k=15, full_output=True)[2]["iterations"])
        # C = A U with orthonormal C for the last operator
        np.testing.assert_allclose(A @ R.U, R.C, atol=1e-8 * np.abs(R.C).max())
        np.testing.assert_allclose(R.C.T @ R.C, np.eye(R.C.shape[1]), atol=1e-8)
    assert sum(its[1:]) < 0.85 * sum(fresh[1:])  # measured ~0.75


def test_beats_restarted_gmres_on_indefinite():
    A = convection_diffusion(20, 0.0, shift=300.0)
    b = np.ones(A.shape[0])
    _x, info, st = gcrodr(A, b, rtol=1e-8, m=30, k=10, full_output=True)
    count = [0]
    spla.gmres(A, b, rtol=1e-8, restart=30, maxiter=200, callback=lambda r: count.__setitem__(0, count[0] + 1),
               callback_type="pr_norm")
    assert info == 0 and st["iterations"] < count[0]


def test_maxiter_warns():
    A = convection_diffusion(20, 5.0)
    with pytest.warns(RuntimeWarning, match="did not converge"):
        _x, info = gcrodr(A, np.ones(A.shape[0]), maxiter=10, m=8, k=4)
    assert info > 0


def test_bad_input():
    A = sp.identity(6, format="csr")
    with pytest.raises(ValueError, match="k must be smaller than m"):
        gcrodr(A, np.ones(6), m=5, k=5)
    with pytest.raises(ValueError, match="side"):
        gcrodr(A, np.ones(6), side="both")
    with pytest.raises(ValueError, match="A must be square"):
        gcrodr(np.ones((3, 4)), np.ones(3))
    with pytest.raises(ValueError, match="b must have shape"):
        gcrodr(A, np.ones(7))
    with pytest.raises(ValueError, match="recycle.k"):
        gcrodr(A, np.ones(6), m=10, k=5, recycle=RecycleSpace(2))
