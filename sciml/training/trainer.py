"""``Trainer``: supervised training of field-to-field models.

One object holds the model, optimiser, scheduler and the data-order generator;
``fit(train, val)`` runs the epochs on the loop core (:mod:`sciml.training.loop`: progress bar,
time cap, NaN guard) with gradient clipping, mixed precision (CUDA, or bf16 on a CPU) and
checkpoints (``checkpoint_dir/last`` after every epoch, ``best`` by validation error), gradient
accumulation over micro-batches (``micro_batch``: the batch's step in chunks), and
``fit(..., resume=True)`` continues an interrupted run exactly where it stopped (same data order,
same RNG stream, same optimiser state).

Under ``torchrun`` (``WORLD_SIZE > 1``) the process group is initialised (NCCL on CUDA,
Gloo on CPU), the model is wrapped in ``DistributedDataParallel`` while ``fit`` runs and each
rank sees its share of every epoch through a ``DistributedSampler``; rank 0 writes checkpoints.
The ranks leave ``fit`` together; a script that runs collectives of its own afterwards calls
``dist.barrier()`` before ``dist.destroy_process_group()`` (Gloo can abort a peer otherwise).
"""
from __future__ import annotations

import contextlib
import math
import warnings
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import Dataset

from .._util.progress import default_enabled
from .._util.validation import check_bool, check_choice, check_float, check_int
from . import loop as _loop
from .batches import check_dataset, epoch_batches, n_batches, ordered_batches
from .checkpoint import load_checkpoint, save_checkpoint
from .distributed import all_reduce_sum, data_parallel, init_distributed, world_size_from_env
from .loop import Loop, NonFiniteLossError, NonFiniteMetricError
from .losses import LpLoss
from .metrics import relative_l2

__all__ = ["Trainer", "NonFiniteLossError", "NonFiniteMetricError", "cpu_has_bf16"]

OPTIMIZERS = ("adamw", "adam", "sgd")
SCHEDULERS = ("cosine", "step", "onecycle", None)
AMP_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def cpu_has_bf16() -> bool:
    """Whether this CPU multiplies bfloat16 in hardware (AVX512_BF16 or AMX), so ``amp="bf16"`` pays off."""
    cpu = torch.cpu
    return bool(getattr(cpu, "_is_avx512_bf16_supported", lambda: False)()
                or getattr(cpu, "_is_amx_tile_supported", lambda: False)())


