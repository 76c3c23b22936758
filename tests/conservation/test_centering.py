import numpy as np
import pytest
import torch

from sciml.conservation import (
    EmulatorStats,
    apply_increment,
    center,
    compute_stats,
    denormalize,
    normalize,
    to_increment,
    uncenter,
)


def test_center_roundtrip_and_zero_mean():
    x = torch.randn(3, 4, 5, 6, dtype=torch.float64) + 7
    xc, mean = center(x)
    assert xc.flatten(1).mean(1).abs().max() < 1e-14
    assert torch.allclose(uncenter(xc, mean), x, rtol=0, atol=1e-13)
    w = torch.rand(5, 6, dtype=torch.float64)
    xw, mw = center(x, w)
    assert (xw * w).flatten(1).sum(1).abs().max() < 1e-12
    # centring makes the input invariant to a global offset (the CO2 trend)
    assert torch.allclose(center(x + 3.0)[0], xc, atol=1e-13)


def test_normalize_roundtrip():
    x = torch.randn(2, 3, 4, 4, dtype=torch.float64)
    mean, std = np.array([1.0, 2.0, 3.0]), np.array([0.5, 2.0, 4.0])
    y = normalize(x, mean, std)
    assert torch.allclose(y[:, 1], (x[:, 1] - 2) / 2)
    assert torch.allclose(denormalize(y, mean, std), x)
    with pytest.raises(ValueError, match="std"):
        normalize(x, mean, -std)


def test_increment_stats_and_roundtrip():
    rng = np.random.default_rng(0)
    T, L = 20, 3
    q = np.cumsum(rng.normal(0.1, 0.5, (T, L, 4, 8)), axis=0) + 400
    stats = compute_stats(q, forcing=rng.normal(size=(T, 2, 4, 8)), air_mass=np.ones((T, L, 4, 8)))
    d = np.diff(q, axis=0)
    assert np.allclose(stats.diff_std, d.std(axis=(0, 2, 3)))
    assert np.allclose(stats.diff_mean, d.mean(axis=(0, 2, 3)))
    q0, q1 = torch.as_tensor(q[:-1]), torch.as_tensor(q[1:])
    y = to_increment(q0, q1, stats)
    # normalised increments have zero mean, unit std per level
    assert np.allclose(y.mean(dim=(0, 2, 3)).numpy(), 0, atol=1e-12)
    assert np.allclose(y.std(dim=(0, 2, 3), unbiased=False).numpy(), 1, atol=1e-12)
    assert torch.allclose(apply_increment(q0, y, stats), q1)
    assert EmulatorStats.from_dict(stats.to_dict()).n_forcing == 2
    with pytest.raises(ValueError, match="q"):
        compute_stats(q[:1])


def test_emulator_normalisation_is_the_one_normaliser_with_identical_numbers():
    import numpy as np
    import torch

    from sciml.conservation import compute_stats, normalize
    from sciml.datasets.loaders import UnitGaussianNormalizer

    rng = np.random.default_rng(0)
    stats = compute_stats(400 + rng.standard_normal((5, 3, 4, 6)))
    x = torch.as_tensor(400 + rng.standard_normal((2, 3, 4, 6)), dtype=torch.float32)
    norm = stats.normalizer("q")
    assert isinstance(norm, UnitGaussianNormalizer) and norm.mean.dtype == torch.float64
    by_hand = (x - torch.as_tensor(stats.q_mean, dtype=torch.float32).view(1, -1, 1, 1)) \
        / torch.as_tensor(stats.q_std, dtype=torch.float32).view(1, -1, 1, 1)
    assert torch.equal(norm.encode(x), by_hand) and torch.equal(normalize(x, stats.q_mean, stats.q_std), by_hand)
    assert torch.equal(norm.decode(norm.encode(x)), x * 0 + norm.decode(by_hand))
