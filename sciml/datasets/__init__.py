"""Dataset recipes, the HDF5 store, generation (serial / process pool / Dask) and readers."""
from .generate import GenerationError, estimate_bytes, generate
from .recipes import FieldSpec, Layout, Recipe, get_recipe, list_recipes, register_recipe, sample_rng
from .store import StoredDataset, describe, open_dataset, save_dataset

__all__ = ["generate", "estimate_bytes", "GenerationError", "open_dataset", "save_dataset", "describe", "StoredDataset", "FieldSpec", "Layout", "Recipe",
           "get_recipe", "list_recipes", "register_recipe", "sample_rng"]
