"""Training: function-space losses, metrics, the Trainer, rollouts and checkpoints.

``LpLoss``/``H1Loss`` (relative norms with quadrature), ``metrics`` (relative L2, nRMSE,
VRMSE...), ``Trainer`` (AdamW + schedulers, clipping, AMP on CUDA, NaN guard,
checkpoints, exact resume, DDP under torchrun), ``RolloutModel``/``SpaceTimeModel``/``rollout_errors``
and ``TrajectoryWindows`` for trajectories, checkpoint I/O (weights + JSON config, no pickled modules) and
``quick_train`` (the demo's one-minute FNO run); CarbonBench emulator training in :mod:`~sciml.training.emulator`.
"""
from .checkpoint import load_checkpoint, load_model, model_from_spec, model_spec, save_checkpoint
from .loop import Loop, NonFiniteLossError, NonFiniteMetricError
from .losses import H1Loss, LpLoss
from .metrics import max_error, mse, nrmse, relative_l2, rmse, vrmse
from .rollout import RolloutModel, SpaceTimeModel, TrajectoryWindows, rollout, rollout_errors
from .trainer import Trainer
from .wrappers import NormalizedModel

__all__ = [
    "LpLoss",
    "H1Loss",
    "relative_l2",
    "mse",
    "rmse",
    "nrmse",
    "vrmse",
    "max_error",
    "Trainer",
    "NonFiniteLossError",
    "NonFiniteMetricError",
    "Loop",
    "RolloutModel",
    "SpaceTimeModel",
    "TrajectoryWindows",
    "rollout",
    "rollout_errors",
    "NormalizedModel",
    "save_checkpoint",
    "load_checkpoint",
    "load_model",
    "model_spec",
    "model_from_spec",
    "quick_train",
]


def __getattr__(name):
    if name == "quick_train":  # imports the operators and matplotlib only when asked for
        from .quick import quick_train

        return quick_train
    raise AttributeError(f"module 'sciml.training' has no attribute {name!r}")
