"""Recipes for elliptic problems: Darcy flow (FNO recipe), Poisson, heat and Helmholtz (SKR families).

Every recipe solves a chunk of samples together with
:func:`sciml.solvers.krylov.solve_sequence` by default (``solver="auto"``: sorted,
routed to the fastest exact method, recycled); ``solver=`` picks another method.
"""
from __future__ import annotations

import numpy as np

from ..random_fields import grf_neumann_square
from ..solvers.elliptic import (
    assemble_darcy,
    assemble_heat_step,
    assemble_helmholtz,
    assemble_poisson,
    darcy_coefficient,
    darcy_grid,
    interior_to_grid,
    solve_darcy,
)
from ..solvers.krylov import solve_sequence
from .recipes import FieldSpec, Layout, Param, Recipe, register_recipe, sample_rng

# "auto" (default): the whole chunk through solve_sequence; the others solve sample by sample
DARCY_SOLVERS = ("auto", "amg", "direct", "cg")
# solve_sequence methods offered by the poisson / heat / helmholtz recipes
SEQUENCE_SOLVERS = ("auto", "direct", "amg", "recycled_cg", "gcrodr")


def _grf_params(**overrides) -> dict:
    """The GRF / solver parameters every elliptic recipe shares."""
    out = {
        "resolution": Param(101, int, "grid nodes per side of (0,1)^2 (boundary included)", min=8),
        "alpha": Param(2.0, float, "GRF smoothness exponent of (-Laplace + tau^2)^-alpha", min=0, min_open=True),
        "tau": Param(3.0, float, "GRF inverse length scale", min=0, min_open=True),
        "solver": Param("auto", str, "linear solver (auto: the chunk through solve_sequence)",
                        choices=SEQUENCE_SOLVERS),
        "rtol": Param(1e-10, float, "relative residual tolerance of iterative solvers (< 1)", min=0,
                      min_open=True),
    }
    out.update(overrides)
    return out


def _grid_work(p) -> float:
    # sparse matrix (5 entries per row), AMG hierarchy or factorisation fill, Krylov vectors
    return 600.0 * p["resolution"] ** 2


def _check_rtol(p):
    if p["rtol"] >= 1:
        raise ValueError(f"rtol must be < 1, got {p['rtol']!r}")


def _validate_darcy(p: dict) -> dict:
    stored = len(range(0, p["resolution"], p["subsample"]))
    if stored < 4:
        raise ValueError(
            f"resolution {p['resolution']} with subsample {p['subsample']} stores only {stored} points per side; "
            "need >= 4"
        )
    _check_rtol(p)
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


def _solve_checked(systems, p, method):
    """solve_sequence on a chunk; a sample that misses the tolerance is an error, never stored."""
    xs, stats = solve_sequence(systems, method=method, rtol=p["rtol"])
    bad = np.flatnonzero(stats.info > 0)
    if bad.size:
        raise RuntimeError(f"{bad.size} system(s) of the chunk did not reach rtol={p['rtol']:g} "
                           f"(worst true residual {stats.residual.max():.2e})")
    return xs


def _darcy_chunk(p: dict, seed: int, indices) -> dict:
    sub = p["subsample"]
    a_out, u_out = [], []
    if p["solver"] == "auto":
        fields = [darcy_inputs(p, seed, i) for i in indices]
        systems = [(*assemble_darcy(a, p["f"], mean=p["mean"]), a) for a in fields]
        xs = _solve_checked(systems, p, "auto")
        for a, x in zip(fields, xs):
            u = interior_to_grid(x, a.shape[0])
            a_out.append(a[::sub, ::sub][None])
            u_out.append(u[::sub, ::sub][None])
        return {"a": np.stack(a_out), "u": np.stack(u_out)}
    for i in indices:
        a = darcy_inputs(p, seed, i)
        u = solve_darcy(a, p["f"], mean=p["mean"], solver=p["solver"], rtol=p["rtol"])
        a_out.append(a[::sub, ::sub][None])
        u_out.append(u[::sub, ::sub][None])
    return {"a": np.stack(a_out), "u": np.stack(u_out)}


