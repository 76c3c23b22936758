"""Fourier Neural Operator (Li et al. 2021) and its Tucker-factorised variant TFNO (Kossaifi et al. 2023).

Architecture (neuraloperator style): optional grid embedding -> lifting (pointwise MLP) ->
optional domain padding -> ``n_layers`` FNO blocks -> crop -> projection (pointwise MLP).
Each block::

    y = act(norm(SpectralConv(x)) + skip(x))              # Fourier layer
    y = act(norm(ChannelMLP(y) + mlp_skip(x)))            # if channel_mlp_expansion is set

(both skips read the block input ``x``; no activations in the last block), the ordering of
neuraloperator 2.0's post-activation FNO blocks, so equal arguments give equal architectures.
The model is resolution invariant: the same weights run on any grid, the spectral convolutions
simply keep the modes the grid resolves.
"""
from __future__ import annotations

import torch
from torch import nn

from .._util.validation import check_choice, check_float, check_int, check_int_tuple
from . import layers as _layers
from .layers import (
    ChannelMLP,
    DomainPadding,
    GridEmbedding,
    SoftGating,
    _Identity,
    add_skip,
    check_input,
    get_activation,
    make_norm,
    make_skip,
)
from .spectral import SpectralConv, check_rank
from .tensorized import FACTORIZATIONS, check_spectral_init

__all__ = ["FNOBlock", "FNO", "TFNO"]


class FNOBlock(nn.Module):
    """One Fourier layer (spectral conv + skip) and optional channel MLP, channels preserved.

    ``(B, channels, *spatial) -> (B, channels, *spatial)``.
    """

    def __init__(self, channels: int, n_modes, *, non_linearity: str = "gelu", norm=None, skip: str = "linear",
                 channel_mlp_expansion: float | None = 0.5, channel_mlp_skip: str = "soft-gating",
                 factorization=None, rank=0.5, spectral_init: str = "normal", last: bool = False):
        super().__init__()
        ndim = len(n_modes)
        self.act = get_activation(non_linearity)
        self.last = last
        self.conv = SpectralConv(channels, channels, n_modes, factorization=factorization, rank=rank,
                                 init=spectral_init)
        self.skip = make_skip(skip, channels, channels, ndim)
        self.norm = make_norm(norm, channels)
        if channel_mlp_expansion is not None:
            hidden = max(1, int(round(channels * channel_mlp_expansion)))
            self.mlp = ChannelMLP(channels, channels, hidden, n_layers=2, non_linearity=non_linearity)
            self.mlp_skip = make_skip(channel_mlp_skip, channels, channels, ndim)
            self.mlp_norm = make_norm(norm, channels)
        else:
            self.mlp = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if _layers.get_fused() and isinstance(self.norm, _Identity) and (
                self.mlp is None or isinstance(self.mlp_norm, _Identity)):
            return self._forward_fused(x)
        mlp_skip = self.mlp_skip(x) if self.mlp is not None else None  # both skips read the block input
        x = self.norm(self.conv(x)) + self.skip(x)
        if self.mlp is not None:
            if not self.last:
                x = self.act(x)
            x = self.mlp_norm(self.mlp(x) + mlp_skip)
        if not self.last:
            x = self.act(x)
        return x

    def _forward_fused(self, x: torch.Tensor) -> torch.Tensor:
        """The same block without normalisation, sums folded into the matrix products (``layers.set_fused``)."""
        y = add_skip(self.skip, x, self.conv(x))
        if self.mlp is not None:
            if not self.last:
                y = self.act(y)
            *hidden, out = self.mlp.layers
            for layer in hidden:
                y = self.mlp.act(layer(y))
            bias = None if out.bias is None else out.bias.view(1, -1, *([1] * (x.dim() - 2)))
            if isinstance(self.mlp_skip, SoftGating) and bias is not None:
                addend = self.mlp_skip(x, add=bias)  # mlp_skip(x) + b in one pass, in x's precision
            else:
                addend = self.mlp_skip(x)
                addend = addend if bias is None else addend + bias
            y = out.forward(y, add=addend.expand(y.shape[0], out.out_channels, *y.shape[2:]))
        if not self.last:
            y = self.act(y)
        return y


