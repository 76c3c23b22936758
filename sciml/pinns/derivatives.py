"""Derivatives of network outputs with respect to their inputs.

Two interchangeable routes, both differentiable again (so they can sit inside a loss):

* autograd on a batch: ``u = model(x)`` with ``x.requires_grad_()``, then
  :func:`gradient`, :func:`partial`, :func:`laplacian`, :func:`divergence`
  (each output row depends only on its own input row, as for an MLP);
* ``torch.func`` on a point function: :func:`func_gradient`, :func:`func_hessian`,
  :func:`func_laplacian` apply ``vmap(jacrev(...))`` to ``f: (d,) -> ()`` or to a model
  (wrapped by :func:`pointwise`).

Shapes: points ``(n, d)``; scalar field ``(n, 1)`` or ``(n,)``; gradient ``(n, d)``.
"""
from __future__ import annotations

from collections.abc import Callable

import torch
from torch.func import hessian, jacrev, vmap

__all__ = ["gradient", "partial", "laplacian", "divergence", "pointwise", "jet",
           "func_gradient", "func_hessian", "func_laplacian"]


def _scalar(u: torch.Tensor) -> torch.Tensor:
    if u.ndim == 2 and u.shape[1] == 1:
        return u[:, 0]
    if u.ndim == 1:
        return u
    raise ValueError(f"u must be a scalar field (n,) or (n, 1), got shape {tuple(u.shape)}")


def gradient(u: torch.Tensor, x: torch.Tensor, create_graph: bool = True) -> torch.Tensor:
    """``du/dx``, ``(n, d)``; ``u`` (n,) or (n, 1) computed from ``x`` (n, d) with ``requires_grad``."""
    if not x.requires_grad:
        raise ValueError("x must require grad (call x.requires_grad_() before evaluating u)")
    u = _scalar(u)
    (g,) = torch.autograd.grad(u, x, grad_outputs=torch.ones_like(u), create_graph=create_graph,
                               allow_unused=True)
    return torch.zeros_like(x) if g is None else g


def partial(u: torch.Tensor, x: torch.Tensor, index: int | tuple[int, ...], create_graph: bool = True):
    """Mixed partial derivative: ``index=0`` -> ``u_x0``; ``index=(0, 0)`` -> ``u_x0x0``; ``(n, 1)``."""
    idx = (index,) if isinstance(index, int) else tuple(index)
    if not idx:
        raise ValueError("index must name at least one input")
    out = u if u.ndim == 2 else u[:, None]
    for i in idx:
        if not 0 <= i < x.shape[1]:
            raise ValueError(f"index {i} out of range for {x.shape[1]} inputs")
        out = gradient(out, x, create_graph=True)[:, i:i + 1]
    if not create_graph:
        out = out.detach()
    return out


def laplacian(u: torch.Tensor, x: torch.Tensor, dims: tuple[int, ...] | None = None,
              create_graph: bool = True) -> torch.Tensor:
    """``sum_i d^2u/dx_i^2`` over ``dims`` (default: all inputs), ``(n, 1)``."""
    g = gradient(u, x, create_graph=True)
    dims = tuple(range(x.shape[1])) if dims is None else tuple(dims)
    lap = torch.zeros(x.shape[0], 1, dtype=x.dtype, device=x.device)
    for i in dims:
        lap = lap + gradient(g[:, i], x, create_graph=True)[:, i:i + 1]
    return lap if create_graph else lap.detach()


def divergence(v: torch.Tensor, x: torch.Tensor, create_graph: bool = True) -> torch.Tensor:
    """``sum_i dv_i/dx_i`` for ``v`` (n, d), ``(n, 1)``."""
    if v.ndim != 2 or v.shape[1] != x.shape[1]:
        raise ValueError(f"v must have shape {tuple(x.shape)}, got {tuple(v.shape)}")
    div = torch.zeros(x.shape[0], 1, dtype=x.dtype, device=x.device)
    for i in range(x.shape[1]):
        div = div + gradient(v[:, i], x, create_graph=True)[:, i:i + 1]
    return div if create_graph else div.detach()


def jet(model: Callable, x: torch.Tensor, dims=None, second=None, *, use_taylor: bool = True):
    """``(u, du, d2u)`` of a model at ``x`` (n, d): ``u`` (n, k); ``du[j]`` (len(dims), n, k) the first
    derivatives along input ``dims[j]``; ``d2u[j]`` (len(second), n, k) the pure second derivatives along
    ``second[j]`` (default ``dims``).

    Uses the model's forward Taylor propagation (``model.jet``, e.g. :meth:`MLP.jet`) when it has one and
    ``use_taylor``; otherwise nested autograd (``x`` is given ``requires_grad`` if it has not).
    """
    dims = tuple(range(x.shape[1])) if dims is None else tuple(dims)
    second = dims if second is None else tuple(second)
    if use_taylor and getattr(model, "supports_jet", False):
        return model.jet(x, dims, second)
    if not x.requires_grad:
        x = x.detach().requires_grad_(True)
    u = model(x)
    d1, d2 = [], []
    for k in range(u.shape[1]):
        g = gradient(u[:, k], x)
        d1.append(torch.stack([g[:, j] for j in dims]))
        d2.append(torch.stack([gradient(g[:, j], x)[:, j] for j in second]) if second
                  else u.new_zeros(0, x.shape[0]))
    return u, torch.stack(d1, dim=2), torch.stack(d2, dim=2)


def pointwise(model: Callable, output: int = 0) -> Callable:
    """Turn a batch model ``(n, d) -> (n, k)`` into the point function ``(d,) -> ()`` (component ``output``)."""
    def f(xi: torch.Tensor) -> torch.Tensor:
        return model(xi[None])[0, output]
    return f


def func_gradient(f: Callable, x: torch.Tensor) -> torch.Tensor:
    """``vmap(jacrev(f))(x)``: gradient of a point function ``f: (d,) -> ()`` at ``x`` (n, d) -> (n, d)."""
    return vmap(jacrev(f))(x)


def func_hessian(f: Callable, x: torch.Tensor) -> torch.Tensor:
    """Hessians ``(n, d, d)`` of ``f: (d,) -> ()`` (``jacfwd(jacrev)``) at ``x`` (n, d)."""
    return vmap(hessian(f))(x)


def func_laplacian(f: Callable, x: torch.Tensor, dims: tuple[int, ...] | None = None) -> torch.Tensor:
    """Trace of the Hessian over ``dims`` (default all), ``(n, 1)``."""
    H = func_hessian(f, x)
    dims = list(range(x.shape[1])) if dims is None else list(dims)
    idx = torch.tensor(dims, device=x.device)
    return H[:, idx, idx].sum(dim=1, keepdim=True)
