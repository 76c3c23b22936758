"""Spatially homogeneous Landau equation: kernel, BKW exact solution, particle methods.

The equation (velocity ``v`` in R^d, d = 2 or 3)::

    f_t = div_v  integral A(v - w) (f(w) grad f(v) - f(v) grad f(w)) dw,
    A(z) = C |z|^gamma (|z|^2 I - z z^T),

with Maxwell molecules ``gamma = 0`` and Coulomb ``gamma = -3`` (regularised as
``(|z|^2 + delta^2)^(gamma/2)`` so that ``A(z) z = 0`` and ``A = A^T`` still hold).

Contents (all batched torch, CPU or CUDA, keeping the caller's dtype; numpy inputs
become float64 tensors):

* :func:`landau_kernel`, :func:`landau_velocity` (the particle velocity field
  ``U_i = -sum_j w_j A(v_i - v_j)(g_i - g_j)``, O(N^2) in row chunks);
* :func:`bkw_density`, :func:`bkw_score`, :func:`bkw_K`, :func:`sample_bkw` (exact BKW
  solution for Maxwell molecules);
* :func:`landau_operator_grid` (collocation Landau operator of a density on a grid,
  FFT convolutions; used to verify the kernel against BKW);
* :func:`blob_method` (deterministic regularised particle method of Carrillo, Hu,
  Wang & Wu 2020) and :func:`~sciml.pinns.score_method.score_method` (score-based particle method of Huang &
  Wang 2024, which trains a network: it lives in :mod:`sciml.pinns`, importable from here too);
* :func:`kde_density`, :func:`blob_density`, :func:`moments`, :func:`grid_entropy`,
  :func:`relative_l2` (reconstruction and diagnostics).

Units: dimensionless velocity; densities integrate to one (mass), BKW has
``E|v|^2 = d``.
"""
from __future__ import annotations

from .bkw import bkw_density, bkw_dfdt, bkw_K, bkw_min_time, bkw_score, sample_bkw
from .blob import MAX_STEPS, blob_entropy, blob_eps, blob_method, check_time
from .diagnostics import blob_density, grid_entropy, kde_bandwidth, kde_density, moments, relative_l2
from .kernel import landau_kernel, landau_operator_grid, landau_velocity, velocity_grid
from .score import implicit_score_matching_loss

__all__ = [
    "landau_kernel", "landau_velocity", "bkw_K", "bkw_density", "bkw_score", "bkw_dfdt", "bkw_min_time",
    "sample_bkw", "velocity_grid", "landau_operator_grid", "blob_method", "blob_density", "blob_entropy",
    "blob_eps", "score_method", "implicit_score_matching_loss", "kde_density", "kde_bandwidth",  # noqa: F822
    "moments", "grid_entropy", "relative_l2", "check_time", "MAX_STEPS",
]


def __getattr__(name):
    # learned models live outside solvers/: the score network is sciml.pinns.networks.ScoreMLP (an MLP)
    # and the score-based particle method, which trains it, sciml.pinns.score_method; imported
    # lazily (pinns imports this module)
    if name == "ScoreMLP":
        from ...pinns.networks import ScoreMLP

        return ScoreMLP
    if name == "score_method":
        from ...pinns.score_method import score_method

        return score_method
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
