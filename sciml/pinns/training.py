"""Training of physics-informed models on a list of loss terms.

A :class:`LossTerm` is a named residual: ``fn(model, points) -> r`` (or ``fn(model) -> r``
when it has no points), ``r`` of shape ``(n,)`` / ``(n, k)`` whose mean square is the
term's loss, or a 0-dim tensor used as the loss directly. Nothing here knows about a
particular PDE, so the same trainer serves PINNs, Lagrangian PINNs and particle methods.

:class:`PINNTrainer` (and the one-call :func:`train_pinn`) runs

* Adam (optionally with learning-rate decay), then
* L-BFGS with strong-Wolfe line search (``torch.optim.LBFGS(line_search_fn="strong_wolfe")``),
  with ``history_size``, ``tolerance_grad``, ``tolerance_change`` passed to torch and the
  iteration budget counted over true L-BFGS iterations (it stops early when torch's
  tolerances are met), then
* dense (self-scaled) BFGS for small float64 networks (:mod:`sciml.pinns.bfgs`), the late-phase
  optimiser that reaches the accuracies L-BFGS stalls short of;
* adaptive loss weights by learning-rate annealing (Wang, Teng & Perdikaris 2021,
  "Understanding and mitigating gradient flow pathologies in PINNs"):
  ``lambda_hat_i = max|grad L_pde| / mean|grad L_i|``, ``lambda_i <- (1 - alpha) lambda_i + alpha lambda_hat_i``;
* causal weighting (Wang, Sankaran & Perdikaris 2022, "Respecting causality is all you need"):
  the residual points of a term are split into ``M`` time chunks with losses ``L_1..L_M`` and
  ``L = (1/M) sum_i w_i L_i``, ``w_i = exp(-eps sum_{k<i} L_k)`` (no gradient through ``w``);
* checkpoints in the one format (:mod:`sciml.training.checkpoint`) and the progress bar, time cap and
  NaN guard of the one loop core (:mod:`sciml.training.loop`).
"""
from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
from torch import nn

from .._util.validation import check_int
from .terms import CausalWeighting, LossTerm, resampling_callback

__all__ = ["LossTerm", "CausalWeighting", "PINNTrainer", "train_pinn", "TrainResult", "resampling_callback"]

_LABEL = {"adam": "Adam", "lbfgs": "L-BFGS", "bfgs": "BFGS"}


@dataclass
class TrainResult:
    """History of a run: ``history`` rows ``{phase, iteration, loss, <term>: loss, weight_<term>: w, time}``;
    ``timings[phase] = {"seconds", "iterations", "evaluations"}``."""

    history: list = field(default_factory=list)
    timings: dict = field(default_factory=dict)
    stopped: str = ""

    @property
    def final_loss(self) -> float:
        return self.history[-1]["loss"] if self.history else float("nan")

    def seconds_per_iteration(self, phase: str) -> float:
        t = self.timings.get(phase)
        return t["seconds"] / t["iterations"] if t and t["iterations"] else float("nan")


def _check_loss_scale(v):
    if v == "auto" and isinstance(v, str):
        return
    if isinstance(v, (bool, str)) or not (isinstance(v, (int, float)) and v > 0 and math.isfinite(v)):
        raise ValueError(f"loss_scale must be a positive number or 'auto', got {v!r}")


