"""Leaderboard tasks: which data (recipe, parameters, split), which fields, which recipe of training.

A :class:`Task` names everything needed to reproduce a row of the leaderboard: the
generation recipe and parameters, the train/test sizes (the FNO convention: the first
``n_train`` samples train, the last ``n_test`` test), the input/output fields, the
default model configurations and the default training settings, and the published
figures to compare against.
"""
from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Task", "TASKS", "get_task", "register_task"]


@dataclass(frozen=True)
class Task:
    """One benchmark task (see the module docstring)."""

    name: str
    recipe: str
    params: dict
    n_train: int
    n_test: int
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    description: str
    train: dict = field(default_factory=dict)
    models: dict = field(default_factory=dict)
    t_in: int | None = None
    t_out: int | None = None
    reference: dict = field(default_factory=dict)
    seed: int = 0

    @property
    def n_total(self) -> int:
        return self.n_train + self.n_test

    def data_filename(self) -> str:
        return f"{self.name}_n{self.n_total}_seed{self.seed}.h5"


TASKS: dict[str, Task] = {}


def register_task(task: Task) -> Task:
    if not isinstance(task, Task):
        raise TypeError(f"task must be a Task, got {type(task).__name__}")
    TASKS[task.name] = task
    return task


def get_task(name: str) -> Task:
    if name not in TASKS:
        raise ValueError(f"task must be one of {', '.join(sorted(TASKS))}; got {name!r}")
    return TASKS[name]


# The public FNO recipe: 4 Fourier layers, 12 modes per sign, width 32, Adam(W) lr 1e-3 with
# weight decay 1e-4, halved every 100 of 500 epochs, batch 20; inputs and outputs normalised
# pointwise; ~10 % domain padding for the non-periodic Darcy problem.
register_task(Task(
    name="darcy85",
    recipe="darcy",
    params={"resolution": 421, "subsample": 5},
    n_train=1000, n_test=200,
    inputs=("a",), outputs=("u",),
    description="Darcy flow a -> u, FNO recipe solved at 421^2, stored at 85^2 ([::5]); 1000 train / 200 test",
    train={"epochs": 500, "batch_size": 20, "lr": 1e-3, "weight_decay": 1e-4, "scheduler": "step",
           "step_size": 100, "gamma": 0.5},
    models={"fno": {"modes": 12, "width": 32, "layers": 4, "domain_padding": "auto"},
            "tfno": {"modes": 12, "width": 32, "layers": 4, "domain_padding": "auto"}},
    reference={"FNO (Li et al. 2021)": 0.0108, "FNO (public code, GELU + padding)": 0.0076,
               "PCANN": 0.030, "FCN": 0.0253},
))

register_task(Task(
    name="ns-1e-3",
    recipe="ns2d",
    params={"viscosity": 1e-3, "T": 50},
    n_train=1000, n_test=200,
    inputs=("w",), outputs=("w",),
    t_in=10, t_out=40,
    description="2D Navier-Stokes vorticity on the torus, nu = 1e-3, T = 50 at 64^2: 10 frames in, 40 out (rollout)",
    train={"epochs": 500, "batch_size": 20, "lr": 1e-3, "weight_decay": 1e-4, "scheduler": "step",
           "step_size": 100, "gamma": 0.5},
    models={"fno": {"modes": 12, "width": 20, "layers": 4, "positional_embedding": "periodic-grid"}},
    reference={"FNO-3D (Li et al. 2021)": 0.0086, "FNO-2D (Li et al. 2021)": 0.0128, "U-Net": 0.0245},
))

register_task(Task(
    name="burgers",
    recipe="burgers",
    params={},
    n_train=1000, n_test=200,
    inputs=("u0",), outputs=("u",),
    description="1D viscous Burgers u(x, 0) -> u(x, 1) on the torus (FNO setting, nu = 0.1)",
    train={"epochs": 500, "batch_size": 20, "lr": 1e-3, "weight_decay": 1e-4, "scheduler": "step",
           "step_size": 100, "gamma": 0.5},
    models={"fno": {"modes": 16, "width": 64, "layers": 4, "positional_embedding": "periodic-grid"}},
    reference={"FNO (Li et al. 2021, s = 1024)": 0.0016},
))
