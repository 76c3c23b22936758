"""The implicit score-matching loss (Hyvarinen 2005) of the score-based particle method."""
from __future__ import annotations

from collections.abc import Callable

import torch


def _divergence(s: torch.Tensor, x: torch.Tensor, create_graph: bool = True) -> torch.Tensor:
    """``sum_k d s_k / d x_k`` for ``s = net(x)`` (x: (N, d)), exact by d reverse passes."""
    div = torch.zeros(x.shape[:-1], dtype=x.dtype, device=x.device)
    for k in range(x.shape[-1]):
        (g,) = torch.autograd.grad(s[..., k].sum(), x, create_graph=create_graph,
                                   retain_graph=create_graph or k < x.shape[-1] - 1)
        div = div + g[..., k]
    return div


def implicit_score_matching_loss(score_fn: Callable, v: torch.Tensor, w: torch.Tensor | None = None,
                                 create_graph: bool = True) -> torch.Tensor:
    """``sum_i w_i (|s(v_i)|^2 + 2 div s(v_i))`` (Hyvarinen): ``E_f |s - grad log f|^2 - E_f |grad log f|^2``.

    v: ``(N, d)`` particles (detached), w: ``(N,)`` weights summing to one (default ``1/N``).
    """
    x = v.detach().requires_grad_(True)
    s = score_fn(x)
    div = _divergence(s, x, create_graph=create_graph)
    per = (s * s).sum(-1) + 2 * div
    if w is None:
        return per.mean()
    return (w * per).sum() / w.sum()
