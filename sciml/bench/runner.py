"""``run(task, model)``: train and evaluate one leaderboard entry; write its results JSON.

The results JSON (schema ``sciml-bench-result/1``) records the test relative L2 error,
parameter count, training seconds, inference milliseconds per sample, the hardware
(CPU model, GPU name), seed, sciml / torch versions and date, the training settings
and whether the run followed the task's full recipe (all samples, all epochs). The run's
prediction, loss-curve and (for rollouts) per-step error figures are copied beside it as
``<results stem>_predictions.png`` etc. and named under ``figures``.

Each row is traceable to its data: ``data_provenance`` gives the store's file name, the recipe,
its parameters, seed and sample count (what ``sciml generate`` needs to make the same file) and
a SHA-256 digest of the stored fields the run read, so a regenerated or downloaded file can be
checked against the row (:func:`data_provenance`).
"""
from __future__ import annotations

import hashlib
import os
import platform
import re
import shutil
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import torch

from .. import __version__
from .._util.environment import software_environment
from .._util.io import OutputLock, atomic_path, write_json
from .tasks import Task, get_task

__all__ = ["SCHEMA", "run", "hardware", "ensure_data", "data_provenance", "RESULT_KEYS"]

SCHEMA = "sciml-bench-result/1"
RESULT_KEYS = ("schema", "task", "model", "label", "test_rel_l2", "train_rel_l2", "params", "train_seconds",
               "seconds_per_epoch", "epochs", "epochs_recipe", "inference_ms_per_sample", "n_train", "n_test",
               "resolution", "full_recipe", "hardware", "seed", "sciml_version", "torch_version", "date",
               "model_config", "training", "data")


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def hardware(device=None) -> dict:
    """``{"cpu", "cpu_count", "cpu_capability", "torch_threads", "gpu", "device", "summary"}`` of this machine.

    ``cpu_capability`` is the SIMD level torch's CPU kernels run with (``AVX2``, ``AVX512``, ...):
    two machines with the same CPU name can differ in it, and with it in timings and in the last
    bits of results.
    """
    device = (
        torch.device(device) if device is not None else torch.device("cuda" if torch.cuda.is_available() else "cpu")
    )
    gpu = torch.cuda.get_device_name(device if device.type == "cuda" else 0) if torch.cuda.is_available() else None
    cpu = _cpu_model()
    cores = os.cpu_count()
    threads = torch.get_num_threads()
    summary = f"{gpu} (CUDA)" if device.type == "cuda" else f"{cpu}, {threads} thread{'s' if threads != 1 else ''}"
    return {"cpu": cpu, "cpu_count": cores, "cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "torch_threads": threads, "gpu": gpu, "device": str(device), "summary": summary}


def default_data_dir(data_dir=None) -> Path:
    """Where task data is kept: ``data_dir`` if given, else ``$SCIML_DATA``, else ``.bench/data``."""
    return Path(data_dir if data_dir is not None else os.environ.get("SCIML_DATA", ".bench/data"))


def data_file(task: Task, data_dir=None) -> Path:
    """The task's data file in ``data_dir`` (:func:`default_data_dir`): ``<task>_n<N>_seed<S>.h5``."""
    return default_data_dir(data_dir) / task.data_filename()


def results_paths(out, task: str, model: str, label: str) -> tuple[Path, Path]:
    """``(results JSON, run folder)`` of one row: ``out/<task>__<model>__<label>.json`` and
    ``out/runs/<same stem>`` (checkpoints, figures)."""
    file = Path(out) / f"{task}__{model.lower()}__{_label(label)}.json"
    return file, Path(out) / "runs" / file.stem


def ensure_data(task: Task, data=None, data_dir=None, *, workers: int = 1, progress: bool = True) -> Path:
    """The task's dataset file: ``data`` if given (must exist), else
    ``data_dir/<task>_n<N>_seed<S>.h5``, generated with :func:`sciml.datasets.generate`
    when missing (resumable: an interrupted generation continues)."""
    if data is not None:
        path = Path(data)
        if not path.exists():
            raise FileNotFoundError(f"--data file does not exist: {path}")
        return path
    path = data_file(task, data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        return path
    from ..datasets import generate, get_recipe

    try:
        get_recipe(task.recipe)
    except ValueError:
        raise ValueError(f"task {task.name!r} needs recipe {task.recipe!r}, which this sciml does not provide yet; "
                         f"pass --data with a store file") from None
    return generate(task.recipe, task.n_total, seed=task.seed, out=path, workers=workers, progress=progress,
                    **task.params)


def data_provenance(path, fields) -> dict:
    """Where a run's data came from and a digest of what it read.

    Parameters
    ----------
    path : str or Path
        A sciml store (HDF5) file.
    fields : sequence of str
        The fields the run read (inputs and outputs; each hashed once, in sorted order).

    Returns
    -------
    dict
        ``{"file", "recipe", "params", "seed", "n", "sciml_version", "environment", "fields", "sha256"}``
        (``environment``: the libraries and BLAS kernels the data was generated with). The
        digest covers each field's name, dtype, shape and values (row-major bytes), not the HDF5
        file, whose bytes also hold creation times and chunk layout. Attributes the store lacks
        (a file written by ``save_dataset`` or imported) are ``None``.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> from sciml.datasets import save_dataset
    >>> f = os.path.join(tempfile.mkdtemp(), "d.h5")
    >>> _ = save_dataset(f, {"a": np.zeros((2, 3, 3)), "u": np.ones((2, 3, 3))})
    >>> p = data_provenance(f, ["u", "a"])
    >>> p["fields"], len(p["sha256"])
    (['a', 'u'], 64)
    """
    from ..datasets import open_dataset

    path = Path(path)
    digest = hashlib.sha256()
    names = sorted(set(fields))
    with open_dataset(path) as ds:
        attrs = ds.attrs
        for name in names:
            d = ds[name]
            digest.update(f"{name}|{d.dtype.str}|{tuple(d.shape)}|".encode())
            step = max(1, (64 << 20) // max(1, d.dtype.itemsize * int(np.prod(d.shape[1:], dtype=np.int64))))
            for i in range(0, d.shape[0], step):  # bounded memory: 64 MiB at a time
                digest.update(np.ascontiguousarray(d[i:i + step]).tobytes())
    return {"file": path.name, "recipe": attrs.get("recipe"), "params": attrs.get("params") or None,
            "seed": attrs.get("seed"), "n": attrs.get("n"), "sciml_version": attrs.get("sciml_version"),
            "environment": attrs.get("environment"), "fields": names, "sha256": digest.hexdigest()}


def _resolve_fields(task: Task, path: Path, inputs=None, outputs=None):
    from ..datasets import open_dataset

    with open_dataset(path) as ds:
        fields = ds.fields
        shapes = {k: ds[k].ndim for k in fields}
    ins = tuple(inputs) if inputs else task.inputs
    outs = tuple(outputs) if outputs else task.outputs
    if all(f in fields for f in ins + outs):
        return ins, outs
    if task.t_in is not None and not inputs and not outputs:
        traj = [k for k in fields if shapes[k] == 5]
        if len(traj) == 1:
            return (traj[0],), (traj[0],)
    raise ValueError(f"{path.name} has fields {fields}; task {task.name!r} expects inputs {list(ins)} and outputs "
                     f"{list(outs)} (choose with --inputs/--outputs)")


def _label(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-") or "run"


def training_settings(task: Task, *, epochs: int | None = None, seconds: float | None = None,
                      batch_size: int | None = None, lr: float | None = None, optimizer: str | None = None,
                      weight_decay: float | None = None) -> dict:
    """The training settings :func:`run` trains ``task`` with: its recipe, with the given overrides.

    ``epochs`` None takes the recipe's, unless a time budget (``seconds``) alone bounds the run
    (then None). A step schedule keeps its shape over other epoch counts: ``step_size`` scales
    with ``epochs / recipe epochs``.

    Examples
    --------
    >>> from sciml.bench import get_task
    >>> t = training_settings(get_task("darcy85"), epochs=50, optimizer="adamw", weight_decay=1e-4)
    >>> t["epochs"], t["step_size"], t["optimizer"], t["weight_decay"]
    (50, 10, 'adamw', 0.0001)
    """
    training = dict(task.train)
    for key, value in (("batch_size", batch_size), ("lr", lr), ("optimizer", optimizer),
                       ("weight_decay", weight_decay)):
        if value is not None:
            training[key] = value
    recipe_epochs = training["epochs"]
    if epochs is None and seconds is None:
        epochs = recipe_epochs
    if epochs is not None and training.get("scheduler") == "step" and epochs != recipe_epochs:
        training["step_size"] = max(1, round(training["step_size"] * epochs / recipe_epochs))  # same shape, shorter
    training["epochs"] = epochs
    return training


def run(task, model: str = "fno", *, out="results", data=None, data_dir=None, epochs: int | None = None,
        seconds: float | None = None, n_train: int | None = None, n_test: int | None = None, seed: int = 0,
        device=None, amp=None, amp_eval: bool = False, micro_batch: int | None = None,
        batch_size: int | None = None,
        optimizer: str | None = None, lr: float | None = None,
        weight_decay: float | None = None,
        model_config: dict | None = None, inputs=None, outputs=None, label: str | None = None,
        train_frames: int | None = None, workers: int = 1, progress: bool = True, resume: bool = False) -> dict:
    """Train ``model`` on ``task`` (a name or :class:`Task`) and write ``out/<task>__<model>__<label>.json``.

    data: an existing store file (default: the task's file in ``data_dir``, generated
        when missing). epochs / seconds / n_train / n_test / batch_size / optimizer / lr / weight_decay override the
        task's recipe (a shorter run is recorded with ``full_recipe: false``).
    micro_batch: chunks of this many samples per forward/backward, one optimiser step per batch
        (:class:`~sciml.training.Trainer`'s gradient accumulation; the recipe's step up to rounding,
        recorded under ``training``).
    amp, amp_eval: mixed precision of training (``"bf16"``, ``"fp16"``), and whether the errors are
        measured under it too (default: the float32 model's); both recorded under ``training``.
    train_frames: trajectory tasks with a rollout model: train on windows of the true trajectories,
        ``1`` frame (teacher forcing) or ``k`` frames unrolled, instead of through the whole rollout
        (the recipe); the test error is still the full rollout's. The protocol column says so.
    resume: continue this label's run from its last checkpoint (each epoch writes one) with the
        same result as an uninterrupted run; without a checkpoint the run starts. Without
        ``resume`` a rerun of a label replaces it.
    Locking: the run holds ``<results file>.lock`` while it trains and writes, so other models or
        labels can be trained into the same ``out`` at the same time; the same label twice is refused
        (:class:`sciml._util.io.OutputLockedError`, naming the holder).
    model: a registry name, or a variant the task names (``"fno3d"`` on the NS tasks: the FNO
        over space and time, :class:`~sciml.training.SpaceTimeModel`).
    model_config: constructor arguments on top of the task's defaults for ``model``
        (``modes``/``width``/``layers`` in the FNO paper's convention, see
        :func:`sciml.training.pipeline.default_model_config`); recorded as ``model_args`` in the
        results and named in the board's protocol column (another architecture than the task's).
    Returns the result dict (also written as JSON).
    """
    from ..training.pipeline import check_modes, default_model_config, operator_grid, train_operator

    task = task if isinstance(task, Task) else get_task(task)
    if not isinstance(model, str):
        raise TypeError(f"model must be a registry name such as 'fno', got {type(model).__name__}")
    from ..operators import MODELS

    # a task may name a variant of a registry model ("fno3d": the FNO over space and time)
    variant = dict(task.models.get(model.lower(), {}))
    base = variant.pop("model", model.lower())
    space_time = bool(variant.pop("space_time", False))
    if model.lower() not in MODELS and base == model.lower():
        names = sorted(set(MODELS) | {k for k, v in task.models.items() if "model" in v})
        raise ValueError(f"model must be one of {', '.join(names)}; got {model!r}")
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"--out must be a directory, got the file {out}")
    for name, v in (("n_train", n_train), ("n_test", n_test), ("epochs", epochs), ("batch_size", batch_size)):
        if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 1):
            raise ValueError(f"{name} must be a positive integer, got {v!r}")
    if seconds is not None and not (isinstance(seconds, (int, float)) and seconds > 0):
        raise ValueError(f"seconds must be a positive number, got {seconds!r}")
    if train_frames is not None:
        if task.t_in is None or space_time:
            raise ValueError(f"train_frames needs a rollout model on a trajectory task; {task.name} / {model} "
                             "is not one")
        if isinstance(train_frames, bool) or not isinstance(train_frames, int) or not 1 <= train_frames <= task.t_out:
            raise ValueError(f"train_frames must be an integer from 1 to {task.t_out} (the task's output frames), "
                             f"got {train_frames!r}")
    out.mkdir(parents=True, exist_ok=True)
    path = ensure_data(task, data, data_dir, workers=workers, progress=progress)
    ins, outs = _resolve_fields(task, path, inputs, outputs)

    training = training_settings(task, epochs=epochs, seconds=seconds, batch_size=batch_size, lr=lr,
                                 optimizer=optimizer, weight_decay=weight_decay)
    recipe_epochs, epochs = task.train["epochs"], training.pop("epochs")
    n_tr = n_train or task.n_train
    n_te = n_test or task.n_test
    overrides = {**variant, **(model_config or {})}
    knobs = {k: overrides.pop(k) for k in ("modes", "width", "layers") if k in overrides}
    # the spatial dimension is known from the data; channels are filled in by train_operator
    from ..datasets import open_dataset

    with open_dataset(path) as ds:
        ndim, grid = operator_grid(ds[outs[0]].shape, task.t_in, task.t_out, space_time)
    cfg = default_model_config(base, 1, 1, ndim, **knobs, **overrides)
    check_modes(cfg, grid)  # before training: a mistyped --modes is refused in one line
    cfg.pop("in_channels")
    cfg.pop("out_channels")
    label = _label(label or f"e{epochs if epochs is not None else 'auto'}_n{n_tr}_s{seed}")
    file, run_dir = results_paths(out, task.name, model, label)
    # One run's outputs are locked, not the results folder: rows of other models or labels can be
    # trained into the same folder at the same time (two cores, an array job); the same label twice
    # is refused with the holder's PID.
    with OutputLock(file):
        run_dir.parent.mkdir(parents=True, exist_ok=True)
        resume = bool(resume) and (run_dir / "checkpoints" / "last").exists()
        res = train_operator(
            path,
            run_dir,
            model=base,
            model_config=cfg,
            inputs=ins,
            outputs=outs,
            n_train=n_tr,
            n_test=n_te,
            t_in=task.t_in,
            t_out=task.t_out,
            space_time=space_time,
            train_frames=train_frames,
            epochs=epochs,
            seconds=seconds,
            seed=seed,
            device=device,
            amp=amp,
            amp_eval=amp_eval,
            micro_batch=micro_batch,
            progress=progress,
            overwrite=not resume,
            resume=resume,
            figure_label=model.lower(),
            **training,
        )  # a rerun without resume replaces its label
        result = {
            "schema": SCHEMA, "task": task.name, "model": model.lower(), "label": label,
            "test_rel_l2": res["test_rel_l2"], "train_rel_l2": res["train_rel_l2"], "params": res["params"],
            "train_seconds": res["train_seconds"], "seconds_per_epoch": res["seconds_per_epoch"],
            "epochs": res["epochs"], "epochs_recipe": recipe_epochs,
            "inference_ms_per_sample": res["inference_ms_per_sample"], "n_train": res["n_train"],
            "n_test": res["n_test"],
            "resolution": res["resolution"],
            "full_recipe": bool(res["epochs"] >= recipe_epochs and res["n_train"] >= task.n_train
                                and res["n_test"] >= task.n_test),
            "hardware": hardware(res["device"]), "seed": seed, "sciml_version": __version__,
            "torch_version": torch.__version__, "environment": software_environment(),
            "date": datetime.now(UTC).isoformat(timespec="seconds"), "model_config": res["model_config"],
            "model_args": dict(model_config or {}),
            # the data file's name and the run folder relative to this file: a results file copied to
            # another machine (docs/) names no path of the machine that trained it
            "training": res["hyperparameters"], "data": path.name,
            "data_provenance": data_provenance(path, ins + outs),
            "run_dir": run_dir.relative_to(file.parent).as_posix(), "history": res["history"],
            "stopped": res.get("stopped", ""),
        }
        for key in ("train_frames", "train_windows", "rollout_rel_l2_per_step"):
            if key in res:
                result[key] = res[key]
        # the run's figures beside its results file, so the board links what a reader wants to see
        figures = {}
        for key, suffix in (("predictions_figure", "predictions"), ("loss_curves_figure", "loss"),
                            ("rollout_figure", "rollout")):
            src = res.get(key)
            if src and Path(src).exists():
                dst = file.with_name(f"{file.stem}_{suffix}.png")
                with atomic_path(dst, suffix=".png") as tmp:
                    shutil.copyfile(src, tmp)
                figures[suffix] = dst.name
        if figures:
            result["figures"] = figures
        write_json(file, result, indent=1)  # strict JSON: a NaN metric never reaches here (train_operator raises)
        result["results_file"] = str(file)
        return result