class Trainer:
    """Train ``model`` on ``(x, y)`` datasets.

    Parameters
    ----------
    model: ``nn.Module`` mapping a batch ``x`` to a prediction shaped like ``y``.
    optimizer: ``"adamw"`` (default), ``"adam"`` or ``"sgd"`` (momentum 0.9).
    lr, weight_decay: optimiser settings.
    scheduler: ``"cosine"`` (per epoch to 0 at ``epochs``), ``"step"`` (halve, i.e.
        ``gamma``, every ``step_size`` epochs; default ``epochs // 5``: the FNO recipe),
        ``"onecycle"`` (per batch) or ``None``.
    epochs, batch_size: the loop. ``max_seconds``: a wall-clock cap read from the clock after every
        batch (training, validation and checkpoints count); the run stops at the batch that reaches
        it (that epoch is recorded as it stands and checkpointed). ``epochs=None`` with
        ``max_seconds``: train until the budget is spent, the cosine/step schedule following the
        fraction of the budget used.
    loss: ``loss(pred, y) -> scalar``; default relative L2 (:class:`LpLoss`).
    grad_clip: clip the global gradient norm to this value (``None``: no clipping).
    micro_batch: forward and backward each batch in chunks of at most this many samples and take one
        optimiser step per batch (gradient accumulation); ``None``: the whole batch at once. The step
        is the whole batch's up to rounding for a loss that is a mean over the batch's samples (sciml's
        losses with ``reduction="mean"``, the default; a custom ``loss`` is assumed to be one), so
        ``batch_size`` keeps its meaning. What it buys is memory: the activations held for backward are
        a chunk's (darcy85's FNO, batch 20: 972 MB above the process's size whole, 423 MB in chunks of
        5, 188 MB in chunks of 1). The step's time barely moves on a CPU (0.94x in chunks of 5 on an
        idle core, 0.98x beside another training; ``docs/performance.md``). Reproducible per seed for
        a given ``micro_batch``; against ``None`` the weights differ in the last bits. Refused for
        models with batch normalisation (its statistics would be a chunk's).
    amp: ``None`` | ``"bf16"`` | ``"fp16"`` mixed precision: autocast around the forward pass, float32
        master weights, optimiser state and loss. ``"bf16"`` on CUDA or on a CPU (a speed-up where the
        CPU has bf16 units, AVX512_BF16 or AMX: :func:`cpu_has_bf16`; emulated and slower elsewhere, with
        a warning); ``"fp16"`` on CUDA only, with a GradScaler. Spectral convolutions mix their modes
        in float32; under ``"bf16"`` the DFT path's full-grid transforms are bfloat16 products (module
        docstring of ``sciml.operators.spectral``), the FFT path transforms in float32. See
        ``docs/performance.md`` for the measured speed and error.
    amp_eval: also run :meth:`evaluate` and :meth:`predict` (validation, test, ``keep_best``) under
        ``amp``'s autocast. Default False: the model is evaluated in its own precision (float32
        weights, float32 forward), so the reported error is the trained model's, not its rounding to
        bf16: darcy85's FNO trained with the whole recipe under bf16 had a test error of 0.00717 in
        float32 and 0.00756 under bf16 autocast (the float32-trained model's: 0.00694).
    device: ``"cpu"``, ``"cuda"``, ``"cuda:1"``...; default CUDA when available.
    progress: show the progress bar (rank 0 only); ``None``: when standard error is a terminal.
    checkpoint_dir: where ``last/`` (every ``checkpoint_every`` epochs) and, with
        ``keep_best``, ``best/`` (lowest validation error) go.
    seed: seeds the RNG and the data-order generator at the start of ``fit``.
    num_workers: DataLoader workers for lazy datasets (in-memory data is batched directly).
    model_name: registry name stored in checkpoints (default ``model.name``).

    Examples
    --------
    A batch of 8 in micro-batches of 3 (chunks of 3, 3 and 2) takes the whole batch's step:

    >>> import torch
    >>> from torch.utils.data import TensorDataset
    >>> from sciml.training import Trainer
    >>> x = torch.randn(16, 1, 8, dtype=torch.float64)
    >>> data = TensorDataset(x, 2 * x)
    >>> def trained(micro_batch):
    ...     torch.manual_seed(0)
    ...     net = torch.nn.Conv1d(1, 1, 3, padding=1).double()
    ...     Trainer(net, epochs=2, batch_size=8, micro_batch=micro_batch, progress=False).fit(data)
    ...     return net.weight.detach()
    >>> bool(torch.allclose(trained(3), trained(None), rtol=1e-12, atol=0))
    True
    """

    def __init__(self, model: nn.Module, *, optimizer: str = "adamw", lr: float = 1e-3, weight_decay: float = 1e-4,
                 scheduler: str | None = "cosine", epochs: int = 10, batch_size: int = 20,
                 loss: Callable | None = None, grad_clip: float | None = None, amp: str | None = None,
                 device=None, progress: bool = True, checkpoint_dir=None, checkpoint_every: int = 1,
                 seed: int = 0, num_workers: int = 0, model_name: str | None = None, step_size: int | None = None,
                 gamma: float = 0.5, max_seconds: float | None = None, keep_best: bool = True,
                 micro_batch: int | None = None, amp_eval: bool = False):
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        check_choice(optimizer, "optimizer", OPTIMIZERS)
        check_choice(scheduler, "scheduler", SCHEDULERS)
        lr = check_float(lr, "lr", min=0, min_open=True)
        weight_decay = check_float(weight_decay, "weight_decay", min=0)
        if epochs is None and max_seconds is None:
            raise ValueError("epochs must be a positive integer (or None with a max_seconds budget), got None")
        if epochs is None and scheduler == "onecycle":
            raise ValueError("scheduler='onecycle' needs a fixed number of epochs (got epochs=None)")
        epochs = None if epochs is None else check_int(epochs, "epochs", min=1)
        batch_size = check_int(batch_size, "batch_size", min=1)
        micro_batch = None if micro_batch is None else check_int(micro_batch, "micro_batch", min=1)
        checkpoint_every = check_int(checkpoint_every, "checkpoint_every", min=1)
        grad_clip = None if grad_clip is None else check_float(grad_clip, "grad_clip", min=0, min_open=True)
        max_seconds = None if max_seconds is None else check_float(max_seconds, "max_seconds", min=0, min_open=True)
        gamma = check_float(gamma, "gamma", min=0, min_open=True)
        step_size = None if step_size is None else check_int(step_size, "step_size", min=1)
        num_workers = check_int(num_workers, "num_workers", min=0)
        seed = check_int(seed, "seed")
        if amp is True:
            amp = "bf16"
        if amp not in (None, False, *AMP_DTYPES):
            raise ValueError(f"amp must be None, 'bf16' or 'fp16', got {amp!r}")
        if loss is not None and not callable(loss):
            raise TypeError(f"loss must be callable loss(pred, y), got {type(loss).__name__}")

        self.world_size = world_size_from_env()
        self.rank = 0
        if device is None:
            device = "cuda" if torch.cuda.is_available() else "cpu"
        try:
            self.device = torch.device(device)
        except (RuntimeError, TypeError):
            raise ValueError(f"device must be a torch device such as 'cpu' or 'cuda', got {device!r}") from None
        if self.device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"device {device!r} requested but CUDA is not available")
        if amp == "fp16" and self.device.type != "cuda":
            raise ValueError(f"amp='fp16' needs a CUDA device (device is {self.device}); on a CPU use amp='bf16' "
                             "(fast where the CPU has bf16 units) or amp=None")
        if amp == "bf16" and self.device.type == "cpu" and not cpu_has_bf16():
            warnings.warn("amp='bf16' on a CPU without bf16 units (AVX512_BF16 / AMX): the products are emulated "
                          "and slower than float32", stacklevel=2)
        self.amp = amp or None
        self.amp_eval = check_bool(amp_eval, "amp_eval")

        self.model_name = model_name
        self.module = model  # the unwrapped model (checkpoints, evaluation)
        if self.world_size > 1:
            self.rank, self.world_size, self.device = init_distributed(self.device)
        self.module.to(self.device)
        self.model = self.module  # DistributedDataParallel around it while fit() runs (data_parallel)

        self.lr, self.weight_decay, self.optimizer_name = float(lr), float(weight_decay), optimizer
        params = [p for p in self.module.parameters() if p.requires_grad]
        if not params:
            raise ValueError("model has no trainable parameters")
        if optimizer == "adamw":
            self.optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
        elif optimizer == "adam":
            self.optimizer = torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
        else:
            self.optimizer = torch.optim.SGD(params, lr=lr, weight_decay=weight_decay, momentum=0.9)
        self.scheduler_name, self.step_size, self.gamma = scheduler, step_size, float(gamma)
        self.scheduler = None
        self.epochs, self.batch_size = epochs, batch_size
        self.micro_batch = micro_batch
        if micro_batch is not None and micro_batch < batch_size:
            batchnorm = [n for n, m in self.module.named_modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
            if batchnorm:
                raise ValueError(f"micro_batch={micro_batch} with batch normalisation ({batchnorm[0]!r}"
                                 f"{f' and {len(batchnorm) - 1} more' if len(batchnorm) > 1 else ''}): its "
                                 "statistics would be those of each chunk, not of the batch; use micro_batch=None")
        self.loss = loss if loss is not None else LpLoss(d=1)
        self.grad_clip = grad_clip
        self.progress = (default_enabled() if progress is None else bool(progress)) and self.rank == 0
        self.checkpoint_dir = Path(checkpoint_dir) if checkpoint_dir is not None else None
        self.checkpoint_every = checkpoint_every
        self.seed, self.num_workers, self.max_seconds = seed, num_workers, max_seconds
        self.keep_best = bool(keep_best)
        self.scaler = torch.amp.GradScaler("cuda") if self.amp == "fp16" else None
        self.generator = torch.Generator()
        self.epoch = 0  # completed epochs
        self.history: list[dict] = []
        self.best = math.inf
        self.train_seconds = 0.0
        self.stopped = ""  # why the last fit ended before `epochs` ("" if it ran them all)

    # -- pieces ---------------------------------------------------------------------------
    @property
    def hyperparameters(self) -> dict:
        return {"optimizer": self.optimizer_name, "lr": self.lr, "weight_decay": self.weight_decay,
                "scheduler": self.scheduler_name, "step_size": self.step_size, "gamma": self.gamma,
                "epochs": self.epochs, "batch_size": self.batch_size, "micro_batch": self.micro_batch,
                "grad_clip": self.grad_clip, "amp": self.amp, "amp_eval": bool(self.amp and self.amp_eval),
                "seed": self.seed, "world_size": self.world_size, "loss": repr(self.loss)}

    def _dtype(self) -> torch.dtype:
        for p in self.module.parameters():
            if p.is_floating_point():
                return p.dtype
        return torch.float32

    def _make_scheduler(self, steps_per_epoch: int):
        if self.epochs is None:
            return None  # a time-bounded run: _budget_lr follows the budget instead
        if self.scheduler_name == "cosine":
            return torch.optim.lr_scheduler.CosineAnnealingLR(self.optimizer, T_max=self.epochs)
        if self.scheduler_name == "step":
            return torch.optim.lr_scheduler.StepLR(self.optimizer, step_size=self.step_size or max(1, self.epochs // 5),
                                                   gamma=self.gamma)
        if self.scheduler_name == "onecycle":
            return torch.optim.lr_scheduler.OneCycleLR(self.optimizer, max_lr=self.lr,
                                                       total_steps=self.epochs * steps_per_epoch)
        return None

    def _autocast(self, evaluation: bool = False):
        if self.amp and (self.amp_eval or not evaluation):
            return torch.autocast(self.device.type, dtype=AMP_DTYPES[self.amp])
        return torch.autocast(self.device.type, enabled=False)

    # -- checkpoints ----------------------------------------------------------------------
    def _state(self) -> dict:
        state = {"optimizer": self.optimizer.state_dict(), "generator": self.generator.get_state(),
                 "rng": torch.get_rng_state()}
        if self.scheduler is not None:
            state["scheduler"] = self.scheduler.state_dict()
        if self.scaler is not None:
            state["scaler"] = self.scaler.state_dict()
        if self.device.type == "cuda":
            state["cuda_rng"] = torch.cuda.get_rng_state(self.device)
        return state

    def save(self, path) -> Path:
        """Write a full checkpoint (weights, JSON config, optimiser/scheduler/RNG state) to ``path``."""
        trainer = {
            "epoch": self.epoch,
            "history": self.history,
            "best": self.best if math.isfinite(self.best) else None,
            "train_seconds": self.train_seconds,
            "hyperparameters": self.hyperparameters,
        }
        return save_checkpoint(path, self.module, name=self.model_name, trainer=trainer, state=self._state())

    def _restore(self, path):
        ck = load_checkpoint(path, map_location=self.device, model=self.module, same_as=self.model_name)
        t = ck["config"]["trainer"]
        self.epoch = int(t["epoch"])
        self.history = list(t.get("history", []))
        self.best = t.get("best") if t.get("best") is not None else math.inf
        self.train_seconds = float(t.get("train_seconds", 0.0))
        state = ck["state"] or {}
        if "optimizer" in state:
            self.optimizer.load_state_dict(state["optimizer"])
        if self.scheduler is not None and "scheduler" in state:
            self.scheduler.load_state_dict(state["scheduler"])
        if self.scaler is not None and "scaler" in state:
            self.scaler.load_state_dict(state["scaler"])
        if "generator" in state:
            self.generator.set_state(state["generator"].cpu())
        if "rng" in state:
            torch.set_rng_state(state["rng"].cpu())
        if "cuda_rng" in state and self.device.type == "cuda":
            torch.cuda.set_rng_state(state["cuda_rng"].cpu(), self.device)

    # -- the loop -------------------------------------------------------------------------
    def fit(
        self, train: Dataset, val: Dataset | None = None, *, resume=None, val_name: str = "validation"
    ) -> list[dict]:
        """Train for the configured epochs; return the per-epoch history.

        resume: ``True`` (``checkpoint_dir/last``) or a checkpoint directory to continue from.
        Each history entry has ``epoch``, ``train_loss``, ``lr``, ``seconds`` and, with
        ``val``, ``val_rel_l2`` (``val_name`` names that set in errors). A non-finite loss raises
        :class:`NonFiniteLossError` and a non-finite validation error :class:`NonFiniteMetricError`;
        the last good checkpoint (``checkpoint_dir/last``) is left as it was.
        """
        check_dataset(train, "train")
        if val is not None:
            check_dataset(val, "val")
        steps = n_batches(len(train), self.batch_size, self.world_size)
        self.scheduler = self._make_scheduler(steps)
        if resume:
            path = self.checkpoint_dir / "last" if resume is True else Path(resume)
            if resume is True and self.checkpoint_dir is None:
                raise ValueError("resume=True needs checkpoint_dir")
            self._restore(path)
        else:
            torch.manual_seed(self.seed)
            self.generator.manual_seed(self.seed)
            self.epoch, self.history, self.best, self.train_seconds = 0, [], math.inf, 0.0
        dtype = self._dtype()
        budget_only = self.epochs is None
        total = None if budget_only else self.epochs * steps
        fields = ("epoch", "loss", "val")
        if budget_only or self.epoch < self.epochs:
            loop = Loop(total, "train", seconds=self.max_seconds, spent=self.train_seconds,
                        done=self.epoch * steps, progress=self.progress, fields=fields, unit="steps")
            with loop, data_parallel(self.module, self.device, self.world_size) as model:
                self.model = model
                try:
                    self._epochs(loop, train, val, dtype, budget_only, val_name)
                finally:
                    self.model = self.module
            self.stopped = loop.stopped
        return self.history

    def _epochs(self, loop: Loop, train, val, dtype, budget_only: bool, val_name: str):
        while budget_only or self.epoch < self.epochs:
            if budget_only:
                self._budget_lr(loop.fraction)
            t0 = _loop.clock()
            self.model.train()
            total, count = 0.0, 0
            batches = epoch_batches(train, self.epoch, batch_size=self.batch_size, generator=self.generator,
                                    seed=self.seed, world_size=self.world_size, rank=self.rank,
                                    num_workers=self.num_workers)
            for b, (x, y) in enumerate(batches):
                x = x.to(self.device, dtype=dtype, non_blocking=True)
                y = y.to(self.device, dtype=dtype, non_blocking=True)
                self.optimizer.zero_grad(set_to_none=True)
                loss = self._forward_backward(loop, x, y, b, dtype)
                if self.scaler is not None:
                    if self.grad_clip:
                        self.scaler.unscale_(self.optimizer)
                        nn.utils.clip_grad_norm_(self.module.parameters(), self.grad_clip)
                    self.scaler.step(self.optimizer)
                    self.scaler.update()
                else:
                    if self.grad_clip:
                        nn.utils.clip_grad_norm_(self.module.parameters(), self.grad_clip)
                    self.optimizer.step()
                if self.scheduler is not None and self.scheduler_name == "onecycle":
                    self.scheduler.step()
                total += float(loss.detach()) * x.shape[0]
                count += x.shape[0]
                if loop.advance(loss=f"{total / count:.4g}"):
                    break  # the budget is spent: this epoch ends here
            lr = self.optimizer.param_groups[0]["lr"]
            if self.scheduler is not None and self.scheduler_name != "onecycle":
                self.scheduler.step()
            total, count = all_reduce_sum([total, float(count)], self.device, self.world_size)
            self.epoch += 1
            entry = {"epoch": self.epoch, "train_loss": total / count, "lr": lr}
            if val is not None:
                entry["val_rel_l2"] = self.evaluate(val, what=val_name)["rel_l2"]
            # wall clock of the epoch, validation included: what the budget counts
            entry["seconds"] = _loop.clock() - t0
            self.train_seconds = loop.elapsed
            self.history.append(entry)
            loop.update(epoch=f"{self.epoch}/{self.epochs or '-'}",
                        val=f"{entry['val_rel_l2']:.4g}" if val is not None else "-")
            stop = loop.should_stop()
            self._checkpoint(entry, final=stop)
            if stop:
                break

    def _forward_backward(self, loop: Loop, x, y, b: int, dtype) -> torch.Tensor:
        """Accumulate the batch's gradient (in ``micro_batch`` chunks); return the batch's loss."""
        n = x.shape[0]
        size = n if self.micro_batch is None else self.micro_batch
        starts = range(0, n, size)
        total = None
        for k, i in enumerate(starts):
            xs, ys = (x, y) if size >= n else (x[i:i + size], y[i:i + size])
            with self._autocast():
                pred = self.model(xs)
            loss = self.loss(pred.to(dtype), ys)
            if not torch.isfinite(loss.detach()).all():
                self._nonfinite(loop, loss, b)
            if size < n:  # a mean over the chunk, weighted to its share of the batch's mean
                loss = loss * (xs.shape[0] / n)
            # under DistributedDataParallel only the batch's last backward all-reduces the gradients
            sync = self.world_size == 1 or k == len(starts) - 1
            with contextlib.nullcontext() if sync else self.model.no_sync():
                (self.scaler.scale(loss) if self.scaler is not None else loss).backward()
            total = loss.detach() if total is None else total + loss.detach()
        return total

    def _budget_lr(self, fraction: float):
        """Learning rate of a run bounded by time only: the schedule follows the budget spent."""
        if self.scheduler_name == "cosine":
            factor = 0.5 * (1 + math.cos(math.pi * fraction))
        elif self.scheduler_name == "step":
            factor = self.gamma ** math.floor(5 * min(fraction, 0.999))
        else:
            factor = 1.0
        for group in self.optimizer.param_groups:
            group["lr"] = self.lr * factor

    def _nonfinite(self, loop, loss, batch):
        where = f"epoch {self.epoch + 1}, batch {batch + 1}"
        if self.checkpoint_dir is not None and (self.checkpoint_dir / "last").exists():
            kept = f"the last good checkpoint ({self.checkpoint_dir / 'last'}, epoch {self.epoch}) is kept"
        elif self.checkpoint_dir is not None:
            kept = "no checkpoint had been written yet"
        else:
            kept = "no checkpoint_dir was set"
        loop.check_finite(loss, where, f"{kept}. Lower lr, set grad_clip, or check the data for NaN/inf.")

    def _checkpoint(self, entry, final: bool = False):
        if self.checkpoint_dir is None or self.rank != 0:
            return
        if self.epoch % self.checkpoint_every == 0 or self.epoch == self.epochs or final:
            self.save(self.checkpoint_dir / "last")
        score = entry.get("val_rel_l2")
        if self.keep_best and score is not None and score < self.best:
            self.best = score
            self.save(self.checkpoint_dir / "best")

    # -- evaluation -----------------------------------------------------------------------
    @torch.no_grad()
    def predict(self, x: torch.Tensor, batch_size: int | None = None) -> torch.Tensor:
        """Model output for inputs ``x`` ``(N, ...)`` in eval mode, on the CPU (in the model's precision
        unless ``amp_eval``)."""
        self.module.eval()
        dtype = self._dtype()
        bs = batch_size or self.batch_size
        outs = []
        for i in range(0, x.shape[0], bs):
            with self._autocast(evaluation=True):
                outs.append(self.module(x[i:i + bs].to(self.device, dtype=dtype)).to(dtype).cpu())
        return torch.cat(outs)

    @torch.no_grad()
    def evaluate(self, data: Dataset, batch_size: int | None = None, *, what: str = "data") -> dict:
        """Mean per-sample relative L2 error (``rel_l2``) and mean loss (``loss``) on ``data``.

        A NaN or infinite error (NaN in a sample or in the prediction) raises
        :class:`NonFiniteMetricError` naming the first offending samples (positions in ``data``);
        a metric is never reported as NaN.
        """
        check_dataset(data, "data")
        self.module.eval()
        dtype = self._dtype()
        n = len(data)
        rel = loss = 0.0
        bad: list[int] = []
        seen = 0
        for x, y in ordered_batches(data, batch_size or self.batch_size, self.num_workers):
            x = x.to(self.device, dtype=dtype)
            y = y.to(self.device, dtype=dtype)
            with self._autocast(evaluation=True):
                pred = self.module(x)
            pred = pred.to(dtype)
            per = relative_l2(pred, y)
            if not bool(torch.isfinite(per).all()):
                bad += (seen + torch.nonzero(~torch.isfinite(per.reshape(-1))).reshape(-1)).tolist()
            rel += float(per.sum())
            loss += float(self.loss(pred, y)) * x.shape[0]
            seen += x.shape[0]
        if bad or not (math.isfinite(rel) and math.isfinite(loss)):
            shown = ", ".join(str(i) for i in bad[:5]) + (" ..." if len(bad) > 5 else "")
            raise NonFiniteMetricError(f"non-finite relative L2 error on the {what} set ({len(bad)} of {n} samples"
                                       + (f": positions {shown}" if bad else "")
                                       + "): NaN/inf in those samples or in the model's prediction")
        return {"rel_l2": rel / n, "loss": loss / n}
