import warnings

import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from sciml.solvers.krylov import RecycleSpace, recycled_cg

from .conftest import diffusion_matrix


def test_matches_spsolve(smooth_fields):
    A = diffusion_matrix(smooth_fields[0])
    b = np.random.default_rng(0).standard_normal(A.shape[0])
    x, info = recycled_cg(A, b, rtol=1e-10)
    xr = spla.spsolve(A.tocsc(), b)
    assert info == 0
    assert np.linalg.norm(x - xr) / np.linalg.norm(xr) < 1e-7
    assert np.linalg.norm(b - A @ x) / np.linalg.norm(b) <= 1e-10


def test_linear_operator_and_jacobi_preconditioner(smooth_fields):
    A = diffusion_matrix(smooth_fields[1])
    b = np.ones(A.shape[0])
    M = sp.diags(1.0 / A.diagonal())
    x, info = recycled_cg(spla.aslinearoperator(A), b, rtol=1e-9, M=spla.aslinearoperator(M))
    assert info == 0
    np.testing.assert_allclose(x, spla.spsolve(A.tocsc(), b), rtol=1e-6)


@pytest.mark.parametrize("precond", [False, True])
def test_recycling_reduces_iterations(smooth_fields, precond):
    first, later = None, []
    R = RecycleSpace(10)
    for a in smooth_fields:
        A = diffusion_matrix(a)
        b = np.ones(A.shape[0])
        M = sp.diags(1.0 / A.diagonal()) if precond else None
        x, info, st = recycled_cg(A, b, rtol=1e-8, M=M, recycle=R, full_output=True)
        assert info == 0 and st["residual"] <= 1e-8
        if first is None:
            first = st["iterations"]
            # a plain solve of this system for reference
            _x, _i, st0 = recycled_cg(A, b, rtol=1e-8, M=M, full_output=True)
            assert st0["iterations"] == first
        else:
            later.append(st["iterations"])
    assert R.dim == 10 and R.U.shape == ((smooth_fields[0].shape[0] - 2) ** 2, 10)
    # deflating the recycled Ritz vectors must save a real fraction of the iterations
    assert np.mean(later[-3:]) < 0.8 * first


def test_ritz_values_approximate_smallest_eigenvalues(smooth_fields):
    A = diffusion_matrix(smooth_fields[0])
    R = RecycleSpace(4)
    for _ in range(3):
        _x, _info, st = recycled_cg(A, np.ones(A.shape[0]), recycle=R, full_output=True)
    lam = np.sort(np.linalg.eigvalsh(A.toarray()))[:4]
    theta = np.sort(st["ritz_values"])
    assert abs(theta[0] - lam[0]) / lam[0] < 1e-2
    assert np.all(theta >= lam[0] * (1 - 1e-10))  # Rayleigh-Ritz values bound the spectrum from inside


def test_maxiter_too_small_warns_and_reports():
    A = diffusion_matrix(np.ones((30, 30)))
    b = np.ones(A.shape[0])
    with pytest.warns(RuntimeWarning, match="did not converge"):
        x, info = recycled_cg(A, b, maxiter=3)
    assert info > 0


def test_bad_input():
    A = sp.identity(5, format="csr")
    with pytest.raises(ValueError, match="A must be square"):
        recycled_cg(sp.random(4, 5, format="csr"), np.ones(4))
    with pytest.raises(ValueError, match="b must have shape"):
        recycled_cg(A, np.ones(4))
    with pytest.raises(ValueError, match="rtol"):
        recycled_cg(A, np.ones(5), rtol=-1)
    with pytest.raises(TypeError, match="recycle"):
        recycled_cg(A, np.ones(5), recycle="U")
    with pytest.raises(ValueError, match="recycle holds vectors"):
        recycled_cg(A, np.ones(5), recycle=RecycleSpace(2, U=np.ones((4, 1))))


def test_zero_rhs_gives_zero():
    A = sp.identity(5, format="csr")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        x, info = recycled_cg(A, np.zeros(5))
    assert info == 0 and np.all(x == 0)
