"""Recipes for the spectral solvers: 2D Navier-Stokes (``ns2d``) and 1D Burgers (``burgers``,
``burgers-raissi``), with the FNO parameters.

Batch independence: a chunk of samples is solved as one batch, but every sample advances with its
own CFL-adaptive step sequence (computed from that sample alone) and, on CPU, every transform acts
on one sample at a time; so a stored sample does not depend on its chunk-mates, the chunk size or
the executor (bit-identical on CPU, tested). On CUDA the FFTs are batched and a sample agrees with
its lone solve to round-off; the store's fixed chunks keep any executor bit-identical there too.

``ns2d`` solves with ETDRK4 and the adaptive step by default (accurate to ~1e-8 relative, measured in
``benchmarks/ns_generation.py``); ``--scheme imex-euler --dt 1e-4`` runs the FNO generator's own
scheme to regenerate the published data (then ~50x more expensive). The stored field ``w`` holds
the initial vorticity at ``t = 0`` followed by the frames every ``record_dt``, stored
``(time, channel, y, x)`` like every field (the solver's arrays are ``(x, y)``: transposed here).
"""
from __future__ import annotations

import numpy as np
import torch

from ..random_fields import grf_torus
from ..solvers.burgers import Burgers1D, burgers_exact, burgers_grid
from ..solvers.navier_stokes import CFL_LIMITS, SCHEMES, NavierStokes2D
from .recipes import FieldSpec, Layout, Param, Recipe, register_recipe, sample_rng

#: FNO horizons by viscosity (Li et al. 2021): nu = 1e-3 -> T = 50, 1e-4 -> 30, 1e-5 -> 20.
NS_DEFAULT_T = {1e-3: 50.0, 1e-4: 30.0, 1e-5: 20.0}


def _solver_params(max_dt: float) -> dict:
    """Time-stepping parameters shared by ns2d and burgers."""
    return {
        "scheme": Param("etdrk4", str, "time integrator", choices=SCHEMES),
        "dt": Param(None, float, "fixed time step (default: CFL-adaptive)", min=0, min_open=True, optional=True),
        "cfl": Param(None, float, "CFL number of the adaptive step (default: the scheme's)", min=0, min_open=True,
                     optional=True),
        "max_dt": Param(max_dt, float, "largest adaptive step", min=0, min_open=True),
        "device": Param("cpu", str, "cpu, cuda, cuda:N or auto"),
        "dtype": Param("float64", str, "solver precision", choices=("float64", "float32")),
    }


def _device(p):
    d = p["device"]
    if d == "auto":
        return "auto"
    if d not in ("cpu", "cuda") and not (isinstance(d, str) and d.startswith("cuda:")):
        raise ValueError(f"device must be 'cpu', 'cuda', 'cuda:N' or 'auto', got {d!r}")
    if d.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device {d!r} requested but no CUDA device is available (torch.cuda.is_available() is False)")
    return d


def _resolve_device(d):
    if d == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return d


def _common_solver_params(p):
    if p["cfl"] is not None and p["cfl"] > CFL_LIMITS[p["scheme"]]:
        raise ValueError(f"cfl must be <= {CFL_LIMITS[p['scheme']]} for scheme {p['scheme']!r}, got {p['cfl']!r}")
    p["device"] = _device(p)


# ---------------------------------------------------------------------------------------------------
# ns2d
# ---------------------------------------------------------------------------------------------------
def _validate_ns(p: dict) -> dict:
    if p["resolution"] % 2:
        raise ValueError(f"resolution must be even, got {p['resolution']}")
    if p["resolution"] % p["store_resolution"]:
        raise ValueError(f"store_resolution must divide resolution {p['resolution']}, got {p['store_resolution']}")
    if p["T"] is None:
        p["T"] = NS_DEFAULT_T.get(p["viscosity"], 50.0)
    k = p["T"] / p["record_dt"]
    if abs(k - round(k)) > 1e-9 * max(1.0, k) or round(k) < 1:
        raise ValueError(f"T ({p['T']}) must be a positive multiple of record_dt ({p['record_dt']})")
    _common_solver_params(p)
    # build the solver once: catches bad combinations before any sample is drawn
    NavierStokes2D(p["resolution"], p["viscosity"], None, scheme=p["scheme"], dt=p["dt"], cfl=p["cfl"],
                   max_dt=p["max_dt"]).check_steps(p["T"])
    return p


def _ns_times(p):
    k = int(round(p["T"] / p["record_dt"]))
    return np.arange(k + 1) * p["record_dt"]


def _ns_work(p: dict) -> float:
    """Bytes per sample: complex spectra of the ETDRK4 stages and coefficients."""
    return 16.0 * 48 * p["resolution"] ** 2


