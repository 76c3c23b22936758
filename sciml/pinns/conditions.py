"""Boundary and initial conditions: soft (loss terms) and hard (output transforms).

Soft conditions build :class:`~sciml.pinns.training.LossTerm` objects:

* :func:`pde_residual` — ``residual_fn(model, x) -> (n, k)`` at collocation points;
* :func:`dirichlet` — ``u(x) = g(x)``;
* :func:`neumann` — ``grad u(x) . n(x) = g(x)``;
* :func:`initial_condition` — ``u(x, t0) = g(x)`` (and optionally ``u_t(x, t0) = h(x)``);
* :func:`periodic` — ``u(x_left) = u(x_right)`` on paired points.

Hard conditions wrap a network so the condition holds for every parameter value:
:class:`HardDirichlet` gives ``u(x) = g(x) + phi(x) N(x)`` with ``phi`` zero on the
boundary (``Geometry.distance``), and :class:`HardInitial` gives
``u(x, t) = g(x) + (t - t0) N(x, t)``.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch
from torch import nn

from .derivatives import gradient
from .training import CausalWeighting, LossTerm

__all__ = ["pde_residual", "dirichlet", "neumann", "initial_condition", "periodic",
           "HardDirichlet", "HardInitial"]


def _values(g, x: torch.Tensor, n_out: int | None = None) -> torch.Tensor:
    """Target values from a constant, an array ``(n,)``/``(n, k)`` or a callable ``g(x)``."""
    if callable(g):
        v = g(x)
        v = torch.as_tensor(v, dtype=x.dtype, device=x.device)
    elif isinstance(g, (int, float)):
        v = torch.full((x.shape[0], 1), float(g), dtype=x.dtype, device=x.device)
    else:
        v = torch.as_tensor(np.asarray(g) if not isinstance(g, torch.Tensor) else g).to(x.dtype).to(x.device)
    if v.ndim == 1:
        v = v[:, None]
    if v.shape[0] != x.shape[0]:
        raise ValueError(f"boundary values must have one row per point: {tuple(v.shape)} vs {x.shape[0]} points")
    return v


def _component(u: torch.Tensor, component):
    return u if component is None else u[:, component:component + 1]


def pde_residual(points, residual_fn: Callable, *, name: str = "pde", weight: float = 1.0,
                 causal: CausalWeighting | None = None, requires_grad: bool = True) -> LossTerm:
    """PDE residual at collocation ``points`` (n, d): ``residual_fn(model, x)``; ``x`` requires grad unless
    ``requires_grad=False`` (residuals computed with :func:`~sciml.pinns.derivatives.jet`, which adds it
    itself when it falls back to autograd)."""
    if not callable(residual_fn):
        raise TypeError("residual_fn must be callable (model, x) -> residual")
    return LossTerm(name, residual_fn, points, weight=weight, kind="pde", causal=causal, requires_grad=requires_grad)


def dirichlet(points, values, *, component: int | None = 0, name: str = "bc", weight: float = 1.0,
              kind: str = "boundary") -> LossTerm:
    """``u(x) - g(x)`` at ``points`` (n, d); ``values``: constant, ``(n,)``/``(n, k)`` array or ``g(x)``."""
    def fn(model, x):
        return _component(model(x), component) - _values(values, x)
    return LossTerm(name, fn, points, weight=weight, kind=kind)


def neumann(points, normals, values=0.0, *, component: int = 0, name: str = "neumann",
            weight: float = 1.0) -> LossTerm:
    """``grad u . n - g`` at boundary ``points`` (n, d) with outward unit ``normals`` (n, d)."""
    normals = np.asarray(normals, dtype=float)
    if normals.shape != np.shape(points):
        raise ValueError(f"normals must have the shape of points {np.shape(points)}, got {normals.shape}")
    nrm = {}

    def fn(model, x):
        key = (x.dtype, x.device)
        if key not in nrm:
            nrm[key] = torch.as_tensor(normals, dtype=x.dtype, device=x.device)
        u = model(x)[:, component]
        du = gradient(u, x)
        return (du * nrm[key]).sum(1, keepdim=True) - _values(values, x)
    return LossTerm(name, fn, points, weight=weight, kind="boundary", requires_grad=True)


def initial_condition(points, values, *, velocity=None, component: int | None = 0, time_index: int = -1,
                      name: str = "ic", weight: float = 1.0) -> LossTerm:
    """``u(x, t0) - g(x)`` at ``points`` (n, d+1) on the initial slice; with ``velocity``
    also ``u_t(x, t0) - h(x)`` (second-order-in-time problems)."""
    def fn(model, x):
        u = _component(model(x), component)
        r = u - _values(values, x)
        if velocity is None:
            return r
        ut = gradient(u, x)[:, time_index:][:, :1]
        return torch.cat([r, ut - _values(velocity, x)], dim=1)
    return LossTerm(name, fn, points, weight=weight, kind="initial", requires_grad=velocity is not None)


def periodic(points_left, points_right, *, derivative_index: int | None = None, component: int = 0,
             name: str = "periodic", weight: float = 1.0) -> LossTerm:
    """``u(left) - u(right)`` (and the derivative along ``derivative_index`` if given) on paired points."""
    left = np.asarray(points_left, dtype=float)
    right = np.asarray(points_right, dtype=float)
    if left.shape != right.shape or left.ndim != 2:
        raise ValueError(f"points_left and points_right must be equal (n, d) arrays, got {left.shape} and {right.shape}")
    n = left.shape[0]

    def fn(model, x):
        u = model(x)[:, component]
        r = (u[:n] - u[n:])[:, None]
        if derivative_index is None:
            return r
        du = gradient(u, x)[:, derivative_index]
        return torch.cat([r, (du[:n] - du[n:])[:, None]], dim=1)
    return LossTerm(name, fn, np.concatenate([left, right]), weight=weight, kind="boundary",
                    requires_grad=derivative_index is not None)


class HardDirichlet(nn.Module):
    """``u(x) = g(x) + phi(x) * N(x)``: exact Dirichlet data on ``{phi = 0}``.

    Parameters
    ----------
    net : torch.nn.Module
        Network ``(n, d) -> (n, k)``.
    distance : callable
        ``phi`` as a torch function ``(n, d) -> (n,)``, zero on the boundary
        (e.g. ``geometry.distance``).
    g : callable or float, optional
        Boundary data, a torch function ``(n, d) -> (n,)``/``(n, k)``, or a constant (default 0).

    Examples
    --------
    >>> import torch
    >>> from sciml.pinns.networks import MLP
    >>> u = HardDirichlet(MLP(2, 1, width=8, depth=2, seed=0), lambda x: x[:, 0] * (1 - x[:, 0]), g=2.0)
    >>> u(torch.tensor([[0.0, 0.3], [1.0, 0.7]]))   # exactly g on x = 0 and x = 1
    tensor([[2.],
            [2.]], grad_fn=<AddBackward0>)
    """

    def __init__(self, net: nn.Module, distance: Callable, g=0.0):
        super().__init__()
        if not callable(distance):
            raise TypeError("distance must be callable")
        self.net, self.distance, self.g = net, distance, g

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        phi = self.distance(x)
        if phi.ndim == 1:
            phi = phi[:, None]
        g = _values(self.g, x) if callable(self.g) else torch.as_tensor(self.g, dtype=x.dtype, device=x.device)
        return g + phi * self.net(x)


class HardInitial(nn.Module):
    """``u(x, t) = g(x) + ((t - t0) / T) * N(x, t)``: exact initial data at ``t = t0``.

    ``g`` maps the full points ``(n, d+1)`` to ``(n,)``/``(n, k)`` (it may ignore time);
    ``time_index`` selects the time column, ``T`` only scales.
    """

    def __init__(self, net: nn.Module, g: Callable, t0: float = 0.0, T: float = 1.0, time_index: int = -1):
        super().__init__()
        if not callable(g):
            raise TypeError("g must be callable")
        if not T > 0:
            raise ValueError(f"T must be positive, got {T}")
        self.net, self.g, self.t0, self.T, self.time_index = net, g, float(t0), float(T), time_index

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = ((x[:, self.time_index] - self.t0) / self.T)[:, None]
        return _values(self.g, x) + s * self.net(x)
