"""Global-in-time neural particle method (PINN-PM) for the spatially homogeneous Landau equation.

Two networks are trained together, with no time stepping:

* a characteristic flow map ``X(t, v0) = v0 + t N_phi(t, v0)`` (so ``X(0, .) = id`` exactly);
* a time-dependent score ``s_theta(t, v) ~ grad_v log f(t, v)``.

Each iteration draws random times ``t_k ~ U[0, T]`` and pushes the initial particles
``{v0_j, w_j}`` through the flow map. The losses are

1. the Landau dynamics residual along trajectories,
   ``sum_j w_j |dX/dt(t_k, v0_j) - U[s](t_k, X_j)|^2`` with
   ``U_i = -sum_j w_j A(X_i - X_j)(s(t, X_i) - s(t, X_j))`` (score and positions frozen inside
   ``U``: a fixed-point iteration in which only ``phi`` receives this gradient);
2. score consistency: ``s(t_k, .)`` matches the score of the pushforward density of the current
   flow. With ``score='flow'`` (default) the target is that score exactly, from the log-det-Jacobian
   relation ``log f(t, X(t, y)) = log f0(y) - log|det d_y X|``, i.e.
   ``grad_x log f = J^{-T} (grad log f0(y) - grad_y log|det J|)`` (detached target; only ``theta``
   receives it); with ``score='ism'`` it is the implicit score-matching loss
   ``sum_j w_j (|s|^2 + 2 div s)`` on the pushed particles (which a flexible network can drive
   towards the degenerate empirical-measure minimiser when N is small). At ``t = 0`` the score is
   fitted to the known initial score (or by implicit score matching when none is given).

The trained model is queried at any ``t``: :meth:`LandauPINNPM.particles`,
:meth:`LandauPINNPM.score`, :meth:`LandauPINNPM.density` (change of variables
``f(t, X(t, y)) = f0(y) / |det d_y X(t, y)|`` with ``X`` inverted by Newton's method, or a KDE
of the pushed particles) and :meth:`LandauPINNPM.certificate` (a-posteriori score-matching
certificate: the implicit score-matching loss at ``t`` and the relative Fisher divergence between
``s(t, .)`` and the exact score of the pushforward density of the learned flow).
"""
from __future__ import annotations

import math
import time as _time
from collections.abc import Callable, Sequence

import torch
from torch import nn

from ..solvers.landau import implicit_score_matching_loss, kde_density, landau_velocity
from ..solvers.landau._common import _as_tensor, _check_particles
from .networks import MLP
from .networks import _dtype as _float_dtype

__all__ = ["LandauPINNPM", "train_pinn_pm"]


