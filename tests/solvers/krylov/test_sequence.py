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


def test_shared_pattern_spd_check_agrees_with_per_matrix_check():
    from sciml.solvers.elliptic import assemble_helmholtz
    from sciml.solvers.krylov.sequence import _is_spd_candidate, _spd_candidates_same_pattern, classify_systems

    mats = [s[0] for s in _darcy_systems(3, 30)]
    assert _spd_candidates_same_pattern(mats) and all(_is_spd_candidate(A) for A in mats)
    assert classify_systems(mats) == "spd"
    asym = mats[1].copy()
    asym.data[7] *= 1.001  # one entry off: not symmetric
    assert not _spd_candidates_same_pattern([mats[0], asym]) and not _is_spd_candidate(asym)
    assert classify_systems([mats[0], asym]) == "general"
    neg = mats[2].copy()
    neg.data[neg.indices == 5] *= -1.0  # a negative diagonal / off-sign column
    assert _spd_candidates_same_pattern([mats[0], neg]) == _is_spd_candidate(neg) is False
    helm = [assemble_helmholtz(np.full((20, 20), k), np.ones((20, 20)))[0] for k in (8.0, 9.0)]
    assert not _spd_candidates_same_pattern(helm) and classify_systems(helm) == "general"


def test_amg_chain_rebuilds_only_when_growth_outweighs_setup():
    from sciml.solvers.krylov.sequence import _AMGChain

    mats = [s[0] for s in _darcy_systems(4, 20)]
    chain = _AMGChain(mats, {"setup_iterations": 10}, window=2)
    assert chain.prepare(0) and chain.setups == 1 and not chain.prepare(1)
    chain.observe(10)            # best = 10
    chain.observe(13)            # within the natural spread (10 + max(2, 3))
    assert not chain.rebuild_next
    chain.observe(19)            # 6 iterations over the spread
    assert not chain.rebuild_next
    chain.observe(19)            # 12 lost > 10 iterations of a set-up
    assert chain.rebuild_next
    assert chain.prepare(2) and chain.setups == 2 and chain.best is None and chain.excess == 0
    frozen = _AMGChain(mats, {"resetup": False, "setup_iterations": 0}, window=2)
    frozen.prepare(0)
    frozen.observe(5)
    frozen.observe(50)
    assert not frozen.rebuild_next


def test_resetup_on_a_sequence_whose_matrices_change_character():
    # first half: smooth lognormal coefficient; second half: 1e4-contrast channels along x.
    # the mean-matrix hierarchy suits neither well; whatever the chain decides, every
    # system meets the tolerance and the first system reports the set-up
    from sciml.solvers.elliptic import darcy_coefficient

    rng = np.random.default_rng(5)
    s = 40
    systems = []
    for i in range(8):
        if i < 4:
            a = np.exp(0.3 * rng.standard_normal((s, s)))
        else:
            a = np.where(darcy_coefficient(s, rng) > 5, 1e4, 1.0)
        A = diffusion_matrix(a)
        systems.append((A, np.ones(A.shape[0]), a))
    for resetup in (True, False):
        xs, st = solve_sequence(systems, rtol=1e-9, sort=False, resetup=resetup)
        _check(systems, xs, st, 1e-9)
        assert st.setup[0] and (resetup or st.setup.sum() == 1)


def test_warm_start_dropped_when_it_does_not_pay():
    from sciml.solvers.krylov.sequence import _WarmStarter

    systems = _darcy_systems(8, 30)
    xs, _st = solve_sequence(systems, rtol=1e-10, sort=False, warm_start=False)
    feats = np.stack([f.ravel() for *_ab, f in systems])
    ws = _WarmStarter(feats, np.arange(8), window=8, enabled=True)
    tried = 0
    for i in range(1, 8):
        if not ws.enabled:
            break
        A, b, _f = systems[i]
        ws.guess(i, A, b, xs)
        tried += 1
    # a neighbour's solution of a 12/3 coefficient leaves a residual larger than ||b||
    assert not ws.enabled and tried == 4
    # a useful guess (the exact solution of a nearly identical system) keeps it on
    A, b, f = systems[0]
    twin = [(A, b, f), (A * (1 + 1e-6), b, f)]
    xs2 = [xs[0], None]
    ws2 = _WarmStarter(np.stack([f.ravel(), f.ravel()]), np.arange(2), window=2, enabled=True)
    x0 = ws2.guess(1, twin[1][0], b, xs2)
    assert x0 is not None and ws2.misses == 0
    assert np.linalg.norm(b - twin[1][0] @ x0) < 1e-5 * np.linalg.norm(b)