def _ns_layout(p: dict) -> Layout:
    s = p["store_resolution"]
    t = _ns_times(p)
    x = np.arange(s) / s
    return Layout(
        fields={"w": FieldSpec(shape=(t.size, 1, s, s), dims=("time", "channel", "y", "x"), units="1",
                               long_name="vorticity w = v_x - u_y (dimensionless, unit torus)")},
        coords={"time": (("time",), t, "1"), "y": (("y",), x.copy(), "1"), "x": (("x",), x, "1")},
    )


def ns_initial_vorticity(p: dict, seed: int, index: int) -> np.ndarray:
    """Initial vorticity of sample ``index`` at the solve resolution, ``(n, n)``: a zero-mean GRF with
    covariance ``7^3 (-Laplace + 49 I)^-2.5`` drawn from ``sample_rng(seed, index)``."""
    return grf_torus(p["resolution"], alpha=2.5, tau=7.0, rng=sample_rng(seed, index))


def _ns_chunk(p: dict, seed: int, indices) -> dict:
    dtype = torch.float64 if p["dtype"] == "float64" else torch.float32
    solver = NavierStokes2D(p["resolution"], p["viscosity"], "fno" if p["forcing"] == "fno" else None,
                            scheme=p["scheme"], dt=p["dt"], cfl=p["cfl"], max_dt=p["max_dt"],
                            device=_resolve_device(p["device"]), dtype=dtype)
    w0 = torch.tensor(np.stack([ns_initial_vorticity(p, seed, i) for i in indices]), dtype=dtype,
                      device=solver.device)
    out = solver.solve(w0, _ns_times(p))
    sub = p["resolution"] // p["store_resolution"]
    w = out[:, :, ::sub, ::sub].double().cpu().numpy()  # the solver's axes are (x, y)
    return {"w": np.ascontiguousarray(w.swapaxes(-1, -2))[:, :, None]}


NS2D = register_recipe(Recipe(
    name="ns2d",
    params={
        "viscosity": Param(1e-3, float, "kinematic viscosity nu", min=0, min_open=True),
        "T": Param(None, float, "final time (default: 50/30/20 for nu = 1e-3/1e-4/1e-5, else 50)", min=0,
                   min_open=True, optional=True),
        "record_dt": Param(1.0, float, "time between stored frames", min=0, min_open=True),
        "resolution": Param(256, int, "solve grid points per side (even)", min=8),
        "store_resolution": Param(64, int, "stored grid points per side (divides resolution)", min=4),
        "forcing": Param("fno", str, "forcing term: FNO's 0.1(sin 2pi(x+y) + cos 2pi(x+y)) or none",
                         choices=("fno", "none")),
        **_solver_params(0.05),
    },
    validate=_validate_ns,
    work_bytes=_ns_work,
    layout=_ns_layout,
    solve_chunk=_ns_chunk,
    chunk=8,
    description="2D Navier-Stokes vorticity on the unit torus, FNO forcing and GRF w0 (FNO recipe); "
                "T = 50/30/20 for nu = 1e-3/1e-4/1e-5",
))


# ---------------------------------------------------------------------------------------------------
# burgers (FNO setting)
# ---------------------------------------------------------------------------------------------------
def _validate_burgers(p: dict) -> dict:
    if p["resolution"] % 2:
        raise ValueError(f"resolution must be even, got {p['resolution']}")
    if p["resolution"] % p["subsample"] or p["resolution"] // p["subsample"] < 4:
        raise ValueError(
            f"subsample must divide resolution {p['resolution']} leaving >= 4 points, got {p['subsample']}"
        )
    _common_solver_params(p)
    Burgers1D(p["resolution"], p["viscosity"], scheme=p["scheme"], dt=p["dt"], cfl=p["cfl"],
              max_dt=p["max_dt"]).check_steps(p["T"])
    return p


def _burgers_times(p):
    if p["n_times"] is None:
        return np.array([p["T"]])
    return np.arange(1, p["n_times"] + 1) * (p["T"] / p["n_times"])


def _burgers_work(p: dict) -> float:
    """Bytes per sample: complex spectra of the stages, and the stored times."""
    return 16.0 * 48 * p["resolution"] * (1 + (p["n_times"] or 1))


def _burgers_layout(p: dict) -> Layout:
    x = burgers_grid(p["resolution"])[:: p["subsample"]]
    s = x.size
    fields = {"u0": FieldSpec(shape=(1, s), dims=("channel", "x"), units="1", long_name="initial velocity u(x, 0)")}
    coords = {"x": (("x",), x, "1")}
    if p["n_times"] is None:
        fields["u"] = FieldSpec(shape=(1, s), dims=("channel", "x"), units="1",
                                long_name=f"velocity u(x, T), T = {p['T']:g}")
    else:
        t = _burgers_times(p)
        fields["u"] = FieldSpec(
            shape=(t.size, 1, s), dims=("time", "channel", "x"), units="1", long_name="velocity u(x, t)"
        )
        coords["time"] = (("time",), t, "1")
    return Layout(fields=fields, coords=coords)


