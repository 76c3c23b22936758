"""Plans: the leaderboard's rows as one resumable queue, for a CPU or a GPU.

A plan lists the rows of the board (task, model, label, training length). :func:`run_plan`
trains the rows that have no results JSON yet, in plan order, each in its own process
(``sciml bench run ... --resume``), ``jobs`` at a time, making each task's data just before its
first row (``sciml bench run --data-only``). A row already written is skipped; a row that was
interrupted continues from its last per-epoch checkpoint, to the
result an uninterrupted run gives. A deadline (``minutes``) is checked against the clock while
the queue runs: the rows still training are interrupted (SIGINT; their checkpoints stay) and the
rest wait for the next call of the same command. So a plan of many hours runs in pieces,
across interruptions and restarts, as long as ``out`` and ``data_dir`` are kept.

Plans:

``cpu``
    The board's CPU protocols, as recorded in ``docs/leaderboard.md`` (reduced epoch counts where
    the label says so, ``ns-1e-3-n200`` for Navier-Stokes), rows missing from the board first and
    the 500-epoch darcy85 FNO runs last: AdamW (the rows before 2026-12-07 pin it), the recipe's
    Adam, and the FNO code's own model (``cpu-full-fnocode``). Rows labelled ``-adam`` train a
    burgers or NS model again with the recipe's Adam beside its AdamW row.
``gpu``
    Every task's full recipe (label ``gpu-full``), the darcy85 FNO first, then the FNO code's own
    model on it (``gpu-full-fnocode``): the rows the CPU cannot finish, for a machine with a CUDA
    device (``device="cuda"``).
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from .._util.progress import format_duration
from .runner import data_file, default_data_dir, results_paths
from .tasks import get_task

__all__ = ["Row", "PLANS", "get_plan", "select", "run_plan", "row_command", "data_command"]


@dataclass(frozen=True)
class Row:
    """One leaderboard row: ``task`` / ``model`` trained as ``label``.

    ``epochs`` None follows the task's recipe; ``args`` are further ``sciml bench run`` options.
    """

    task: str
    model: str
    label: str
    epochs: int | None = None
    args: tuple[str, ...] = field(default_factory=tuple)

    @property
    def name(self) -> str:
        return f"{self.task}/{self.model}/{self.label}"

    def results_file(self, out) -> Path:
        return results_paths(out, self.task, self.model, self.label)[0]

    def run_dir(self, out) -> Path:
        """Where ``sciml bench run`` keeps this row's checkpoints and figures."""
        return results_paths(out, self.task, self.model, self.label)[1]

    def status(self, out) -> str:
        """The row's state in ``out``, read from JSON only (no checkpoint is unpickled).

        ``"written: test rel. L2 0.0151 after 30 epochs"``, ``"checkpoint: epoch 131/500, test rel. L2
        0.01097, 2.1 h trained, ~4.6 h left at 45 s per epoch"`` (a run to continue; the pace is the
        mean of its last 10 epochs) or ``"to do"``.
        """
        res = self.results_file(out)
        if res.exists():
            try:
                r = json.loads(res.read_text())
                return f"written: test rel. L2 {r['test_rel_l2']:.4g} after {r['epochs']} epochs"
            except (OSError, ValueError, KeyError, TypeError):
                return "written (unreadable results file)"
        cfg = self.run_dir(out) / "checkpoints" / "last" / "config.json"
        if not cfg.exists():
            return "to do"
        try:
            t = json.loads(cfg.read_text())["trainer"]
            parts = [f"epoch {t['epoch']}/{t['hyperparameters']['epochs'] or '-'}"]
            last = (t.get("history") or [{}])[-1]
            if last.get("val_rel_l2") is not None:
                parts.append(f"test rel. L2 {last['val_rel_l2']:.4g}")
            parts.append(f"{t['train_seconds'] / 3600:.1f} h trained")
            total = t["hyperparameters"]["epochs"]
            recent = [h["seconds"] for h in (t.get("history") or [])[-10:] if h.get("seconds") is not None]
            if isinstance(total, int) and total > t["epoch"] and recent:
                pace = sum(recent) / len(recent)
                parts.append(f"~{format_duration(pace * (total - t['epoch']))} left at {pace:.0f} s per epoch")
        except (OSError, ValueError, KeyError, TypeError):
            return "checkpoint"
        return "checkpoint: " + ", ".join(parts)


#: rows trained before the tasks' recipe became the FNO code's Adam (2026-12-07; darcy85 first, burgers and
#: the NS tasks later that day): AdamW, weight decay 1e-4, pinned so that training them again reproduces
#: the rows on the board
_ADAMW = ("--optimizer", "adamw", "--weight-decay", "1e-4")