class LandauPINNPM(nn.Module):
    """Flow-map network and time-dependent score network for the Landau equation in ``dim`` dimensions.

    Parameters
    ----------
    dim : {2, 3}, optional
        Velocity dimension.
    t_end : float, optional
        Final time ``T`` (times are normalised to ``[-1, 1]`` inside the networks).
    v_max : float, optional
        Velocities are normalised by the box ``[-v_max, v_max]^dim``.
    width, depth : int, optional
        Hidden size / number of hidden layers of both MLPs (tanh).
    gamma, C, delta : float, optional
        Landau kernel ``A(z) = C (|z|^2+delta^2)^(gamma/2) (|z|^2 I - z z^T)``.
    dtype : torch.dtype, optional
        ``torch.float64`` (default) or ``torch.float32``.
    seed : int, optional
        Initialisation seed.

    Notes
    -----
    Shapes: ``t`` a float or tensor broadcastable to ``(N,)``; ``v`` ``(N, dim)``.
    """

    def __init__(self, dim: int = 2, t_end: float = 1.0, *, v_max: float = 4.0, width: int = 48, depth: int = 3,
                 gamma: float = 0.0, C: float = 1.0 / 16, delta: float = 0.0, dtype=torch.float64, seed: int = 0,
                 n_particles: int = 0):
        super().__init__()
        if isinstance(dim, bool) or dim not in (2, 3):
            raise ValueError(f"dim must be 2 or 3, got {dim!r}")
        for name, val in (("t_end", t_end), ("v_max", v_max), ("C", C)):
            if not (isinstance(val, (int, float)) and math.isfinite(val) and val > 0):
                raise ValueError(f"{name} must be a positive number, got {val!r}")
        if isinstance(n_particles, bool) or not isinstance(n_particles, int) or n_particles < 0:
            raise ValueError(f"n_particles must be a non-negative integer, got {n_particles!r}")
        dtype = _float_dtype(dtype)
        self.dim, self.t_end, self.v_max = int(dim), float(t_end), float(v_max)
        self._init = {"dim": int(dim), "t_end": float(t_end), "v_max": float(v_max), "width": width, "depth": depth,
                      "gamma": float(gamma), "C": float(C), "delta": float(delta),
                      "dtype": str(dtype).replace("torch.", ""), "seed": seed}
        self.gamma, self.C, self.delta = float(gamma), float(C), float(delta)
        lo = [0.0] + [-v_max] * dim
        hi = [t_end] + [v_max] * dim
        self.flow_net = MLP(dim + 1, dim, width, depth, activation="tanh", lower=lo, upper=hi, dtype=dtype, seed=seed)
        self.score_net = MLP(dim + 1, dim, width, depth, activation="tanh", lower=lo, upper=hi, dtype=dtype,
                             seed=seed + 1)
        with torch.no_grad():  # start from the identity flow
            self.flow_net.layers[-1].weight.mul_(0.01)
        self.register_buffer("v0", torch.zeros(n_particles, dim, dtype=dtype))
        self.register_buffer("w0", torch.zeros(n_particles, dtype=dtype))
        self.f0: Callable | None = None
        self.score0: Callable | None = None

    @property
    def config(self) -> dict:
        """Constructor arguments (JSON data; ``n_particles``: the stored training particles), for checkpoints.
        The callables ``f0``/``score0`` are code, not data: give them again after loading."""
        return dict(self._init, n_particles=int(self.v0.shape[0]))

    def prepare_state_dict(self, state_dict: dict):
        """Size the particle buffers ``v0``/``w0`` for ``state_dict`` (before ``load_state_dict``)."""
        v0, w0 = state_dict.get("v0"), state_dict.get("w0")
        if isinstance(v0, torch.Tensor) and v0.ndim == 2 and v0.shape[1] == self.dim:
            self.v0 = torch.zeros_like(self.v0).new_zeros(v0.shape)
        if isinstance(w0, torch.Tensor) and w0.ndim == 1:
            self.w0 = self.w0.new_zeros(w0.shape)

    # -- basic maps -------------------------------------------------------------------------------
    def _tcol(self, t, n, like):
        t = torch.as_tensor(t, dtype=like.dtype, device=like.device)
        return t.reshape(-1, 1).expand(n, 1) if t.numel() == 1 else t.reshape(n, 1)

    def flow(self, t, v0: torch.Tensor) -> torch.Tensor:
        """Characteristic ``X(t, v0) = v0 + t N(t, v0)``: ``(N, dim)``."""
        tc = self._tcol(t, v0.shape[0], v0)
        return v0 + tc * self.flow_net(torch.cat([tc, v0], -1))

    def flow_and_velocity(self, t, v0: torch.Tensor, create_graph: bool = True):
        """``X(t, v0)`` and ``dX/dt`` (exact, by reverse-mode differentiation in ``t``), each ``(N, dim)``."""
        tc = self._tcol(t, v0.shape[0], v0).detach().clone().requires_grad_(True)
        X = v0 + tc * self.flow_net(torch.cat([tc, v0], -1))
        V = torch.cat([torch.autograd.grad(X[:, k].sum(), tc, create_graph=create_graph, retain_graph=True)[0]
                       for k in range(self.dim)], -1)
        return X, V

    def score(self, t, v: torch.Tensor) -> torch.Tensor:
        """Learned ``grad_v log f(t, v)``: ``(N, dim)``."""
        v = _as_tensor(v, dtype=self.v0.dtype, device=self.v0.device)
        return self.score_net(torch.cat([self._tcol(t, v.shape[0], v), v], -1))

    def particles(self, t, v0=None) -> torch.Tensor:
        """Particles pushed to time ``t`` (the training particles unless ``v0`` is given): ``(N, dim)``."""
        v0 = self.v0 if v0 is None else _as_tensor(v0, dtype=self.v0.dtype, device=self.v0.device)
        with torch.no_grad():
            return self.flow(float(t), v0)

    def velocity_field(self, t, x: torch.Tensor | None = None, w: torch.Tensor | None = None) -> torch.Tensor:
        """Landau velocity ``U[s](t, x)`` over the cloud ``x`` (default: pushed training particles)."""
        x = self.particles(t) if x is None else x
        w = self.w0 if w is None else w
        with torch.no_grad():
            return landau_velocity(x, self.score(t, x), w, gamma=self.gamma, C=self.C, delta=self.delta)

    def jacobian(self, t, y: torch.Tensor, create_graph: bool = False) -> torch.Tensor:
        """``d X(t, y) / d y``: ``(N, dim, dim)`` (row k = gradient of component k)."""
        y = y if y.requires_grad else y.detach().clone().requires_grad_(True)
        X = self.flow(t, y)
        rows = [torch.autograd.grad(X[:, k].sum(), y, create_graph=create_graph, retain_graph=True)[0]
                for k in range(self.dim)]
        return torch.stack(rows, 1)

    # -- queries -----------------------------------------------------------------------------------
    def invert(self, t, x, iters: int = 30, tol: float = 1e-11):
        """Solve ``X(t, y) = x`` for ``y`` by damped Newton from ``y = x``. Returns ``(y, converged mask)``."""
        x = _as_tensor(x, dtype=self.v0.dtype, device=self.v0.device)
        y = x.clone()
        for _ in range(iters):
            with torch.enable_grad():
                yg = y.detach().requires_grad_(True)
                X = self.flow(t, yg)
                J = torch.stack([torch.autograd.grad(X[:, k].sum(), yg, retain_graph=True)[0]
                                 for k in range(self.dim)], 1)
            r = (X.detach() - x)
            step = torch.linalg.solve(J, r[..., None])[..., 0]
            step = step * torch.clamp(0.5 / step.norm(dim=-1, keepdim=True).clamp_min(1e-300), max=1.0)
            y = y - step
            if float(r.norm(dim=-1).max()) < tol:
                break
        with torch.no_grad():
            res = (self.flow(t, y) - x).norm(dim=-1)
        return y.detach(), res < 1e-8

    def density(self, t, x, method: str = "flow", bandwidth: float | None = None) -> torch.Tensor:
        """Density at query points ``x`` ``(M, dim)`` at time ``t``: ``(M,)``.

        method 'flow': change of variables through the learned flow map,
        ``f(t, x) = f0(y) / |det dX/dy(t, y)|`` with ``X(t, y) = x`` (needs ``f0`` given to
        :func:`train_pinn_pm`); 'kde': Gaussian KDE of the pushed training particles.
        """
        if method not in ("flow", "kde"):
            raise ValueError(f"method must be 'flow' or 'kde', got {method!r}")
        x = _as_tensor(x, dtype=self.v0.dtype, device=self.v0.device)
        if x.ndim != 2 or x.shape[-1] != self.dim:
            raise ValueError(f"x must have shape (M, {self.dim}), got {tuple(x.shape)}")
        if method == "kde":
            return kde_density(self.particles(t), x, self.w0, bandwidth)
        if self.f0 is None:
            raise ValueError("method='flow' needs the initial density f0 (pass f0= to train_pinn_pm)")
        out = torch.empty(x.shape[0], dtype=x.dtype, device=x.device)
        for s in range(0, x.shape[0], 8192):
            y, ok = self.invert(t, x[s:s + 8192])
            with torch.enable_grad():
                J = self.jacobian(t, y)
            f = _as_tensor(self.f0(y), dtype=x.dtype, device=x.device) / torch.linalg.det(J).abs()
            out[s:s + 8192] = torch.where(ok, f, torch.zeros_like(f))
        return out.detach()

    def pushforward_score(self, t, y: torch.Tensor) -> torch.Tensor:
        """Exact score of the pushforward density of the learned flow at ``X(t, y)``.

        ``grad_x log f(t, X) = J^{-T} grad_y [log f0(y) - log|det J(t, y)|]`` with ``J = dX/dy``;
        ``grad log f0`` from the ``score0`` given to :func:`train_pinn_pm` (else ``s(0, .)``).
        """
        y = y.detach().clone().requires_grad_(True)
        with torch.enable_grad():
            J = self.jacobian(t, y, create_graph=True)
            logdet = torch.linalg.slogdet(J)[1]
            (g,) = torch.autograd.grad(logdet.sum(), y)
        s0 = _as_tensor(self.score0(y.detach()), dtype=y.dtype, device=y.device) if self.score0 is not None \
            else self.score(0.0, y.detach()).detach()
        rhs = (s0 - g)[..., None]
        return torch.linalg.solve(J.detach().transpose(1, 2), rhs)[..., 0]

    def certificate(self, times: Sequence[float]) -> dict:
        """A-posteriori score certificate at each query time.

        Returns ``{"t", "ism", "fisher", "fisher_rel"}`` (lists): ``ism`` = implicit score-matching
        loss ``sum w (|s|^2 + 2 div s)`` of ``s(t, .)`` on the pushed particles (``= E|s - grad log f|^2
        - E|grad log f|^2``); ``fisher`` = ``sum w |s(t, X) - grad log f_X(t, X)|^2`` against the exact
        score of the learned pushforward density, ``fisher_rel`` = fisher / ``sum w |grad log f_X|^2``.
        """
        out = {"t": [], "ism": [], "fisher": [], "fisher_rel": []}
        w = self.w0 / self.w0.sum()
        for t in times:
            X = self.particles(t)
            with torch.enable_grad():
                ism = float(implicit_score_matching_loss(lambda v: self.score(t, v), X, w, create_graph=False).detach())  # noqa: B023
            sp = self.pushforward_score(t, self.v0)
            with torch.no_grad():
                s = self.score(t, X)
                fis = float((w * ((s - sp) ** 2).sum(-1)).sum())
                ref = float((w * (sp ** 2).sum(-1)).sum())
            out["t"].append(float(t))
            out["ism"].append(ism)
            out["fisher"].append(fis)
            out["fisher_rel"].append(fis / ref)
        return out


