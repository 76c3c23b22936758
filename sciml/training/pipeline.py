"""One supervised run from a store file: split, normalise, build, train, evaluate, plot.

:func:`train_operator` is what ``sciml train``, ``sciml bench run`` and the demo's
:func:`sciml.training.quick_train` call. It returns a plain dict of measured numbers
(test relative L2, parameter count, train seconds, inference ms per sample, ...) and
writes into ``out_dir``: ``checkpoints/last`` (weights + JSON config), ``data.json`` (the digest of
the samples it trains and tests on, checked when the run is resumed), ``results.json``,
``predictions.png`` and ``loss_curves.png``.
"""
from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np
import torch

from .._util.digest import array_digest
from .._util.io import OutputLock, write_json
from ..datasets.loaders import FieldDataset, UnitGaussianNormalizer, split_indices
from .rollout import RolloutModel, SpaceTimeModel, TrajectoryWindows, rollout_errors
from .trainer import Trainer
from .wrappers import NormalizedModel

__all__ = ["train_operator", "check_modes", "default_model_config", "fft_friendly_padding"]


def default_model_config(name: str, in_channels: int, out_channels: int, ndim: int, *, modes: int | None = None,
                         width: int | None = None, layers: int | None = None, **overrides) -> dict:
    """Constructor arguments of registry model ``name`` for the given channels and dimension.

    modes: Fourier modes per axis *per sign* (the FNO paper's ``modes``, 12 for Darcy);
        sciml's FNO counts both signs, so ``n_modes = 2 * modes`` on every axis.
    width: hidden channels; layers: number of blocks. ``overrides`` are passed as they are.
    """
    name = name.lower()
    if name in ("fno", "tfno", "mg-tfno"):
        cfg = {"in_channels": in_channels, "out_channels": out_channels,
               "n_modes": [2 * (modes or 12)] * ndim, "hidden_channels": width or 32, "n_layers": layers or 4}
    else:
        cfg = {"in_channels": in_channels, "out_channels": out_channels}
        for key, value in (("modes", modes), ("width", width), ("layers", layers)):
            if value is not None:
                raise ValueError(f"--{key} is only understood for fno/tfno/mg-tfno; pass {name}'s own arguments")
    cfg.update(overrides)
    return cfg


def _is_smooth(n: int) -> bool:
    for f in (2, 3, 5):
        while n % f == 0:
            n //= f
    return n == 1


def fft_friendly_padding(shape, minimum: float = 0.1) -> list[float]:
    """Per-axis domain-padding fractions (one-sided) that pad each axis of ``shape`` by at
    least ``minimum`` of its length to a size whose only prime factors are 2, 3 and 5.

    FFT cost depends on the size's factors: a prime length such as 43 or 47 is several
    times slower than 48 (pocketfft/cuFFT fall back to Bluestein's algorithm).
    """
    out = []
    for n in shape:
        m = int(math.ceil(n * (1 + minimum)))
        while not _is_smooth(m):
            m += 1
        out.append((m - n) / n)
    return out


def _count(model) -> int:
    """Real parameters (a complex weight counts twice: real and imaginary part)."""
    return sum(p.numel() * (2 if p.is_complex() else 1) for p in model.parameters())


def _inference_ms(model, x: torch.Tensor, device, batch_size: int) -> float:
    """Wall-clock milliseconds per sample of batched inference (after one warm-up batch)."""
    model.eval()
    x = x[: max(batch_size, min(len(x), 4 * batch_size))]
    with torch.no_grad():
        model(x[:batch_size].to(device))
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        t0 = time.perf_counter()
        for i in range(0, len(x), batch_size):
            model(x[i:i + batch_size].to(device))
        if device.type == "cuda":
            torch.cuda.synchronize(device)
    return 1e3 * (time.perf_counter() - t0) / len(x)


