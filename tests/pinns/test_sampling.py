import numpy as np
import pytest

from sciml.pinns.sampling import rad_sample, rar_select, sample_box, sample_unit_cube


@pytest.mark.parametrize("method", ["uniform", "lhs", "sobol"])
def test_box_samples_in_box_and_reproducible(method):
    a = sample_box([-1, 2], [1, 3], 128, method, rng=5)
    b = sample_box([-1, 2], [1, 3], 128, method, rng=5)
    np.testing.assert_array_equal(a, b)
    assert a.shape == (128, 2) and np.all(a[:, 0] >= -1) and np.all(a[:, 0] < 1) and np.all(a[:, 1] >= 2)


def test_lhs_and_sobol_are_stratified():
    x = sample_unit_cube(64, 3, "lhs", rng=0)
    for j in range(3):
        assert np.array_equal(np.sort(np.floor(x[:, j] * 64)), np.arange(64))
    s = sample_unit_cube(256, 2, "sobol", rng=0)
    # scrambled Sobol (t, m, s)-net: every 1/16 x 1/16 cell holds exactly one point
    cells = np.floor(s * 16).astype(int)
    assert len({tuple(c) for c in cells}) == 256
    u = sample_unit_cube(256, 2, "uniform", rng=0)
    assert len({tuple(c) for c in np.floor(u * 16).astype(int)}) < 256


def test_rar_adds_points_where_residual_is_large():
    rng = np.random.default_rng(0)
    cand = rng.random((5000, 2))
    res = np.exp(-200 * ((cand[:, 0] - 0.7) ** 2 + (cand[:, 1] - 0.2) ** 2))  # peak at (0.7, 0.2)
    new = rar_select(cand, res, 20)
    assert new.shape == (20, 2)
    assert np.all(np.hypot(new[:, 0] - 0.7, new[:, 1] - 0.2) < 0.1)
    assert np.isclose(np.exp(-200 * ((new[0, 0] - 0.7) ** 2 + (new[0, 1] - 0.2) ** 2)), res.max())


def test_rad_density_follows_residual():
    rng = np.random.default_rng(1)
    cand = rng.random((20000, 1))
    res = (cand[:, 0] > 0.5).astype(float)  # residual only on the right half
    new = rad_sample(cand, res, 4000, k=1.0, c=0.0, rng=2)
    assert np.all(new[:, 0] > 0.5)
    mixed = rad_sample(cand, res, 4000, k=1.0, c=1.0, rng=3)
    # p ∝ r/mean(r) + c: right half weight 2 + 1, left half weight 1 -> 3/4 on the right
    assert abs((mixed[:, 0] > 0.5).mean() - 0.75) < 0.03


def test_bad_arguments():
    with pytest.raises(ValueError, match="method"):
        sample_unit_cube(4, 2, "halton")
    with pytest.raises(ValueError, match="exceeds"):
        rar_select(np.zeros((3, 1)), np.zeros(3), 4)
    with pytest.raises(ValueError, match="one value"):
        rad_sample(np.zeros((3, 1)), np.zeros(4), 1)
    with pytest.raises(TypeError, match="rng"):
        sample_unit_cube(4, 2, rng="seed")
