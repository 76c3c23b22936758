"""Seeded Gaussian random fields on the unit square (Neumann) and the periodic torus.

Both samplers follow the recipes the FNO data were made with, so fields drawn
here have the statistics of the published datasets:

* :func:`grf_neumann_square` — covariance ``tau^(2 alpha - 2) (-Laplace + tau^2 I)^(-alpha)``
  with zero-Neumann boundary conditions, sampled by an orthonormal inverse DCT of
  scaled white noise (the Darcy coefficient recipe: ``alpha = 2, tau = 3``).
* :func:`grf_torus` — covariance ``sigma^2 (-Laplace + tau^2 I)^(-alpha)`` on
  ``[0, 1)^d`` with zero mean, sampled by an inverse FFT (the Navier-Stokes
  initial vorticity: ``alpha = 2.5, tau = 7, sigma = 7^(3/2)``; Burgers:
  ``alpha = 2, tau = 5, sigma = 25``).
"""
from __future__ import annotations

import numpy as np
import scipy.fft

__all__ = ["grf_neumann_square", "grf_torus", "as_generator"]


def as_generator(rng) -> np.random.Generator:
    """``rng`` as a numpy Generator: a Generator passes through, an int or None seeds a new one."""
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or isinstance(rng, (int, np.integer)):
        return np.random.default_rng(rng)
    raise TypeError(f"rng must be a numpy Generator, an int seed or None, got {type(rng).__name__}")


def _check_positive(name, value):
    if not np.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")


def _check_resolution(n, minimum=2):
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < minimum:
        raise ValueError(f"resolution must be an integer >= {minimum}, got {n!r}")


def grf_neumann_square(resolution: int, *, alpha: float = 2.0, tau: float = 3.0, batch: int | None = None,
                       rng=None) -> np.ndarray:
    """Gaussian random field on the unit square with zero-Neumann boundary conditions.

    Cosine-series coefficients ``xi_k ~ N(0, 1)`` are scaled by
    ``s tau^(alpha-1) (pi^2 |k|^2 + tau^2)^(-alpha/2)`` (``s`` the resolution),
    the constant mode is removed, and an orthonormal 2D inverse DCT-II maps them
    to ``resolution x resolution`` grid values (docs/references.md#darcy-flow).

    Parameters
    ----------
    resolution : int
        Grid points per side, ``>= 2``.
    alpha, tau : float, optional
        Smoothness exponent and inverse length scale of the covariance (positive).
    batch : int, optional
        Number of independent fields; ``None`` returns a single field.
    rng : numpy.random.Generator or int or None, optional
        Random generator, or a seed for a new one.

    Returns
    -------
    numpy.ndarray
        ``(resolution, resolution)``, or ``(batch, resolution, resolution)`` when ``batch``
        is given; dimensionless, float64, zero mean over the grid.

    Examples
    --------
    >>> g = grf_neumann_square(64, rng=0)
    >>> g.shape, g.dtype
    ((64, 64), dtype('float64'))
    >>> a = np.where(g >= 0, 12.0, 3.0)   # the Darcy coefficient of the FNO recipe
    >>> grf_neumann_square(8, batch=2, rng=0).shape
    (2, 8, 8)
    """
    _check_resolution(resolution)
    _check_positive("alpha", alpha)
    _check_positive("tau", tau)
    rng = as_generator(rng)
    shape = (resolution, resolution) if batch is None else (int(batch), resolution, resolution)
    k = np.arange(resolution)
    k2 = k[:, None] ** 2 + k[None, :] ** 2
    coef = tau ** (alpha - 1) * (np.pi ** 2 * k2 + tau ** 2) ** (-alpha / 2)
    coef = resolution * coef
    coef[0, 0] = 0.0
    xi = rng.standard_normal(shape)
    return scipy.fft.idctn(coef * xi, type=2, norm="ortho", axes=(-2, -1))


def grf_torus(resolution: int, *, dim: int = 2, alpha: float = 2.5, tau: float = 7.0, sigma: float | None = None,
              batch: int | None = None, rng=None) -> np.ndarray:
    """Zero-mean Gaussian random field on the periodic unit torus ``[0, 1)^dim``.

    Fourier coefficients of complex white noise are scaled by
    ``resolution^dim sigma (4 pi^2 |k|^2 + tau^2)^(-alpha/2)`` (mean mode zero) and
    the real part of the inverse FFT is returned (docs/references.md#navier-stokes).

    Parameters
    ----------
    resolution : int
        Grid points per axis, ``>= 2``.
    dim : {1, 2, 3}, optional
        Number of spatial dimensions.
    alpha, tau : float, optional
        Smoothness exponent and inverse length scale of the covariance (positive).
    sigma : float, optional
        Amplitude; defaults to ``tau^((2 alpha - dim)/2)`` as in the FNO data scripts.
    batch : int, optional
        Number of independent fields; ``None`` returns a single field.
    rng : numpy.random.Generator or int or None, optional
        Random generator, or a seed for a new one.

    Returns
    -------
    numpy.ndarray
        ``(resolution,)*dim`` or ``(batch, *(resolution,)*dim)``, float64.

    Examples
    --------
    >>> w0 = grf_torus(32, batch=4, rng=1)   # Navier-Stokes initial vorticity
    >>> w0.shape
    (4, 32, 32)
    >>> bool(np.abs(w0.mean(axis=(1, 2))).max() < 1e-12)
    True
    >>> grf_torus(128, dim=1, alpha=2.0, tau=5.0, sigma=25.0, rng=0).shape   # Burgers u0
    (128,)
    """
    _check_resolution(resolution)
    if dim not in (1, 2, 3):
        raise ValueError(f"dim must be 1, 2 or 3, got {dim!r}")
    _check_positive("alpha", alpha)
    _check_positive("tau", tau)
    if sigma is None:
        sigma = tau ** (0.5 * (2 * alpha - dim))
    _check_positive("sigma", sigma)
    rng = as_generator(rng)
    k = np.fft.fftfreq(resolution, d=1.0 / resolution)
    grids = np.meshgrid(*([k] * dim), indexing="ij")
    k2 = sum(g ** 2 for g in grids)
    sqrt_eig = resolution ** dim * sigma * (4 * np.pi ** 2 * k2 + tau ** 2) ** (-alpha / 2)
    sqrt_eig.flat[0] = 0.0
    shape = (resolution,) * dim if batch is None else (int(batch),) + (resolution,) * dim
    xi = rng.standard_normal(shape) + 1j * rng.standard_normal(shape)
    axes = tuple(range(-dim, 0))
    return np.fft.ifftn(sqrt_eig * xi, axes=axes).real