def train_operator(data, out_dir, *, model: str = "fno", model_config: dict | None = None, inputs="a", outputs="u",
                   n_train: int | None = None, n_test: int | None = None, split_seed: int | None = None,
                   t_in: int | None = None, t_out: int | None = None, space_time: bool = False,
                   train_frames: int | None = None, normalize: bool = True,
                   epochs: int | None = None, seconds: float | None = None, batch_size: int = 20,
                   optimizer: str = "adamw", lr: float = 1e-3,
                   weight_decay: float = 1e-4, scheduler: str | None = "cosine", step_size: int | None = None,
                   gamma: float = 0.5, grad_clip: float | None = None, amp: str | None = None,
                   amp_eval: bool = False, micro_batch: int | None = None, device=None,
                   seed: int = 0, progress: bool | None = True, resume: bool = False, figures: bool = True,
                   builder=None, overwrite: bool = False, figure_label: str | None = None) -> dict:
    """Train registry model ``model`` on store file ``data``; evaluate on the test split.

    Splits: ``n_train``/``n_test`` take the first ``n_train`` and the last ``n_test``
    complete samples (the FNO convention; ``split_seed`` shuffles instead); without them
    80 % / 20 % with ``split_seed`` (default ``seed``).
    Trajectories: ``t_in`` frames in, ``t_out`` frames out through a :class:`RolloutModel`
    around a step model with ``t_in * C`` input channels and ``C`` output channels; with
    ``space_time`` through a :class:`SpaceTimeModel` instead (the model is built with one
    more axis, time, of ``t_out`` points: FNO-3D; ``normalize`` then applies to the window
    and the predicted block, while a rollout always sees raw fields).
    train_frames: train a rollout on windows of the true trajectories instead of through the whole
        rollout (:class:`TrajectoryWindows`: ``1`` is teacher forcing, ``k`` a ``k``-frame unroll);
        the epochs then pass over every window, the test and training errors stay those of the
        full ``t_out``-frame rollout. ``None`` (the FNO code): back-propagation through the rollout.
    Training length: ``epochs``; or ``seconds`` alone (a wall-clock budget read from the clock
    after every batch: training runs until it is spent, the cosine/step schedule following the
    fraction used); or both (``epochs`` with ``seconds`` as a cap; ``result["stopped"]`` says
    whether the cap cut the run short). NaN/inf in the test or training metrics raises
    :class:`~sciml.training.NonFiniteMetricError`; ``results.json`` is strict JSON.
    normalize: pointwise :class:`UnitGaussianNormalizer` on inputs and outputs (fields only).
    model_config: constructor arguments (see :func:`default_model_config`); channels are
        filled in from the data, and ``domain_padding="auto"`` becomes
        :func:`fft_friendly_padding` of the grid (at least 10 %, to an FFT-friendly size).

    Outputs: ``out_dir`` is locked while the run writes it (a second run into it is refused with
    :class:`~sciml._util.io.OutputLockedError` naming the holder); a directory that already holds
    a run (``results.json`` or ``checkpoints/``) is refused with ``FileExistsError`` unless
    ``resume`` (continue it) or ``overwrite`` (replace it).
    Fourier modes larger than the (padded) grid are refused with ``ValueError``.
    optimizer, lr, weight_decay, scheduler, step_size, gamma, grad_clip, amp, amp_eval, micro_batch, device:
        :class:`~sciml.training.Trainer`'s (``micro_batch``: the batch's step in chunks of that many
        samples, gradient accumulation).
    figure_label: the model's name in the figures' titles and legends (default the model's own
        name; ``sciml bench`` passes the board's name of a variant, e.g. ``fno3d``).

    Returns a dict with ``test_rel_l2``, ``train_rel_l2``, ``params``, ``train_seconds``,
    ``epochs``, ``inference_ms_per_sample``, ``n_train``, ``n_test``, ``resolution``,
    ``history`` and the written paths.
    """
    from ..operators import build_model

    if epochs is None and seconds is None:
        raise ValueError("give epochs or seconds (a training budget)")
    if seconds is not None and not (isinstance(seconds, (int, float)) and seconds > 0):
        raise ValueError(f"seconds must be a positive number, got {seconds!r}")
    if not isinstance(model, str):
        raise TypeError(f"model must be a registry name such as 'fno', got {type(model).__name__}")
    out_dir = Path(out_dir)
    if not out_dir.parent.exists():
        raise FileNotFoundError(f"parent directory of out_dir does not exist: {out_dir.parent}")
    if out_dir.exists() and not out_dir.is_dir():
        raise NotADirectoryError(f"out_dir must be a directory, got the file {out_dir}")
    previous = [p.name for p in (out_dir / "results.json", out_dir / "checkpoints") if p.exists()]
    if previous and not resume and not overwrite:
        raise FileExistsError(f"{out_dir} already holds a run ({', '.join(previous)}); resume it, choose another "
                              "output, or overwrite it")
    probe = FieldDataset(data, inputs, outputs, t_in=t_in, t_out=t_out)
    avail = np.zeros(probe.n_stored, bool)
    avail[probe.indices] = True
    n_avail = int(avail.sum())
    if n_train is not None or n_test is not None:
        n_tr = n_train if n_train is not None else n_avail - n_test
        n_te = n_test if n_test is not None else n_avail - n_tr
        for name, v in (("n_train", n_tr), ("n_test", n_te)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise ValueError(f"{name} must be a positive integer, got {v!r}")
        if n_tr + n_te > n_avail:
            raise ValueError(f"n_train + n_test = {n_tr + n_te} exceeds the {n_avail} complete samples in {data}")
        tr_idx, te_idx = split_indices(probe.n_stored, [int(n_tr), int(n_te)], seed=split_seed, available=avail)
    else:
        if n_avail < 2:
            raise ValueError(f"{data} holds {n_avail} complete samples; need at least 2 to split")
        tr_idx, te_idx = split_indices(probe.n_stored, [0.8, 0.2], seed=seed if split_seed is None else split_seed,
                                       available=avail)
    probe.close()
    out_dir.mkdir(exist_ok=True)
    t_load = time.perf_counter()
    train = FieldDataset(data, inputs, outputs, indices=tr_idx, t_in=t_in, t_out=t_out, in_memory=True)
    test = FieldDataset(data, inputs, outputs, indices=te_idx, t_in=t_in, t_out=t_out, in_memory=True)
    load_seconds = time.perf_counter() - t_load
    x_tr, y_tr = train.tensors()
    trajectory = t_in is not None
    if space_time and not trajectory:
        raise ValueError("space_time needs trajectories (t_in frames in, t_out out)")
    if train_frames is not None and (not trajectory or space_time):
        raise ValueError("train_frames needs a rollout of trajectories (t_in given, space_time off)")
    if trajectory:
        _, ti, c, *spatial = x_tr.shape
        step_in, step_out = ti * c, c
    else:
        _, step_in, *spatial = x_tr.shape
        step_out = y_tr.shape[1]

    torch.manual_seed(seed)
    cfg = dict(model_config or {})
    grid = [*spatial, y_tr.shape[1]] if space_time else spatial  # the axes the operator sees
    if cfg.get("domain_padding") == "auto":
        cfg["domain_padding"] = fft_friendly_padding(grid)
    cfg.setdefault("in_channels", step_in)
    cfg.setdefault("out_channels", step_out)
    check_modes(cfg, grid)
    net = (builder or build_model)(model, **cfg)
    name = getattr(net, "model_name", model)
    pod = getattr(net, "fit_pod", None)
    if trajectory:
        if pod is not None:
            raise ValueError(f"model {model!r} (a POD basis of single outputs) cannot be trained on rollouts")
        if not space_time:  # the FNO-2D rollout feeds its own outputs back: raw fields, as in the FNO code
            net = RolloutModel(net, t_in=t_in, t_out=y_tr.shape[1], train_frames=train_frames)
        else:  # FNO-3D normalises the input window and the output block pointwise (the FNO code)
            net = SpaceTimeModel(net, t_in=t_in, t_out=y_tr.shape[1])
            if normalize:
                net = NormalizedModel(net, UnitGaussianNormalizer.fit(x_tr), UnitGaussianNormalizer.fit(y_tr))
    elif normalize:
        y_norm = UnitGaussianNormalizer.fit(y_tr)
        net = NormalizedModel(net, UnitGaussianNormalizer.fit(x_tr), y_norm)
        if pod is not None:  # the basis of what the inner model predicts: normalised training outputs
            pod(y_norm.encode(y_tr))
    elif pod is not None:
        pod(y_tr)

    kw = dict(optimizer=optimizer, lr=lr, weight_decay=weight_decay, scheduler=scheduler, batch_size=batch_size,
              grad_clip=grad_clip, amp=amp, amp_eval=amp_eval, micro_batch=micro_batch, device=device, seed=seed,
              step_size=step_size, gamma=gamma, model_name=name)
    # the test split is only monitored (loss curves), never used to pick a checkpoint: no "best"
    trainer = Trainer(net, epochs=epochs, progress=progress, checkpoint_dir=out_dir / "checkpoints",
                      max_seconds=seconds, keep_best=False, **kw)
    fit_data = train if train_frames is None else TrajectoryWindows(x_tr, y_tr, frames=train_frames)
    with OutputLock(out_dir):
        return _run(trainer, train, test, out_dir, data, name, cfg, spatial, trajectory, resume, overwrite,
                    load_seconds, batch_size, seed, epochs, seconds, figures, t_in, fit_data,
                    figure_label or name)


def operator_grid(field_shape, t_in: int | None = None, t_out: int | None = None,
                  space_time: bool = False) -> tuple[int, tuple]:
    """``(ndim, grid)`` of the operator that trains on a stored field of shape ``field_shape``.

    ``field_shape`` is ``(N, C, *s)``, or ``(N, T, C, *s)`` for trajectories (``t_in`` given).
    ``grid`` is ``s``; with ``space_time`` it gains the time axis of ``t_out`` points (default:
    the frames after the ``t_in`` input frames), the axis a :class:`SpaceTimeModel` adds.
    """
    field_shape = tuple(int(n) for n in field_shape)
    ndim = len(field_shape) - (3 if t_in is not None else 2)
    grid = field_shape[-ndim:]
    if space_time:
        grid, ndim = (*grid, t_out or field_shape[1] - t_in), ndim + 1
    return ndim, grid


def check_modes(cfg: dict, spatial) -> None:
    """Refuse Fourier modes the (padded) grid cannot hold: ``ValueError`` naming the axis.

    ``cfg["n_modes"]`` counts both signs per axis (an int: every axis); ``cfg["domain_padding"]``
    widens each axis by that fraction. A mode beyond the FFT of the axis would be parameters
    that multiply nothing (``--modes 1000`` on a 13x13 grid is 256 M of them).
    """
    modes = cfg.get("n_modes")
    if modes is None:
        return
    spatial = tuple(int(n) for n in spatial)
    modes = [modes] * len(spatial) if isinstance(modes, int) else list(modes)
    if len(modes) != len(spatial):
        raise ValueError(f"n_modes {modes} has {len(modes)} entries for a {len(spatial)}-D grid {spatial}")
    pad = cfg.get("domain_padding") or 0.0
    if pad == "auto":
        pad = fft_friendly_padding(spatial)
    pads = list(pad) if isinstance(pad, (list, tuple)) else [pad] * len(spatial)
    for axis, (m, n, p) in enumerate(zip(modes, spatial, pads)):
        size = int(round(n * (1 + float(p))))
        per_sign = -(-int(m) // 2)
        if per_sign > size // 2 + 1:
            grid = "x".join(map(str, spatial))
            raise ValueError(f"modes: {per_sign} per sign (n_modes {int(m)}) on axis {axis} exceed its {size}-point "
                             f"grid ({n} points + padding, grid {grid}); use at most {size // 2 + 1} per sign")


def _run(trainer, train, test, out_dir, data, name, cfg, spatial, trajectory, resume, overwrite, load_seconds,
         batch_size, seed, epochs, seconds, figures, t_in, fit_data, figure_label):
    if overwrite and not resume:
        import shutil

        for old in ("checkpoints", "results.json", "predictions.png", "loss_curves.png", "rollout_errors.png",
                    _DATA_STAMP):
            target = out_dir / old
            if target.is_dir():
                shutil.rmtree(target)
            elif target.exists():
                target.unlink()
    _check_same_data(out_dir, data, train, test, resume)
    history = trainer.fit(fit_data, test, resume=resume, val_name="test")
    test_metrics = trainer.evaluate(test, what="test")
    train_metrics = trainer.evaluate(train, what="training")
    x_te, y_te = test.tensors()
    ms = _inference_ms(trainer.module, x_te, trainer.device, batch_size)
    result = {
        "model": name,
        "model_config": cfg,
        "data": str(data),
        "recipe": train.attrs.get("recipe"),
        "resolution": list(spatial),
        "n_train": len(train),
        "n_test": len(test),
        "test_rel_l2": test_metrics["rel_l2"],
        "train_rel_l2": train_metrics["rel_l2"],
        "params": _count(trainer.module),
        "epochs": trainer.epoch,
        "epochs_requested": epochs,
        "time_cap_seconds": seconds,
        "stopped": trainer.stopped,
        "train_seconds": trainer.train_seconds,
        "seconds_per_epoch": trainer.train_seconds / max(trainer.epoch, 1),
        "load_seconds": load_seconds,
        "inference_ms_per_sample": ms,
        "seed": seed,
        "device": str(trainer.device),
        "hyperparameters": trainer.hyperparameters,
        "history": history,
        "checkpoint": str(out_dir / "checkpoints" / "last"),
    }
    if fit_data is not train:
        result["train_frames"] = fit_data.frames
        result["train_windows"] = len(fit_data)
    if trajectory:
        result["rollout_rel_l2_per_step"] = rollout_errors(trainer.module, x_te, y_te,
                                                           batch_size=batch_size).tolist()
    if figures:
        from ..viz.training import plot_loss_curves, plot_predictions, plot_rollout_errors

        with torch.no_grad():
            pred = trainer.predict(x_te[:3])
        result["predictions_figure"] = str(plot_predictions(x_te[:3], y_te[:3], pred, out_dir / "predictions.png"))
        result["loss_curves_figure"] = str(plot_loss_curves(history, out_dir / "loss_curves.png",
                                                            title=f"{figure_label} on {Path(data).name}"))
        if trajectory:
            curve = plot_rollout_errors(result["rollout_rel_l2_per_step"], out_dir / "rollout_errors.png",
                                        label=figure_label, t0=t_in)
            result["rollout_figure"] = str(curve)
    write_json(out_dir / "results.json", result, indent=1)
    result["results_file"] = str(out_dir / "results.json")
    return result


#: the run's data, as the samples it trains and tests on (``{"data", "sha256", "n_train", "n_test"}``)
_DATA_STAMP = "data.json"


def _check_same_data(out_dir: Path, data, train, test, resume: bool) -> None:
    """Record the run's data when it starts; refuse to resume it on other samples.

    A resumed run continues the optimiser's state: on other data (a regenerated file, another
    split) it would be neither the old run nor a new one. Runs started before the record existed
    (no ``data.json``) resume unchecked.
    """
    stamp = out_dir / _DATA_STAMP
    if resume and not stamp.exists():
        return
    # the tensors read (after the float32 cast), so the split, sizes and fields count, not the file's name
    digest = array_digest([*train.tensors(), *test.tensors()])
    if not resume:
        write_json(stamp, {"data": str(data), "sha256": digest, "n_train": len(train), "n_test": len(test)}, indent=1)
        return
    started = json.loads(stamp.read_text())
    if started.get("sha256") != digest:
        raise ValueError(f"{out_dir} was trained on other samples (sha256 {str(started.get('sha256'))[:12]}, "
                         f"{started.get('data')}) than {data} gives now ({digest[:12]}); resuming would mix "
                         "them: train it again without resume, or restore that data")