class FNO(nn.Module):
    """Fourier Neural Operator on a uniform grid of any dimension.

    Parameters
    ----------
    in_channels, out_channels : int
        Channels of the input and output fields.
    n_modes : tuple of int
        Kept Fourier modes per spatial axis (total count, both signs; see ``SpectralConv``). Its
        length is the spatial dimension.
    hidden_channels : int
        Width of the FNO blocks.
    n_layers : int
        Number of FNO blocks.
    lifting_channels, projection_channels : int or None
        Hidden width of the 2-layer lifting / projection MLPs; None means ``2 * hidden_channels``,
        0 means a single linear layer.
    positional_embedding : "grid", "periodic-grid", "neuralop-grid" or None
        Append grid coordinates in [0, 1] as input channels: "grid" uses ``linspace(0, 1, n)``
        (nodes including both ends, e.g. Darcy), "periodic-grid" ``arange(n) / n`` (torus),
        "neuralop-grid" neuraloperator 2.0's ``linspace(0, 1, n + 1)[:-1]`` in float32 (the torus
        points to one rounding; use it to match a neuraloperator model bit for bit).
    domain_padding : float or tuple of float
        Fraction of each axis to zero-pad before the blocks (non-periodic problems, e.g. 0.1 for
        Darcy); 0 disables. ``domain_padding_mode``: "one-sided" or "symmetric".
    non_linearity : str
        "gelu", "relu", "tanh", "silu".
    norm : None, "group" or "instance"
    skip : "linear", "soft-gating" or "identity"
        Skip connection around each spectral convolution.
    channel_mlp_expansion : float or None
        Hidden-width ratio of the channel MLP in each block (None: no channel MLP).
    channel_mlp_skip : "soft-gating", "linear" or "identity"
    factorization : None, "dense", "cp", "tucker"; rank : float
        Spectral weight factorisation (see ``SpectralConv``).
    spectral_init : "normal" or "uniform"
        Initial spectral weights (see ``SpectralConv``): "normal" as neuraloperator 2.0, "uniform"
        as the FNO authors' public code (``fourier_2d.py``), dense weights only.

    Shapes: ``(B, in_channels, *spatial) -> (B, out_channels, *spatial)`` at any resolution.
    ``model.config`` holds the constructor arguments (JSON-serialisable); ``FNO(**model.config)``
    rebuilds the same architecture.

    Examples
    --------
    >>> model = FNO(in_channels=1, out_channels=1, n_modes=(12, 12), hidden_channels=16, n_layers=2)
    >>> model(torch.randn(2, 1, 32, 32)).shape
    torch.Size([2, 1, 32, 32])
    >>> model(torch.randn(1, 1, 64, 64)).shape   # the same weights at another resolution
    torch.Size([1, 1, 64, 64])
    >>> FNO(**model.config).config == model.config
    True
    """

    model_name = "fno"

    def __init__(self, in_channels: int, out_channels: int, n_modes, hidden_channels: int = 32, n_layers: int = 4,
                 lifting_channels: int | None = None, projection_channels: int | None = None,
                 positional_embedding: str | None = "grid", domain_padding=0.0,
                 domain_padding_mode: str = "one-sided", non_linearity: str = "gelu", norm: str | None = None,
                 skip: str = "linear", channel_mlp_expansion: float | None = 0.5,
                 channel_mlp_skip: str = "soft-gating", factorization: str | None = None, rank=0.5,
                 spectral_init: str = "normal"):
        super().__init__()
        in_channels = check_int(in_channels, "in_channels", min=1)
        out_channels = check_int(out_channels, "out_channels", min=1)
        n_modes = check_int_tuple(n_modes, "n_modes", min=1)
        ndim = len(n_modes)
        hidden_channels = check_int(hidden_channels, "hidden_channels", min=1)
        n_layers = check_int(n_layers, "n_layers", min=1)
        if lifting_channels is not None:
            lifting_channels = check_int(lifting_channels, "lifting_channels", min=0)
        if projection_channels is not None:
            projection_channels = check_int(projection_channels, "projection_channels", min=0)
        check_choice(positional_embedding, "positional_embedding", (None, "grid", "periodic-grid", "neuralop-grid"))
        if isinstance(domain_padding, (list, tuple)):
            if len(domain_padding) != ndim:
                raise ValueError(f"domain_padding must have {ndim} entries (one per axis), got {len(domain_padding)}")
            domain_padding = [check_float(p, "domain_padding", min=0, max=1) for p in domain_padding]
        else:
            domain_padding = check_float(domain_padding, "domain_padding", min=0, max=1)
        check_choice(domain_padding_mode, "domain_padding_mode", ("one-sided", "symmetric"))
        get_activation(non_linearity)
        check_choice(norm, "norm", (None, "group", "instance"))
        check_choice(skip, "skip", ("linear", "soft-gating", "identity"))
        if channel_mlp_expansion is not None:
            channel_mlp_expansion = check_float(channel_mlp_expansion, "channel_mlp_expansion", min=0, min_open=True)
        check_choice(channel_mlp_skip, "channel_mlp_skip", ("linear", "soft-gating", "identity"))
        check_choice(factorization, "factorization", FACTORIZATIONS)
        if factorization in ("cp", "tucker"):
            check_rank(rank, factorization, ndim + 2)
        check_spectral_init(spectral_init, factorization, "spectral_init")

        self.config = dict(
            in_channels=in_channels, out_channels=out_channels, n_modes=list(n_modes),
            hidden_channels=hidden_channels, n_layers=n_layers, lifting_channels=lifting_channels,
            projection_channels=projection_channels, positional_embedding=positional_embedding,
            domain_padding=domain_padding, domain_padding_mode=domain_padding_mode, non_linearity=non_linearity,
            norm=norm, skip=skip, channel_mlp_expansion=channel_mlp_expansion, channel_mlp_skip=channel_mlp_skip,
            factorization=factorization, rank=list(rank) if isinstance(rank, tuple) else rank,
            spectral_init=spectral_init,
        )
        self.in_channels, self.out_channels, self.n_modes, self.ndim = in_channels, out_channels, n_modes, ndim

        self.embedding = None
        lift_in = in_channels
        if positional_embedding is not None:
            self.embedding = GridEmbedding(ndim, periodic=positional_embedding != "grid",
                                           linspace=positional_embedding == "neuralop-grid")
            lift_in += ndim
        lifting_hidden = 2 * hidden_channels if lifting_channels is None else lifting_channels
        projection_hidden = 2 * hidden_channels if projection_channels is None else projection_channels
        self.lifting = ChannelMLP(lift_in, hidden_channels, lifting_hidden, n_layers=2 if lifting_hidden else 1,
                                  non_linearity=non_linearity)
        pads = domain_padding if isinstance(domain_padding, list) else [domain_padding] * ndim
        self.padding = DomainPadding(pads, domain_padding_mode) if any(p > 0 for p in pads) else None
        self.blocks = nn.ModuleList(
            FNOBlock(hidden_channels, n_modes, non_linearity=non_linearity, norm=norm, skip=skip,
                     channel_mlp_expansion=channel_mlp_expansion, channel_mlp_skip=channel_mlp_skip,
                     factorization=factorization, rank=rank, spectral_init=spectral_init, last=(i == n_layers - 1))
            for i in range(n_layers)
        )
        self.projection = ChannelMLP(hidden_channels, out_channels, projection_hidden,
                                     n_layers=2 if projection_hidden else 1, non_linearity=non_linearity)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, in_channels, *spatial) -> (B, out_channels, *spatial)``."""
        check_input("x", x, ndim=self.ndim, channels=self.in_channels)
        if self.embedding is not None:
            x = self.embedding(x)
        x = self.lifting(x)
        amounts = None
        if self.padding is not None:
            x, amounts = self.padding.pad(x)
        for block in self.blocks:
            x = block(x)
        if amounts is not None:
            x = DomainPadding.unpad(x, amounts)
        return self.projection(x)


class TFNO(FNO):
    """Tensorized FNO: an ``FNO`` whose spectral weights are Tucker-factorised by default.

    Same arguments as ``FNO``; ``factorization`` defaults to "tucker" and ``rank`` to 0.1
    (a tenth of the dense spectral parameters).
    """

    model_name = "tfno"

    def __init__(self, in_channels: int, out_channels: int, n_modes, hidden_channels: int = 32, n_layers: int = 4,
                 *, factorization: str | None = "tucker", rank=0.1, **kwargs):
        super().__init__(in_channels, out_channels, n_modes, hidden_channels, n_layers, factorization=factorization,
                         rank=rank, **kwargs)