class PINNTrainer:
    """Adam then L-BFGS on a list of :class:`LossTerm`.

    Parameters
    ----------
    model : torch.nn.Module
        Its parameters are optimised.
    terms : list of LossTerm
        The loss terms (names must be unique).
    adaptive_weights : {"none", "lr_annealing"}, optional
        Learning-rate annealing of the weights (Wang, Teng & Perdikaris 2021).
    annealing_alpha, annealing_every : optional
        Moving-average factor (paper: 0.9); Adam steps between updates.
    checkpoint : path, optional
        A checkpoint directory (:func:`sciml.training.save_checkpoint`, kind ``pinn``), written
        every ``checkpoint_every`` iterations and at the end of each phase. ``resume=True`` loads
        it first if it exists (also a ``.pt`` file of the earlier layout, read with
        ``weights_only=True``: nothing in it can run code).
    progress : bool or None, optional
        Show the progress bar with the loss terms (``None``: when standard error is a terminal);
        ``log_every`` is the history/progress cadence.
    max_seconds : float, optional
        Wall-clock cap of each phase call, read from the clock at the log cadence.
    callback : callable, optional
        ``callback(trainer, phase, iteration)`` called every ``log_every`` iterations (e.g.
        adaptive resampling with :meth:`LossTerm.set_points`); it may return ``True`` to stop.

    Notes
    -----
    A NaN/inf loss raises :class:`~sciml.training.NonFiniteLossError` (``result.stopped`` says where).
    """

    def __init__(self, model: nn.Module, terms: Sequence[LossTerm], *, adaptive_weights: str = "none",
                 annealing_alpha: float = 0.9, annealing_every: int = 100, checkpoint: str | os.PathLike | None = None,
                 checkpoint_every: int = 1000, resume: bool = False, progress: bool | None = True, log_every: int = 50,
                 callback: Callable | None = None, max_seconds: float | None = None):
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        terms = list(terms)
        if not terms or not all(isinstance(t, LossTerm) for t in terms):
            raise TypeError("terms must be a non-empty sequence of LossTerm")
        names = [t.name for t in terms]
        if len(set(names)) != len(names):
            raise ValueError(f"loss term names must be unique, got {names}")
        if adaptive_weights not in ("none", "lr_annealing"):
            raise ValueError(f"adaptive_weights must be 'none' or 'lr_annealing', got {adaptive_weights!r}")
        if adaptive_weights == "lr_annealing" and not any(t.kind == "pde" for t in terms):
            raise ValueError("lr_annealing needs at least one term of kind 'pde' as the reference")
        if not 0 < annealing_alpha <= 1:
            raise ValueError(f"annealing_alpha must be in (0, 1], got {annealing_alpha}")
        self.model, self.terms = model, terms
        self.adaptive_weights, self.annealing_alpha = adaptive_weights, float(annealing_alpha)
        self.annealing_every = check_int(annealing_every, "annealing_every", min=1)
        self.checkpoint = None if checkpoint is None else os.fspath(checkpoint)
        self.checkpoint_every = check_int(checkpoint_every, "checkpoint_every", min=1)
        self.progress = None if progress is None else bool(progress)
        self.log_every = check_int(log_every, "log_every", min=1)
        if max_seconds is not None and (isinstance(max_seconds, bool) or not isinstance(max_seconds, (int, float))
                                        or not (max_seconds > 0 and math.isfinite(max_seconds))):
            raise ValueError(f"max_seconds must be a positive number or None, got {max_seconds!r}")
        self.max_seconds = max_seconds
        self.callback = callback
        self.result = TrainResult()
        self.iterations = {"adam": 0, "lbfgs": 0, "bfgs": 0}
        if resume and self.checkpoint and os.path.exists(self.checkpoint):
            self.load(self.checkpoint)

    # ------------------------------------------------------------------ losses
    def losses(self) -> tuple[torch.Tensor, dict]:
        """Weighted total loss and the unweighted term losses (floats)."""
        total, parts = 0.0, {}
        for t in self.terms:
            L = t.loss(self.model)
            parts[t.name] = L
            total = total + t.weight * L
        return total, parts

    def evaluate(self) -> dict:
        """Current unweighted term losses and weighted total (no parameter update)."""
        total, parts = self.losses()
        out = {k: float(v.detach()) for k, v in parts.items()}
        out["loss"] = float(total.detach())
        return out

    def _params(self):
        return [p for p in self.model.parameters() if p.requires_grad]

    def _anneal(self, parts: dict):
        params = self._params()

        def grads(L):
            gs = torch.autograd.grad(L, params, retain_graph=True, allow_unused=True)
            return torch.cat([g.reshape(-1).abs() for g in gs if g is not None] or [L.new_zeros(1)])

        ref = max(float(grads(parts[t.name]).max()) for t in self.terms if t.kind == "pde")
        for t in self.terms:
            if t.kind == "pde" or not t.adaptive:
                continue
            m = float(grads(parts[t.name]).mean())
            if m > 0 and math.isfinite(ref):
                t.weight = (1 - self.annealing_alpha) * t.weight + self.annealing_alpha * ref / m

    # ------------------------------------------------------------------ logging
    def _record(self, phase, it, total, parts, t_start):
        row = {"phase": phase, "iteration": it, "loss": float(total.detach())}
        for t in self.terms:
            row[t.name] = float(parts[t.name].detach())
            row["weight_" + t.name] = t.weight
            if t.causal is not None and t.last_causal_weights is not None:
                row["causal_min_" + t.name] = float(t.last_causal_weights.min())
        row["time"] = time.perf_counter() - t_start
        self.result.history.append(row)
        return row

    def _bar(self, phase: str, iterations: int):
        """The phase's :class:`~sciml.training.loop.Loop`: progress (every term's loss), time cap, NaN guard."""
        from ..training.loop import Loop

        return Loop(iterations, phase, seconds=self.max_seconds, progress=self.progress,
                    fields=("loss", *(t.name for t in self.terms)))

    def _show(self, loop, phase, row, completed=None) -> bool:
        """Show ``row`` on the bar; raise on a non-finite loss; True once the time cap is reached."""
        fields = {"loss": row["loss"], **{t.name: row[t.name] for t in self.terms}}
        try:
            loop.check_finite(row["loss"], f"{_LABEL[phase]} iteration {self.iterations[phase]}",
                              f"the last checkpoint ({self.checkpoint}) is kept" if self.checkpoint else "")
        except FloatingPointError:
            self.result.stopped = f"non-finite loss in {_LABEL[phase]}"
            raise
        return loop.update(completed, **fields)

    def _timing(self, phase, seconds, iterations, evaluations):
        t = self.result.timings.setdefault(phase, {"seconds": 0.0, "iterations": 0, "evaluations": 0})
        t["seconds"] += seconds
        t["iterations"] += iterations
        t["evaluations"] += evaluations

    # ------------------------------------------------------------------ phases
    def adam(self, iterations: int, lr: float = 1e-3, *, betas=(0.9, 0.999), decay_rate: float = 1.0,
             decay_steps: int = 1000) -> TrainResult:
        """``iterations`` Adam steps; learning rate ``lr * decay_rate ** (step / decay_steps)``."""
        iterations = check_int(iterations, "iterations", min=0)
        if not (lr > 0 and math.isfinite(lr)):
            raise ValueError(f"lr must be positive, got {lr!r}")
        if not 0 < decay_rate <= 1:
            raise ValueError(f"decay_rate must be in (0, 1], got {decay_rate}")
        decay_steps = check_int(decay_steps, "decay_steps", min=1)
        if iterations == 0:
            return self.result
        opt = torch.optim.Adam(self._params(), lr=lr, betas=betas)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda k: decay_rate ** (k / decay_steps))
        t_start = time.perf_counter()
        busy = 0.0
        with self._bar("adam", iterations) as bar:
            for k in range(1, iterations + 1):
                t0 = time.perf_counter()
                opt.zero_grad(set_to_none=True)
                total, parts = self.losses()
                if self.adaptive_weights == "lr_annealing" and (k - 1) % self.annealing_every == 0:
                    self._anneal(parts)
                    total = sum(t.weight * parts[t.name] for t in self.terms)
                total.backward()
                opt.step()
                sched.step()
                busy += time.perf_counter() - t0
                self.iterations["adam"] += 1
                if not math.isfinite(float(total.detach())):
                    self.result.stopped = f"non-finite loss at Adam iteration {k}"
                    bar.check_finite(total, f"Adam iteration {k}",
                                     f"the last checkpoint ({self.checkpoint}) is kept" if self.checkpoint else "")
                if k % self.log_every == 0 or k == iterations:
                    row = self._record("adam", self.iterations["adam"], total, parts, t_start)
                    out_of_time = self._show(bar, "adam", row, k)
                    if self.callback is not None and self.callback(self, "adam", k):
                        self.result.stopped = f"callback stop at Adam iteration {k}"
                        break
                    if out_of_time and k < iterations:
                        self.result.stopped = f"time cap of {self.max_seconds:g} s at Adam iteration {k}"
                        break
                if self.checkpoint and k % self.checkpoint_every == 0:
                    self.save(self.checkpoint)
        self._timing("adam", busy, k, k)
        if self.checkpoint:
            self.save(self.checkpoint)
        return self.result

    def lbfgs(self, iterations: int, *, lr: float = 1.0, history_size: int = 50, tolerance_grad: float = 1e-9,
              tolerance_change: float = 1e-12, max_eval_per_iteration: int = 25, chunk: int | None = None,
              loss_scale: float | str = 1.0) -> TrainResult:
        """Up to ``iterations`` L-BFGS iterations with strong-Wolfe line search.

        ``history_size``, ``tolerance_grad`` and ``tolerance_change`` go to ``torch.optim.LBFGS``;
        the run is split into chunks of ``chunk`` (default ``log_every``) iterations for the
        progress bar and callbacks, keeping the optimizer's curvature memory across chunks,
        and stops as soon as torch's tolerance tests end a chunk early. Causal weights are
        frozen within a chunk so that each line search sees one objective.

        ``loss_scale``: L-BFGS minimises ``loss_scale * loss`` (``"auto"``: ``1 / loss`` at the start of
        this call, fixed for the call). The method is invariant to that factor except through absolute
        thresholds: torch skips a curvature pair unless ``y.s > 1e-10``, so on a loss of ``1e-6`` or less
        the memory stops being updated and L-BFGS degrades to scaled gradient steps (measured on a 1D
        Poisson PINN whose loss is multiplied by 1e-8: residual loss 3.4e-4 after 200 iterations instead
        of 5.2e-7). ``tolerance_change`` then applies to the scaled loss; the history records the
        unscaled one.
        """
        iterations = check_int(iterations, "iterations", min=0)
        history_size = check_int(history_size, "history_size", min=1)
        max_eval_per_iteration = check_int(max_eval_per_iteration, "max_eval_per_iteration", min=1)
        for name, v in (("lr", lr), ("tolerance_grad", tolerance_grad), ("tolerance_change", tolerance_change)):
            if not (v >= 0 and math.isfinite(v)):
                raise ValueError(f"{name} must be finite and >= 0, got {v!r}")
        chunk = self.log_every if chunk is None else check_int(chunk, "chunk", min=1)
        _check_loss_scale(loss_scale)
        if iterations == 0:
            return self.result
        scale = self._loss_scale(loss_scale)
        params = self._params()
        opt = torch.optim.LBFGS(params, lr=lr, max_iter=1, history_size=history_size,
                                tolerance_grad=tolerance_grad, tolerance_change=tolerance_change,
                                line_search_fn="strong_wolfe")
        state = opt.state[params[0]]
        t_start = time.perf_counter()
        done, evals0, busy = 0, 0, 0.0
        last = {}

        def closure():
            opt.zero_grad(set_to_none=True)
            total, parts = self.losses()
            scaled = total * scale if scale != 1.0 else total
            scaled.backward()
            last["total"], last["parts"] = total, parts
            return scaled

        with self._bar("lbfgs", iterations) as bar:
            while done < iterations:
                step = min(chunk, iterations - done)
                opt.param_groups[0]["max_iter"] = step
                opt.param_groups[0]["max_eval"] = step * max_eval_per_iteration
                self._freeze_causal()
                n_before, e_before = state.get("n_iter", 0), state.get("func_evals", 0)
                t0 = time.perf_counter()
                opt.step(closure)
                busy += time.perf_counter() - t0
                self._unfreeze_causal()
                n_done = state.get("n_iter", 0) - n_before
                evals_used = state.get("func_evals", 0) - e_before
                done += n_done
                self.iterations["lbfgs"] += n_done
                total, parts = self.losses()  # loss at the new point
                row = self._record("lbfgs", self.iterations["lbfgs"], total, parts, t_start)
                out_of_time = self._show(bar, "lbfgs", row, done)
                if n_done < step and (n_done == 0 or evals_used < step * max_eval_per_iteration):
                    # fewer iterations than asked with evaluations to spare: torch's tolerance tests (or a
                    # line search that made no progress) ended the step; an exhausted evaluation budget
                    # of the chunk is not convergence, so that case goes on with the next chunk
                    self.result.stopped = (
                        f"L-BFGS converged (torch tolerances) after {self.iterations['lbfgs']} iterations"
                    )
                    break
                if self._after_chunk("lbfgs", "L-BFGS", done, n_done, out_of_time and done < iterations):
                    break
        evals = state.get("func_evals", 0) - evals0
        self._timing("lbfgs", busy, done, evals)
        if self.checkpoint:
            self.save(self.checkpoint)
        return self.result

    def bfgs(self, iterations: int, *, self_scaling: bool = True, chunk: int | None = None,
             loss_scale: float | str = "auto", c1: float = 1e-4, c2: float = 0.9) -> TrainResult:
        """Up to ``iterations`` dense BFGS iterations (:class:`sciml.pinns.bfgs.DenseBFGS`), strong-Wolfe line search.

        For networks of up to a few thousand parameters (the matrix is ``n x n`` float64). The curvature
        matrix is kept on the trainer, so successive calls continue one run; it is not checkpointed (a
        resumed run rebuilds it). ``self_scaling``: Al-Baali's restricted self-scaling. ``loss_scale`` as in
        :meth:`lbfgs` (the method is scale-invariant; the factor only keeps values near 1). Causal weights
        are frozen within a chunk of ``chunk`` (default ``log_every``) iterations.
        """
        from .bfgs import DenseBFGS

        iterations = check_int(iterations, "iterations", min=0)
        chunk = self.log_every if chunk is None else check_int(chunk, "chunk", min=1)
        _check_loss_scale(loss_scale)
        if iterations == 0:
            return self.result
        params = self._params()
        if any(p.dtype != torch.float64 for p in params):
            raise TypeError("bfgs needs a float64 model (its line search works on loss differences of 1e-12 "
                            "and below); build the problem with dtype='float64'")
        n = sum(p.numel() for p in params)
        if n > 20_000:
            raise ValueError(f"bfgs keeps an n x n matrix; the model has {n} parameters (use lbfgs)")
        scale = self._loss_scale(loss_scale)

        def fun_and_grad(x):
            torch.nn.utils.vector_to_parameters(x, params)
            for p in params:
                p.grad = None
            total, _ = self.losses()
            (total * scale).backward()
            g = torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1) for p in params])
            return float(total.detach()) * scale, g

        opt = getattr(self, "_bfgs_state", None)
        x0 = torch.nn.utils.parameters_to_vector(params).detach()
        if opt is None or opt.n != n or not torch.equal(opt.x, x0) or opt.self_scaling != bool(self_scaling):
            opt = DenseBFGS(fun_and_grad, x0, self_scaling=self_scaling, c1=c1, c2=c2)
        else:  # same run continued: keep the matrix, refresh the (possibly rescaled) objective
            opt.fun_and_grad, opt.f, opt.old_f, opt._cache = fun_and_grad, None, None, {}
            if opt.H is not None and scale != self._bfgs_scale:
                opt.H.mul_(self._bfgs_scale / scale)  # inverse Hessian of scale * loss is H_loss / scale
        self._bfgs_state, self._bfgs_scale = opt, scale
        causal = any(t.causal is not None for t in self.terms)
        t_start, busy, done, e0 = time.perf_counter(), 0.0, 0, opt.evaluations
        with self._bar("bfgs", iterations) as bar:
            while done < iterations:
                step = min(chunk, iterations - done)
                self._freeze_causal()
                it0, t0 = opt.iterations, time.perf_counter()
                if causal:
                    opt.f = None  # the frozen causal weights changed the objective: re-evaluate here
                why = opt.step(step)
                busy += time.perf_counter() - t0
                self._unfreeze_causal()
                n_done = opt.iterations - it0
                done += n_done
                self.iterations["bfgs"] += n_done
                with torch.no_grad():
                    torch.nn.utils.vector_to_parameters(opt.x.clone(), params)
                total, parts = self.losses()
                row = self._record("bfgs", self.iterations["bfgs"], total, parts, t_start)
                out_of_time = self._show(bar, "bfgs", row, done)
                if why:
                    self.result.stopped = f"BFGS stopped after {self.iterations['bfgs']} iterations: {why}"
                    break
                if self._after_chunk("bfgs", "BFGS", done, n_done, out_of_time and done < iterations):
                    break
        self._timing("bfgs", busy, done, opt.evaluations - e0)
        if self.checkpoint:
            self.save(self.checkpoint)
        return self.result

    def _loss_scale(self, loss_scale) -> float:
        """``loss_scale`` as a number; ``"auto"``: 1 / the current loss (causal weights frozen)."""
        if loss_scale != "auto":
            return float(loss_scale)
        self._freeze_causal()
        loss0 = float(self.losses()[0].detach())
        self._unfreeze_causal()
        return 1.0 / loss0 if loss0 > 0 and math.isfinite(loss0) else 1.0

    def _after_chunk(self, phase, label, done, n_done, out_of_time=False) -> bool:
        """Callback, time cap and periodic checkpoint after a chunk of a quasi-Newton phase; True to stop."""
        if self.callback is not None and self.callback(self, phase, done):
            self.result.stopped = f"callback stop at {label} iteration {done}"
            return True
        if out_of_time:
            self.result.stopped = f"time cap of {self.max_seconds:g} s at {label} iteration {done}"
            return True
        if self.checkpoint and (done // self.checkpoint_every) != ((done - n_done) // self.checkpoint_every):
            self.save(self.checkpoint)
        return False

    def _freeze_causal(self):
        for t in self.terms:  # residuals may need input derivatives: evaluate with autograd on
            if t.causal is not None:
                t.frozen_causal_weights = None
                t.loss(self.model)
                t.frozen_causal_weights = t.last_causal_weights

    def _unfreeze_causal(self):
        for t in self.terms:
            t.frozen_causal_weights = None

    # ------------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict:
        return {"model": self.model.state_dict(), "weights": {t.name: t.weight for t in self.terms},
                "iterations": dict(self.iterations), "history": list(self.result.history),
                "timings": dict(self.result.timings)}

    def save(self, path) -> str:
        """Write the checkpoint directory ``path`` (:func:`sciml.training.save_checkpoint`, kind ``pinn``:
        weights, term weights, iteration counters, history). Returns the path."""
        from ..training.checkpoint import model_spec, save_checkpoint

        try:
            spec = model_spec(self.model)
        except TypeError:  # a model only its own code can rebuild: load() gets it from the trainer
            spec = {"kind": "custom", "class": type(self.model).__name__}
        st = self.state_dict()
        trainer = {k: st[k] for k in ("weights", "iterations", "history", "timings")}
        save_checkpoint(path, self.model, spec=spec, trainer=trainer, kind="pinn")
        return os.fspath(path)

    def load(self, path):
        """Restore model parameters, term weights, iteration counters and history from ``path``
        (a checkpoint directory, or a ``.pt`` file of the earlier layout). Only tensors and plain
        data are read (``weights_only=True``); anything else is refused with
        :class:`~sciml.training.checkpoint.CheckpointError`, as is a checkpoint of another model."""
        from ..training.checkpoint import load_checkpoint

        ck = load_checkpoint(path, model=self.model)
        st = ck["config"].get("trainer") or {}
        for t in self.terms:
            if t.name in (st.get("weights") or {}):
                t.weight = float(st["weights"][t.name])
        self.iterations.update({k: int(v) for k, v in (st.get("iterations") or {}).items()})
        self.result.history = list(st.get("history") or [])
        self.result.timings = dict(st.get("timings") or {})


def train_pinn(model: nn.Module, terms: Sequence[LossTerm], *, adam_iterations: int = 1000, lr: float = 1e-3,
               decay_rate: float = 1.0, decay_steps: int = 1000, lbfgs_iterations: int = 0,
               history_size: int = 50, tolerance_grad: float = 1e-9, tolerance_change: float = 1e-12,
               loss_scale: float | str = 1.0, bfgs_iterations: int = 0, self_scaling: bool = True,
               **trainer_kwargs) -> TrainResult:
    """Adam (``adam_iterations``), then L-BFGS (``lbfgs_iterations``), then dense BFGS (``bfgs_iterations``,
    float64 models of up to 20 000 parameters); see :class:`PINNTrainer`.

    Returns the :class:`TrainResult` (history, per-phase timings, why it stopped).
    """
    trainer = PINNTrainer(model, terms, **trainer_kwargs)
    trainer.adam(adam_iterations, lr=lr, decay_rate=decay_rate, decay_steps=decay_steps)
    if not trainer.result.stopped.startswith(("non-finite", "callback")):
        trainer.lbfgs(lbfgs_iterations, history_size=history_size, tolerance_grad=tolerance_grad,
                      tolerance_change=tolerance_change, loss_scale=loss_scale)
    if not trainer.result.stopped.startswith(("non-finite", "callback")):
        trainer.bfgs(bfgs_iterations, self_scaling=self_scaling)
    return trainer.result