#: the FNO code's model (fourier_2d.py) as ``sciml bench run`` options on top of darcy85's FNO: 24 x 12 kept
#: modes, a linear lifting 3 -> 32, projection 32 -> 128 -> 1, no channel MLP, 9 points of padding, spectral
#: weights uniform on [0, 1/32^2) (2,368,001 parameters, the code's count; the recipe's model has 2,569,057)
_FNO_CODE = ("--model-arg", "n_modes=[24, 22]", "--model-arg", "lifting_channels=0", "--model-arg",
             "projection_channels=128", "--model-arg", "channel_mlp_expansion=None", "--model-arg",
             "domain_padding=0.10588235294117647", "--model-arg", "spectral_init=uniform")

PLANS: dict[str, tuple[Row, ...]] = {
    "cpu": (
        Row("darcy85", "unet", "cpu-e30", 30, _ADAMW),
        Row("darcy85", "mg-tfno", "cpu-e30-gg", 30, _ADAMW),
        # teacher forcing (--train-frames 1): 400 optimiser steps per epoch against the rollout's 10, for
        # less time per epoch (131-141 s against 259 s for the FNO-2D); tested by the 40-frame rollout
        Row("ns-1e-3-n200", "fno", "cpu-tf-e30", 30, ("--train-frames", "1", *_ADAMW)),
        Row("ns-1e-3-n200", "unet", "cpu-tf-e30", 30, ("--train-frames", "1", *_ADAMW)),
        # FNO-3D sees one sample per trajectory (10 optimiser steps per epoch at batch 20): batch 4 gives
        # 50, at the same cost per epoch (~1.8 s of one core per sample, docs/performance.md)
        Row("ns-1e-3-n200", "fno3d", "cpu-e20-b4", 20, ("--batch-size", "4", *_ADAMW)),
        # it stopped at test 0.1064 / training 0.0921 with the rate already at 6.3e-5 (halved every 4
        # epochs): starved of steps. Batch 2 gives 100 per epoch (the paper's count: N = 1000 at batch 10);
        # it ended at 0.0731 / 0.0487, flattening as the rate decayed (0.0764 at epoch 20)
        Row("ns-1e-3-n200", "fno3d", "cpu-e30-b2", 30, ("--batch-size", "2", *_ADAMW)),
        # the burgers and NS tasks with the FNO code's optimiser (their recipe since 2026-12-07), beside
        # their AdamW rows: the short DeepONet rows and the NS FNO-2D's 30 epochs of teacher forcing
        Row("ns-1e-3-n200", "fno", "cpu-tf-e30-adam", 30, ("--train-frames", "1")),
        Row("burgers", "deeponet", "cpu-full-adam"),
        Row("burgers", "pod-deeponet", "cpu-full-adam"),
        Row("burgers-1e-3", "deeponet", "cpu-full-adam"),
        Row("burgers-1e-3", "pod-deeponet", "cpu-full-adam"),
        Row("burgers", "fno", "cpu-e60-adam", 60),
        # 10 s per epoch on one core since the DFT path (the e60 row took 19 s): the full recipe fits
        Row("burgers", "fno", "cpu-full"),
        # the authors' nu = 1e-3 with the recipe's Adam (the AdamW row, 0.0081, took 3.7 h on a loaded core);
        # it ended at 0.0075 / training 0.0052 in 1.0 h on one core
        Row("burgers-1e-3", "fno", "cpu-full-adam"),
        # darcy85's DeepONets with the recipe's Adam, all 500 epochs (the AdamW DeepONet row stopped at 100)
        Row("darcy85", "deeponet", "cpu-full-adam"),
        Row("darcy85", "pod-deeponet", "cpu-full-adam"),
        # darcy85's TFNO and U-Net with the recipe's Adam, longer than their 30-epoch AdamW rows (one core each);
        # they ended at 0.0084 and 0.0076 (1.6 h each, both still falling)
        Row("darcy85", "tfno", "cpu-e180-adam", 180),
        Row("darcy85", "unet", "cpu-e120-adam", 120),
        # the multigrid-patched TFNO with the recipe's Adam, longer than its 30-epoch AdamW row (0.0444, ~79 s
        # per epoch on one core); it ended at 0.0288 / training 0.0245 (1.5 h), its error on the patches' seams
        Row("darcy85", "mg-tfno", "cpu-e100-adam", 100),
        # darcy85's MgNO with the recipe's Adam, longer than its 30-epoch AdamW row (0.0231; ~0.95 s of one core
        # per step, 48 s per epoch); it ended at 0.0096 / training 0.0066 (1.3 h), still falling
        Row("darcy85", "mgno", "cpu-e100-adam", 100),
        # burgers' U-Net with the recipe's Adam over all 500 epochs: its 20-epoch AdamW row (0.2238, training
        # 0.2000) had the rate halved every 4 epochs, down to 1/32 of it by the end; a step now takes ~0.21 s
        # of one core (1.4 s then, on a loaded machine), ~11 s per epoch. With batch norm (the task's since) it
        # ended at 0.0375 / training 0.0358 (1.6 h), its test error swinging 0.023-0.053 over the last ten epochs
        Row("burgers", "unet", "cpu-full-adam"),
        # the recipe under bf16 autocast (bf16 full-grid transforms, 2026-12-07) shortened to 60 epochs (the step
        # schedule's shape kept: the rate halves every 12 epochs), beside the same in float32: 0.0136 against 0.0134
        # (10-epoch means 1.00-1.03x float32's)
        Row("darcy85", "fno", "cpu-e60-adam-bf16", 60, ("--optimizer", "adam", "--weight-decay", "5e-6",
                                                        "--amp", "bf16")),
        Row("darcy85", "fno", "cpu-e60-adam", 60, ("--optimizer", "adam", "--weight-decay", "5e-6")),
        # ... and the whole recipe under bf16 autocast: its test error per epoch against the float32
        # cpu-full-adam row's (the same schedule, seed and data; 0.0069 at the end). It ended at 0.0076
        # evaluated under bf16 (recorded before amp_eval), 0.0072 evaluated in float32 (2.8 h)
        Row("darcy85", "fno", "cpu-full-adam-bf16", None, ("--optimizer", "adam", "--weight-decay", "5e-6",
                                                           "--amp", "bf16")),
        Row("darcy85", "tfno", "cpu-e30", 30, _ADAMW),
        Row("darcy85", "mgno", "cpu-e30", 30, _ADAMW),
        Row("darcy85", "deeponet", "cpu-e100", 100, _ADAMW),
        Row("darcy85", "pod-deeponet", "cpu-full", None, _ADAMW),
        Row("burgers", "fno", "cpu-e60", 60, _ADAMW),
        Row("burgers", "unet", "cpu-e20-d8", 20, _ADAMW),
        Row("burgers", "deeponet", "cpu-full", None, _ADAMW),
        Row("burgers", "pod-deeponet", "cpu-full", None, _ADAMW),
        Row("burgers-1e-3", "deeponet", "cpu-full", None, _ADAMW),
        Row("burgers-1e-3", "pod-deeponet", "cpu-full", None, _ADAMW),
        Row("ns-1e-3-n200", "fno", "cpu-e50", 50, _ADAMW),
        Row("burgers-1e-3", "fno", "cpu-full", None, _ADAMW),
        Row("darcy85", "fno", "cpu-full", None, _ADAMW),
        # the FNO code's optimiser, the recipe since 2026-12-07: Adam with the weight decay as an L2 term;
        # the AdamW run's test error stays 3x its training error (0.0104 against 0.0036 at epoch 216). The
        # FNO code sums its loss over the batch of 20: its 1e-4 is 5e-6 on sciml's mean loss (1e-4 on the
        # mean underfitted: test 0.0242, training 0.0237 at epoch 39, against AdamW's 0.0141 / 0.0095)
        Row("darcy85", "fno", "cpu-full-adam", None, ("--optimizer", "adam", "--weight-decay", "5e-6")),
        # the FNO code's model as well as its optimiser (the recipe's)
        Row("darcy85", "fno", "cpu-full-fnocode", None, _FNO_CODE),
    ),
    "gpu": (Row("darcy85", "fno", "gpu-full"), Row("darcy85", "fno", "gpu-full-fnocode", None, _FNO_CODE))
    + tuple(Row(t, m, "gpu-full") for t, m in (
        ("darcy85", "tfno"), ("darcy85", "mg-tfno"), ("darcy85", "mgno"), ("darcy85", "unet"),
        ("darcy85", "deeponet"), ("darcy85", "pod-deeponet"), ("burgers", "fno"), ("burgers", "unet"),
        ("burgers-1e-3", "fno"), ("ns-1e-3", "fno"), ("ns-1e-3", "fno3d"), ("ns-1e-3", "unet"))),
}


