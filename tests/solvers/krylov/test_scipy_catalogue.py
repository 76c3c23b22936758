"""scipy's iterative-solver conventions, checked on every sciml Krylov solver over one catalogue.

``x, info = solver(A, b, x0=None, *, rtol, atol, maxiter, M, callback)`` on any LinearOperator:
convergence to ``max(rtol ||b||, atol)`` on the true residual, ``maxiter`` with one callback per
iteration, identity and exact-inverse preconditioners, ``x0`` as None / array / ``'Mb'``,
tolerances at the edges (``rtol >= 1``, ``atol = inf``), exception types, dtypes kept.
The checks are the ones scipy's ``test_iterative.py`` makes (written anew here); the cases are
in :mod:`catalogue`. :func:`solve_sequence` takes the checks its interface has (a sequence of one
system, rtol only).
"""
import itertools
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from sciml.solvers.krylov import gcrodr, recycled_cg, solve_sequence

from .catalogue import CASES, applicable, residual

SOLVERS = {"recycled_cg": recycled_cg, "gcrodr": gcrodr}


def _pairs(names=tuple(SOLVERS), where=lambda c: True):
    return [pytest.param(s, c, id=f"{s}-{c.name}") for s in names for c in CASES if applicable(s, c) and where(c)]


def _expected_dtype(case):
    return np.result_type(case.A.dtype, case.b.dtype)


# --------------------------------------------------------------------- every case
@pytest.mark.parametrize("name,case", _pairs())
def test_convergence(name, case):
    x0 = np.zeros_like(case.b)
    x, info = SOLVERS[name](case.A, case.b, x0=x0, rtol=case.rtol)
    assert np.all(x0 == 0)  # x0 is not overwritten
    assert info == 0
    assert residual(case.A, x, case.b) <= case.rtol * np.linalg.norm(case.b)
    assert x.dtype == _expected_dtype(case) and x.shape == case.b.shape


