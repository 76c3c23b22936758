"""Recipe ``landau``: random initial velocity distributions and their Landau evolution (blob method).

Sample ``i`` draws its initial distribution from ``sample_rng(seed, i)``:

* ``bkw``: the BKW density at a random start time ``t0 ~ U[t0_min, t0_min + 2]``;
* ``bimaxwellian``: a centred anisotropic Maxwellian with random per-axis temperatures,
  rescaled so that ``E|v|^2 = d``;
* ``two_bump``: two Maxwellians at ``+-u`` (random direction, ``|u| ~ U[0.8, 1.6]``) with
  random weights and temperature, centred and rescaled to ``E|v|^2 = d``;
* ``mixed``: one of the three, uniformly.

The distribution is discretised on a grid of ``particles^d`` blob particles in ``[-L, L]^d``
(weights ``h^d f0``), evolved by :func:`sciml.solvers.landau.blob_method` (Maxwell or general
gamma) and the blob reconstruction is stored on a ``grid^d`` velocity grid at ``n_times``
equally spaced times in ``[0, t_end]``. Field ``f``: ``(N, T, 1, grid, grid[, grid])`` with axes
``(sample, time, channel, vy, vx)`` (``vz, vy, vx`` in 3D), the last axis fastest like every
stored field.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from ..solvers.landau import bkw_density, bkw_min_time, blob_density, blob_eps, blob_method, check_time, velocity_grid
from .recipes import FieldSpec, Layout, Param, Recipe, register_recipe, sample_rng

INITS = ("bkw", "bimaxwellian", "two_bump", "mixed")


def _validate(p: dict) -> dict:
    check_time(p["t_end"], p["dt"])  # step budget (MAX_STEPS) before any work
    steps = p["t_end"] / p["dt"]
    if abs(steps - round(steps)) > 1e-9 * max(1.0, steps):
        raise ValueError(f"t_end={p['t_end']} must be an integer multiple of dt={p['dt']}")
    if p["n_times"] > 1:
        out_steps = round(steps) / (p["n_times"] - 1)
        if abs(out_steps - round(out_steps)) > 1e-9:
            raise ValueError(f"n_times-1={p['n_times'] - 1} must divide the number of steps {round(steps)}")
    if p["gamma"] < 0 and p["delta"] == 0:
        raise ValueError("delta must be > 0 for gamma < 0 (regularised Coulomb-type kernel)")
    return p


def _times(p):
    return np.linspace(0.0, p["t_end"], p["n_times"]) if p["n_times"] > 1 else np.array([p["t_end"]])


def _work(p: dict) -> float:
    """Bytes per sample: the particles' pairwise terms and the grid's work arrays."""
    return 8.0 * p["dim"] * 48 * p["particles"] ** p["dim"] + 8.0 * 4 * p["grid"] ** p["dim"]


def _layout(p: dict) -> Layout:
    _, axis, _ = velocity_grid(p["grid"], p["L"], p["dim"])
    names = ("vz", "vy", "vx")[3 - p["dim"]:]  # last axis fastest: (vy, vx) / (vz, vy, vx)
    t = _times(p)
    return Layout(
        fields={"f": FieldSpec(shape=(len(t), 1) + (p["grid"],) * p["dim"], dims=("time", "channel") + names,
                               units="1", long_name="velocity distribution function (blob reconstruction)")},
        coords={"time": (("time",), t, "1"), **{n: ((n,), axis.numpy().copy(), "1") for n in names}},
    )


def _maxwellian(v, mean, temp):
    """Maxwellian density with per-axis temperatures ``temp`` (scalar or (d,)) at ``v`` (M, d)."""
    temp = np.broadcast_to(np.asarray(temp, dtype=float), (v.shape[-1],))
    return np.exp(-(((v - mean) ** 2) / (2 * temp)).sum(-1)) / np.prod(np.sqrt(2 * np.pi * temp))


def initial_density(p: dict, seed: int, index: int):
    """``(f0, description)``: the initial density of sample ``index`` as a callable ``v (M, d) -> (M,)``."""
    rng = sample_rng(seed, index)
    d = p["dim"]
    kind = p["init"] if p["init"] != "mixed" else ("bkw", "bimaxwellian", "two_bump")[rng.integers(3)]
    if kind == "bkw":
        t0 = bkw_min_time(d, p["C"]) + 2.0 * rng.random()
        return (lambda v: bkw_density(v, t0, d, p["C"])), f"bkw t0={t0:.4f}"
    if kind == "bimaxwellian":
        temp = rng.uniform(0.4, 1.6, size=d)
        temp *= d / temp.sum()
        return (lambda v: _maxwellian(v, 0.0, temp)), f"bimaxwellian T={np.round(temp, 4).tolist()}"
    direction = rng.standard_normal(d)
    direction /= np.linalg.norm(direction)
    u = rng.uniform(0.8, 1.6) * direction
    a = rng.uniform(0.3, 0.7)
    # centred mixture: a m1 + (1 - a) m2 = 0
    m1, m2 = (1 - a) * u, -a * u
    spread = a * (m1 ** 2).sum() + (1 - a) * (m2 ** 2).sum()
    temp = (d - spread) / d            # E|v|^2 = spread + d temp = d
    if temp <= 0.05:
        scale = math.sqrt(d * 0.5 / spread)
        m1, m2, temp = m1 * scale, m2 * scale, 0.5
    return (lambda v: a * _maxwellian(v, m1, temp) + (1 - a) * _maxwellian(v, m2, temp)), \
        f"two_bump a={a:.3f} u={np.round(u, 3).tolist()} T={temp:.3f}"


def _chunk(p: dict, seed: int, indices) -> dict:
    d = p["dim"]
    x, axis, h = velocity_grid(p["particles"], p["L"], d)
    xq, _, _ = velocity_grid(p["grid"], p["L"], d)
    ws = []
    for i in indices:
        f0, _ = initial_density(p, seed, i)
        w = torch.as_tensor(f0(x.numpy())) * h ** d
        ws.append(w / w.sum())
    wb = torch.stack(ws)
    vb = x.expand(len(indices), -1, -1).clone()
    times = _times(p)
    eps = blob_eps(h)
    save = [float(t) for t in times if t > 0]
    snaps = {}
    if save:
        _, info = blob_method(vb, wb, p["t_end"], p["dt"], eps=eps, quad_axis=axis, gamma=p["gamma"], C=p["C"],
                              delta=p["delta"], save_times=save, diagnostics_every=max(1, round(p["t_end"] / p["dt"])))
        snaps = info["snapshots"]
    out = np.empty((len(indices), len(times), 1) + (p["grid"],) * d)
    for k, t in enumerate(times):
        v = vb if t == 0 else snaps[float(t)]
        f = blob_density(v, wb, xq, eps).reshape((len(indices),) + (p["grid"],) * d).numpy()
        out[:, k, 0] = f.transpose(0, *range(d, 0, -1))  # grid points are (vx, vy[, vz]) in C order
    return {"f": out}


LANDAU = register_recipe(Recipe(
    name="landau",
    params={
        "dim": Param(2, int, "velocity dimension", choices=(2, 3)),
        "particles": Param(24, int, "blob particles per axis (particles^dim in all)", min=4),
        "grid": Param(32, int, "stored velocity grid points per axis", min=4),
        "L": Param(4.0, float, "half-width of the velocity box [-L, L]^dim", min=0, min_open=True),
        "t_end": Param(1.0, float, "final time (an integer multiple of dt)", min=0, min_open=True),
        "dt": Param(0.05, float, "RK4 time step", min=0, min_open=True),
        "n_times": Param(5, int, "stored times, equally spaced in [0, t_end]", min=1),
        "init": Param("mixed", str, "initial distribution family", choices=INITS),
        "gamma": Param(0.0, float, "collision kernel exponent |v|^(gamma+2) (0: Maxwell molecules)", min=-3, max=1),
        "delta": Param(0.0, float, "kernel regularisation (needed for gamma < 0)", min=0),
        "C": Param(1.0 / 16, float, "collision constant", min=0, min_open=True),
    },
    validate=_validate,
    work_bytes=_work,
    layout=_layout,
    solve_chunk=_chunk,
    chunk=4,
    description="spatially homogeneous Landau equation: random initial distributions (BKW, bi-Maxwellian, two bumps) "
                "evolved by the blob particle method, densities on a velocity grid",
))