def get_plan(name: str) -> tuple[Row, ...]:
    """The rows of plan ``name`` (one of :data:`PLANS`)."""
    if name not in PLANS:
        raise ValueError(f"plan must be one of {', '.join(sorted(PLANS))}; got {name!r}")
    return PLANS[name]


def select(rows, only=None) -> list[Row]:
    """The rows named by one of ``only`` (all rows when None).

    Each entry is a ``task``, ``task/model`` or ``task/model/label``, matched by whole parts:
    ``darcy85/fno`` keeps every darcy85 FNO row, ``darcy85/fno/cpu-full`` that row and not
    ``darcy85/fno/cpu-full-adam``.
    """
    rows = list(rows)
    if not only:
        return rows
    wanted = [tuple(p for p in o.split("/") if p) for o in only]
    kept = [r for r in rows if any(w and (r.task, r.model, r.label)[:len(w)] == w for w in wanted)]
    if not kept:
        raise ValueError(f"no row of the plan matches {', '.join(only)}")
    return kept


def row_command(row: Row, *, out, data_dir, device=None) -> list[str]:
    """The ``python -m sciml bench run`` command line that trains (or continues) ``row``."""
    cmd = [sys.executable, "-m", "sciml", "bench", "run", "--task", row.task, "--model", row.model,
           "--label", row.label, "--out", str(out), "--data-dir", str(data_dir), "--resume", "--no-progress"]
    if row.epochs is not None:
        cmd += ["--epochs", str(row.epochs)]
    if device is not None:
        cmd += ["--device", str(device)]
    return cmd + list(row.args)


