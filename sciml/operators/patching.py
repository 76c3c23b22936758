"""Multigrid domain decomposition (the patching of MG-TFNO, Kossaifi et al. 2023).

A field ``(B, C, H, W)`` is cut into ``2**L x 2**L`` patches of ``h x w = H / 2**L x W / 2**L``
points. Each patch is grown by ``padding_fraction * h`` points of its neighbours on every side
(overlap, cropped again after the model), and gets ``L`` context fields stacked as extra channels:
at level ``l = 1..L`` the full field is average-pooled by ``2**l`` and a window of the patch's
size centred on the patch is cut out, i.e. a neighbourhood ``2**l`` times wider seen at ``2**l``
times coarser resolution; level ``L`` shows the whole domain. The wrapped model therefore sees
``C * (L + 1)`` input channels on ``(h + 2 p) x (w + 2 p)`` grids, ``4**L`` times fewer points than
the full field, which is what lets high-resolution problems train in less memory: patches are
independent samples (``stitching=False`` with ``patch_target``), or an inference pass runs the
patches a few at a time (``max_patches_per_forward``).

Windows that leave the domain wrap around (``padding_mode="circular"``, periodic problems),
repeat the edge value (``"replicate"``) or read zeros (``"zeros"``).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .._util.validation import check_choice, check_float, check_int
from .layers import check_input

__all__ = ["MultigridPatching2d"]


class MultigridPatching2d(nn.Module):
    """Run a 2D operator on multigrid patches of its input and stitch the outputs.

    Parameters
    ----------
    model : nn.Module
        Operator mapping ``(N, in_channels * (levels + 1), h + 2p, w + 2p)`` to
        ``(N, out_channels, h + 2p, w + 2p)`` (e.g. an FNO built with
        ``in_channels=MultigridPatching2d.context_channels(C, levels)``).
    levels : int
        ``L``: the input is split into ``2**L x 2**L`` patches with ``L`` context levels (0: the
        model runs on the whole field unchanged).
    padding_fraction : float
        Overlap added on each side of a patch, as a fraction of the patch size.
    stitching : bool
        ``forward`` returns the stitched field ``(B, out_channels, H, W)``; with False it returns
        the cropped patch outputs ``(B * 4**L, out_channels, h, w)``, to be compared with
        ``patch_target(y)`` (patch-wise training).
    padding_mode : "circular", "replicate" or "zeros"
        What windows see outside the domain.
    max_patches_per_forward : int or None
        Run the model on at most this many patches at a time (bounds peak memory in inference).
    """

    def __init__(self, model: nn.Module, levels: int = 1, padding_fraction: float = 0.0, stitching: bool = True,
                 padding_mode: str = "circular", max_patches_per_forward: int | None = None):
        super().__init__()
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        self.levels = check_int(levels, "levels", min=0)
        self.padding_fraction = check_float(padding_fraction, "padding_fraction", min=0, max=1)
        if not isinstance(stitching, bool):
            raise TypeError(f"stitching must be a bool, got {type(stitching).__name__}")
        self.stitching = stitching
        self.padding_mode = check_choice(padding_mode, "padding_mode", ("circular", "replicate", "zeros"))
        if max_patches_per_forward is not None:
            max_patches_per_forward = check_int(max_patches_per_forward, "max_patches_per_forward", min=1)
        self.max_patches_per_forward = max_patches_per_forward
        self.model = model
        self.config = dict(levels=self.levels, padding_fraction=self.padding_fraction, stitching=stitching,
                           padding_mode=padding_mode, max_patches_per_forward=max_patches_per_forward)
        if hasattr(model, "config") and hasattr(model, "model_name"):
            self.config["model"] = {"name": model.model_name, "config": model.config}

    @staticmethod
    def context_channels(in_channels: int, levels: int) -> int:
        """Input channels the wrapped model needs: ``in_channels * (levels + 1)``."""
        return in_channels * (levels + 1)

    # ----------------------------------------------------------------- geometry
    def _geometry(self, shape):
        H, W = shape
        n = 2**self.levels
        if H % n or W % n:
            raise ValueError(f"the grid {H}x{W} must be divisible by 2**levels = {n} along both axes")
        h, w = H // n, W // n
        ph, pw = int(round(self.padding_fraction * h)), int(round(self.padding_fraction * w))
        return n, h, w, ph, pw

    def _window_index(self, n_patches, size, pad, level, n_points, device):
        """Indices (n_patches, size + 2 pad) into an axis of ``n_points`` coarse points, and validity."""
        s = 2**level
        span = size + 2 * pad
        i = torch.arange(n_patches, device=device, dtype=torch.float64)
        centre = (i + 0.5) * size / s
        start = torch.floor(centre - span / 2 + 0.5).to(torch.long)
        idx = start[:, None] + torch.arange(span, device=device)[None, :]
        valid = (idx >= 0) & (idx < n_points)
        if self.padding_mode == "circular":
            idx = idx % n_points
        else:
            idx = idx.clamp(0, n_points - 1)
        return idx, valid

    # ----------------------------------------------------------------- public steps
    def patch(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C, H, W) -> (B * 4**L, C * (L + 1), h + 2p, w + 2p)`` (patch-major within a sample)."""
        check_input("x", x, ndim=2)
        B, C, H, W = x.shape
        n, h, w, ph, pw = self._geometry((H, W))
        pieces = []
        for level in range(self.levels + 1):
            xl = F.avg_pool2d(x, 2**level) if level else x
            rows, rvalid = self._window_index(n, h, ph, level, xl.shape[-2], x.device)
            cols, cvalid = self._window_index(n, w, pw, level, xl.shape[-1], x.device)
            win = xl[:, :, rows[:, None, :, None], cols[None, :, None, :]]  # (B, C, n, n, hp, wp)
            if self.padding_mode == "zeros":
                mask = rvalid[:, None, :, None] & cvalid[None, :, None, :]
                win = win * mask.to(win.dtype)
            pieces.append(win)
        out = torch.cat(pieces, dim=1)  # (B, C (L+1), n, n, hp, wp)
        out = out.permute(0, 2, 3, 1, 4, 5)
        return out.reshape(B * n * n, C * (self.levels + 1), h + 2 * ph, w + 2 * pw)

    def patch_target(self, y: torch.Tensor) -> torch.Tensor:
        """Cut a target ``(B, C, H, W)`` into the patches ``(B * 4**L, C, h, w)`` (no overlap)."""
        check_input("y", y, ndim=2)
        B, C, H, W = y.shape
        n, h, w, _, _ = self._geometry((H, W))
        return y.reshape(B, C, n, h, n, w).permute(0, 2, 4, 1, 3, 5).reshape(B * n * n, C, h, w)

    def crop(self, y: torch.Tensor, shape) -> torch.Tensor:
        """Remove the overlap from patch outputs computed for a field of spatial ``shape``."""
        _, h, w, ph, pw = self._geometry(shape)
        return y[..., ph:ph + h, pw:pw + w]

    def stitch(self, y: torch.Tensor, shape) -> torch.Tensor:
        """Cropped patch outputs ``(B * 4**L, C, h, w)`` -> field ``(B, C, H, W)``."""
        n, h, w, _, _ = self._geometry(shape)
        if y.shape[0] % (n * n) or tuple(y.shape[-2:]) != (h, w):
            raise ValueError(f"y must have shape (B * {n * n}, C, {h}, {w}), got {tuple(y.shape)}")
        B, C = y.shape[0] // (n * n), y.shape[1]
        return y.reshape(B, n, n, C, h, w).permute(0, 3, 1, 4, 2, 5).reshape(B, C, n * h, n * w)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C, H, W)`` -> ``(B, C_out, H, W)`` (stitching) or ``(B * 4**L, C_out, h, w)``."""
        shape = tuple(x.shape[-2:])
        patches = self.patch(x)
        k = self.max_patches_per_forward
        if k is None or k >= patches.shape[0]:
            y = self.model(patches)
        else:
            y = torch.cat([self.model(patches[i:i + k]) for i in range(0, patches.shape[0], k)], dim=0)
        y = self.crop(y, shape)
        return self.stitch(y, shape) if self.stitching else y
