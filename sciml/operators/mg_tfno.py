"""MG-TFNO (Kossaifi et al. 2023): a Tucker-factorised FNO run on multigrid patches.

The field is cut into ``2**levels x 2**levels`` overlapping patches, each given ``levels``
coarser views of its widening neighbourhood as extra channels
(:class:`~sciml.operators.patching.MultigridPatching2d`); one :class:`~sciml.operators.TFNO`
maps every patch, and the patch outputs are stitched back. Each forward pass of the TFNO sees
``4**levels`` times fewer points, which is how MG-TFNO trains at high resolution in less memory.

A grid whose sides are not multiples of ``2**levels`` (85 x 85 for the Darcy benchmark) is
padded at the end by repeating its edge values before patching, and the output cropped back.
"""
from __future__ import annotations

import torch.nn.functional as F
from torch import nn

from .._util.validation import check_bool, check_int
from .fno import TFNO
from .layers import GridEmbedding, check_input
from .patching import MultigridPatching2d

__all__ = ["MGTFNO"]


class MGTFNO(nn.Module):
    """TFNO on multigrid patches of a 2D field.

    Parameters
    ----------
    in_channels, out_channels : int
        Channels of the field (the TFNO inside sees ``in_channels * (levels + 1)``).
    n_modes : sequence of 2 int
        Fourier modes of the TFNO per axis, both signs counted (as :class:`FNO`); they must fit the
        patch grid, ``H / 2**levels`` plus the overlap.
    hidden_channels, n_layers : int
        TFNO width and number of Fourier blocks.
    levels : int
        ``L``: ``4**L`` patches with ``L`` context levels (the paper's MG-TFNO uses 1 or 2).
    padding_fraction : float
        Overlap on each side of a patch, as a fraction of the patch size.
    padding_mode : "replicate" (default, non-periodic problems), "circular" or "zeros"
        What context windows see beyond the domain.
    global_grid : bool
        Append the coordinates of the whole field on ``[0, 1]^2`` as two input channels before
        patching, so each patch knows where it lies in the domain (where a Dirichlet boundary is).
        The TFNO's own ``positional_embedding`` gives coordinates local to the patch, the same for
        every patch. Default False (the configuration of earlier versions).
    **tfno_kwargs
        Any other :class:`TFNO` argument (``rank``, ``factorization``, ``domain_padding``, ...).

    Shapes: ``(B, in_channels, H, W) -> (B, out_channels, H, W)``, any ``H, W``.

    Examples
    --------
    >>> import torch
    >>> model = MGTFNO(1, 1, n_modes=[8, 8], hidden_channels=8, n_layers=2, levels=1)
    >>> model(torch.randn(2, 1, 33, 32)).shape
    torch.Size([2, 1, 33, 32])
    >>> model.tfno.in_channels        # the field and one coarse context level
    2
    """

    model_name = "mg-tfno"

    def __init__(self, in_channels: int, out_channels: int, n_modes, hidden_channels: int = 32, n_layers: int = 4, *,
                 levels: int = 1, padding_fraction: float = 0.1, padding_mode: str = "replicate",
                 global_grid: bool = False, **tfno_kwargs):
        super().__init__()
        in_channels = check_int(in_channels, "in_channels", min=1)
        levels = check_int(levels, "levels", min=0)
        global_grid = check_bool(global_grid, "global_grid")
        self.embedding = GridEmbedding(2) if global_grid else None
        inner = TFNO(MultigridPatching2d.context_channels(in_channels + 2 * global_grid, levels), out_channels,
                     n_modes, hidden_channels, n_layers, **tfno_kwargs)
        if len(inner.config["n_modes"]) != 2:
            raise ValueError(f"n_modes must have 2 entries (MG-TFNO patches 2D fields), got {inner.config['n_modes']}")
        self.patching = MultigridPatching2d(inner, levels=levels, padding_fraction=padding_fraction,
                                            padding_mode=padding_mode)
        self.in_channels, self.out_channels, self.levels = in_channels, out_channels, levels
        tfno_cfg = {k: v for k, v in inner.config.items() if k not in ("in_channels", "out_channels")}
        self.config = dict(in_channels=in_channels, out_channels=out_channels, levels=levels,
                           padding_fraction=self.patching.padding_fraction, padding_mode=padding_mode,
                           global_grid=global_grid, **tfno_cfg)

    @property
    def tfno(self) -> TFNO:
        """The TFNO applied to every patch."""
        return self.patching.model

    def forward(self, x):
        """``(B, in_channels, H, W) -> (B, out_channels, H, W)``."""
        check_input("x", x, ndim=2, channels=self.in_channels)
        H, W = x.shape[-2:]
        if self.embedding is not None:
            x = self.embedding(x)  # coordinates of the whole field, before the edge padding and the patches
        n = 2**self.levels
        ph, pw = -H % n, -W % n
        if ph or pw:
            x = F.pad(x, (0, pw, 0, ph), mode="replicate")
        y = self.patching(x)
        return y[..., :H, :W]
