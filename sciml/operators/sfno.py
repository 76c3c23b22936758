"""Spherical Fourier neural operator (SFNO) on lat-lon grids, built on torch-harmonics 0.8.0.

Each block transforms the hidden state to spherical-harmonic coefficients with
``torch_harmonics.RealSHT``, multiplies them by learned *degree-wise* weights (one complex
``width x width`` matrix per degree l, shared by all orders m: the spectral form of a
convolution with a zonal kernel on the sphere, hence equivariant to rotations about the
polar axis), transforms back with ``InverseRealSHT``, adds a pointwise (1x1) skip path and a
two-layer MLP with residual connections.

Grid: rows are latitudes (``lat_order="south_to_north"`` as in the CarbonBench stores, or
``"north_to_south"``), columns longitudes on a periodic, uniform grid. ``grid`` selects the
quadrature of the transform (``"legendre-gauss"`` or ``"equiangular"``); a cell-centred lat-lon
grid (e.g. 32 x 64 at 5.625 deg) is close to the Gauss-Legendre nodes and is treated as such.
"""
from __future__ import annotations

import math

import torch
import torch_harmonics as th
from torch import nn

__all__ = ["SphericalConv", "SFNOBlock", "SFNO"]


class SphericalConv(nn.Module):
    """Spectral convolution on the sphere with degree-wise weights.

    Parameters
    ----------
    in_channels, out_channels : channel counts.
    nlat, nlon : grid size.
    lmax, mmax : number of degrees / orders kept (default: the full resolvable set).
    grid : ``"legendre-gauss"`` or ``"equiangular"``.

    ``forward(x)``: (B, in_channels, nlat, nlon) -> (B, out_channels, nlat, nlon); inputs of another
    resolution are transformed with transforms built (and cached) for that resolution, keeping the
    same degrees, so the layer is discretisation-agnostic as long as ``nlat >= lmax``.
    """

    def __init__(self, in_channels: int, out_channels: int, nlat: int, nlon: int, lmax: int | None = None,
                 mmax: int | None = None, grid: str = "legendre-gauss"):
        super().__init__()
        if grid not in ("legendre-gauss", "equiangular"):
            raise ValueError(f"grid must be 'legendre-gauss' or 'equiangular', got {grid!r}")
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        self.nlat, self.nlon, self.grid = int(nlat), int(nlon), grid
        self.lmax = int(lmax or nlat)
        self.mmax = int(mmax or min(self.lmax, nlon // 2 + 1))
        if self.lmax > nlat or self.mmax > nlon // 2 + 1:
            raise ValueError(f"lmax <= nlat={nlat} and mmax <= nlon//2+1={nlon // 2 + 1} required")
        scale = math.sqrt(2.0 / (in_channels + out_channels))
        self.weight = nn.Parameter(scale * torch.randn(in_channels, out_channels, self.lmax, 2))
        self._transforms = {}
        self._get(self.nlat, self.nlon)

    def _get(self, nlat, nlon):
        key = (nlat, nlon)
        if key not in self._transforms:
            if nlat < self.lmax or nlon // 2 + 1 < self.mmax:
                raise ValueError(f"resolution ({nlat}, {nlon}) too coarse for lmax={self.lmax}, mmax={self.mmax}")
            self._transforms[key] = (
                th.RealSHT(nlat, nlon, lmax=self.lmax, mmax=self.mmax, grid=self.grid, norm="ortho"),
                th.InverseRealSHT(nlat, nlon, lmax=self.lmax, mmax=self.mmax, grid=self.grid, norm="ortho"),
            )
        sht, isht = self._transforms[key]
        return sht, isht

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"x must have shape (B, {self.in_channels}, nlat, nlon), got {tuple(x.shape)}")
        sht, isht = self._get(x.shape[-2], x.shape[-1])
        sht, isht = sht.to(x.device), isht.to(x.device)
        dtype = x.dtype
        coeff = sht(x.to(torch.float64) if dtype == torch.float64 else x.float())  # (B, C, lmax, mmax) complex
        w = torch.view_as_complex(self.weight.to(coeff.real.dtype).contiguous())  # (Cin, Cout, lmax)
        out = torch.einsum("bilm,iol->bolm", coeff, w)
        return isht(out).to(dtype)


class SFNOBlock(nn.Module):
    """``x + MLP(norm(act(SphericalConv(x) + W x)))``: one SFNO block at constant width."""

    def __init__(self, width: int, nlat: int, nlon: int, lmax=None, mmax=None, grid="legendre-gauss",
                 mlp_ratio: float = 2.0):
        super().__init__()
        self.conv = SphericalConv(width, width, nlat, nlon, lmax, mmax, grid)
        self.skip = nn.Conv2d(width, width, 1)
        self.norm = nn.GroupNorm(1, width)
        hidden = int(round(mlp_ratio * width))
        self.mlp = nn.Sequential(nn.Conv2d(width, hidden, 1), nn.GELU(), nn.Conv2d(hidden, width, 1))
        self.act = nn.GELU()

    def forward(self, x):
        y = self.act(self.norm(self.conv(x) + self.skip(x)))
        return x + self.mlp(y)


class SFNO(nn.Module):
    """Spherical Fourier neural operator.

    Parameters
    ----------
    in_channels, out_channels : channels of the input / output fields (levels folded into channels).
    nlat, nlon : grid size (rows = latitudes, columns = longitudes, periodic).
    width : hidden channels.
    n_layers : number of SFNO blocks.
    lmax, mmax : spherical-harmonic degrees / orders kept (default nlat and nlon//2+1, capped at lmax).
    grid : quadrature of the transform, ``"legendre-gauss"`` (default) or ``"equiangular"``.
    lat_order : ``"south_to_north"`` (default, CarbonBench) or ``"north_to_south"``.
    pos_embed : append ``sin(lat), cos(lat)`` channels to the input (breaks nothing along longitude).
    mlp_ratio : hidden width of the per-block MLP relative to ``width``.

    ``forward(x)``: (B, in_channels, nlat, nlon) -> (B, out_channels, nlat, nlon).
    ``model.config`` holds the constructor arguments (JSON-serialisable): ``SFNO(**model.config)``.

    Examples
    --------
    >>> model = SFNO(10, 10, 32, 64, width=16, n_layers=2)   # CarbonBench LowRes: 10 levels, 32 x 64
    >>> x = torch.randn(1, 10, 32, 64)
    >>> model(x).shape
    torch.Size([1, 10, 32, 64])
    >>> bool(torch.allclose(model(x.roll(8, -1)), model(x).roll(8, -1), atol=1e-4))   # rotation in longitude
    True
    """

    def __init__(self, in_channels: int, out_channels: int, nlat: int, nlon: int, *, width: int = 32,
                 n_layers: int = 4, lmax: int | None = None, mmax: int | None = None, grid: str = "legendre-gauss",
                 lat_order: str = "south_to_north", pos_embed: bool = True, mlp_ratio: float = 2.0):
        super().__init__()
        for name, v in (("in_channels", in_channels), ("out_channels", out_channels), ("nlat", nlat),
                        ("nlon", nlon), ("width", width), ("n_layers", n_layers)):
            if not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be a positive int, got {v!r}")
        if lat_order not in ("south_to_north", "north_to_south"):
            raise ValueError(f"lat_order must be 'south_to_north' or 'north_to_south', got {lat_order!r}")
        self.config = dict(in_channels=in_channels, out_channels=out_channels, nlat=nlat, nlon=nlon, width=width,
                           n_layers=n_layers, lmax=lmax, mmax=mmax, grid=grid, lat_order=lat_order,
                           pos_embed=bool(pos_embed), mlp_ratio=float(mlp_ratio))
        self.in_channels, self.out_channels, self.nlat, self.nlon = in_channels, out_channels, nlat, nlon
        self.lat_order, self.pos_embed = lat_order, bool(pos_embed)
        cin = in_channels + (2 if pos_embed else 0)
        self.lift = nn.Sequential(nn.Conv2d(cin, width, 1), nn.GELU(), nn.Conv2d(width, width, 1))
        self.blocks = nn.ModuleList(
            [SFNOBlock(width, nlat, nlon, lmax, mmax, grid, mlp_ratio) for _ in range(n_layers)])
        self.project = nn.Sequential(nn.Conv2d(width, width, 1), nn.GELU(), nn.Conv2d(width, out_channels, 1))

    def _lat_embedding(self, x):
        nlat = x.shape[-2]
        # colatitude of the (approximate) grid rows, north to south
        lat = torch.linspace(90 - 90 / nlat, -90 + 90 / nlat, nlat, dtype=x.dtype, device=x.device) * math.pi / 180
        emb = torch.stack([torch.sin(lat), torch.cos(lat)])[:, :, None].expand(2, nlat, x.shape[-1])
        return emb.unsqueeze(0).expand(x.shape[0], -1, -1, -1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"x must have shape (B, {self.in_channels}, nlat, nlon), got {tuple(x.shape)}")
        flip = self.lat_order == "south_to_north"
        if flip:  # torch-harmonics orders rows from the north pole
            x = torch.flip(x, dims=(-2,))
        if self.pos_embed:
            x = torch.cat([x, self._lat_embedding(x)], dim=1)
        h = self.lift(x)
        for blk in self.blocks:
            h = blk(h)
        y = self.project(h)
        return torch.flip(y, dims=(-2,)) if flip else y