@pytest.mark.parametrize("name,case", _pairs(where=lambda c: "tiny" not in c.tags))
def test_maxiter_one_calls_back_once(name, case):
    calls = []
    kw = {"callback_type": "legacy"} if name == "gcrodr" else {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # not converged: warned, reported by info
        x, info = SOLVERS[name](case.A, case.b, x0=np.zeros_like(case.b), rtol=1e-12, maxiter=1,
                                callback=calls.append, **kw)
    assert len(calls) == 1
    assert info == 1


@pytest.mark.parametrize("name,case", _pairs())
def test_identity_preconditioner(name, case):
    ident = spla.LinearOperator(case.A.shape, matvec=lambda v: v, rmatvec=lambda v: v, dtype=case.A.dtype)
    x, info = SOLVERS[name](case.A, case.b, M=ident, rtol=case.rtol)
    assert info == 0
    assert residual(case.A, x, case.b) <= case.rtol * np.linalg.norm(case.b)


@pytest.mark.parametrize("name,case", _pairs())
def test_x0_mb(name, case):
    x, info = SOLVERS[name](case.A, case.b, x0="Mb", rtol=case.rtol)
    assert info == 0
    assert residual(case.A, x, case.b) <= case.rtol * np.linalg.norm(case.b)


@pytest.mark.parametrize("name,case", _pairs())
def test_on_a_plain_linear_operator(name, case):
    A = case.A
    op = spla.LinearOperator(A.shape, matvec=lambda v: A @ v, dtype=A.dtype)
    x, info = SOLVERS[name](op, case.b, rtol=case.rtol)
    assert info == 0
    assert residual(A, x, case.b) <= case.rtol * np.linalg.norm(case.b)


@pytest.mark.parametrize("case", [pytest.param(c, id=c.name) for c in CASES])
def test_solve_sequence_convergence_and_dtype(case):
    xs, st = solve_sequence([(case.A, case.b)], rtol=case.rtol)
    assert st.info[0] == 0
    assert residual(case.A, xs[0], case.b) <= case.rtol * np.linalg.norm(case.b)
    assert xs[0].dtype == _expected_dtype(case)


# --------------------------------------------------------------------- per solver
def _spd10(seed):
    rng = np.random.default_rng(seed)
    A = rng.uniform(size=(10, 10))
    return A @ A.T + 10 * np.eye(10), rng


@pytest.mark.parametrize("name", SOLVERS)
@pytest.mark.parametrize("case", [c for c in CASES if "poisson" in c.tags and not c.single], ids=lambda c: c.name)
def test_exact_inverse_preconditioner_is_nearly_instant(name, case):
    A = case.A.toarray()
    count = [0]

    def mv(v):
        count[0] += 1
        return A @ v

    Ainv = np.linalg.inv(A)
    op = spla.LinearOperator(A.shape, matvec=mv, dtype=float)
    M = spla.LinearOperator(A.shape, matvec=lambda v: Ainv @ v, dtype=float)
    x, info = SOLVERS[name](op, case.b, M=M, rtol=1e-8)
    assert info == 0
    assert residual(A, x, case.b) <= 1e-8 * np.linalg.norm(case.b)
    assert count[0] <= 3


@pytest.mark.parametrize("name", SOLVERS)
def test_atol_rtol_grid(name):
    A, rng = _spd10(168441431005389)
    b = 1e3 * rng.uniform(size=10)
    M0 = rng.standard_normal((10, 10))
    M0 = M0 @ M0.T
    tols = np.r_[0, np.logspace(-9, 2, 7), np.inf]
    bnorm = np.linalg.norm(b)
    for M, rtol, atol in itertools.product([None, 1e-6 * M0, 1e6 * M0], tols, tols):
        if rtol == 0 and atol == 0:
            continue
        x, info = SOLVERS[name](A, b, M=M, rtol=rtol, atol=atol)
        assert info == 0, (rtol, atol)
        assert np.linalg.norm(A @ x - b) <= 1.00025 * max(atol, rtol * bnorm)


@pytest.mark.parametrize("name", SOLVERS)
def test_zero_rhs(name):
    A, _ = _spd10(1684414984100503)
    b = np.zeros(10)
    for tol in np.logspace(-10, 2, 7):
        x, info = SOLVERS[name](A, b, rtol=tol)
        assert info == 0 and np.all(x == 0)
        x, info = SOLVERS[name](A, b, rtol=tol, x0=np.ones(10))
        assert info == 0 and np.allclose(x, 0.0, atol=tol)
        x, info = SOLVERS[name](A, b, rtol=tol, atol=tol)
        assert info == 0 and np.all(x == 0)


@pytest.mark.parametrize("name", SOLVERS)
def test_x0_working(name):
    rng = np.random.default_rng(1685363802304750)
    A = rng.random((10, 10))
    A = A @ A.T
    b = rng.random(10)
    x, info = SOLVERS[name](A, b, atol=0, rtol=1e-6)
    assert info == 0 and np.linalg.norm(A @ x - b) <= 1e-6 * np.linalg.norm(b)
    x, info = SOLVERS[name](A, b, x0=rng.random(10), atol=0, rtol=1e-6)
    assert info == 0 and np.linalg.norm(A @ x - b) <= 1e-5 * np.linalg.norm(b)


@pytest.mark.parametrize("name", SOLVERS)
def test_x0_that_solves_exactly(name):
    rhs = np.array([-1.0, -1.0])
    x, info = SOLVERS[name](np.eye(2), rhs, x0=rhs)
    assert info == 0 and np.allclose(x, rhs)


@pytest.mark.parametrize("name", SOLVERS)
def test_tolerances_are_keyword_only(name):
    A, rng = _spd10(1685363802304750)
    with pytest.raises(TypeError):
        SOLVERS[name](A, rng.random(10), rng.random(10), 1e-5)


@pytest.mark.parametrize("name", SOLVERS)
@pytest.mark.parametrize("atol", ["legacy", None, -1, np.nan])
def test_invalid_atol_is_a_value_error(name, atol):
    A, rng = _spd10(1685363802304750)
    with pytest.raises(ValueError, match="atol"):
        SOLVERS[name](A, rng.random(10), rng.random(10), atol=atol)


@pytest.mark.parametrize("name", SOLVERS)
@pytest.mark.parametrize("rtol", [-1.0, np.nan, "1e-8"])
def test_invalid_rtol_is_a_value_error(name, rtol):
    with pytest.raises(ValueError, match="rtol"):
        SOLVERS[name](np.eye(3), np.ones(3), rtol=rtol)


@pytest.mark.parametrize("name", SOLVERS)
def test_real_matrix_complex_rhs_keeps_the_imaginary_part(name):
    A, rng = _spd10(7)
    b = rng.standard_normal(10) + 1j * rng.standard_normal(10)
    x, info = SOLVERS[name](A, b, rtol=1e-10)
    assert info == 0 and np.iscomplexobj(x)
    np.testing.assert_allclose(x, np.linalg.solve(A, b), rtol=1e-8)


@pytest.mark.parametrize("name", SOLVERS)
@pytest.mark.parametrize("where", ["b", "x0"])
def test_non_finite_input_is_refused(name, where):
    b, x0 = np.ones(4), np.zeros(4)
    (b if where == "b" else x0)[1] = np.nan
    with pytest.raises(ValueError, match=where):
        SOLVERS[name](np.eye(4), b, x0=x0)


def test_solve_sequence_refuses_non_finite_b_and_bad_rtol():
    A = sp.identity(4, format="csr")
    b = np.ones(4)
    b[2] = np.nan
    with pytest.raises(ValueError, match="b"):
        solve_sequence([(A, b)])
    with pytest.raises(ValueError, match="rtol"):
        solve_sequence([(A, np.ones(4))], rtol=np.nan)


@pytest.mark.parametrize("name", SOLVERS)
def test_callback_receives_iterates(name):
    A, rng = _spd10(3)
    b = rng.random(10)
    seen = []
    kw = {"callback_type": "x"} if name == "gcrodr" else {}
    x, info = SOLVERS[name](A, b, rtol=1e-10, callback=lambda xk: seen.append(np.array(xk)), **kw)
    assert info == 0 and seen
    assert all(s.shape == (10,) for s in seen)
    np.testing.assert_allclose(seen[-1], x, rtol=1e-12, atol=0)


# --------------------------------------------------------------- gmres-specific (gcrodr)
def test_gcrodr_one_cycle_is_restarted_gmres():
    A = np.vander(np.arange(10) + 1)[:, ::-1].astype(float)
    b = np.zeros(10)
    b[0] = 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        x, info = gcrodr(A, b, m=5, k=2, maxiter=1)
    assert info == 1
    np.testing.assert_allclose(x[0], 0.359, rtol=1e-2)
    xg, _ = spla.gmres(A, b, restart=5, maxiter=1, rtol=1e-5, atol=0.0)
    np.testing.assert_allclose(x, xg, rtol=1e-8, atol=1e-10)


def test_gcrodr_pr_norm_values():
    A = sp.csr_matrix(sp.diags([np.ones(5), -2 * np.ones(6), np.ones(5)], [-1, 0, 1]))
    b = np.ones(6)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        got = []
        gcrodr(A, b, x0=np.zeros(6), rtol=1e-16, maxiter=1, callback=got.append, callback_type="legacy")
        np.testing.assert_allclose(got, [0.81649658092772603], rtol=1e-10)
        # left preconditioning reports the preconditioned residual, as scipy's gmres does
        got = []
        gcrodr(A, b, rtol=1e-16, maxiter=1, M=1e-3 * np.eye(6), side="left", callback=got.append,
               callback_type="legacy")
        np.testing.assert_allclose(got, [1e-3 * 0.81649658092772603], rtol=1e-10)


def test_gcrodr_callback_types_and_maxiter_meaning():
    rng = np.random.RandomState(1)
    A = rng.rand(20, 20)
    b = rng.rand(20)
    count = [0]

    def pr(r):
        count[0] += 1
        assert isinstance(r, float)

    def xcb(x):
        count[0] += 1
        assert isinstance(x, np.ndarray)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        x, info = gcrodr(A, b, rtol=1e-6, callback=pr, maxiter=2, m=50, k=20, callback_type="legacy")
    assert info == 2 and count[0] == 2  # legacy: maxiter counts inner (Arnoldi) steps
    count[0] = 0
    x, info = gcrodr(A, b, rtol=1e-6, callback=pr, maxiter=2, m=50, k=20, callback_type="pr_norm")
    assert info == 0 and count[0] > 2  # maxiter counts restart cycles
    count[0] = 0
    x, info = gcrodr(A, b, rtol=1e-6, callback=xcb, maxiter=2, m=50, k=20, callback_type="x")
    assert info == 0 and count[0] == 1
    with pytest.raises(ValueError, match="callback_type"):
        gcrodr(A, b, callback=xcb, callback_type="residual")


def test_gcrodr_x_callback_is_monotonic():
    rng = np.random.RandomState(1)
    A = rng.rand(20, 20) + np.eye(20)
    b = rng.rand(20)
    prev = [np.inf]
    count = [0]

    def cb(x):
        r = np.linalg.norm(A @ x - b)
        assert r <= prev[0] * (1 + 1e-12)
        prev[0] = r
        count[0] += 1

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        x, info, st = gcrodr(A, b, rtol=1e-6, callback=cb, maxiter=20, m=10, k=5, callback_type="x",
                             full_output=True)
    assert count[0] == st["cycles"] and st["cycles"] <= 20
    assert info == (0 if st["residual"] <= 1e-6 else 20)


def test_gcrodr_singular_preconditioner_gives_the_minimal_iterate():
    M = np.eye(3)
    M[2, 2] = 0
    b = np.array([0.0, 1, 1])
    A = np.diag([2.0, 3, 4])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for side in ("right", "left"):
            x, info = gcrodr(A, b, x0=np.array([1.0, 0, 0]), M=M, rtol=1e-15, m=3, k=1, side=side)
            assert not np.isnan(x).any()
            assert info > 0  # e_3 is out of reach of M: not converged, and said so
            np.testing.assert_allclose(M @ (A @ x), M @ b, atol=1e-12)


def test_gcrodr_singular_matrix():
    A = np.array([[0.0, 1, 0], [1, 0, 0], [0, 0, 0]])
    b = np.array([1.0, 0, 1])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        x, info = gcrodr(A, b, rtol=1e-8, m=3, k=1)
    assert not np.isnan(x).any() and info > 0
    np.testing.assert_allclose(A @ (A @ x), A @ b, atol=1e-12)


def test_gcrodr_complex_identity():
    x, info = gcrodr(np.eye(2, dtype=complex), np.ones(2, dtype=complex))
    assert np.iscomplexobj(x) and info == 0
    np.testing.assert_allclose(x, np.ones(2))


def test_relative_tolerance_for_tiny_rhs():
    for solver in SOLVERS.values():
        b = 1e-10 * np.ones(2)
        x, info = solver(np.eye(2), b, rtol=1e-8, atol=0)
        assert info == 0 and np.linalg.norm(np.eye(2) @ x - b) <= 1e-8 * np.linalg.norm(b)
