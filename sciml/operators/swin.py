"""Swin transformer for lat-lon grids (torch.nn only).

U-shaped: patch embedding -> stages of (shifted-)window self-attention blocks with patch
merging -> symmetric decoder with patch expansion and skip connections -> a linear head that
unfolds every token back into its ``patch x patch`` pixels, so the output has the input's
resolution.

Lat-lon specifics: the cyclic shift of the shifted windows is *physical* along longitude (the
grid is periodic), so windows that wrap around the dateline attend freely; along latitude the
wrap from pole to pole is not physical and is masked out, as in the original Swin. Each
attention layer has a learned relative position bias over the window.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["WindowAttention", "SwinBlock", "SwinTransformer2d"]


def _windows(x, wh, ww):
    """(B, H, W, C) -> (B * nW, wh * ww, C)."""
    B, H, W, C = x.shape
    x = x.view(B, H // wh, wh, W // ww, ww, C).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(-1, wh * ww, C)


def _unwindows(w, wh, ww, B, H, W):
    C = w.shape[-1]
    x = w.view(B, H // wh, W // ww, wh, ww, C).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(B, H, W, C)


class WindowAttention(nn.Module):
    """Multi-head self-attention inside a (wh, ww) window with a relative position bias."""

    def __init__(self, dim: int, window: tuple[int, int], heads: int):
        super().__init__()
        if dim % heads:
            raise ValueError(f"dim={dim} must be divisible by heads={heads}")
        self.dim, self.window, self.heads = dim, window, heads
        wh, ww = window
        self.bias_table = nn.Parameter(torch.zeros((2 * wh - 1) * (2 * ww - 1), heads))
        nn.init.trunc_normal_(self.bias_table, std=0.02)
        coords = torch.stack(torch.meshgrid(torch.arange(wh), torch.arange(ww), indexing="ij")).flatten(1)
        rel = coords[:, :, None] - coords[:, None, :]  # (2, N, N)
        index = (rel[0] + wh - 1) * (2 * ww - 1) + (rel[1] + ww - 1)
        self.register_buffer("bias_index", index, persistent=False)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x, mask=None):
        """x: (B * nW, N, C); mask: (nW, N, N) additive or None."""
        Bn, N, C = x.shape
        qkv = self.qkv(x).view(Bn, N, 3, self.heads, C // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        bias = self.bias_table[self.bias_index.reshape(-1)].view(N, N, self.heads).permute(2, 0, 1)
        bias = bias.unsqueeze(0).to(x.dtype)  # (1, heads, N, N)
        if mask is not None:
            nW = mask.shape[0]
            bias = (bias + mask.unsqueeze(1).to(x.dtype)).unsqueeze(0)  # (1, nW, heads, N, N)
            bias = bias.expand(Bn // nW, -1, -1, -1, -1).reshape(Bn, self.heads, N, N)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=bias)
        return self.proj(out.transpose(1, 2).reshape(Bn, N, C))


class SwinBlock(nn.Module):
    """Pre-norm (shifted-)window attention block with an MLP, on (B, H, W, C) tokens."""

    def __init__(self, dim: int, heads: int, window: tuple[int, int], shift: bool, mlp_ratio: float = 2.0):
        super().__init__()
        self.window, self.shift = window, shift
        self.norm1 = nn.LayerNorm(dim)
        self.attn = WindowAttention(dim, window, heads)
        self.norm2 = nn.LayerNorm(dim)
        hidden = int(round(mlp_ratio * dim))
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))
        self._masks = {}

    def _mask(self, H, W, device):
        """Additive mask forbidding attention across the latitude wrap (pole to pole) only."""
        key = (H, W, str(device))
        if key not in self._masks:
            wh, ww = self.window
            sh = wh // 2
            rows = torch.zeros(H, W, dtype=torch.long, device=device)
            # after rolling by -sh rows, the last sh rows came from the first rows (other pole)
            rows[H - sh:] = 1
            win = _windows(rows[None, :, :, None].float(), wh, ww).squeeze(-1)  # (nW, N)
            m = (win[:, :, None] != win[:, None, :]).float() * -1e4
            self._masks[key] = m
        return self._masks[key]

    def forward(self, x):
        B, H, W, C = x.shape
        wh, ww = self.window
        h = self.norm1(x)
        mask = None
        if self.shift:
            h = torch.roll(h, shifts=(-(wh // 2), -(ww // 2)), dims=(1, 2))  # periodic in lon: physical
            mask = self._mask(H, W, x.device)
        h = _unwindows(self.attn(_windows(h, wh, ww), mask), wh, ww, B, H, W)
        if self.shift:
            h = torch.roll(h, shifts=(wh // 2, ww // 2), dims=(1, 2))
        x = x + h
        return x + self.mlp(self.norm2(x))


class _Merge(nn.Module):
    """2x2 patch merging: (B, H, W, C) -> (B, H/2, W/2, 2C)."""

    def __init__(self, dim):
        super().__init__()
        self.norm = nn.LayerNorm(4 * dim)
        self.red = nn.Linear(4 * dim, 2 * dim)

    def forward(self, x):
        x = torch.cat([x[:, 0::2, 0::2], x[:, 1::2, 0::2], x[:, 0::2, 1::2], x[:, 1::2, 1::2]], dim=-1)
        return self.red(self.norm(x))


class _Expand(nn.Module):
    """2x patch expansion: (B, H, W, C) -> (B, 2H, 2W, C/2)."""

    def __init__(self, dim):
        super().__init__()
        self.lin = nn.Linear(dim, 2 * dim)
        self.norm = nn.LayerNorm(dim // 2)

    def forward(self, x):
        B, H, W, C = x.shape
        x = self.lin(x).view(B, H, W, 2, 2, C // 2).permute(0, 1, 3, 2, 4, 5).reshape(B, 2 * H, 2 * W, C // 2)
        return self.norm(x)


class SwinTransformer2d(nn.Module):
    """U-shaped Swin transformer on a periodic-in-longitude lat-lon grid.

    Parameters
    ----------
    in_channels, out_channels : field channels (levels folded into channels).
    nlat, nlon : grid size; must be divisible by ``patch * 2**(len(depths)-1) * window``.
    patch : patch size (tokens are ``patch x patch`` pixels).
    embed_dim : token width at the first stage (doubles at each merge).
    depths : blocks per stage, e.g. (2, 2); blocks alternate regular / shifted windows.
    heads : attention heads per stage (same length as ``depths``).
    window : (wh, ww) attention window in tokens.
    mlp_ratio : MLP hidden width relative to the token width.

    ``forward(x)``: (B, in_channels, nlat, nlon) -> (B, out_channels, nlat, nlon).
    ``model.config`` holds the constructor arguments (JSON-serialisable).
    """

    def __init__(self, in_channels: int, out_channels: int, nlat: int, nlon: int, *, patch: int = 2,
                 embed_dim: int = 48, depths=(2, 2), heads=(3, 6), window=(4, 8), mlp_ratio: float = 2.0):
        super().__init__()
        depths, heads, window = tuple(depths), tuple(heads), tuple(window)
        self.config = dict(in_channels=in_channels, out_channels=out_channels, nlat=nlat, nlon=nlon, patch=patch,
                           embed_dim=embed_dim, depths=list(depths), heads=list(heads), window=list(window),
                           mlp_ratio=float(mlp_ratio))
        if len(depths) != len(heads) or len(depths) < 1:
            raise ValueError("depths and heads must be non-empty and of the same length")
        if len(window) != 2:
            raise ValueError(f"window must be (wh, ww), got {window}")
        f = patch * 2 ** (len(depths) - 1)
        if nlat % (f * window[0]) or nlon % (f * window[1]):
            raise ValueError(f"nlat={nlat}, nlon={nlon} must be divisible by patch*2**(stages-1)*window = "
                             f"({f * window[0]}, {f * window[1]})")
        self.in_channels, self.out_channels, self.nlat, self.nlon, self.patch = \
            in_channels, out_channels, nlat, nlon, patch
        self.embed = nn.Conv2d(in_channels + 2, embed_dim, patch, stride=patch)
        self.embed_norm = nn.LayerNorm(embed_dim)
        self.enc, self.merge = nn.ModuleList(), nn.ModuleList()
        dim = embed_dim
        for s, (d, h) in enumerate(zip(depths, heads)):
            self.enc.append(nn.Sequential(*[SwinBlock(dim, h, window, shift=bool(i % 2), mlp_ratio=mlp_ratio)
                                            for i in range(d)]))
            if s < len(depths) - 1:
                self.merge.append(_Merge(dim))
                dim *= 2
        self.expand, self.fuse, self.dec = nn.ModuleList(), nn.ModuleList(), nn.ModuleList()
        for s in range(len(depths) - 2, -1, -1):
            self.expand.append(_Expand(dim))
            dim //= 2
            self.fuse.append(nn.Linear(2 * dim, dim))
            self.dec.append(nn.Sequential(*[SwinBlock(dim, heads[s], window, shift=bool(i % 2), mlp_ratio=mlp_ratio)
                                            for i in range(depths[s])]))
        self.head_norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, patch * patch * out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or x.shape[1] != self.in_channels or x.shape[-2:] != (self.nlat, self.nlon):
            raise ValueError(
                f"x must have shape (B, {self.in_channels}, {self.nlat}, {self.nlon}), got {tuple(x.shape)}"
            )
        B = x.shape[0]
        lat = torch.linspace(-1, 1, self.nlat, dtype=x.dtype, device=x.device) * (
            torch.pi / 2 - torch.pi / (2 * self.nlat)
        )
        emb = torch.stack([torch.sin(lat), torch.cos(lat)])[None, :, :, None].expand(B, 2, self.nlat, self.nlon)
        h = self.embed(torch.cat([x, emb], dim=1)).permute(0, 2, 3, 1)  # (B, H, W, C)
        h = self.embed_norm(h)
        skips = []
        for s, stage in enumerate(self.enc):
            h = stage(h)
            if s < len(self.merge):
                skips.append(h)
                h = self.merge[s](h)
        for exp, fuse, stage in zip(self.expand, self.fuse, self.dec):
            h = exp(h)
            h = fuse(torch.cat([h, skips.pop()], dim=-1))
            h = stage(h)
        y = self.head(self.head_norm(h))  # (B, H, W, p*p*C)
        p, C = self.patch, self.out_channels
        Hh, Ww = y.shape[1], y.shape[2]
        y = y.view(B, Hh, Ww, p, p, C).permute(0, 5, 1, 3, 2, 4).reshape(B, C, Hh * p, Ww * p)
        return y
