import numpy as np
import pytest

from sciml.random_fields import grf_neumann_square, grf_torus


def test_neumann_grf_is_reproducible_and_mean_free():
    a = grf_neumann_square(32, rng=np.random.default_rng(3))
    b = grf_neumann_square(32, rng=np.random.default_rng(3))
    c = grf_neumann_square(32, rng=np.random.default_rng(4))
    assert np.array_equal(a, b) and not np.allclose(a, c)
    # The constant cosine mode is removed, so every sample has zero spatial mean.
    assert abs(a.mean()) < 1e-12


def test_neumann_grf_variance_matches_covariance():
    s, alpha, tau = 24, 2.0, 3.0
    x = grf_neumann_square(s, alpha=alpha, tau=tau, batch=3000, rng=np.random.default_rng(0))
    k = np.arange(s)
    coef = s * tau ** (alpha - 1) * (np.pi ** 2 * (k[:, None] ** 2 + k[None] ** 2) + tau ** 2) ** (-alpha / 2)
    coef[0, 0] = 0
    # Orthonormal DCT: the spatially averaged pointwise variance is sum(coef^2) / s^2.
    expected = (coef ** 2).sum() / s ** 2
    assert x.var(axis=0).mean() == pytest.approx(expected, rel=0.05)


def test_torus_grf_variance_matches_covariance():
    n, alpha, tau = 32, 2.5, 7.0
    sigma = tau ** 1.5
    x = grf_torus(n, alpha=alpha, tau=tau, batch=2000, rng=np.random.default_rng(1))
    k = np.fft.fftfreq(n, 1 / n)
    k2 = k[:, None] ** 2 + k[None] ** 2
    eig = sigma ** 2 * (4 * np.pi ** 2 * k2 + tau ** 2) ** (-alpha)
    eig[0, 0] = 0
    assert np.abs(x.mean(axis=(1, 2))).max() < 1e-10
    assert x.var(axis=0).mean() == pytest.approx(eig.sum(), rel=0.05)


@pytest.mark.parametrize("kwargs, match", [
    (dict(resolution=1), "resolution"), (dict(resolution=8, alpha=-1), "alpha"), (dict(resolution=8, tau=0), "tau"),
])
def test_grf_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        grf_neumann_square(**kwargs)


def test_torus_bad_dim_and_rng():
    with pytest.raises(ValueError, match="dim"):
        grf_torus(8, dim=4)
    with pytest.raises(TypeError, match="rng"):
        grf_torus(8, rng="seed")
