"""CarbonBench (Benson et al. 2024): the published store schema, its reader and CF export, the
statistics stores, and a synthetic generator that writes the same schema from the classical
CO2 model of :mod:`sciml.solvers.atmosphere`.

* :mod:`.schema`: variable names / units / CF names, splits, paths (the layout);
* :mod:`.reader`: :class:`CarbonBenchStore`, :func:`open_carbonbench`, :func:`to_cf_dataset`;
* :mod:`.stats`: the ``_stats`` stores;
* :mod:`.generator`: :func:`generate_carbonbench` (the library entry point of
  ``sciml generate carbonbench``), :func:`generate_tiny_carbonbench`.

Examples
--------
>>> import tempfile
>>> root = tempfile.mkdtemp()
>>> _ = generate_tiny_carbonbench(root, days=1)
>>> len(open_carbonbench(root, "test"))
4
"""
from ...solvers.atmosphere import SyntheticAtmosphere
from .generator import _Simulator, generate_carbonbench, generate_tiny_carbonbench, parse_splits, parse_years
from .reader import CarbonBenchStore, open_carbonbench, to_cf_dataset
from .schema import (MASSMIX_TO_PPM, PGC_PER_KG_CO2, PUBLISHED_SPLITS, STANDARD_NAMES, UNITS, VARIABLES_2D,
                     VARIABLES_3D, _days_in_year, _seconds_since_2000, default_splits, stats_path, store_path)
from .stats import compute_stats, write_stats

__all__ = [
    "VARIABLES_3D", "VARIABLES_2D", "UNITS", "STANDARD_NAMES", "PUBLISHED_SPLITS", "MASSMIX_TO_PPM",
    "PGC_PER_KG_CO2", "CarbonBenchStore", "open_carbonbench", "store_path", "stats_path",
    "generate_carbonbench", "generate_tiny_carbonbench", "default_splits",
    "to_cf_dataset", "SyntheticAtmosphere", "parse_years", "parse_splits", "compute_stats", "write_stats",
]
_private = (_Simulator, _days_in_year, _seconds_since_2000)  # used by tests and benchmarks
