"""Small building blocks shared by the neural operators.

Everything here works on channel-first tensors ``(batch, channels, *spatial)`` of any
spatial dimension. Argument checks (the shared :mod:`sciml._util.validation` set) raise
``ValueError``/``TypeError`` naming the argument.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .._util.validation import check_choice

__all__ = [
    "ACTIVATIONS",
    "get_activation",
    "PointwiseLinear",
    "ChannelMLP",
    "SoftGating",
    "make_skip",
    "make_norm",
    "GridEmbedding",
    "DomainPadding",
    "set_fused",
    "get_fused",
    "add_skip",
]

_fused = True


def get_fused() -> bool:
    """Whether the FNO blocks fuse their elementwise work into the matrix products (default True)."""
    return _fused


def set_fused(flag: bool) -> bool:
    """Switch the fused elementwise path of the FNO blocks on or off process-wide; returns the old value.

    Fused (the default): a skip connection's sum enters the skip's matrix product as its addend
    (``baddbmm``), and a soft-gating channel-MLP skip plus the MLP's output bias is one ``addcmul``
    that the MLP's last product adds onto. The same arithmetic as the unfused path (which forms each
    term and adds it) in fewer passes over the full-grid tensors; results agree to float32 rounding.

    Examples
    --------
    >>> from sciml.operators.layers import set_fused
    >>> old = set_fused(False)   # the unfused path, e.g. to benchmark against
    >>> _ = set_fused(old)
    """
    global _fused
    if not isinstance(flag, bool):
        raise TypeError(f"flag must be a bool, got {type(flag).__name__}")
    old, _fused = _fused, flag
    return old

ACTIVATIONS = {
    "gelu": F.gelu,
    "relu": F.relu,
    "tanh": torch.tanh,
    "silu": F.silu,
    "identity": lambda x: x,
}


# ----------------------------------------------------------------------------- checks
def get_activation(name: str):
    """Activation function by name (``gelu``, ``relu``, ``tanh``, ``silu``, ``identity``)."""
    if not isinstance(name, str):
        raise TypeError(f"non_linearity must be a string naming the activation, got {type(name).__name__}")
    check_choice(name, "non_linearity", tuple(ACTIVATIONS))
    return ACTIVATIONS[name]


def check_input(name: str, x, *, ndim: int, channels: int | None = None):
    """Check a ``(batch, channels, *spatial)`` tensor with ``ndim`` spatial axes."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.dim() != ndim + 2:
        raise ValueError(f"{name} must have shape (batch, channels, {ndim} spatial axes); got shape {tuple(x.shape)}")
    if channels is not None and x.shape[1] != channels:
        raise ValueError(f"{name} has {x.shape[1]} channels, the model expects {channels}")


# ----------------------------------------------------------------------------- layers
class PointwiseLinear(nn.Module):
    """1x1 convolution (a linear map of the channels at every point), any dimension.

    ``(B, in_channels, *spatial) -> (B, out_channels, *spatial)``.
    """

    def __init__(self, in_channels: int, out_channels: int, bias: bool = True):
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels))
        self.bias = nn.Parameter(torch.empty(out_channels, 1)) if bias else None
        bound = 1.0 / math.sqrt(in_channels)
        nn.init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            nn.init.uniform_(self.bias, -bound, bound)

    def forward(self, x: torch.Tensor, add: torch.Tensor | None = None) -> torch.Tensor:
        """``W x + b``, plus ``add`` (output-shaped, instead of the bias if given) inside the product."""
        # A batched matrix product on (B, C, N) views: several times faster than a 1x1 convolution
        # on CPU (oneDNN) and the same cuBLAS call on GPU.
        shape = x.shape
        if add is not None:
            b = shape[0]
            w = self.weight.expand(b, *self.weight.shape)
            return torch.baddbmm(add.reshape(b, self.out_channels, -1), w,
                                 x.reshape(b, shape[1], -1)).reshape(b, self.out_channels, *shape[2:])
        b = shape[0]
        x3 = x.reshape(b, shape[1], -1)
        w = self.weight.expand(b, *self.weight.shape)
        if self.bias is None:
            y = torch.bmm(w, x3)
        else:
            y = torch.baddbmm(self.bias.expand(b, self.out_channels, 1), w, x3)
        return y.reshape(b, self.out_channels, *shape[2:])


class ChannelMLP(nn.Module):
    """Pointwise MLP over channels: ``n_layers`` 1x1 convolutions with an activation between."""

    def __init__(self, in_channels: int, out_channels: int, hidden_channels: int, n_layers: int = 2,
                 non_linearity: str = "gelu"):
        super().__init__()
        self.act = get_activation(non_linearity)
        if n_layers == 1:
            sizes = [in_channels, out_channels]
        else:
            sizes = [in_channels] + [hidden_channels] * (n_layers - 1) + [out_channels]
        self.layers = nn.ModuleList(PointwiseLinear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i < len(self.layers) - 1:
                x = self.act(x)
        return x


class SoftGating(nn.Module):
    """Per-channel scaling ``w_c * x_c`` (the "soft-gating" skip of neuraloperator)."""

    def __init__(self, channels: int, ndim: int):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(1, channels, *([1] * ndim)))

    def forward(self, x: torch.Tensor, add: torch.Tensor | None = None) -> torch.Tensor:
        """``w * x (+ add)`` in one pass, in ``x``'s precision.

        Under bf16 autocast a float32 weight would promote the full-grid result (and its gradients)
        to float32, which autocast then casts back for the next product. In float32 one ``addcmul``;
        in half precision a multiply and an add (CPU bf16 ``addcmul`` with broadcast operands is ~5x
        slower).
        """
        w = self.weight.to(x.dtype)
        if add is None:
            return w * x
        add = add.to(x.dtype)
        if x.dtype in (torch.bfloat16, torch.float16):
            return (x * w).add_(add)
        return torch.addcmul(add, w, x)