DARCY = register_recipe(
    Recipe(
        name="darcy",
        params=_grf_params(
            resolution=Param(421, int, "solve grid nodes per side of (0,1)^2 (boundary included)", min=8),
            subsample=Param(5, int, "store every subsample-th node (421 / 5 -> 85 x 85)", min=1),
            high=Param(12.0, float, "coefficient where the GRF is >= 0", min=0, min_open=True),
            low=Param(3.0, float, "coefficient where the GRF is < 0", min=0, min_open=True),
            f=Param(1.0, float, "constant source term", min=0, min_open=True),
            mean=Param("harmonic", str, "face average of the coefficient", choices=("harmonic", "arithmetic")),
            solver=Param("auto", str, "linear solver (auto: the chunk through solve_sequence)", choices=DARCY_SOLVERS),
        ),
        validate=_validate_darcy,
        work_bytes=_grid_work,
        layout=_darcy_layout,
        solve_chunk=_darcy_chunk,
        chunk=16,
        description="Darcy flow -div(a grad u) = 1 on (0,1)^2, u = 0 on the boundary; "
        "a = 12/3 from a Neumann GRF (FNO recipe)",
    )
)


# ---------------------------------------------------------------------------
# Poisson / heat / Helmholtz (the problem families of the SKR study)
# ---------------------------------------------------------------------------
def _node_layout(p: dict, fields: dict) -> Layout:
    x = darcy_grid(p["resolution"])
    s = x.size
    return Layout(
        fields={name: FieldSpec(shape=(1, s, s), dims=("channel", "y", "x"), units=u, long_name=ln)
                for name, (u, ln) in fields.items()},
        coords={"x": (("x",), x, "1"), "y": (("y",), x.copy(), "1")},
    )


def _validate_common(p: dict) -> dict:
    _check_rtol(p)
    return p


def _grf(p, rng):
    return grf_neumann_square(p["resolution"], alpha=p["alpha"], tau=p["tau"], rng=rng)


# -- poisson: -Laplace u = f, u = g on the boundary; one shared matrix
def poisson_inputs(p: dict, seed: int, index: int):
    """Source ``f`` and boundary data ``g`` (only its boundary values matter) of sample ``index``, ``(s, s)`` each."""
    rng = sample_rng(seed, index)
    return _grf(p, rng), p["boundary_scale"] * _grf(p, rng)


def _poisson_layout(p: dict) -> Layout:
    return _node_layout(p, {"f": ("1", "source of -Laplace u = f"),
                            "g": ("1", "Dirichlet boundary data (zero in the interior)"),
                            "u": ("1", "solution of -Laplace u = f, u = g on the boundary")})


def _validate_poisson(p: dict) -> dict:
    return _validate_common(p)


def _poisson_chunk(p: dict, seed: int, indices) -> dict:
    inputs = [poisson_inputs(p, seed, i) for i in indices]
    systems = [(*assemble_poisson(f, g), np.concatenate([f.ravel(), g.ravel()])) for f, g in inputs]
    xs = _solve_checked(systems, p, p["solver"])
    f_out, g_out, u_out = [], [], []
    for (f, g), x in zip(inputs, xs):
        u = interior_to_grid(x, f.shape[0])
        border = np.ones_like(u, dtype=bool)
        border[1:-1, 1:-1] = False
        u[border] = g[border]
        f_out.append(f[None])
        g_out.append(np.where(border, g, 0.0)[None])
        u_out.append(u[None])
    return {"f": np.stack(f_out), "g": np.stack(g_out), "u": np.stack(u_out)}


POISSON = register_recipe(Recipe(
    name="poisson",
    params=_grf_params(boundary_scale=Param(0.1, float, "amplitude of the GRF boundary data")),
    validate=_validate_poisson,
    work_bytes=_grid_work,
    layout=_poisson_layout,
    solve_chunk=_poisson_chunk,
    chunk=32,
    description="Poisson -Laplace u = f on (0,1)^2, u = g on the boundary; GRF source and boundary data "
                "(shared matrix: one factorisation per chunk)",
))


# -- heat: backward Euler steps of u_t = div(kappa grad u), varying conductivity
def heat_inputs(p: dict, seed: int, index: int):
    """Conductivity ``kappa = exp(sigma g1)`` and initial state ``u0 = g2`` (zero boundary), ``(s, s)`` each."""
    rng = sample_rng(seed, index)
    kappa = np.exp(p["sigma"] * _grf(p, rng))
    u0 = _grf(p, rng)
    u0[0, :] = u0[-1, :] = u0[:, 0] = u0[:, -1] = 0.0
    return kappa, u0


def _heat_layout(p: dict) -> Layout:
    return _node_layout(p, {"kappa": ("1", "thermal conductivity"),
                            "u0": ("1", "initial temperature"),
                            "u": ("1", "temperature after `steps` backward-Euler steps of length dt")})


