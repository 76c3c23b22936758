"""Imports the modules that define the built-in recipes (each calls register_recipe).

Recipe definitions live in ``sciml/datasets/recipes_<family>.py`` so that solvers
never import dataset code (data flows solvers -> datasets, never back).
"""
from . import (
    recipes_elliptic,  # noqa: F401  darcy, poisson, heat, helmholtz
    recipes_landau,  # noqa: F401  landau
    recipes_spectral,  # noqa: F401  ns2d, burgers, burgers-raissi
)
