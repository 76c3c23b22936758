import numpy as np
import pytest
import scipy.sparse.linalg as spla

from sciml.solvers.krylov import AMGReference, AMGVCycle, recycled_cg

from .conftest import diffusion_matrix


def _darcy(s, seed):
    from sciml.solvers.elliptic import darcy_coefficient

    return diffusion_matrix(darcy_coefficient(s, np.random.default_rng(seed)))


@pytest.mark.parametrize("kind", ["sa", "rs"])
@pytest.mark.parametrize("sweeps", [1, 2])
def test_vcycle_is_symmetric_positive_definite(kind, sweeps):
    # forward sweeps before, backward after, R = P^T: M must be SPD to precondition CG
    A = _darcy(40, 0)
    M = AMGReference(_darcy(40, 1), kind=kind, sweeps=sweeps, max_coarse=50).for_matrix(A)
    assert isinstance(M, AMGVCycle) and len(M.levels) >= 3
    rng = np.random.default_rng(0)
    X = rng.standard_normal((A.shape[0], 4))
    MX = np.column_stack([M.matvec(x) for x in X.T])
    G = X.T @ MX
    assert np.allclose(G, G.T, rtol=1e-11, atol=1e-11 * np.abs(G).max())
    assert np.linalg.eigvalsh(0.5 * (G + G.T)).min() > 0
    # one application is a contraction of the A-norm error: ||I - M A||_A < 1
    e = rng.standard_normal(A.shape[0])
    e1 = e - M.matvec(A @ e)
    assert np.sqrt(e1 @ (A @ e1)) < 0.5 * np.sqrt(e @ (A @ e))


def test_vcycle_application_does_not_alias_work_vectors():
    A = _darcy(30, 2)
    M = AMGReference(A, max_coarse=30).for_matrix(A)
    b1, b2 = np.ones(A.shape[0]), np.arange(A.shape[0], dtype=float)
    z1 = M.matvec(b1)
    z1_copy = z1.copy()
    M.matvec(b2)
    assert np.array_equal(z1, z1_copy)
    assert np.array_equal(M.matvec(b1), z1_copy)  # deterministic: work vectors fully reset


def test_galerkin_reuse_matches_own_hierarchy_iterations():
    # interpolation from a different sample, coarse operators of A itself: CG converges to
    # the true residual in a handful of iterations at both hierarchy kinds
    A = _darcy(80, 3)
    b = np.ones(A.shape[0])
    for kind in ("sa", "rs"):
        M = AMGReference(_darcy(80, 4), kind=kind).for_matrix(A)
        x, info, st = recycled_cg(A, b, rtol=1e-10, M=M, full_output=True)
        assert info == 0 and st["iterations"] <= 20
        assert np.linalg.norm(b - A @ x) <= 1e-10 * np.linalg.norm(b)
        assert np.allclose(x, spla.spsolve(A.tocsc(), b), rtol=1e-7, atol=0)


def test_bad_arguments():
    A = _darcy(20, 0)
    with pytest.raises(ValueError, match="kind"):
        AMGReference(A, kind="gmg")
    with pytest.raises(ValueError, match="sweeps"):
        AMGReference(A, sweeps=0)
    ref = AMGReference(A)
    with pytest.raises(ValueError, match="shape"):
        ref.for_matrix(_darcy(21, 0))
    with pytest.raises(ValueError, match="sweeps"):
        AMGVCycle([(A, None, None)], sweeps=1.5)


def test_hierarchy_is_deterministic():
    # no random spectral-radius estimates: same matrix -> bit-identical interpolation and cycle
    A = _darcy(40, 5)
    r1, r2 = AMGReference(A, kind="sa"), AMGReference(A, kind="sa")
    for (P1, _R1), (P2, _R2) in zip(r1.transfers, r2.transfers):
        assert np.array_equal(P1.data, P2.data) and np.array_equal(P1.indices, P2.indices)
    b = np.ones(A.shape[0])
    assert np.array_equal(r1.for_matrix(A).matvec(b), r2.for_matrix(A).matvec(b))
