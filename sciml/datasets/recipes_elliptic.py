"""Recipes for elliptic problems: Darcy flow (FNO recipe)."""
from __future__ import annotations

import numpy as np

from ..solvers.elliptic import darcy_coefficient, darcy_grid, solve_darcy
from .recipes import FieldSpec, Layout, Recipe, register_recipe, sample_rng

DARCY_SOLVERS = ("amg", "direct", "cg")


def _positive_int(params, name, minimum=1):
    v = params[name]
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {v!r}")
    return int(v)


def _positive_float(params, name):
    v = params[name]
    if isinstance(v, bool) or not isinstance(v, (int, float, np.floating, np.integer)) or not np.isfinite(v) or v <= 0:
        raise ValueError(f"{name} must be a positive number, got {v!r}")
    return float(v)


def _validate_darcy(p: dict) -> dict:
    p["resolution"] = _positive_int(p, "resolution", minimum=8)
    p["subsample"] = _positive_int(p, "subsample")
    stored = len(range(0, p["resolution"], p["subsample"]))
    if stored < 4:
        raise ValueError(
            f"resolution {p['resolution']} with subsample {p['subsample']} stores only {stored} points per side; need >= 4")
    for name in ("alpha", "tau", "high", "low", "rtol", "f"):
        p[name] = _positive_float(p, name)
    if p["rtol"] >= 1:
        raise ValueError(f"rtol must be < 1, got {p['rtol']!r}")
    if p["mean"] not in ("harmonic", "arithmetic"):
        raise ValueError(f"mean must be 'harmonic' or 'arithmetic', got {p['mean']!r}")
    if p["solver"] not in DARCY_SOLVERS:
        raise ValueError(f"solver must be one of {DARCY_SOLVERS}, got {p['solver']!r}")
    return p


def _darcy_layout(p: dict) -> Layout:
    x = darcy_grid(p["resolution"])[:: p["subsample"]]
    s = x.size
    spec = dict(shape=(1, s, s), dims=("channel", "y", "x"))
    return Layout(
        fields={
            "a": FieldSpec(**spec, units="1", long_name="Darcy permeability coefficient"),
            "u": FieldSpec(**spec, units="1", long_name="Darcy pressure (solution of -div(a grad u) = f)"),
        },
        coords={"x": (("x",), x, "1"), "y": (("y",), x.copy(), "1")},
    )


def darcy_inputs(p: dict, seed: int, index: int) -> np.ndarray:
    """The coefficient field of sample ``index`` at the solve resolution, ``(s, s)``."""
    return darcy_coefficient(p["resolution"], sample_rng(seed, index), alpha=p["alpha"], tau=p["tau"],
                             high=p["high"], low=p["low"])


def _darcy_chunk(p: dict, seed: int, indices) -> dict:
    sub = p["subsample"]
    a_out, u_out = [], []
    for i in indices:
        a = darcy_inputs(p, seed, i)
        u = solve_darcy(a, p["f"], mean=p["mean"], solver=p["solver"], rtol=p["rtol"])
        a_out.append(a[::sub, ::sub][None])
        u_out.append(u[::sub, ::sub][None])
    return {"a": np.stack(a_out), "u": np.stack(u_out)}


DARCY = register_recipe(Recipe(
    name="darcy",
    defaults={"resolution": 421, "subsample": 5, "alpha": 2.0, "tau": 3.0, "high": 12.0, "low": 3.0,
              "f": 1.0, "mean": "harmonic", "solver": "amg", "rtol": 1e-10},
    validate=_validate_darcy,
    layout=_darcy_layout,
    solve_chunk=_darcy_chunk,
    chunk=8,
    description="Darcy flow -div(a grad u) = 1 on (0,1)^2, u = 0 on the boundary; a = 12/3 from a Neumann GRF (FNO recipe)",
))