def train_pinn_pm(model: LandauPINNPM, v0, w=None, *, iters: int = 2000, lr: float = 2e-3, n_times: int = 4,
                  score0: Callable | None = None, f0: Callable | None = None, init_iters: int = 500,
                  score_loss: str = "flow",
                  lr_decay: float = 0.1, seed: int = 0, callback: Callable | None = None, progress: bool | None = False,
                  seconds: float | None = None, checkpoint=None, checkpoint_every: int = 500):
    """Train ``model`` (flow map and score jointly) on the particles ``v0`` ``(N, dim)``, weights ``w`` ``(N,)``.

    iters: Adam iterations; each draws ``n_times`` times in ``[0, T]`` (stratified) and uses all particles.
    score0: exact initial score ``v -> grad log f0(v)`` (fitted at t = 0; else implicit score matching at t = 0);
    f0: initial density ``v -> f0(v)`` (stored for :meth:`LandauPINNPM.density` with method 'flow').
    init_iters: iterations that fit ``s(0, .)`` alone before the joint phase.
    score_loss: 'flow' (match the exact score of the learned pushforward, see the module docstring)
    or 'ism' (implicit score matching on the pushed particles).
    lr_decay: learning rate multiplies by this factor over the run (exponential schedule).
    callback: ``callback(it, info)`` after every joint iteration; returning ``True`` stops the run.
    seconds: wall-clock cap of the joint phase, read from the clock after every iteration.
    checkpoint: directory for a checkpoint (:func:`sciml.training.save_checkpoint`) every
    ``checkpoint_every`` iterations and at the end. A NaN/inf loss raises
    :class:`~sciml.training.NonFiniteLossError` (the last checkpoint is kept).
    Returns ``(model, info)``: ``info`` has ``loss_dyn``, ``loss_sm``, ``loss_init`` histories (lists),
    ``wall_time`` (s) and ``stopped`` ("" when all ``iters`` ran).
    """
    from ..training.loop import Loop
    if not isinstance(model, LandauPINNPM):
        raise TypeError(f"model must be a LandauPINNPM, got {type(model).__name__}")
    for name, val in (("iters", iters), ("n_times", n_times)):
        if isinstance(val, bool) or not isinstance(val, int) or val < 1:
            raise ValueError(f"{name} must be a positive integer, got {val!r}")
    if isinstance(init_iters, bool) or not isinstance(init_iters, int) or init_iters < 0:
        raise ValueError(f"init_iters must be a non-negative integer, got {init_iters!r}")
    if score_loss not in ("flow", "ism"):
        raise ValueError(f"score_loss must be 'flow' or 'ism', got {score_loss!r}")
    dtype = next(model.parameters()).dtype
    device = next(model.parameters()).device
    vb, wb, batched = _check_particles(_as_tensor(v0, dtype=dtype, device=device), w)
    if batched or vb.shape[-1] != model.dim:
        raise ValueError(f"v0 must have shape (N, {model.dim}), got {tuple(_as_tensor(v0).shape)}")
    x0 = vb[0].to(dtype=dtype, device=device)
    wv = (wb[0] / wb[0].sum()).to(dtype=dtype, device=device)
    model.v0 = x0.clone()
    model.w0 = wv.clone()
    model.f0, model.score0 = f0, score0
    target0 = None if score0 is None else _as_tensor(score0(x0), dtype=dtype, device=device).detach()
    gen = torch.Generator(device="cpu").manual_seed(int(seed))
    T = model.t_end
    info = {"loss_dyn": [], "loss_sm": [], "loss_init": []}
    start = _time.perf_counter()

    def init_loss():
        if target0 is not None:
            return (wv * ((model.score(0.0, x0) - target0) ** 2).sum(-1)).sum()
        return implicit_score_matching_loss(lambda v: model.score(0.0, v), x0, wv)

    # phase 1: the initial score
    opt = torch.optim.Adam(model.score_net.parameters(), lr=lr)
    with Loop(init_iters, "pinn-pm s(0)", progress=progress) as loop:
        for k in range(init_iters):
            opt.zero_grad(set_to_none=True)
            loss = init_loss()
            loop.check_finite(loss, f"initial-score iteration {k + 1}")
            loss.backward()
            opt.step()
            loop.advance()
    # phase 2: joint
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    gamma_lr = lr_decay ** (1.0 / max(1, iters))
    sched = torch.optim.lr_scheduler.ExponentialLR(opt, gamma_lr)
    N = x0.shape[0]
    y_all = x0.repeat(n_times, 1)
    w_all = wv.repeat(n_times) / n_times
    w_b = wv.expand(n_times, N)
    loop = Loop(iters, "pinn-pm", seconds=seconds, progress=progress, fields=("loss",), callback=callback)
    with loop:
        for it in range(iters):
            u = (torch.arange(n_times, dtype=torch.float64) + torch.rand(n_times, generator=gen, dtype=torch.float64))
            times = (u / n_times * T).tolist()
            opt.zero_grad(set_to_none=True)
            # all sampled times in one batch: (n_times * N) trajectories points
            t_all = torch.tensor(times, dtype=dtype, device=device).repeat_interleave(N)
            X, V = model.flow_and_velocity(t_all, y_all)
            Xd = X.detach()
            with torch.no_grad():
                S = model.score(t_all, Xd)
                U = landau_velocity(Xd.reshape(n_times, N, -1), S.reshape(n_times, N, -1), w_b, gamma=model.gamma,
                                    C=model.C, delta=model.delta).reshape(n_times * N, -1)
            l_dyn = (w_all * ((V - U) ** 2).sum(-1)).sum()
            if score_loss == "ism":
                l_sm = implicit_score_matching_loss(lambda v: model.score(t_all, v), Xd, w_all)  # noqa: B023
            else:
                target = model.pushforward_score(t_all, y_all).detach()
                l_sm = (w_all * ((model.score(t_all, Xd) - target) ** 2).sum(-1)).sum()
            l_init = init_loss()
            total = l_dyn + l_sm + l_init
            loop.check_finite(total, f"iteration {it + 1}", "the last checkpoint is kept" if checkpoint else "")
            total.backward()
            opt.step()
            sched.step()
            info["loss_dyn"].append(float(l_dyn.detach()))
            info["loss_sm"].append(float(l_sm.detach()))
            info["loss_init"].append(float(l_init.detach()))
            if checkpoint is not None and (it + 1) % checkpoint_every == 0:
                _save(model, checkpoint, it + 1, info)
            if loop.notify(it, info) | loop.advance(loss=float(total.detach())):
                break
    info["stopped"] = loop.stopped
    if checkpoint is not None:
        _save(model, checkpoint, it + 1 if iters else 0, info)
    info["wall_time"] = _time.perf_counter() - start
    return model, info


def _save(model, path, iteration, info):
    from ..training.checkpoint import save_checkpoint

    save_checkpoint(path, model, trainer={"iteration": iteration, "loss_dyn": info["loss_dyn"][-1:],
                                          "loss_sm": info["loss_sm"][-1:], "loss_init": info["loss_init"][-1:]})
