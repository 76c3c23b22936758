"""Landau particle methods on the BKW solution: the driver behind ``sciml landau`` and ``benchmarks/landau.py``.

:func:`run_bkw` starts from the BKW
density at ``t0`` (2D: ``t0 = 0``; 3D: ``t0 = 2``, where the 3D BKW density is positive), runs the
method to ``t0 + t_end`` and compares the reconstructed density with the exact one on a grid.
"""
from __future__ import annotations

import math
import time

import numpy as np
import torch

__all__ = ["run_bkw", "METHODS", "T0", "BOX", "DEFAULT_DT"]

METHODS = ("blob", "score", "pinn-pm")
T0 = {2: 0.0, 3: 2.0}
BOX = {2: 4.0, 3: 4.5}
#: default time steps: blob RK4, score forward Euler (PINN-PM has no time stepping)
DEFAULT_DT = {"blob": 0.05, "score": 0.01}


def _side(particles: int, dim: int) -> int:
    n = int(round(particles ** (1.0 / dim)))
    return max(n, 2)


def run_bkw(method: str, dim: int = 2, particles: int = 1024, t_end: float = 1.0, *, dt: float | None = None,
            iters: int = 1500, seed: int = 0, eval_n: int | None = None, times=None, progress: bool = False,
            device=None) -> dict:
    """Run ``method`` on the BKW problem and return a result dict.

    particles: total count; grid-based initialisations (blob, pinn-pm) use ``round(particles^(1/d))^d``
    particles on ``[-L, L]^d`` with weights ``h^d f0``; the score method uses i.i.d. BKW samples.
    dt: time step (blob: RK4, default 0.05; score: forward Euler, default 0.01). iters: PINN-PM
    training iterations. times: extra evaluation times (after ``t0``) for the error table.
    Returns ``method, dim, n_particles, t0, t_final, axis, density, exact, initial, error``
    (relative L2 at ``t_final``), ``errors`` {t: error}, ``history``, ``wall_time`` (s), ``extra``.
    """
    from ..solvers.landau import (
        bkw_density,
        bkw_score,
        blob_density,
        blob_eps,
        blob_method,
        kde_density,
        moments,
        relative_l2,
        sample_bkw,
        score_method,
        velocity_grid,
    )

    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if dim not in (2, 3):
        raise ValueError(f"dim must be 2 or 3, got {dim!r}")
    if isinstance(particles, bool) or not isinstance(particles, int) or particles < 16:
        raise ValueError(f"particles must be an integer >= 16, got {particles!r}")
    if not (isinstance(t_end, (int, float)) and math.isfinite(t_end) and t_end > 0):
        raise ValueError(f"t_end must be a positive number, got {t_end!r}")
    t0, L = T0[dim], BOX[dim]
    eval_n = eval_n or (80 if dim == 2 else 32)
    xe, axis_e, he = velocity_grid(eval_n, L, dim, device=device)
    times = sorted({float(t_end), *(float(t) for t in (times or []))})
    f0 = lambda v: bkw_density(v, t0, dim)              # noqa: E731
    s0 = lambda v: bkw_score(v, t0, dim).clamp(-50, 50)  # noqa: E731  (singular at v = 0 in 2D at t0 = 0)
    extra = {}
    history = {}
    dens = {}
    start = time.perf_counter()
    if method in ("blob", "pinn-pm"):
        n = _side(particles, dim)
        x, axis, h = velocity_grid(n, L, dim, device=device)
        w = bkw_density(x, t0, dim) * h ** dim
        w = w / w.sum()
        n_part = x.shape[0]
    if method == "blob":
        dt = dt or DEFAULT_DT["blob"]
        eps = blob_eps(h)
        v, info = blob_method(x, w, max(times), dt, eps=eps, quad_axis=axis, save_times=times, progress=progress)
        for t in times:
            dens[t] = blob_density(info["snapshots"][t], w, xe, eps)
        history = {k: info[k].cpu().numpy() for k in ("t", "mass", "momentum", "energy", "entropy")}
        history["entropy_label"] = "regularised entropy"
        extra = {"energy_drift": info["energy_drift"], "momentum_drift": info["momentum_drift"], "dt": dt,
                 "eps": eps}
    elif method == "score":
        dt = dt or DEFAULT_DT["score"]
        v0 = torch.as_tensor(sample_bkw(particles, t0, dim, rng=seed), device=device)
        n_part = particles
        v, info = score_method(v0, None, max(times), dt, score0=s0, save_times=times, seed=seed, progress=progress)
        for t in times:
            dens[t] = kde_density(info["snapshots"][t], xe)
        history = {k: info[k].cpu().numpy() for k in ("t", "mass", "momentum", "energy")}
        history["entropy"] = info["score_loss"].cpu().numpy()
        history["entropy_label"] = "score-matching loss (-Fisher info.)"
        extra = {"energy_drift": info["energy_drift"], "momentum_drift": info["momentum_drift"], "dt": dt}
    else:
        from .landau import LandauPINNPM, train_pinn_pm

        model = LandauPINNPM(dim, max(times), v_max=L, seed=seed).to(device=device)
        model, info = train_pinn_pm(model, x, w, iters=iters, score0=s0, f0=f0, seed=seed, progress=progress)
        for t in times:
            dens[t] = model.density(t, xe, method="flow")
        tq = np.linspace(0, max(times), 11)
        mo = [moments(model.particles(t), model.w0) for t in tq]
        history = {"t": tq, "mass": np.array([float(m["mass"]) for m in mo]),
                   "momentum": np.stack([m["momentum"].cpu().numpy() for m in mo]),
                   "energy": np.array([float(m["energy"]) for m in mo])}
        cert = model.certificate(tq)
        history["entropy"] = np.array(cert["fisher_rel"])
        history["entropy_label"] = "certificate: rel. Fisher div. of s vs pushforward"
        E = history["energy"]
        extra = {"energy_drift": float(np.abs(E - E[0]).max() / E[0]),
                 "momentum_drift": float(np.abs(history["momentum"] - history["momentum"][0]).max()),
                 "certificate_fisher_rel": float(max(cert["fisher_rel"])), "certificate_ism": cert["ism"],
                 "loss_dyn": info["loss_dyn"][-1], "iters": iters,
                 "kde_error": relative_l2(model.density(max(times), xe, method="kde"),
                                          bkw_density(xe, t0 + max(times), dim))}
        extra["model"] = model
    wall = time.perf_counter() - start
    errors = {t: relative_l2(dens[t], bkw_density(xe, t0 + t, dim)) for t in times}
    shape = (eval_n,) * dim
    return {"method": method, "dim": dim, "n_particles": int(n_part), "t0": t0, "t_final": t0 + t_end,
            "axis": axis_e.cpu().numpy(), "density": dens[float(t_end)].reshape(shape).cpu().numpy(),
            "exact": bkw_density(xe, t0 + t_end, dim).reshape(shape).cpu().numpy(),
            "initial": bkw_density(xe, t0, dim).reshape(shape).cpu().numpy(),
            "error": errors[float(t_end)], "errors": errors, "history": history, "wall_time": wall, "extra": extra}