class _Identity(nn.Module):
    def forward(self, x):
        return x


def add_skip(skip: nn.Module, x: torch.Tensor, y: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
    """``y + skip(x) (+ bias)`` in one pass where the skip allows (fused path, see :func:`set_fused`).

    ``bias``: a ``(C, 1, ..)`` per-channel constant, or None.
    """
    if isinstance(skip, PointwiseLinear) and skip.bias is None and bias is None:
        return skip(x, add=y)
    if isinstance(skip, SoftGating):
        if bias is not None:
            y = y + bias
        return skip(x, add=y)
    out = y + skip(x)
    return out if bias is None else out + bias


def make_skip(kind: str, in_channels: int, out_channels: int, ndim: int) -> nn.Module:
    """Skip connection ``"linear"`` (1x1 conv, no bias), ``"soft-gating"`` or ``"identity"``."""
    check_choice(kind, "skip", ("linear", "soft-gating", "identity"))
    if kind == "linear":
        return PointwiseLinear(in_channels, out_channels, bias=False)
    if in_channels != out_channels:
        raise ValueError(f"skip={kind!r} needs in_channels == out_channels, got {in_channels} and {out_channels}")
    if kind == "soft-gating":
        return SoftGating(out_channels, ndim)
    return _Identity()


def make_norm(kind: str | None, channels: int) -> nn.Module:
    """Normalisation ``None`` (identity), ``"group"`` (GroupNorm with one group) or ``"instance"``."""
    check_choice(kind, "norm", (None, "group", "instance"))
    if kind is None:
        return _Identity()
    if kind == "group":
        return nn.GroupNorm(1, channels)
    return nn.GroupNorm(channels, channels)  # instance norm with affine, any dimension


class GridEmbedding(nn.Module):
    """Append the coordinates of a uniform grid on ``[0, 1]^d`` as extra channels.

    ``periodic=False``: nodes ``linspace(0, 1, n)`` (both ends included, e.g. Darcy on the closed
    unit square); ``periodic=True``: ``linspace(0, 1, n + 1)[:-1]`` (a torus). Both are consistent
    under strided subsampling, so the same physical point gets the same coordinate at any resolution.
    ``linspace=True`` (periodic only) computes the torus points as neuraloperator 2.0's
    ``GridEmbeddingND`` does, ``torch.linspace(0, 1, n + 1)[:-1]`` in float32 on the CPU, then cast:
    bit-identical to neuraloperator's grid, within one float32 rounding of the default periodic grid.
    ``(B, C, *spatial) -> (B, C + d, *spatial)``.
    """

    def __init__(self, ndim: int, periodic: bool = False, linspace: bool = False):
        super().__init__()
        self.ndim, self.periodic, self.linspace = ndim, periodic, linspace
        self._cache: tuple | None = None

    def grid(self, shape, device, dtype) -> torch.Tensor:
        key = (tuple(shape), device, dtype)
        if self._cache is not None and self._cache[0] == key:
            return self._cache[1]
        axes = []
        for n in shape:
            if self.periodic and self.linspace:
                axes.append(torch.linspace(0.0, 1.0, n + 1, dtype=torch.float32)[:-1].to(device=device, dtype=dtype))
            elif self.periodic:
                axes.append(torch.arange(n, device=device, dtype=dtype) / n)
            else:
                axes.append(torch.linspace(0.0, 1.0, n, device=device, dtype=dtype))
        g = torch.stack(torch.meshgrid(*axes, indexing="ij"), dim=0)  # (d, *shape)
        self._cache = (key, g)
        return g

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        g = self.grid(x.shape[2:], x.device, x.dtype)
        return torch.cat([x, g.unsqueeze(0).expand(x.shape[0], *g.shape)], dim=1)


class DomainPadding(nn.Module):
    """Zero-pad the spatial axes by a fraction of their size (non-periodic problems), and crop back.

    ``padding`` is a fraction per axis (e.g. 0.1 pads an 85-point axis by 9 points). ``mode``:
    ``"one-sided"`` pads at the end of each axis (as in the original FNO Darcy code),
    ``"symmetric"`` splits it between both ends.
    """

    def __init__(self, padding: Sequence[float], mode: str = "one-sided"):
        super().__init__()
        self.padding = tuple(float(p) for p in padding)
        self.mode = check_choice(mode, "domain_padding_mode", ("one-sided", "symmetric"))

    def amounts(self, shape) -> list[tuple[int, int]]:
        out = []
        for n, p in zip(shape, self.padding):
            k = int(round(p * n))
            out.append((0, k) if self.mode == "one-sided" else (k // 2, k - k // 2))
        return out

    def pad(self, x: torch.Tensor):
        amounts = self.amounts(x.shape[2:])
        flat = []
        for lo, hi in reversed(amounts):  # F.pad wants the last axis first
            flat += [lo, hi]
        if not any(flat):
            return x, amounts
        return F.pad(x, flat), amounts

    @staticmethod
    def unpad(x: torch.Tensor, amounts) -> torch.Tensor:
        index = [slice(None), slice(None)]
        for (lo, hi), n in zip(amounts, x.shape[2:]):
            index.append(slice(lo, n - hi))
        return x[tuple(index)]
