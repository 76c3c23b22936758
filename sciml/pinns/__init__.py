"""Physics-informed neural networks: geometry, sampling, residuals, training, Lagrangian PINNs.

Notebook entry points: :func:`sciml.pinns.problems.burgers` (and ``convection``,
``allen_cahn``, ``poisson_lshape``) return a ready :class:`~sciml.pinns.problems.PINNProblem`
with ``.train()``, ``.relative_l2()`` and ``.plot()``.
"""
from .conditions import HardDirichlet, HardInitial, dirichlet, initial_condition, neumann, pde_residual, periodic
from .darcy import DarcyResidualLoss, darcy_residual
from .derivatives import (
                         divergence,
                         func_gradient,
                         func_hessian,
                         func_laplacian,
                         gradient,
                         jet,
                         laplacian,
                         partial,
                         pointwise,
)
from .geometry import Difference, Disk, Geometry, GeometryXTime, Interval, Polygon, Rectangle, TimeDomain, Union
from .lagrangian import LagrangianPINN
from .networks import MLP
from .sampling import rad_sample, rar_select, sample_box, sample_unit_cube
from .training import CausalWeighting, LossTerm, PINNTrainer, TrainResult, resampling_callback, train_pinn

__all__ = [
    "HardDirichlet", "HardInitial", "dirichlet", "initial_condition", "neumann", "pde_residual", "periodic",
    "DarcyResidualLoss", "darcy_residual",
    "divergence", "func_gradient", "func_hessian", "func_laplacian", "gradient", "jet", "laplacian", "partial",
    "pointwise",
    "Difference", "Disk", "Geometry", "GeometryXTime", "Interval", "Polygon", "Rectangle", "TimeDomain", "Union",
    "LagrangianPINN", "MLP",
    "rad_sample", "rar_select", "sample_box", "sample_unit_cube",
    "CausalWeighting", "LossTerm", "PINNTrainer", "TrainResult", "resampling_callback", "train_pinn",
]
