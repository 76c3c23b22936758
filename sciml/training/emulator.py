"""Training of conservative CO2 emulators: single-step, then rollout fine-tuning.

Data are one split held in memory as :class:`CarbonArrays` (numpy), e.g. read from a
CarbonBench store. The loss is the mean squared error of the state after each rollout step,
scaled per level by the one-step difference std (so one unit = one typical 6-hour change);
stage ``h`` of the schedule backpropagates through ``h`` autoregressive steps (default
1 -> 2 -> 4 -> 8). Surface fluxes are injected by the emulator, so the network only learns
the transport part of the step.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .._util.digest import array_digest
from ..conservation.emulator import ConservativeEmulator
from ..conservation.fixers import global_mass
from ..conservation.increments import EmulatorStats, compute_stats
from . import loop as _loop
from .loop import Loop

__all__ = [
    "CarbonArrays",
    "carbon_arrays_from_store",
    "emulator_stats",
    "rollout_loss",
    "train_emulator",
    "evaluate_loss",
    "save_emulator",
    "load_emulator",
    "make_rollout_fn",
    "stability_run",
]


@dataclass
class CarbonArrays:
    """One data split in memory.

    q : (T, L, lat, lon) CO2 mixing ratio (1e-6 kg/kg); air_mass : (T, L, lat, lon) Pg;
    forcing : (T, C_f, lat, lon) extra inputs (winds, ...) or None;
    surface_flux : (T, K, lat, lon) kg CO2 m-2 s-1 (entry t is applied over the step t -> t+1) or None;
    area : (lat, lon) m2; lat : (nlat,) degrees; dt : step in s; times : (T,) datetime64 or None;
    mass_unit : kg per unit of q * air_mass (1e6 for 1e-6 kg/kg and Pg).
    """

    q: np.ndarray
    air_mass: np.ndarray
    forcing: np.ndarray | None
    surface_flux: np.ndarray | None
    area: np.ndarray
    lat: np.ndarray
    dt: float
    times: np.ndarray | None = None
    mass_unit: float = 1e6

    def __post_init__(self):
        if self.q.ndim != 4:
            raise ValueError(f"q must be (T, L, lat, lon), got {self.q.shape}")
        if self.air_mass.shape != self.q.shape:
            raise ValueError(f"air_mass must have shape {self.q.shape}, got {self.air_mass.shape}")
        T = self.q.shape[0]
        for name in ("forcing", "surface_flux"):
            a = getattr(self, name)
            if a is not None and (a.shape[0] != T or a.shape[-2:] != self.q.shape[-2:]):
                raise ValueError(f"{name} must have shape (T={T}, C, {self.q.shape[-2]}, {self.q.shape[-1]})")
        if self.area.shape != self.q.shape[-2:]:
            raise ValueError(f"area must have shape {self.q.shape[-2:]}")

    def __len__(self):
        return self.q.shape[0]

    def window(self, starts, horizon, device, dtype):
        """Tensors for windows ``[s, s + horizon]``: q, m (B, h+1, ...), forcing, flux (B, h, ...)."""
        idx = np.asarray(starts)[:, None] + np.arange(horizon + 1)[None]
        def t(a, i):
            return torch.as_tensor(np.ascontiguousarray(a[i]), dtype=dtype, device=device)

        q, m = t(self.q, idx), t(self.air_mass, idx)
        f = t(self.forcing, idx[:, :-1]) if self.forcing is not None else None
        sf = t(self.surface_flux, idx[:, :-1]) if self.surface_flux is not None else None
        return q, m, f, sf


def carbon_arrays_from_store(store, time=slice(None), *, forcing_3d=("u", "v", "airmass"), forcing_2d=(),
                             flux_forcing: bool = False, dtype=np.float32) -> CarbonArrays:
    """Read a CarbonBench split (:class:`sciml.datasets.carbonbench.CarbonBenchStore` or anything
    with ``read(name, time)``, ``lat``, ``time`` and ``cell_area``) into memory.

    The forcing channels are the 3D variables ``forcing_3d`` (L channels each, level-major), the
    2D variables ``forcing_2d`` (e.g. ``blh``, ``tisr``), then, if ``flux_forcing``, the total
    surface flux (kg m-2 s-1) of the step, so the network knows what will be injected into the
    lowest layer; the surface fluxes are land + ocean + anthropogenic.
    """
    q = store.read("co2massmix", time).astype(dtype)
    m = store.read("airmass", time).astype(dtype)
    chans = [store.read(n, time).astype(dtype) for n in forcing_3d] + \
            [store.read(n, time).astype(dtype)[:, None] for n in forcing_2d]
    flux = np.stack([store.read(n, time) for n in ("co2flux_land", "co2flux_ocean", "co2flux_anthro")],
                    axis=1).astype(np.float64)
    if flux_forcing:
        chans.append(flux.sum(axis=1, keepdims=True).astype(dtype))
    forcing = np.concatenate(chans, axis=1) if chans else None
    times = np.asarray(store.time)[time]
    if len(times) < 2:
        raise ValueError("time must select at least two time steps")
    dt = float((times[1] - times[0]) / np.timedelta64(1, "s"))
    return CarbonArrays(q, m, forcing, flux, np.asarray(store.cell_area, dtype=np.float64),
                        np.asarray(store.lat, dtype=np.float64), dt, times, mass_unit=1e6)


def emulator_stats(data: CarbonArrays) -> EmulatorStats:
    """Normalisation statistics (:func:`~sciml.conservation.increments.compute_stats`) of a split."""
    return compute_stats(data.q, data.forcing, data.air_mass)


def rollout_loss(emulator: ConservativeEmulator, q, m, f, sf, area, dt):
    """Mean over steps of the squared error of q(t+k), scaled by the per-level difference std."""
    pred = emulator.rollout(q[:, 0], m, f, sf, area, dt)
    scale = torch.as_tensor(emulator.stats.diff_std, dtype=q.dtype, device=q.device).view(1, 1, -1, 1, 1)
    return ((pred[:, 1:] - q[:, 1:]) / scale).pow(2).mean()


RESUME_DIR = "resume"  # the training state a run continues from, inside ``checkpoint``


def train_emulator(emulator: ConservativeEmulator, data: CarbonArrays, *, horizons=(1, 2, 4, 8),
                   iters=(600, 200, 100, 60), batch_size: int = 8, lr: float = 1e-3, finetune_lr_factor: float = 0.3,
                   weight_decay: float = 1e-5, grad_clip: float = 1.0, seed: int = 0, device="cpu",
                   log=None, time_budget_s: float | None = None, val: CarbonArrays | None = None,
                   checkpoint: str | Path | None = None, progress: bool | None = False, resume: bool = False,
                   save_every_s: float = 600.0) -> list[dict]:
    """Single-step training followed by rollout fine-tuning with growing horizons.

    Parameters
    ----------
    horizons, iters : rollout length and number of optimiser steps of each stage (same length).
    batch_size : windows per step; lr : AdamW learning rate of the first stage (cosine decay within
        each stage; fine-tuning stages start at ``lr * finetune_lr_factor``).
    time_budget_s : stop early (gracefully, at the end of an iteration) after this many seconds;
        the budget is split over stages in proportion to ``iters * horizon`` and read from the clock
        after every iteration.
    val : optional validation split: one-step loss reported at the end of each stage.
    log : callable receiving one-line strings (e.g. ``print``).
    checkpoint : directory for a checkpoint (:func:`save_emulator`) after each stage, and for the
        training state ``checkpoint/resume`` (weights, optimiser, scheduler, the window sampler's
        state, history, seconds spent), written at most every ``save_every_s`` seconds of the clock
        and at the end of each stage.
    resume : continue the run whose state is in ``checkpoint/resume`` (same settings, checked):
        the continued run takes the same steps on the same windows as one that was never stopped,
        so its weights are identical to the bit on one machine. Seconds spent before count against
        ``time_budget_s``.
    progress : progress bar per stage (``None``: when standard error is a terminal).

    A NaN/inf loss raises :class:`~sciml.training.NonFiniteLossError` naming the stage and iteration.

    Returns the history, a list of dicts: (stage, horizon, iter, loss, seconds) every 50 iterations and
    (stage, horizon, iterations, final_loss, seconds) at the end of each stage.

    Examples
    --------
    >>> # a 2-stage run, stopped (machine lost) and continued with the same result:
    >>> hist = train_emulator(emu, data, horizons=(1, 4), iters=(2000, 200),   # doctest: +SKIP
    ...                       checkpoint="runs/gc")
    >>> hist = train_emulator(emu, data, horizons=(1, 4), iters=(2000, 200),   # doctest: +SKIP
    ...                       checkpoint="runs/gc", resume=True)
    """
    horizons, iters = tuple(int(h) for h in horizons), tuple(int(i) for i in iters)
    if len(horizons) != len(iters) or not horizons or min(horizons) < 1 or min(iters) < 0:
        raise ValueError("horizons and iters must be non-empty, of the same length, horizons >= 1, iters >= 0")
    if max(horizons) >= len(data):
        raise ValueError(f"the longest horizon {max(horizons)} needs more than {len(data)} time steps")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if resume and checkpoint is None:
        raise ValueError("resume=True needs checkpoint (the directory the run's state was written to)")
    device = torch.device(device)
    dtype = next(emulator.parameters()).dtype
    emulator.to(device)
    rng = np.random.default_rng(seed)
    settings = {"horizons": list(horizons), "iters": list(iters), "batch_size": batch_size, "lr": lr,
                "finetune_lr_factor": finetune_lr_factor, "weight_decay": weight_decay, "grad_clip": grad_clip,
                "seed": seed, "time_budget_s": time_budget_s,
                # the samples: a resumed run must continue on the data it started with
                "data_sha256": array_digest([data.q, data.air_mass, data.forcing, data.surface_flux, data.area,
                                             data.lat, np.float64(data.dt)])}
    state_dir = None if checkpoint is None else Path(checkpoint) / RESUME_DIR
    pos = {"stage": 0, "iter": 0, "running": None, "stage_spent": 0.0, "spent": 0.0, "history": []}
    saved = {}
    if resume:
        pos, saved = _restore_state(emulator, state_dir, settings, rng, device)
    area = torch.as_tensor(data.area, dtype=dtype, device=device)
    history, t0 = pos["history"], _loop.clock() - pos["spent"]
    work = np.array(iters, dtype=float) * np.array(horizons)
    budgets = None if time_budget_s is None else time_budget_s * work / max(work.sum(), 1)

    def write_state(opt, sched, stage, it, running, stage_seconds):
        if state_dir is not None:
            _save_state(emulator, state_dir, settings, rng, opt, sched, {
                "stage": stage, "iter": it, "running": running, "stage_spent": stage_seconds,
                "spent": _loop.clock() - t0, "history": history})

    for s, (h, n) in enumerate(zip(horizons, iters)):
        if s < pos["stage"]:
            continue
        first = s == pos["stage"]
        k0 = pos["iter"] if first else 0
        stage_lr = lr if s == 0 else lr * finetune_lr_factor
        opt = torch.optim.AdamW(emulator.parameters(), lr=stage_lr, weight_decay=weight_decay)
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt, lambda k, n=n: 0.5 * (1 + math.cos(math.pi * min(k, n) / max(n, 1)))
        )
        if k0 > 0:  # mid-stage: the stage's optimiser and schedule as they were
            opt.load_state_dict(saved["optimizer"])
            sched.load_state_dict(saved["scheduler"])
        running = pos["running"] if first else None
        done = k0
        emulator.train()
        seconds = None if budgets is None or not budgets[s] > 0 else float(budgets[s])
        spent = pos["stage_spent"] if first else 0.0
        last_save = _loop.clock()
        with Loop(n, f"stage {s} h={h}", seconds=seconds, spent=spent, done=k0, progress=progress,
                  fields=("loss",)) as loop:
            for k in range(k0, n):
                starts = rng.integers(0, len(data) - h, size=batch_size)
                q, m, f, sf = data.window(starts, h, device, dtype)
                loss = rollout_loss(emulator, q, m, f, sf, area, data.dt)
                loop.check_finite(loss, f"stage {s} (horizon {h}), iteration {k}")
                opt.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(emulator.parameters(), grad_clip)
                opt.step()
                sched.step()
                running = loss.item() if running is None else 0.95 * running + 0.05 * loss.item()
                done = k + 1
                if k % 50 == 0 or k == n - 1:
                    rec = {"stage": s, "horizon": h, "iter": k, "loss": running, "seconds": _loop.clock() - t0}
                    history.append(rec)
                    if log:
                        log(f"stage {s} h={h} it {k}/{n} loss {running:.4g} t={rec['seconds']:.0f}s")
                stop = loop.advance(loss=running) and k < n - 1
                if stop and log:
                    log(f"stage {s}: time budget reached after {k + 1} iterations")
                if not stop and done < n and _loop.clock() - last_save >= save_every_s:
                    write_state(opt, sched, s, done, running, loop.elapsed)
                    last_save = _loop.clock()
                if stop:
                    break
        history.append({"stage": s, "horizon": h, "iterations": done, "final_loss": running,
                        "seconds": _loop.clock() - t0})
        if val is not None:
            vl = evaluate_loss(emulator, val, horizon=1, device=device)
            history.append({"stage": s, "horizon": h, "val_loss": vl, "seconds": _loop.clock() - t0})
            if log:
                log(f"stage {s} h={h} val one-step loss {vl:.4g}")
        if checkpoint is not None:
            save_emulator(emulator, checkpoint)
            write_state(opt, sched, s + 1, 0, None, 0.0)  # the next stage starts afresh (its own optimiser)
    emulator.eval()
    return history


def _save_state(emulator, state_dir: Path, settings: dict, rng, opt, sched, pos: dict) -> None:
    from .checkpoint import save_checkpoint

    trainer = {"settings": settings, "sampler": rng.bit_generator.state, **pos}
    state = {"rng": torch.get_rng_state()}
    if pos["iter"] > 0:  # mid-stage; a stage starts with an optimiser of its own
        state.update(optimizer=opt.state_dict(), scheduler=sched.state_dict())
    save_checkpoint(state_dir, emulator, trainer=trainer, state=state)


def _restore_state(emulator, state_dir: Path, settings: dict, rng, device):
    from .checkpoint import CheckpointError, _differences, load_checkpoint

    if not (state_dir / "config.json").exists():
        raise FileNotFoundError(f"{state_dir}: no training state to resume (a run writes it when given checkpoint=)")
    ck = load_checkpoint(state_dir, map_location=device, model=emulator)
    t = ck["config"]["trainer"]
    saved = t.get("settings", {})
    if "data_sha256" not in saved:  # written before runs recorded their data: resumed unchecked
        settings = {k: v for k, v in settings.items() if k != "data_sha256"}
    diff = _differences(settings, saved)
    if diff:
        raise CheckpointError(f"{state_dir}: written by a run with other settings ({'; '.join(diff)}); "
                              "resume with the same ones, or start a new run")
    rng.bit_generator.state = t["sampler"]
    state = ck["state"] or {}
    if "rng" in state:
        torch.set_rng_state(state["rng"].cpu())
    pos = {k: t[k] for k in ("stage", "iter", "running", "stage_spent", "spent")}
    pos["history"] = list(t.get("history", []))
    return pos, state


@torch.no_grad()
def evaluate_loss(emulator, data: CarbonArrays, horizon: int = 1, n: int = 64, batch_size: int = 16,
                  device="cpu", seed: int = 123) -> float:
    """Mean scaled rollout loss on ``n`` random windows of ``data``."""
    emulator.eval()
    dtype = next(emulator.parameters()).dtype
    rng = np.random.default_rng(seed)
    area = torch.as_tensor(data.area, dtype=dtype, device=device)
    tot, cnt = 0.0, 0
    for b in range(0, n, batch_size):
        starts = rng.integers(0, len(data) - horizon, size=min(batch_size, n - b))
        q, m, f, sf = data.window(starts, horizon, device, dtype)
        tot += rollout_loss(emulator, q, m, f, sf, area, data.dt).item() * len(starts)
        cnt += len(starts)
    emulator.train()
    return tot / cnt


def save_emulator(emulator: ConservativeEmulator, directory, extra: dict | None = None) -> Path:
    """Write the emulator's checkpoint (:func:`sciml.training.save_checkpoint`, kind ``emulator``:
    backbone spec, options, statistics and weights) into ``directory``, which may hold other files
    of the experiment; ``extra``: more JSON data stored with it."""
    from .checkpoint import save_checkpoint

    return save_checkpoint(directory, emulator, extra=extra, in_place=True)


def load_emulator(directory, map_location="cpu", *, model: ConservativeEmulator | None = None,
                  builder=None) -> ConservativeEmulator:
    """The emulator saved by :func:`save_emulator` (also the layout before the single checkpoint
    format: ``weights.pt`` + ``config.json``), weights checked against the config, in eval mode."""
    from .checkpoint import CheckpointError, load_model

    emu = load_model(directory, map_location, builder, model=model)
    if not isinstance(emu, ConservativeEmulator):
        raise CheckpointError(f"{directory}: holds a {type(emu).__name__}, not an emulator")
    return emu


def make_rollout_fn(emulator: ConservativeEmulator, data: CarbonArrays, device="cpu", dtype=None):
    """``rollout(start, n_steps) -> (n_steps+1, L, lat, lon)`` numpy, for
    :func:`sciml.bench.carbonbench.evaluate_rollouts`; restarts from the true state."""
    dtype = dtype or next(emulator.parameters()).dtype
    area = torch.as_tensor(data.area, dtype=dtype, device=device)

    @torch.no_grad()
    def rollout(start, n_steps):
        emulator.eval()
        q, m, f, sf = data.window(np.array([start]), n_steps, device, dtype)
        out = emulator.rollout(q[:, 0], m, f, sf, area, data.dt)
        return out[0].double().cpu().numpy()

    return rollout


@torch.no_grad()
def stability_run(emulator: ConservativeEmulator, data: CarbonArrays, start: int = 0, n_steps: int | None = None,
                  device="cpu", dtype=torch.float64, chunk: int = 64):
    """Long free run from the true state at ``start``.

    Returns a dict with ``mass`` (n+1,) global tracer mass (units of q * m), ``expected`` (n+1,)
    the budget (initial mass plus injected surface fluxes), ``q_min``/``q_max``/``q_mean`` (n+1,)
    and ``final`` (L, lat, lon) the last state. Runs in ``dtype`` (float64 default) in chunks so
    memory stays bounded.
    """
    n_steps = len(data) - 1 - start if n_steps is None else int(n_steps)
    if n_steps < 1 or start + n_steps >= len(data):
        raise ValueError(f"start + n_steps must be < {len(data)}")
    emulator.eval()
    prev_dtype = next(emulator.parameters()).dtype
    emulator.to(device=device, dtype=dtype)
    try:
        area = torch.as_tensor(data.area, dtype=dtype, device=device)
        q = torch.as_tensor(data.q[start:start + 1], dtype=dtype, device=device)
        m0 = torch.as_tensor(data.air_mass[start:start + 1], dtype=dtype, device=device)
        mass = [global_mass(q, m0).item()]
        expected = [mass[0]]
        stats = [(q.min().item(), q.max().item(), q.mean().item())]
        t = start
        while t < start + n_steps:
            h = min(chunk, start + n_steps - t)
            _, m, f, sf = data.window(np.array([t]), h, device, dtype)
            traj = emulator.rollout(q, m, f, sf, area, data.dt)
            for k in range(1, h + 1):
                mass.append(global_mass(traj[:, k], m[:, k]).item())
                inj = 0.0
                if sf is not None:
                    inj = float((sf[0, k - 1].sum(0) * area).sum()) * data.dt / data.mass_unit
                expected.append(expected[-1] + inj)
                stats.append((traj[:, k].min().item(), traj[:, k].max().item(), traj[:, k].mean().item()))
            q = traj[:, -1]
            t += h
        st = np.array(stats)
        return {"mass": np.array(mass), "expected": np.array(expected), "q_min": st[:, 0], "q_max": st[:, 1],
                "q_mean": st[:, 2], "final": q[0].cpu().numpy()}
    finally:
        emulator.to(dtype=prev_dtype)
