"""Loss terms of physics-informed training: :class:`LossTerm` (a named residual on collocation
points), :class:`CausalWeighting` (Wang, Sankaran & Perdikaris 2022) and
:func:`resampling_callback` (residual-based adaptive sampling, a :class:`~sciml.pinns.training.PINNTrainer`
callback). Nothing here knows about a particular PDE or optimiser.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from .._util.validation import check_int

__all__ = ["LossTerm", "CausalWeighting", "resampling_callback"]

_KINDS = ("pde", "data", "boundary", "initial")


@dataclass
class CausalWeighting:
    """Causal weights for a time-dependent residual term.

    n_chunks: number ``M`` of equal time chunks between ``t0`` and ``t1`` (defaults: the
    points' min/max time). epsilon: causality parameter (larger = stricter).
    time_index: which input column is time (default: last).
    """

    n_chunks: int = 32
    epsilon: float = 1.0
    time_index: int = -1
    t0: float | None = None
    t1: float | None = None

    def __post_init__(self):
        if not isinstance(self.n_chunks, int) or self.n_chunks < 1:
            raise ValueError(f"n_chunks must be a positive int, got {self.n_chunks!r}")
        if not (self.epsilon >= 0 and math.isfinite(self.epsilon)):
            raise ValueError(f"epsilon must be finite and >= 0, got {self.epsilon!r}")

    def chunk_index(self, points: torch.Tensor) -> torch.Tensor:
        t = points[:, self.time_index].detach()
        t0 = float(t.min()) if self.t0 is None else self.t0
        t1 = float(t.max()) if self.t1 is None else self.t1
        span = max(t1 - t0, 1e-300)
        return ((t - t0) / span * self.n_chunks).long().clamp(0, self.n_chunks - 1)

    def chunk_losses(self, r2: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        """Mean squared residual per chunk, ``(M,)`` (empty chunks -> 0)."""
        sums = torch.zeros(self.n_chunks, dtype=r2.dtype, device=r2.device).index_add(0, idx, r2)
        counts = torch.bincount(idx, minlength=self.n_chunks).to(r2.dtype).clamp_min(1)
        return sums / counts

    def weights(self, chunk_losses: torch.Tensor) -> torch.Tensor:
        """``w_i = exp(-eps * sum_{k<i} L_k)``, detached, ``(M,)``."""
        L = chunk_losses.detach()
        cum = torch.cat([L.new_zeros(1), torch.cumsum(L, 0)[:-1]])
        return torch.exp(-self.epsilon * cum)


class LossTerm:
    """One named contribution to the loss.

    Parameters
    ----------
    name : str
        Label shown in the progress bar and history.
    fn : callable
        ``fn(model, points) -> residual`` (``fn(model)`` if ``points`` is None).
    points : numpy.ndarray or torch.Tensor or None
        ``(n, d)``; converted once to the model's dtype/device. Replace them with
        :meth:`set_points` (adaptive resampling).
    weight : float, optional
        Initial weight ``lambda`` (annealed if ``adaptive`` and annealing is on).
    kind : {"pde", "data", "boundary", "initial"}, optional
        ``"pde"`` terms are the reference of learning-rate annealing and have their points
        passed with ``requires_grad``.
    adaptive : bool, optional
        Whether learning-rate annealing may change this term's weight.
    requires_grad : bool, optional
        Force ``requires_grad`` on the points (default: ``kind == "pde"``).
    causal : CausalWeighting, optional
        For time-dependent residuals.
    """

    def __init__(self, name: str, fn: Callable, points=None, *, weight: float = 1.0, kind: str = "data",
                 adaptive: bool = True, requires_grad: bool | None = None, causal: CausalWeighting | None = None):
        if not isinstance(name, str) or not name:
            raise TypeError("name must be a non-empty str")
        if not callable(fn):
            raise TypeError(f"fn must be callable, got {type(fn).__name__}")
        if kind not in _KINDS:
            raise ValueError(f"kind must be one of {_KINDS}, got {kind!r}")
        if not (weight >= 0 and math.isfinite(weight)):
            raise ValueError(f"weight must be finite and >= 0, got {weight!r}")
        if causal is not None and not isinstance(causal, CausalWeighting):
            raise TypeError("causal must be a CausalWeighting or None")
        if causal is not None and points is None:
            raise ValueError("causal weighting needs points (their time column)")
        self.name, self.fn, self.kind = name, fn, kind
        self.weight = float(weight)
        self.adaptive = bool(adaptive)
        self.requires_grad = (kind == "pde") if requires_grad is None else bool(requires_grad)
        self.causal = causal
        self._points_src = None
        self._points = None
        self._chunk_idx = None
        self.frozen_causal_weights: torch.Tensor | None = None
        self.last_causal_weights: torch.Tensor | None = None
        if points is not None:
            self.set_points(points)

    @property
    def points(self):
        return self._points if self._points is not None else self._points_src

    def set_points(self, points):
        """Replace the collocation points ``(n, d)``."""
        if isinstance(points, np.ndarray):
            if points.ndim != 2:
                raise ValueError(f"points must be (n, d), got {points.shape}")
        elif isinstance(points, torch.Tensor):
            if points.ndim != 2:
                raise ValueError(f"points must be (n, d), got {tuple(points.shape)}")
        else:
            raise TypeError(f"points must be a numpy array or torch tensor, got {type(points).__name__}")
        self._points_src, self._points, self._chunk_idx = points, None, None

    def _prepared(self, model):
        if self._points_src is None:
            return None
        if self._points is None:
            p = next(iter(model.parameters()), None)
            dtype = p.dtype if p is not None else torch.get_default_dtype()
            device = p.device if p is not None else "cpu"
            self._points = torch.as_tensor(self._points_src).to(dtype=dtype, device=device).detach()
        x = self._points
        if self.requires_grad:
            x = x.clone().requires_grad_(True)
        return x

    def residual(self, model) -> torch.Tensor:
        """The raw residual returned by ``fn``."""
        x = self._prepared(model)
        return self.fn(model) if x is None else self.fn(model, x)

    def loss(self, model) -> torch.Tensor:
        """Unweighted loss: mean square of the residual (causally weighted if configured)."""
        r = self.residual(model)
        if not isinstance(r, torch.Tensor):
            raise TypeError(f"loss term {self.name!r}: fn must return a tensor, got {type(r).__name__}")
        if r.ndim == 0:
            return r
        r2 = (r.reshape(r.shape[0], -1) ** 2).mean(dim=1)
        if self.causal is None:
            return r2.mean()
        if self._chunk_idx is None:
            self._chunk_idx = self.causal.chunk_index(self._points)
        Lc = self.causal.chunk_losses(r2, self._chunk_idx)
        w = self.frozen_causal_weights if self.frozen_causal_weights is not None else self.causal.weights(Lc)
        self.last_causal_weights = w.detach()
        return (w * Lc).mean()

    def __repr__(self):
        n = None if self.points is None else tuple(self.points.shape)
        return f"LossTerm({self.name!r}, kind={self.kind!r}, weight={self.weight:.3g}, points={n})"



def resampling_callback(term: LossTerm, sampler: Callable, *, every: int = 1000, n_candidates: int = 10_000,
                        n_points: int = 100, method: str = "rar", k: float = 1.0, c: float = 1.0, rng=None,
                        phases=("adam",)) -> Callable:
    """A :class:`PINNTrainer` callback for residual-based adaptive sampling of ``term``'s points.

    Every ``every`` iterations (checked at the trainer's ``log_every`` cadence) of the given phases it draws
    ``sampler(n_candidates, rng) -> (n_candidates, d)`` candidate points, evaluates ``term``'s residual there, and

    * ``method="rar"``: appends the ``n_points`` candidates with the largest residual (Lu et al. 2021);
    * ``method="rad"``: replaces the points by ``n_points`` drawn with ``p ∝ |r|^k / mean|r|^k + c`` (Wu et al. 2023).
    """
    from .sampling import as_rng, rad_sample, rar_select

    if method not in ("rar", "rad"):
        raise ValueError(f"method must be 'rar' or 'rad', got {method!r}")
    if not isinstance(term, LossTerm):
        raise TypeError("term must be a LossTerm")
    every = check_int(every, "every", min=1)
    rng = as_rng(rng)
    state = {"last": {}}

    def callback(trainer, phase, iteration):
        if phase not in phases or iteration - state["last"].get(phase, 0) < every:
            return False
        state["last"][phase] = iteration
        cand = np.asarray(sampler(n_candidates, rng), dtype=float)
        probe = LossTerm("probe", term.fn, cand, kind=term.kind, requires_grad=term.requires_grad)
        r = probe.residual(trainer.model).detach().cpu().numpy()
        old = term.points
        old = old.detach().cpu().numpy() if isinstance(old, torch.Tensor) else np.asarray(old)
        if method == "rar":
            term.set_points(np.concatenate([old, rar_select(cand, r, n_points)]))
        else:
            term.set_points(rad_sample(cand, r, n_points, k=k, c=c, rng=rng))
        return False

    return callback
