"""Data in the formats of other projects: The Well, PDEBench, and the FNO/neuraloperator files.

* :mod:`.well`: write a sciml store as a Well dataset (``data/{train,valid,test}/*.hdf5``);
  :mod:`.well_read`: read Well files into the store layout;
* :mod:`.pdebench`: write and read PDEBench's HDF5 layouts;
* :mod:`.fno`: read the FNO paper's ``.mat`` files and neuraloperator's ``.pt`` datasets.

neuraloperator model checkpoints are in :mod:`sciml.operators.neuraloperator`.
"""
from .fno import read_fno_darcy, read_fno_navier_stokes, read_mat, read_neuraloperator_pt
from .formats import detect_format
from .pdebench import export_pdebench, import_pdebench, read_pdebench
from .well import export_well, write_well_file
from .well_read import import_well, read_well

__all__ = ["export_well", "write_well_file", "read_well", "import_well", "export_pdebench", "read_pdebench",
           "import_pdebench", "detect_format",
           "read_mat", "read_fno_darcy", "read_fno_navier_stokes", "read_neuraloperator_pt"]
