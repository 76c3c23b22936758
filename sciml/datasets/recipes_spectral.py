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
from .recipes import FieldSpec, Layout, Recipe, register_recipe, sample_rng

#: FNO horizons by viscosity (Li et al. 2021): nu = 1e-3 -> T = 50, 1e-4 -> 30, 1e-5 -> 20.
NS_DEFAULT_T = {1e-3: 50.0, 1e-4: 30.0, 1e-5: 20.0}


def _number(p, name, *, positive=True, optional=False):
    v = p[name]
    if v is None and optional:
        return None
    if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)) or not np.isfinite(v):
        raise ValueError(f"{name} must be a finite number, got {v!r}")
    if positive and v <= 0:
        raise ValueError(f"{name} must be positive, got {v!r}")
    return float(v)


def _integer(p, name, minimum=1, optional=False):
    v = p[name]
    if v is None and optional:
        return None
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {v!r}")
    return int(v)


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
    if p["scheme"] not in SCHEMES:
        raise ValueError(f"scheme must be one of {SCHEMES}, got {p['scheme']!r}")
    p["dt"] = _number(p, "dt", optional=True)
    p["cfl"] = _number(p, "cfl", optional=True)
    if p["cfl"] is not None and p["cfl"] > CFL_LIMITS[p["scheme"]]:
        raise ValueError(f"cfl must be <= {CFL_LIMITS[p['scheme']]} for scheme {p['scheme']!r}, got {p['cfl']!r}")
    p["max_dt"] = _number(p, "max_dt")
    p["device"] = _device(p)
    if p["dtype"] not in ("float64", "float32"):
        raise ValueError(f"dtype must be 'float64' or 'float32', got {p['dtype']!r}")


# ---------------------------------------------------------------------------------------------------
# ns2d
# ---------------------------------------------------------------------------------------------------
def _validate_ns(p: dict) -> dict:
    p["viscosity"] = _number(p, "viscosity")
    p["resolution"] = _integer(p, "resolution", minimum=8)
    if p["resolution"] % 2:
        raise ValueError(f"resolution must be even, got {p['resolution']}")
    p["store_resolution"] = _integer(p, "store_resolution", minimum=4)
    if p["resolution"] % p["store_resolution"]:
        raise ValueError(f"store_resolution must divide resolution {p['resolution']}, got {p['store_resolution']}")
    if p["T"] is None:
        p["T"] = NS_DEFAULT_T.get(p["viscosity"], 50.0)
    p["T"] = _number(p, "T")
    p["record_dt"] = _number(p, "record_dt")
    k = p["T"] / p["record_dt"]
    if abs(k - round(k)) > 1e-9 * max(1.0, k) or round(k) < 1:
        raise ValueError(f"T ({p['T']}) must be a positive multiple of record_dt ({p['record_dt']})")
    if p["forcing"] not in ("fno", "none"):
        raise ValueError(f"forcing must be 'fno' or 'none', got {p['forcing']!r}")
    _common_solver_params(p)
    # build the solver once: catches bad combinations before any sample is drawn
    NavierStokes2D(p["resolution"], p["viscosity"], None, scheme=p["scheme"], dt=p["dt"], cfl=p["cfl"],
                   max_dt=p["max_dt"])
    return p


def _ns_times(p):
    k = int(round(p["T"] / p["record_dt"]))
    return np.arange(k + 1) * p["record_dt"]


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
    defaults={"viscosity": 1e-3, "T": None, "record_dt": 1.0, "resolution": 256, "store_resolution": 64,
              "forcing": "fno", "scheme": "etdrk4", "dt": None, "cfl": None, "max_dt": 0.05, "device": "cpu",
              "dtype": "float64"},
    validate=_validate_ns,
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
    p["viscosity"] = _number(p, "viscosity")
    p["resolution"] = _integer(p, "resolution", minimum=8)
    if p["resolution"] % 2:
        raise ValueError(f"resolution must be even, got {p['resolution']}")
    p["subsample"] = _integer(p, "subsample")
    if p["resolution"] % p["subsample"] or p["resolution"] // p["subsample"] < 4:
        raise ValueError(f"subsample must divide resolution {p['resolution']} leaving >= 4 points, got {p['subsample']}")
    p["T"] = _number(p, "T")
    p["n_times"] = _integer(p, "n_times", optional=True)
    for name in ("alpha", "tau", "sigma"):
        p[name] = _number(p, name)
    _common_solver_params(p)
    Burgers1D(p["resolution"], p["viscosity"], scheme=p["scheme"], dt=p["dt"], cfl=p["cfl"], max_dt=p["max_dt"])
    return p


def _burgers_times(p):
    if p["n_times"] is None:
        return np.array([p["T"]])
    return np.arange(1, p["n_times"] + 1) * (p["T"] / p["n_times"])


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
        fields["u"] = FieldSpec(shape=(t.size, 1, s), dims=("time", "channel", "x"), units="1", long_name="velocity u(x, t)")
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
    defaults={"viscosity": 0.1, "resolution": 8192, "subsample": 8, "T": 1.0, "n_times": None, "alpha": 2.0,
              "tau": 5.0, "sigma": 25.0, "scheme": "etdrk4", "dt": None, "cfl": None, "max_dt": 0.01,
              "device": "cpu", "dtype": "float64"},
    validate=_validate_burgers,
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
    p["viscosity"] = _number(p, "viscosity")
    p["n_x"] = _integer(p, "n_x", minimum=3)
    p["n_t"] = _integer(p, "n_t", minimum=2)
    p["T"] = _number(p, "T")
    return p


def _raissi_grid(p):
    return np.linspace(-1.0, 1.0, p["n_x"]), np.linspace(0.0, p["T"], p["n_t"])


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
    defaults={"viscosity": 0.01 / np.pi, "n_x": 256, "n_t": 100, "T": 1.0},
    validate=_validate_raissi,
    layout=_raissi_layout,
    solve_chunk=_raissi_chunk,
    chunk=1,
    description="Burgers on [-1, 1], u0 = -sin(pi x), Dirichlet zero, nu = 0.01/pi: the exact Cole-Hopf solution on "
                "the Raissi et al. grid (deterministic: every sample is the same; use --n 1)",
))
