"""Former home of the FNO ``.mat`` / neuraloperator ``.pt`` readers: see :mod:`sciml.datasets.interop.fno`."""
from .interop.fno import read_fno_darcy, read_fno_navier_stokes, read_mat, read_neuraloperator_pt

__all__ = ["read_mat", "read_fno_darcy", "read_neuraloperator_pt", "read_fno_navier_stokes"]
