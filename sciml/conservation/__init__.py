"""Conservation layer for learned transport emulators.

- :mod:`~sciml.conservation.centering`: ``normalize``, ``denormalize``, ``center``, ``uncenter``;
- :mod:`~sciml.conservation.increments`: ``EmulatorStats``, ``compute_stats``, ``to_increment``, ``apply_increment``;
- :mod:`~sciml.conservation.fixers`: ``scale_fixer``, ``shift_fixer``, ``add_surface_flux``, ``global_mass``,
  ``local_bounds``, ``clip_to_bounds``, ``bounded_fixer`` (no new extrema, bounded free runs);
- :mod:`~sciml.conservation.flux_head`: ``FluxFormHead``, ``flux_divergence``, ``limit_outflow``, ``apply_face_fluxes``;
- :mod:`~sciml.conservation.emulator`: ``ConservativeEmulator``.
"""
from .centering import center, denormalize, normalize, uncenter
from .emulator import ConservativeEmulator
from .fixers import (
                     add_surface_flux,
                     bounded_fixer,
                     clip_to_bounds,
                     global_mass,
                     local_bounds,
                     scale_fixer,
                     shift_fixer,
                     tracer_mass,
)
from .flux_head import FluxFormHead, apply_face_fluxes, flux_divergence, limit_outflow, split_face_fluxes
from .increments import EmulatorStats, apply_increment, compute_stats, to_increment

__all__ = [
    "center", "uncenter", "normalize", "denormalize",
    "EmulatorStats", "compute_stats", "to_increment", "apply_increment",
    "scale_fixer", "shift_fixer", "add_surface_flux", "global_mass", "tracer_mass", "local_bounds", "clip_to_bounds",
    "bounded_fixer",
    "FluxFormHead", "flux_divergence", "limit_outflow", "apply_face_fluxes", "split_face_fluxes",
    "ConservativeEmulator",
]
