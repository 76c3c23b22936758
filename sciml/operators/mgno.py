"""MgNO: neural operator whose linear maps are multigrid V-cycles (He et al. 2023).

Each layer is ``u -> act(V(u) + W u + b)`` where ``V`` is a linear operator between channel
spaces parameterised as one multigrid V-cycle that approximately solves ``A u = f``:

* on level l (grid h_l, coarsened by 2 each level), smoothing ``u <- u + S_l (f_l - A_l u)``
  with 3x3 convolutions ``A_l`` (c_out -> c_in) and ``S_l`` (c_in -> c_out), starting from u = 0;
* restriction of the residual ``f_{l+1} = R_l (f_l - A_l u_l)`` by a stride-2 3x3 convolution;
* on the way back, prolongation ``u_l <- u_l + P_l u_{l+1}`` by a stride-2 3x3 transposed
  convolution, optionally followed by post-smoothing.

There is no lifting or projection network: the first V-cycle maps ``in_channels`` to
``hidden_channels`` and the last maps ``hidden_channels`` to ``out_channels``.

Boundary conditions enter through the padding of every convolution: ``padding_mode="zeros"``
treats values outside the domain as 0 (Dirichlet-type problems such as Darcy),
``"circular"`` wraps around (periodic problems); with "circular" the whole network commutes with
shifts by multiples of ``2 ** (n_levels - 1)`` points.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .._util.validation import check_choice, check_int, check_int_tuple
from .layers import PointwiseLinear, check_input, get_activation, make_norm

__all__ = ["VCycle", "MgNO"]


def _conv_weight(c_out: int, c_in: int, k: int = 3) -> nn.Parameter:
    w = torch.empty(c_out, c_in, k, k)
    nn.init.kaiming_uniform_(w, a=math.sqrt(5))
    return nn.Parameter(w)


class VCycle(nn.Module):
    """One multigrid V-cycle as a linear map ``(B, in_channels, H, W) -> (B, out_channels, H, W)``.

    ``n_levels`` grids (the finest is the input grid); ``pre_smooth[l]`` (>= 1) /
    ``post_smooth[l]`` smoothing steps on level l (each step has its own ``S``; ``A_l`` is shared
    within a level; the coarsest level only pre-smooths).
    Works for odd and even sizes: a stride-2 3x3 convolution maps n points to ceil(n / 2), and the
    transposed convolution returns exactly n.
    """

    def __init__(self, in_channels: int, out_channels: int, n_levels: int, pre_smooth, post_smooth,
                 padding_mode: str = "zeros"):
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.n_levels = n_levels
        self.pre_smooth, self.post_smooth = tuple(pre_smooth), tuple(post_smooth)
        self.padding_mode = padding_mode
        self.A = nn.ParameterList(_conv_weight(in_channels, out_channels) for _ in range(n_levels))
        self.S_pre = nn.ModuleList(
            nn.ParameterList(_conv_weight(out_channels, in_channels) for _ in range(self.pre_smooth[l]))
            for l in range(n_levels))
        self.S_post = nn.ModuleList(
            nn.ParameterList(_conv_weight(out_channels, in_channels) for _ in range(self.post_smooth[l]))
            for l in range(n_levels - 1))
        self.R = nn.ParameterList(_conv_weight(in_channels, in_channels) for _ in range(n_levels - 1))
        # transposed-convolution weights have shape (in, out, k, k)
        self.P = nn.ParameterList(_conv_weight(out_channels, out_channels) for _ in range(n_levels - 1))

    # convolutions with the chosen boundary treatment -------------------------------------
    def _conv(self, x, w, stride: int = 1):
        if self.padding_mode == "circular":
            return F.conv2d(F.pad(x, (1, 1, 1, 1), mode="circular"), w, stride=stride)
        return F.conv2d(x, w, stride=stride, padding=1)

    def _prolong(self, u, w, size):
        h, wd = size
        if self.padding_mode == "circular":
            # periodic extension by one coarse cell, then crop: fine point i receives the coarse
            # neighbours across the wrap-around exactly as interior points do.
            y = F.conv_transpose2d(F.pad(u, (1, 1, 1, 1), mode="circular"), w, stride=2)
            return y[..., 3:3 + h, 3:3 + wd]
        out_pad = (h - (2 * u.shape[-2] - 1), wd - (2 * u.shape[-1] - 1))
        return F.conv_transpose2d(u, w, stride=2, padding=1, output_padding=out_pad)

    def _smooth(self, u, f, A, S):
        if u is None:
            return self._conv(f, S)
        return u + self._conv(f - self._conv(u, A), S)

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        us, fs, sizes = [], [], []
        for l in range(self.n_levels):
            sizes.append(f.shape[-2:])
            u = None
            for S in self.S_pre[l]:
                u = self._smooth(u, f, self.A[l], S)
            us.append(u)
            fs.append(f)
            if l < self.n_levels - 1:
                f = self._conv(f - self._conv(u, self.A[l]), self.R[l], stride=2)
        u = us[-1]
        for l in reversed(range(self.n_levels - 1)):
            u = us[l] + self._prolong(u, self.P[l], sizes[l])
            for S in self.S_post[l]:
                u = self._smooth(u, fs[l], self.A[l], S)
        return u


class MgNO(nn.Module):
    """Multigrid neural operator on 2D grids (He et al. 2023).

    Parameters
    ----------
    in_channels, out_channels : int
    hidden_channels : int
        Channels between layers.
    n_levels : int
        Grid levels of each V-cycle (the coarsest has about ``H / 2 ** (n_levels - 1)`` points).
    n_layers : int
        Number of V-cycle layers (>= 2: the first maps in -> hidden, the last hidden -> out).
    pre_smooth, post_smooth : int or tuple of int (one per level)
        Smoothing steps per level before restriction (>= 1) / after prolongation (>= 0; the
        coarsest level has no prolongation, its entry is unused). Defaults 1 and 0.
    padding_mode : "zeros" (Dirichlet-type, e.g. Darcy) or "circular" (periodic)
    non_linearity : str; norm : None, "group", "instance"
    skip : bool
        Add a pointwise linear map of the layer input (``W u``) to every hidden layer.

    Shapes: ``(B, in_channels, H, W) -> (B, out_channels, H, W)``, any H, W >= 2 ** (n_levels - 1).

    Examples
    --------
    >>> model = MgNO(1, 1, hidden_channels=8, n_levels=3)
    >>> model(torch.randn(2, 1, 29, 29)).shape   # odd sizes are fine
    torch.Size([2, 1, 29, 29])
    """

    model_name = "mgno"

    def __init__(self, in_channels: int, out_channels: int, hidden_channels: int = 32, n_levels: int = 4,
                 n_layers: int = 5, pre_smooth=1, post_smooth=0, padding_mode: str = "zeros",
                 non_linearity: str = "gelu", norm: str | None = None, skip: bool = True):
        super().__init__()
        in_channels = check_int(in_channels, "in_channels", min=1)
        out_channels = check_int(out_channels, "out_channels", min=1)
        hidden_channels = check_int(hidden_channels, "hidden_channels", min=1)
        n_levels = check_int(n_levels, "n_levels", min=1)
        n_layers = check_int(n_layers, "n_layers", min=2)
        pre = check_int_tuple(pre_smooth, "pre_smooth", min=1, length=n_levels)
        post = check_int_tuple(post_smooth, "post_smooth", min=0, length=n_levels)
        check_choice(padding_mode, "padding_mode", ("zeros", "circular"))
        self.act = get_activation(non_linearity)
        check_choice(norm, "norm", (None, "group", "instance"))
        if not isinstance(skip, bool):
            raise TypeError(f"skip must be a bool, got {type(skip).__name__}")
        self.config = dict(in_channels=in_channels, out_channels=out_channels, hidden_channels=hidden_channels,
                           n_levels=n_levels, n_layers=n_layers, pre_smooth=list(pre), post_smooth=list(post),
                           padding_mode=padding_mode, non_linearity=non_linearity, norm=norm, skip=skip)
        self.in_channels, self.n_levels = in_channels, n_levels
        sizes = [in_channels] + [hidden_channels] * (n_layers - 1) + [out_channels]
        self.cycles = nn.ModuleList(
            VCycle(a, b, n_levels, pre, post, padding_mode) for a, b in zip(sizes[:-1], sizes[1:]))
        self.biases = nn.ParameterList(nn.Parameter(torch.zeros(1, b, 1, 1)) for b in sizes[1:])
        self.skips = nn.ModuleList(
            PointwiseLinear(a, b, bias=False) if (skip and i < n_layers - 1) else nn.Identity()
            for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])))
        self.use_skip = [skip and i < n_layers - 1 for i in range(n_layers)]
        self.norms = nn.ModuleList(make_norm(norm, b) for b in sizes[1:-1])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, in_channels, H, W) -> (B, out_channels, H, W)``."""
        check_input("x", x, ndim=2, channels=self.in_channels)
        min_size = 2 ** (self.n_levels - 1)
        if min(x.shape[-2:]) < min_size:
            raise ValueError(f"x must have at least {min_size} points per axis for n_levels={self.n_levels}, "
                             f"got {tuple(x.shape[-2:])}")
        n = len(self.cycles)
        for i, (cycle, bias, skip) in enumerate(zip(self.cycles, self.biases, self.skips)):
            y = cycle(x) + bias
            if self.use_skip[i]:
                y = y + skip(x)
            if i < n - 1:
                y = self.act(self.norms[i](y))
            x = y
        return x
