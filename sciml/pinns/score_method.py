"""Score-based particle method for the Landau equation (Huang & Wang 2024).

At every time step a small network ``s(v) ~ grad log f`` (:func:`~sciml.pinns.networks.ScoreMLP`)
is fitted to the current particles by implicit score matching, and the particles move with the
Landau velocity of that score. It trains a network, so it lives here rather than in
:mod:`sciml.solvers` (which keeps the classical particle methods and the kernel); it is also
importable as ``sciml.solvers.landau.score_method``.
"""
from __future__ import annotations

import time as _time
from collections.abc import Callable, Sequence

import torch

from .._util.progress import progress as _bar
from ..solvers.landau import check_time, implicit_score_matching_loss, landau_velocity, moments
from ..solvers.landau._common import _as_tensor, _check_particles
from ..solvers.landau.blob import _energy_projection, _finish_info, _save_indices
from ..training.loop import Loop
from .networks import ScoreMLP

__all__ = ["score_method"]


def _fit_score(net, opt, v, w, iters, target=None, where=""):
    """``iters`` Adam steps of the score network on the loop core (its NaN guard)."""
    last = None
    with Loop(iters, "score fit", progress=False) as loop:
        for k in range(iters):
            opt.zero_grad(set_to_none=True)
            if target is not None:
                loss = ((w / w.sum()) * ((net(v) - target) ** 2).sum(-1)).sum()
            else:
                loss = implicit_score_matching_loss(net, v, w)
            last = loop.check_finite(loss, f"score fit {where}iteration {k + 1}")
            loss.backward()
            opt.step()
            loop.advance()
    return last


def score_method(v0, w, t_end: float, dt: float, *, gamma: float = 0.0, C: float = 1.0 / 16, delta: float = 0.0,
                 score0: Callable | None = None, width: int = 32, depth: int = 2, init_iters: int = 1000,
                 step_iters: int = 25, lr: float = 1e-3, init_lr: float | None = None, energy_fix: bool = False,
                 save_times: Sequence[float] | None = None, seed: int = 0, net: torch.nn.Module | None = None,
                 progress: bool = False):
    """Score-based particle method (Huang & Wang 2024), forward Euler in time.

    At every step a small MLP ``s(v) ~ grad log f`` is fitted to the current particles by implicit
    score matching (``step_iters`` Adam steps, warm-started from the previous step) and particles
    move with ``U_i = -sum_j w_j A(v_i - v_j)(s(v_i) - s(v_j))`` (momentum conserved exactly,
    energy up to the Euler error; ``energy_fix`` rescales about the mean after each step).
    At ``t = 0`` the net is fitted for ``init_iters`` steps to ``score0(v)`` (the exact initial
    score, L2 loss) when given, otherwise by implicit score matching.

    v0: ``(N, d)`` particles; w: ``(N,)`` weights (``None``: ``1/N``, i.i.d. samples).
    Returns ``(v, info)``: final particles and a dict with ``t``, ``mass``, ``momentum``, ``energy``
    histories, ``score_loss`` (implicit score-matching loss per step, i.e. minus the estimated Fisher
    information), ``snapshots``, ``energy_drift``, ``momentum_drift``, ``mass_drift``, ``steps``,
    ``wall_time`` (s) and ``net`` (the trained score network).
    """
    vb, wb, batched = _check_particles(v0, w)
    if batched and vb.shape[0] != 1:
        raise ValueError("score_method takes one particle cloud (N, d); loop over batch members")
    t_end, dt, nsteps = check_time(t_end, dt)
    saves = _save_indices(save_times, dt, nsteps, t_end)
    x, wv = vb[0].clone(), wb[0]
    d = x.shape[-1]
    if net is None:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(seed))
            net = ScoreMLP(d, d, width, depth).to(dtype=x.dtype, device=x.device)
    opt = torch.optim.Adam(net.parameters(), lr=init_lr or lr)
    t0 = _time.perf_counter()
    target = None
    if score0 is not None:
        target = _as_tensor(score0(x), dtype=x.dtype, device=x.device).detach()
    _fit_score(net, opt, x, wv, init_iters, target, "at t = 0, ")
    for gparam in opt.param_groups:
        gparam["lr"] = lr
    mass0 = wv.sum()
    E0c = (wv * ((x - (wv[:, None] * x).sum(0) / mass0) ** 2).sum(-1)).sum()
    hist = {"t": [], "mass": [], "momentum": [], "energy": [], "entropy": []}
    snaps = {}

    def record(k, loss):
        mo = moments(x, wv)
        hist["t"].append(k * dt)
        hist["mass"].append(mo["mass"][None])
        hist["momentum"].append(mo["momentum"][None])
        hist["energy"].append(mo["energy"][None])
        hist["entropy"].append(torch.tensor([loss], dtype=x.dtype))

    record(0, float(implicit_score_matching_loss(net, x, wv, create_graph=False).detach()))
    for ts in saves.get(0, []):
        snaps[ts] = x.clone()
    with _bar(nsteps, "score", enabled=bool(progress), unit="steps") as bar:
        for k in range(1, nsteps + 1):
            if k > 1:
                loss = _fit_score(net, opt, x, wv, step_iters, where=f"at step {k}, ")
            else:
                loss = float(implicit_score_matching_loss(net, x, wv, create_graph=False).detach())
            with torch.no_grad():
                s = net(x)
                x = x + dt * landau_velocity(x, s, wv, gamma=gamma, C=C, delta=delta)
                if energy_fix:
                    x = _energy_projection(x[None], wv[None], E0c[None])[0]
            record(k, loss)
            for ts in saves.get(k, []):
                snaps[ts] = x.clone()
            bar.advance()
    info = _finish_info(hist, False, snaps, nsteps, _time.perf_counter() - t0)
    info["score_loss"] = info.pop("entropy")
    info["net"] = net
    return (x[None] if batched else x), info
