import math

import pytest
import torch

from sciml.pinns.networks import MLP


def test_shapes_dtype_and_seed():
    a = MLP(3, 2, 8, 2, dtype=torch.float64, seed=1)
    b = MLP(3, 2, 8, 2, dtype=torch.float64, seed=1)
    x = torch.rand(5, 3, dtype=torch.float64)
    assert a(x).shape == (5, 2) and a(x).dtype == torch.float64
    torch.testing.assert_close(a(x), b(x))
    assert sum(p.numel() for p in a.parameters()) == 3 * 8 + 8 + 8 * 8 + 8 + 8 * 2 + 2


def test_periodic_embedding_is_exactly_periodic():
    m = MLP(2, 1, 16, 2, periodic={0: 2 * math.pi}, periodic_modes=3, dtype=torch.float64, seed=0)
    x = torch.rand(10, 2, dtype=torch.float64)
    shifted = x.clone()
    shifted[:, 0] += 2 * math.pi
    torch.testing.assert_close(m(x), m(shifted), atol=1e-13, rtol=0)


def test_fourier_features_and_normalisation():
    m = MLP(2, 1, 8, 2, fourier_features=16, fourier_scale=2.0, lower=[0, 0], upper=[4, 4], seed=0)
    assert m.embed(torch.rand(3, 2)).shape == (3, 32)
    assert m.fourier_B.shape == (16, 2)


def test_bad_arguments():
    with pytest.raises(ValueError, match="activation"):
        MLP(2, 1, activation="swishy")
    with pytest.raises(ValueError, match="dtype"):
        MLP(2, 1, dtype=torch.float16)
    with pytest.raises(ValueError, match="lower"):
        MLP(2, 1, lower=[0, 0])
    with pytest.raises(ValueError, match="input must have shape"):
        MLP(2, 1)(torch.rand(3, 3))
