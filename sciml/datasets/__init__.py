"""Dataset recipes, the HDF5 store, generation (serial / process pool / Dask) and readers."""
from .recipes import FieldSpec, Layout, Recipe, get_recipe, list_recipes, register_recipe, sample_rng

__all__ = ["FieldSpec", "Layout", "Recipe", "get_recipe", "list_recipes", "register_recipe", "sample_rng"]
