import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from sciml.solvers.krylov import AMGReference, solve_sequence

from .conftest import convection_diffusion, diffusion_matrix


def _darcy_systems(n=6, s=40):
    from sciml.solvers.elliptic import darcy_coefficient

    out = []
    for i in range(n):
        a = darcy_coefficient(s, np.random.default_rng(i))
        A = diffusion_matrix(a)
        out.append((A, np.ones(A.shape[0]), a))
    return out


def _check(systems, xs, stats, rtol):
    for i, (A, b, *_f) in enumerate(systems):
        xr = spla.spsolve(sp.csc_matrix(A), b)
        assert np.linalg.norm(xs[i] - xr) / np.linalg.norm(xr) < 1e3 * rtol
        assert stats.residual[i] <= rtol * 1.0001
    assert np.array_equal(stats.index, np.arange(len(systems)))


def test_auto_spd_routes_to_recycled_amg_cg_and_returns_original_order():
    systems = _darcy_systems()
    xs, st = solve_sequence(systems, rtol=1e-8)
    assert set(st.method) == {"recycled_cg"}
    _check(systems, xs, st, 1e-8)
    assert sorted(st.position.tolist()) == list(range(len(systems)))
    assert np.all(st.iterations < 30)


def test_auto_shared_matrix_factor_once():
    A = diffusion_matrix(np.ones((20, 20)))
    rng = np.random.default_rng(0)
    systems = [(A, rng.standard_normal(A.shape[0])) for _ in range(5)]
    xs, st = solve_sequence(systems)
    assert set(st.method) == {"direct-shared"}
    _check(systems, xs, st, 1e-10)


def test_auto_general_uses_gcrodr():
    rng = np.random.default_rng(2)
    systems = [(convection_diffusion(16, 20 + rng.standard_normal(), shift=50.0), rng.standard_normal(256),
                np.array([i])) for i in range(4)]
    xs, st = solve_sequence(systems, rtol=1e-9, direct_max_n=100)
    assert set(st.method) == {"gcrodr"}
    _check(systems, xs, st, 1e-9)
    # small general systems: auto factors them
    xs, st = solve_sequence(systems, rtol=1e-9)
    assert set(st.method) == {"direct"}
    _check(systems, xs, st, 1e-9)


@pytest.mark.parametrize("method", ["direct", "amg", "recycled_cg", "gcrodr"])
def test_explicit_methods(method):
    systems = _darcy_systems(3, 24)
    xs, st = solve_sequence(systems, method=method, rtol=1e-9)
    _check(systems, xs, st, 1e-9)


def test_workers_two_processes_same_answers():
    systems = _darcy_systems(6, 30)
    xs, st = solve_sequence(systems, rtol=1e-9, workers=2)
    assert set(st.chain.tolist()) == {0, 1}
    _check(systems, xs, st, 1e-9)
    # contiguous chunks of the sorted order
    pos = st.position[np.argsort(st.position)]
    chains = st.chain[np.argsort(st.position)]
    assert np.all(np.diff(chains) >= 0) and pos.tolist() == list(range(6))


def test_amg_reference_preconditions_other_samples():
    from sciml.solvers.krylov import recycled_cg

    systems = _darcy_systems(3, 60)
    amg = AMGReference(systems[0][0])
    A, b, _ = systems[2]
    x, info, st = recycled_cg(A, b, rtol=1e-8, M=amg.for_matrix(A), full_output=True)
    assert info == 0 and st["iterations"] < 25


def test_bad_input():
    A = sp.identity(4, format="csr")
    with pytest.raises(ValueError, match="method"):
        solve_sequence([(A, np.ones(4))], method="fast")
    with pytest.raises(ValueError, match="square"):
        solve_sequence([(sp.random(3, 4, format="csr"), np.ones(3))])
    with pytest.raises(ValueError, match=r"systems\[1\]: b must have shape"):
        solve_sequence([(A, np.ones(4)), (A, np.ones(5))])
    with pytest.raises(ValueError, match="workers"):
        solve_sequence([(A, np.ones(4))], workers=0)
    with pytest.raises(ValueError, match="sort_method"):
        solve_sequence([(A, np.ones(4))], sort_method="zorder")
    with pytest.raises(ValueError, match="at least one"):
        solve_sequence([])