def burgers_initial_condition(p: dict, seed: int, index: int) -> np.ndarray:
    """``u0`` of sample ``index`` at the solve resolution, ``(n,)``: GRF ``N(0, sigma^2 (-Laplace + tau^2 I)^-alpha)``
    (FNO: ``625 (-Laplace + 25 I)^-2``) from ``sample_rng(seed, index)``."""
    return grf_torus(p["resolution"], dim=1, alpha=p["alpha"], tau=p["tau"], sigma=p["sigma"],
                     rng=sample_rng(seed, index))


def _burgers_chunk(p: dict, seed: int, indices) -> dict:
    dtype = torch.float64 if p["dtype"] == "float64" else torch.float32
    solver = Burgers1D(p["resolution"], p["viscosity"], scheme=p["scheme"], dt=p["dt"], cfl=p["cfl"],
                       max_dt=p["max_dt"], device=_resolve_device(p["device"]), dtype=dtype)
    u0 = np.stack([burgers_initial_condition(p, seed, i) for i in indices])
    out = solver.solve(torch.tensor(u0, dtype=dtype, device=solver.device), _burgers_times(p))
    sub = p["subsample"]
    u = out[..., ::sub].double().cpu().numpy()  # (B, T, s)
    res = {"u0": u0[:, None, ::sub]}
    res["u"] = u[:, 0, None] if p["n_times"] is None else u[:, :, None]
    return res


BURGERS = register_recipe(Recipe(
    name="burgers",
    params={
        "viscosity": Param(0.1, float, "viscosity nu", min=0, min_open=True),
        "resolution": Param(8192, int, "solve grid points (even)", min=8),
        "subsample": Param(8, int, "store every subsample-th point (divides resolution)", min=1),
        "T": Param(1.0, float, "final time", min=0, min_open=True),
        "n_times": Param(None, int, "store a trajectory of n_times frames up to T (default: u(x, T) only)",
                         min=1, optional=True),
        "alpha": Param(2.0, float, "GRF exponent of u0 ~ N(0, sigma^2 (-Laplace + tau^2)^-alpha)", min=0,
                       min_open=True),
        "tau": Param(5.0, float, "GRF inverse length scale", min=0, min_open=True),
        "sigma": Param(25.0, float, "GRF amplitude", min=0, min_open=True),
        **_solver_params(0.01),
    },
    validate=_validate_burgers,
    work_bytes=_burgers_work,
    layout=_burgers_layout,
    solve_chunk=_burgers_chunk,
    chunk=16,
    description="1D viscous Burgers on the periodic unit interval, GRF u0 ~ N(0, 625(-Laplace+25)^-2), nu = 0.1 "
                "(FNO recipe); u(x, T) or a trajectory (n_times)",
))


# ---------------------------------------------------------------------------------------------------
# burgers-raissi (exact Cole-Hopf solution; deterministic)
# ---------------------------------------------------------------------------------------------------
def _validate_raissi(p: dict) -> dict:
    return p


def _raissi_grid(p):
    return np.linspace(-1.0, 1.0, p["n_x"]), np.linspace(0.0, p["T"], p["n_t"])


def _raissi_work(p: dict) -> float:
    """Bytes per sample: the space-time solution and its work arrays."""
    return 8.0 * 8 * p["n_x"] * p["n_t"]


def _raissi_layout(p: dict) -> Layout:
    x, t = _raissi_grid(p)
    return Layout(
        fields={"u": FieldSpec(shape=(t.size, 1, x.size), dims=("time", "channel", "x"), units="1",
                               long_name="exact Burgers solution, u0 = -sin(pi x), u(+-1, t) = 0 (Cole-Hopf)")},
        coords={"time": (("time",), t, "1"), "x": (("x",), x, "1")},
    )


def _raissi_chunk(p: dict, seed: int, indices) -> dict:
    x, t = _raissi_grid(p)
    u = burgers_exact(x[None, :], t[:, None], p["viscosity"])
    return {"u": np.broadcast_to(u[None, :, None], (len(indices),) + u[:, None].shape).copy()}


BURGERS_RAISSI = register_recipe(Recipe(
    name="burgers-raissi",
    params={
        "viscosity": Param(0.01 / np.pi, float, "viscosity nu", min=0, min_open=True),
        "n_x": Param(256, int, "grid points on [-1, 1]", min=3),
        "n_t": Param(100, int, "time points on [0, T]", min=2),
        "T": Param(1.0, float, "final time", min=0, min_open=True),
    },
    validate=_validate_raissi,
    work_bytes=_raissi_work,
    layout=_raissi_layout,
    solve_chunk=_raissi_chunk,
    chunk=1,
    description="Burgers on [-1, 1], u0 = -sin(pi x), Dirichlet zero, nu = 0.01/pi: the exact Cole-Hopf solution on "
                "the Raissi et al. grid (deterministic: every sample is the same; use --n 1)",
))
