"""Function-space losses for fields on uniform grids: ``LpLoss`` and ``H1Loss``.

Both act on tensors ``(batch, *features, *spatial)`` where the last ``d`` axes are the
spatial grid and everything between the batch axis and the grid (channels, time) is
summed over. Norms are discretisations of the continuous ones on a uniform grid with
the rectangle (periodic trapezoid) rule: a cell of a grid with ``n_i`` points over a
domain of length ``L_i`` has measure ``prod(L_i / n_i)``. A relative loss is
``||pred - true|| / ||true||`` per sample, so the measure cancels there.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

__all__ = ["LpLoss", "H1Loss"]

_REDUCTIONS = ("mean", "sum", "none")


def _check_common(d, reduction, eps):
    if isinstance(d, bool) or not isinstance(d, int) or d < 1:
        raise ValueError(f"d (number of spatial dimensions) must be an integer >= 1, got {d!r}")
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}")
    if not (isinstance(eps, (int, float)) and eps >= 0):
        raise ValueError(f"eps must be a non-negative number, got {eps!r}")


def _per_dim(value, d: int, name: str) -> tuple[float, ...] | None:
    if value is None:
        return None
    vals = (value,) * d if isinstance(value, (int, float)) else tuple(value)
    if len(vals) != d or not all(isinstance(v, (int, float)) and math.isfinite(v) and v > 0 for v in vals):
        raise ValueError(f"{name} must be a positive number or {d} positive numbers, got {value!r}")
    return tuple(float(v) for v in vals)


def _reduce(x: torch.Tensor, reduction: str) -> torch.Tensor:
    if reduction == "mean":
        return x.mean()
    if reduction == "sum":
        return x.sum()
    return x


class _NormLoss(nn.Module):
    """Shared forward of the norm losses: subclasses set ``d``, ``relative``, ``eps``,
    ``reduction`` and define ``norm(x) -> (batch,)``."""

    def forward(self, pred: torch.Tensor, true: torch.Tensor) -> torch.Tensor:
        if pred.shape != true.shape:
            raise ValueError(f"pred and true must have the same shape, got {tuple(pred.shape)} and {tuple(true.shape)}")
        if pred.ndim < self.d + 1:
            raise ValueError(f"expected (batch, ..., {self.d} spatial axes), got shape {tuple(pred.shape)}")
        err = self.norm(pred - true)
        if self.relative:
            err = err / (self.norm(true) + self.eps)
        return _reduce(err, self.reduction)


class LpLoss(_NormLoss):
    """Relative (default) or absolute discrete L^p norm of ``pred - true``.

    Parameters
    ----------
    d : int, optional
        Number of trailing spatial axes.
    p : float, optional
        Order of the norm, any real ``p >= 1`` or ``float("inf")``.
    relative : bool, optional
        ``||pred - true||_p / ||true||_p`` per sample (the neural-operator metric);
        otherwise the absolute norm ``(sum_cells |e|^p * measure)^(1/p)``.
    measure : float or sequence of float, optional
        Domain length per spatial axis (scalar or ``d`` values); cell measure is
        ``prod(measure_i / n_i)``. Default (``None``) 1: the unit cube.
    spacing : float or sequence of float, optional
        Grid spacing per axis instead of ``measure`` (cell measure ``prod(h_i)``).
    reduction : {"mean", "sum", "none"}, optional
        Over the batch; ``"none"`` returns shape ``(batch,)``.
    eps : float, optional
        Added to the denominator of the relative norm.

    Notes
    -----
    ``forward(pred, true)`` takes tensors of equal shape ``(batch, ..., *spatial)``.

    Examples
    --------
    >>> import math
    >>> x = torch.linspace(0, 1, 65)[:-1]
    >>> true = torch.sin(2 * math.pi * x).expand(2, 1, 64)   # (batch, channel, x)
    >>> LpLoss(d=1)(1.01 * true, true)                      # 1 % relative L2 error
    tensor(0.0100)
    >>> LpLoss(d=1, reduction="none")(1.01 * true, true)
    tensor([0.0100, 0.0100])
    >>> LpLoss(d=1, relative=False)(torch.ones(1, 1, 64), torch.zeros(1, 1, 64))   # unit interval
    tensor(1.)
    """

    def __init__(self, d: int = 2, p: float = 2, *, relative: bool = True, measure=None, spacing=None,
                 reduction: str = "mean", eps: float = 0.0):
        super().__init__()
        _check_common(d, reduction, eps)
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not (p >= 1):
            raise ValueError(f"p must be a number >= 1 (or inf), got {p!r}")
        if measure is not None and spacing is not None:
            raise ValueError("give either measure or spacing, not both")
        self.d, self.p, self.relative, self.reduction, self.eps = d, float(p), bool(relative), reduction, float(eps)
        self.measure = _per_dim(measure, d, "measure")
        self.spacing = _per_dim(spacing, d, "spacing")

    def cell_measure(self, shape: Sequence[int]) -> float:
        """Quadrature weight of one grid cell for a grid of ``shape`` (the last ``d`` sizes)."""
        shape = tuple(shape)[-self.d:]
        if self.spacing is not None:
            return math.prod(self.spacing)
        measure = self.measure or (1.0,) * self.d
        return math.prod(L / n for L, n in zip(measure, shape))

    def norm(self, x: torch.Tensor) -> torch.Tensor:
        """Discrete L^p norm of each sample, shape ``(batch,)`` (includes the cell measure)."""
        flat = x.reshape(x.shape[0], -1)
        if math.isinf(self.p):
            return flat.abs().amax(dim=1)
        w = self.cell_measure(x.shape)
        return (w ** (1.0 / self.p)) * torch.linalg.vector_norm(flat, ord=self.p, dim=1)

    def extra_repr(self) -> str:
        return f"d={self.d}, p={self.p:g}, relative={self.relative}, reduction={self.reduction!r}"


class H1Loss(_NormLoss):
    """Relative (default) or absolute H^1 norm ``(||e||_2^2 + sum_i ||d_i e||_2^2)^(1/2)``.

    Parameters
    ----------
    d : int, optional
        Number of trailing spatial axes.
    method : {"spectral", "fd"}, optional
        ``"spectral"``: derivatives by FFT, the grid taken as periodic with ``n_i`` points
        over length ``measure_i``. ``"fd"``: second-order central differences inside,
        one-sided second order at the ends, trapezoid quadrature on a closed grid with nodes
        on both ends (any boundary condition); the spacing is ``measure_i / (n_i - 1)``
        unless ``spacing`` is given.
    measure : float or sequence of float, optional
        Domain length per axis (scalar or ``d`` values), default 1.
    spacing : float or sequence of float, optional
        Grid spacing per axis (``"fd"`` only; overrides ``measure``).
    semi : bool, optional
        Only the gradient part (the H^1 seminorm).
    relative, reduction, eps : optional
        As in :class:`LpLoss`.

    Notes
    -----
    ``forward(pred, true)`` takes tensors of equal shape ``(batch, ..., *spatial)``.

    Examples
    --------
    >>> import math
    >>> x = torch.linspace(0, 1, 65)[:-1]
    >>> true = torch.sin(2 * math.pi * x).expand(2, 1, 64)
    >>> H1Loss(d=1)(1.01 * true, true)   # a 1 % error in u is a 1 % error in u'
    tensor(0.0100)
    """

    def __init__(self, d: int = 2, *, method: str = "spectral", relative: bool = True, measure=1.0, spacing=None,
                 semi: bool = False, reduction: str = "mean", eps: float = 0.0):
        super().__init__()
        _check_common(d, reduction, eps)
        if method not in ("spectral", "fd"):
            raise ValueError(f"method must be 'spectral' or 'fd', got {method!r}")
        if spacing is not None and method != "fd":
            raise ValueError("spacing is only used with method='fd'")
        self.d, self.method, self.relative, self.semi = d, method, bool(relative), bool(semi)
        self.reduction, self.eps = reduction, float(eps)
        self.measure = _per_dim(measure if measure is not None else 1.0, d, "measure")
        self.spacing = _per_dim(spacing, d, "spacing")

    def _spacings(self, shape) -> tuple[float, ...]:
        shape = tuple(shape)[-self.d:]
        if self.spacing is not None:
            return self.spacing
        if self.method == "spectral":
            return tuple(L / n for L, n in zip(self.measure, shape))
        return tuple(L / (n - 1) for L, n in zip(self.measure, shape))

    def _squared_norm(self, e: torch.Tensor) -> torch.Tensor:
        """Per-sample squared H^1 (or semi) norm, shape ``(batch,)``."""
        shape = e.shape[-self.d:]
        h = self._spacings(e.shape)
        w = math.prod(h)
        b = e.shape[0]
        total = e.new_zeros(b, dtype=torch.float64 if e.dtype == torch.float64 else torch.float32)
        if not self.semi:
            if self.method == "spectral":
                total = total + w * e.reshape(b, -1).abs().square().sum(1)
            else:
                total = total + (self._trapezoid(shape, h, e) * e.square()).reshape(b, -1).sum(1)
        if self.method == "spectral":
            dims = tuple(range(e.ndim - self.d, e.ndim))
            eh = torch.fft.fftn(e.float() if e.dtype in (torch.float16, torch.bfloat16) else e, dim=dims)
            for i, (n, hi) in enumerate(zip(shape, h)):
                k = torch.fft.fftfreq(n, d=hi, device=e.device, dtype=total.dtype) * (2 * math.pi)
                if n % 2 == 0:
                    k[n // 2] = 0.0  # the Nyquist mode has no real derivative
                view = [1] * e.ndim
                view[e.ndim - self.d + i] = n
                # Parseval: sum |d_i e|^2 * w = (w / N) * sum |k_i|^2 |e_hat|^2
                total = total + (w / math.prod(shape)) * (
                    (k.reshape(view) ** 2) * eh.abs().square()).reshape(b, -1).sum(1)
        else:
            quad = self._trapezoid(shape, h, e)
            for i, hi in enumerate(h):
                axis = e.ndim - self.d + i
                if e.shape[axis] < 3:
                    raise ValueError(f"method='fd' needs at least 3 points per axis, got shape {tuple(e.shape)}")
                g = torch.gradient(e, spacing=hi, dim=axis, edge_order=2)[0]
                total = total + (quad * g.square()).reshape(b, -1).sum(1)
        return total

    def _trapezoid(self, shape, h, e):
        """Tensor-product trapezoid weights on the closed grid (nodes on both ends)."""
        w = None
        for n, hi in zip(shape, h):
            wi = torch.full((n,), hi, dtype=torch.float64, device=e.device)
            wi[0] = wi[-1] = hi / 2
            w = wi if w is None else w[..., None] * wi
        return w.to(e.real.dtype if e.is_complex() else e.dtype)

    def norm(self, x: torch.Tensor) -> torch.Tensor:
        """Discrete H^1 (or semi) norm of each sample, shape ``(batch,)``."""
        return self._squared_norm(x).sqrt()

    def extra_repr(self) -> str:
        return f"d={self.d}, method={self.method!r}, relative={self.relative}, semi={self.semi}"
