"""U-Net (Ronneberger et al. 2015) on 1D or 2D grids for field-to-field regression, optionally periodic.

Encoder: ``depth`` levels of two 3x3 (1D: 3-point) conv-norm-activation layers, 2x2 (2-point)
average pooling between levels (channels doubling). Decoder: transposed convolutions up (stride
2), concatenation with the encoder features of the same level, two conv layers; a final 1x1
convolution.

Padding: every 3x3 convolution pads explicitly, circularly along ``periodic_dims`` and with
zeros along the other axes, so ``periodic_dims=(-1,)`` gives a longitude-periodic network for
lat-lon grids and ``periodic_dims=(-2, -1)`` a doubly periodic one (torus). Along periodic axes
the network commutes with shifts by multiples of ``2 ** (depth - 1)`` points.
In 1D (``n_dim=1``, Burgers) ``periodic_dims`` is ``()`` or ``(-1,)``.
Any H, W work: odd sizes are handled by cropping/padding the upsampled features to the skip's size.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .._util.validation import check_choice, check_int
from .layers import check_input, get_activation

__all__ = ["UNet"]

_PERIODIC_CHOICES = ((), (-1,), (-2, -1))
# the layers of each dimension, looked up once by n_dim
_OPS = {1: dict(conv=nn.Conv1d, up=nn.ConvTranspose1d, pool=F.avg_pool1d, batch=nn.BatchNorm1d),
        2: dict(conv=nn.Conv2d, up=nn.ConvTranspose2d, pool=F.avg_pool2d, batch=nn.BatchNorm2d)}


def _norm(kind, channels, n_dim=2):
    if kind is None:
        return nn.Identity()
    if kind == "batch":
        return _OPS[n_dim]["batch"](channels)
    if kind == "instance":
        return nn.GroupNorm(channels, channels)
    return nn.GroupNorm(min(8, channels) if channels % min(8, channels) == 0 else 1, channels)


class _ConvBlock(nn.Module):
    def __init__(self, c_in, c_out, norm, act, periodic_dims, n_dim=2):
        super().__init__()
        conv = _OPS[n_dim]["conv"]
        self.conv1 = conv(c_in, c_out, 3, padding=0, bias=norm is None)
        self.conv2 = conv(c_out, c_out, 3, padding=0, bias=norm is None)
        self.norm1, self.norm2 = _norm(norm, c_out, n_dim), _norm(norm, c_out, n_dim)
        self.act = act
        self.n_dim = n_dim
        self.periodic_w = -1 in periodic_dims
        self.periodic_h = -2 in periodic_dims

    def _pad(self, x):
        x = F.pad(x, (1, 1) + (0, 0) * (self.n_dim - 1), mode="circular" if self.periodic_w else "constant")
        if self.n_dim == 2:
            x = F.pad(x, (0, 0, 1, 1), mode="circular" if self.periodic_h else "constant")
        return x

    def forward(self, x):
        x = self.act(self.norm1(self.conv1(self._pad(x))))
        return self.act(self.norm2(self.conv2(self._pad(x))))


def _match(x, size):
    """Crop or pad (replicating the edge) the last ``len(size)`` axes of ``x`` (at the end) to ``size``."""
    size = tuple(size)
    d = [n - m for n, m in zip(size, x.shape[-len(size):])]
    if any(v < 0 for v in d):
        x = x[(..., *(slice(0, n) for n in size))]
        d = [max(v, 0) for v in d]
    if any(d):
        pad = []
        for v in reversed(d):
            pad += [0, v]
        x = F.pad(x, tuple(pad), mode="replicate")
    return x


class UNet(nn.Module):
    """U-Net on 1D or 2D grids.

    Parameters
    ----------
    in_channels, out_channels : int
    base_channels : int
        Channels at the finest level (doubled at each coarser level).
    depth : int
        Number of resolution levels (1 = no pooling). Each level halves the grid, so the receptive
        field grows as ``2^depth``: a map that couples the whole domain (e.g. the decay of a 1D
        Burgers field to its lowest mode) needs ``2^(depth - 1)`` close to the grid size.
    max_channels : int or None
        Cap on the channels of the coarser levels, at least ``base_channels`` (None:
        ``base_channels * 2^(depth - 1)`` at the coarsest); lets a deep U-Net reach a global
        receptive field without its parameter count doubling at every level.
    periodic : bool
        Shorthand for ``periodic_dims=(-2, -1)``.
    periodic_dims : tuple
        ``()``, ``(-1,)`` (periodic along the last axis, e.g. longitude) or ``(-2, -1)``.
    norm : "group" (default), "batch", "instance" or None
        Group and instance norm follow bias-free convolutions, so with either the network is
        invariant to the input's scale: ``f(c x) = f(x)`` for ``c > 0``. Where the output scales
        with the input (a nearly linear map such as Burgers at ``nu = 0.1``), use ``"batch"``, a
        fixed affine map in evaluation.
    non_linearity : str
    n_dim : int
        2 (default): ``(B, in_channels, H, W) -> (B, out_channels, H, W)``; 1: ``(B, C, N)``
        (periodic along it with ``periodic_dims=(-1,)``).

    Examples
    --------
    >>> model = UNet(1, 1, base_channels=8, depth=3, periodic_dims=(-1,))   # periodic in longitude
    >>> model(torch.randn(2, 1, 32, 64)).shape
    torch.Size([2, 1, 32, 64])
    >>> UNet(1, 1, base_channels=8, depth=3, periodic_dims=(-1,), n_dim=1)(torch.randn(2, 1, 100)).shape
    torch.Size([2, 1, 100])
    """

    model_name = "unet"

    def __init__(self, in_channels: int, out_channels: int, base_channels: int = 32, depth: int = 4,
                 periodic: bool = False, periodic_dims=None, norm: str | None = "group",
                 non_linearity: str = "gelu", n_dim: int = 2, max_channels: int | None = None):
        super().__init__()
        n_dim = check_int(n_dim, "n_dim", min=1)
        check_choice(n_dim, "n_dim", (1, 2))
        in_channels = check_int(in_channels, "in_channels", min=1)
        out_channels = check_int(out_channels, "out_channels", min=1)
        base_channels = check_int(base_channels, "base_channels", min=1)
        depth = check_int(depth, "depth", min=1)
        if max_channels is not None:  # the finest level keeps base_channels
            max_channels = check_int(max_channels, "max_channels", min=base_channels)
        if not isinstance(periodic, bool):
            raise TypeError(f"periodic must be a bool, got {type(periodic).__name__}")
        if periodic_dims is None:
            periodic_dims = (-2, -1)[-n_dim:] if periodic else ()
        else:
            if isinstance(periodic_dims, int) or not hasattr(periodic_dims, "__iter__"):
                raise TypeError("periodic_dims must be a tuple such as (-1,) or (-2, -1)")
            periodic_dims = tuple(sorted(set(periodic_dims)))
            check_choice(periodic_dims, "periodic_dims", _PERIODIC_CHOICES if n_dim == 2 else ((), (-1,)))
            if periodic and periodic_dims != (-2, -1)[-n_dim:]:
                raise ValueError(f"periodic=True contradicts periodic_dims={periodic_dims}")
        check_choice(norm, "norm", (None, "group", "batch", "instance"))
        act = get_activation(non_linearity)
        self.config = dict(in_channels=in_channels, out_channels=out_channels, base_channels=base_channels,
                           depth=depth, periodic=False, periodic_dims=list(periodic_dims), norm=norm,
                           non_linearity=non_linearity, n_dim=n_dim, max_channels=max_channels)
        self.in_channels, self.periodic_dims, self.n_dim = in_channels, periodic_dims, n_dim
        widths = [base_channels * 2**i for i in range(depth)]
        if max_channels is not None:
            widths = [min(w, max_channels) for w in widths]
        self.down = nn.ModuleList()
        c = in_channels
        for w in widths:
            self.down.append(_ConvBlock(c, w, norm, act, periodic_dims, n_dim))
            c = w
        self.up = nn.ModuleList()
        self.up_blocks = nn.ModuleList()
        for w in reversed(widths[:-1]):
            self.up.append(_OPS[n_dim]["up"](c, w, kernel_size=2, stride=2))
            self.up_blocks.append(_ConvBlock(2 * w, w, norm, act, periodic_dims, n_dim))
            c = w
        self.head = _OPS[n_dim]["conv"](c, out_channels, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, in_channels, H, W) -> (B, out_channels, H, W)`` (1D: ``(B, C, N)``)."""
        check_input("x", x, ndim=self.n_dim, channels=self.in_channels)
        pool = _OPS[self.n_dim]["pool"]
        skips = []
        for i, block in enumerate(self.down):
            if i > 0:
                x = pool(x, 2, ceil_mode=True)
            x = block(x)
            skips.append(x)
        skips.pop()
        for up, block in zip(self.up, self.up_blocks):
            skip = skips.pop()
            x = _match(up(x), skip.shape[2:])
            x = block(torch.cat([x, skip], dim=1))
        return self.head(x)
