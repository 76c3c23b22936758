"""sciml: classical PDE data generation, neural operators, PINNs and conservation-aware emulators.

Subpackages: ``sciml.solvers`` (classical solvers), ``sciml.datasets`` (recipes, store,
generation, loaders), ``sciml.operators`` (neural operators), ``sciml.pinns``,
``sciml.conservation``, ``sciml.training``, ``sciml.bench``, ``sciml.viz``.
Importing ``sciml`` is cheap; subpackages import their heavy dependencies themselves.
"""
__version__ = "0.1.0"

__all__ = ["__version__", "generate", "open_dataset"]


def __getattr__(name):
    # The two names a notebook wants first, without importing h5py/dask at `import sciml`.
    if name in ("generate", "open_dataset"):
        from . import datasets

        return getattr(datasets, name)
    raise AttributeError(f"module 'sciml' has no attribute {name!r}")
