import time

import numpy as np
import pytest

from sciml.solvers.krylov import path_length, sort_systems
from sciml.solvers.krylov.ordering import _hilbert_index


@pytest.mark.parametrize("method", ["greedy", "kdtree", "hilbert"])
def test_valid_permutation_shorter_than_random(method):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((300, 3))
    order = sort_systems(X, method)
    assert sorted(order.tolist()) == list(range(300))
    rand = np.mean([path_length(X, rng.permutation(300)) for _ in range(5)])
    assert path_length(X, order) < 0.5 * rand


def test_greedy_is_nearest_neighbour_walk():
    X = np.array([[0.0], [10.0], [1.0], [3.0], [6.0]])
    assert sort_systems(X, "greedy").tolist() == [0, 2, 3, 4, 1]


def test_hilbert_curve_is_continuous():
    g = np.array([(i, j) for i in range(8) for j in range(8)])
    h = _hilbert_index(g, 3)
    assert sorted(h.tolist()) == list(range(64))
    path = g[np.argsort(h)]
    assert np.all(np.abs(np.diff(path, axis=0)).sum(axis=1) == 1)


@pytest.mark.parametrize("method", ["kdtree", "hilbert"])
def test_scales_to_1e5_systems(method):
    X = np.random.default_rng(1).standard_normal((100_000, 12))
    t0 = time.process_time()  # CPU time: the CI machine is shared
    order = sort_systems(X, method)
    dt = time.process_time() - t0
    assert np.array_equal(np.sort(order), np.arange(100_000))
    assert dt < 15.0, dt


def test_list_of_fields_and_bad_method():
    fields = [np.full((4, 4), v) for v in (3.0, 0.0, 1.0)]
    assert sort_systems(fields, "greedy").tolist() == [1, 2, 0]
    with pytest.raises(ValueError, match="method"):
        sort_systems(fields, "random")
    with pytest.raises(ValueError, match="features"):
        sort_systems(np.array([[np.nan]]), "greedy")