def _validate_heat(p: dict) -> dict:
    return _validate_common(p)


def _heat_chunk(p: dict, seed: int, indices) -> dict:
    inputs = [heat_inputs(p, seed, i) for i in indices]
    s = p["resolution"]
    u = [u0.copy() for _k, u0 in inputs]
    for _step in range(p["steps"]):
        systems = [(*assemble_heat_step(kappa, ui, p["dt"]), kappa) for (kappa, _u0), ui in zip(inputs, u)]
        xs = _solve_checked(systems, p, p["solver"])
        u = [interior_to_grid(x, s) for x in xs]
    return {"kappa": np.stack([k[None] for k, _ in inputs]), "u0": np.stack([u0[None] for _, u0 in inputs]),
            "u": np.stack([ui[None] for ui in u])}


HEAT = register_recipe(Recipe(
    name="heat",
    params=_grf_params(sigma=Param(1.0, float, "log-conductivity amplitude: kappa = exp(sigma g)", min=0,
                                   min_open=True),
                       dt=Param(1e-3, float, "backward-Euler step length", min=0, min_open=True),
                       steps=Param(10, int, "number of backward-Euler steps", min=1)),
    validate=_validate_heat,
    work_bytes=_grid_work,
    layout=_heat_layout,
    solve_chunk=_heat_chunk,
    chunk=16,
    description="Heat equation u_t = div(kappa grad u), u = 0 on the boundary, backward Euler; "
                "lognormal GRF conductivity and GRF initial state",
))


# -- helmholtz: -Laplace u - k(x)^2 u = f, indefinite
def helmholtz_inputs(p: dict, seed: int, index: int):
    """Wavenumber ``k = k0 (1 + dk tanh(g))`` and a Gaussian point-like source ``f``, ``(s, s)`` each."""
    rng = sample_rng(seed, index)
    k = p["k0"] * (1.0 + p["dk"] * np.tanh(_grf(p, rng)))
    x = darcy_grid(p["resolution"])
    X, Y = np.meshgrid(x, x, indexing="xy")
    cx, cy = rng.uniform(0.2, 0.8, size=2)
    w = p["source_width"]
    f = np.exp(-((X - cx) ** 2 + (Y - cy) ** 2) / (2 * w * w)) / (2 * np.pi * w * w)
    return k, f


def _helmholtz_layout(p: dict) -> Layout:
    return _node_layout(p, {"k": ("1", "wavenumber"), "f": ("1", "source"),
                            "u": ("1", "solution of -Laplace u - k^2 u = f, u = 0 on the boundary")})


def _validate_helmholtz(p: dict) -> dict:
    p = _validate_common(p)
    if not (0 <= p["dk"] < 1):
        raise ValueError(f"dk must be in [0, 1), got {p['dk']!r}")
    h = 1.0 / (p["resolution"] - 1)
    if p["k0"] * (1 + p["dk"]) * h > 0.7:
        raise ValueError(f"k0={p['k0']} is under-resolved at resolution {p['resolution']}: "
                         f"need k h <= 0.7 (about 10 points per wavelength)")
    return p


def _helmholtz_chunk(p: dict, seed: int, indices) -> dict:
    inputs = [helmholtz_inputs(p, seed, i) for i in indices]
    systems = [(*assemble_helmholtz(k, f), k) for k, f in inputs]
    xs = _solve_checked(systems, p, p["solver"])
    s = p["resolution"]
    return {"k": np.stack([k[None] for k, _ in inputs]), "f": np.stack([f[None] for _, f in inputs]),
            "u": np.stack([interior_to_grid(x, s)[None] for x in xs])}


HELMHOLTZ = register_recipe(Recipe(
    name="helmholtz",
    params=_grf_params(k0=Param(20.0, float, "mean wavenumber", min=0, min_open=True),
                       dk=Param(0.25, float, "relative wavenumber modulation, k = k0 (1 + dk tanh(g))", min=0, max=1),
                       source_width=Param(0.03, float, "standard deviation of the Gaussian source", min=0,
                                          min_open=True)),
    validate=_validate_helmholtz,
    work_bytes=_grid_work,
    layout=_helmholtz_layout,
    solve_chunk=_helmholtz_chunk,
    chunk=16,
    description="Helmholtz -Laplace u - k(x)^2 u = f (indefinite), u = 0 on the boundary; "
                "GRF-modulated wavenumber, Gaussian source",
))