def data_command(task: str, *, data_dir, workers: int = 1) -> list[str]:
    """The ``python -m sciml bench run --data-only`` command line that makes (or completes) a task's data."""
    return [sys.executable, "-m", "sciml", "bench", "run", "--task", task, "--data-dir", str(data_dir),
            "--workers", str(workers), "--data-only", "--no-progress"]


def _popen(cmd, env) -> subprocess.Popen:
    """Start a row or data process that stops cleanly on SIGINT.

    A process started in the background by a shell has SIGINT ignored, and its children inherit
    that: the interrupt the plan sends would then be lost. The child gets the default handler back
    before it starts (Python turns it into KeyboardInterrupt: the run exits 130, checkpoints kept).
    """
    if os.name != "posix":
        return subprocess.Popen(cmd, env=env)
    return subprocess.Popen(cmd, env=env, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


class _Terminated(Exception):
    """SIGTERM reached the plan: its rows are interrupted (checkpoints kept) before it exits."""


def _interrupt(proc: subprocess.Popen, grace: float = 120.0) -> int:
    """SIGINT (the run keeps its checkpoints), then SIGKILL if it has not ended within ``grace`` s."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
    return proc.wait()


def run_plan(plan, *, out, data_dir=None, device=None, minutes: float | None = None, jobs: int = 1,
             threads: int | None = None, workers: int | None = None, only=None, stop=None, log=print,
             poll: float = 1.0) -> dict[str, str]:
    """Generate the data and train the rows of ``plan`` that ``out`` does not hold yet.

    Parameters
    ----------
    plan : str or sequence of Row
        A name in :data:`PLANS` or the rows themselves.
    out, data_dir : path
        Results folder (JSONs, figures, ``runs/`` with the checkpoints) and data folder (default:
        ``$SCIML_DATA`` or ``.bench/data``, as ``sciml bench run``); keep both to continue the plan later.
    device : str, optional
        ``"cuda"`` for a GPU (default: CUDA when available, as ``sciml bench run``).
    minutes : float, optional
        Deadline from now, checked against the clock every ``poll`` seconds; at the deadline the
        running rows are interrupted (their checkpoints stay) and no other row starts.
    jobs : int
        Rows trained at once. threads : torch threads per row (default: CPU cores // jobs).
    workers : int, optional
        Processes for data generation (default: the CPU cores).
    only : sequence of str, optional
        Keep the rows these name: ``task``, ``task/model`` or ``task/model/label`` (:func:`select`).
    stop : callable, optional
        ``stop(row, run_dir) -> bool``, polled with the deadline: True interrupts that row.

    Returns
    -------
    dict
        ``row name -> status``: ``done`` (written now), ``skipped`` (written before), ``interrupted``
        (checkpoint kept; ``interrupted (signal N)`` when killed from outside), ``not started``,
        ``refused`` (exit 2, e.g. locked by another process) or ``failed (exit N)``. A SIGTERM to
        the plan interrupts its rows first, then exits with status 143.

    Examples
    --------
    >>> from sciml.bench.plans import get_plan
    >>> [r.name for r in get_plan("gpu")][:2]
    ['darcy85/fno/gpu-full', 'darcy85/fno/gpu-full-fnocode']
    """
    from .._util.validation import check_int

    rows = select(get_plan(plan) if isinstance(plan, str) else plan, only)
    jobs = check_int(jobs, "jobs", min=1)
    cores = os.cpu_count() or 1
    threads = check_int(threads if threads is not None else max(1, cores // jobs), "threads", min=1)
    workers = check_int(workers if workers is not None else cores, "workers", min=1)
    if minutes is not None and not minutes > 0:
        raise ValueError(f"minutes must be a positive number, got {minutes!r}")
    out, data_dir = Path(out), default_data_dir(data_dir)
    deadline = None if minutes is None else time.monotonic() + 60.0 * minutes
    expired = (lambda: False) if deadline is None else (lambda: time.monotonic() >= deadline)
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "PYTHONUNBUFFERED": "1"}

    status = {r.name: "skipped" for r in rows if r.results_file(out).exists()}
    queue = _Queue([r for r in rows if r.name not in status], status, jobs, workers, expired, stop, out, data_dir,
                   device, env, log)
    previous = None
    if threading.current_thread() is threading.main_thread():  # `kill PID` stops the rows too, not only the plan
        previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        while queue.step():
            time.sleep(poll)
    except _Terminated:  # the rows are interrupted in the finally below, before the exit
        log("terminated: interrupting the running rows (checkpoints kept)")
        raise SystemExit(128 + signal.SIGTERM) from None
    finally:  # an exception here (Ctrl-C) must not leave processes running unseen: stop them, checkpoints kept
        queue.interrupt_all()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    return {r.name: status.get(r.name, "not started") for r in rows}


def _on_sigterm(signum, frame):
    raise _Terminated()


class _Queue:
    """The processes of a plan: each task's data just before its first row, then its rows, ``jobs`` at a time.

    Data is made when a task's first row is due, not all up front, so a deadline spends its time
    on the rows in plan order (a GPU plan does not wait for Navier-Stokes data to train darcy85).
    A data process holds one of the ``jobs`` slots and gates its task's rows until it ends.
    """

    def __init__(self, todo, status, jobs, workers, expired, stop, out, data_dir, device, env, log):
        self.todo, self.status, self.jobs, self.workers = list(todo), status, jobs, workers
        self.expired, self.stop, self.out, self.data_dir, self.device, self.env, self.log = (
            expired, stop, out, data_dir, device, env, log)
        self.data_file = {t: data_file(get_task(t), data_dir) for t in {r.task for r in self.todo}}
        self.running: dict[str, tuple[Row | None, subprocess.Popen]] = {}  # row name or "data:<task>"

    def _start(self):
        while self.todo and len(self.running) < self.jobs and not self.expired():
            row = self.todo[0]
            if not self.data_file[row.task].exists():  # complete files only: generation renames into place
                key = f"data:{row.task}"
                if key not in self.running:
                    self.log(f"data for {row.task} (workers {self.workers})")
                    cmd = data_command(row.task, data_dir=self.data_dir, workers=self.workers)
                    self.running[key] = (None, _popen(cmd, self.env))
                return  # the next rows wait for this task's data (plan order is kept)
            self.todo.pop(0)
            self.log(f"start {row.name}")
            cmd = row_command(row, out=self.out, data_dir=self.data_dir, device=self.device)
            self.running[row.name] = (row, _popen(cmd, self.env))

    def step(self) -> bool:
        """Start what may start, collect what ended; False when nothing is left to wait for."""
        self._start()
        if not self.running:
            return False
        for key, (row, proc) in list(self.running.items()):
            ended = proc.poll() is not None
            stopped = not ended and (self.expired() or (row is not None and self.stop is not None
                                                        and self.stop(row, row.run_dir(self.out))))
            if not (ended or stopped):
                continue
            code = _interrupt(proc) if stopped else proc.returncode
            del self.running[key]
            if row is None:  # a data process: its rows start next, or fail with it
                task = key.split(":", 1)[1]
                if code != 0 and not self.expired():
                    for r in [r for r in self.todo if r.task == task]:
                        self.status[r.name] = f"failed (data, exit {code})"
                        self.todo.remove(r)
                self.log(f"data for {task}: {'ready' if code == 0 else f'exit {code}'}")
                continue
            if stopped or code == 130:
                self.status[key] = "interrupted"
            elif code < 0:  # killed from outside (kill, the OOM killer): resumable, but say how it ended
                self.status[key] = f"interrupted (signal {-code})"
            else:
                self.status[key] = {0: "done", 2: "refused"}.get(code, f"failed (exit {code})")
            self.log(f"{self.status[key]}: {key}")
        return True

    def interrupt_all(self):
        for key, (row, proc) in list(self.running.items()):
            _interrupt(proc)
            if row is not None:
                self.status[key] = "interrupted"
        self.running.clear()
