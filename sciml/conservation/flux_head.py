"""Flux-form output head: the network predicts face mass fluxes, the update is a divergence.

For a tracer mass ``r`` on cells ``(B, L, lat, lon)`` the head takes face fluxes

- ``fx`` (B, L, lat, lon): through the east face of each cell (lon i+1/2), periodic in
  longitude (the east face of the last column is the west face of the first);
- ``fy`` (B, L, lat-1, lon): through the interior north faces (between rows j and j+1;
  rows ordered south to north); the fluxes through the poles are zero;
- ``fz`` (B, L-1, lat, lon): through the interior faces between level k and k+1; zero at
  the bottom and at the top of the model,

all positive in the direction of increasing index, in units of ``r`` per step, and applies

    r_i <- r_i + F_in - F_out

in finite-volume form. Every cell's change is the divergence of the face fluxes, so each
flux leaves one cell and enters its neighbour: the global sum of ``r`` is conserved to
round-off (local conservation), whatever the network predicts.

The optional positivity limiter scales the outgoing fluxes of each cell by
``min(1, r_i / outflow_i)`` (fluxes are limited with the factor of their donor cell), so no
cell can lose more tracer than it holds: ``r >= 0`` is preserved. Inflows are untouched and
the flux form, hence conservation, is kept.
"""
from __future__ import annotations

import torch
from torch import nn

__all__ = ["split_face_fluxes", "flux_divergence", "limit_outflow", "apply_face_fluxes", "FluxFormHead"]


def split_face_fluxes(raw: torch.Tensor, n_levels: int):
    """Split a network output (B, 3 L, lat, lon) into ``(fx, fy, fz)``.

    Channels ``[0, L)`` are east fluxes, ``[L, 2L)`` north fluxes (the last latitude row is
    dropped: the north pole face carries no flux), ``[2L, 3L)`` upward fluxes (the top level
    is dropped: the model top carries no flux).
    """
    if raw.dim() != 4 or raw.shape[1] != 3 * n_levels:
        raise ValueError(f"raw must have shape (B, 3*{n_levels}, lat, lon), got {tuple(raw.shape)}")
    L = n_levels
    fx = raw[:, :L]
    fy = raw[:, L:2 * L, :-1]
    fz = raw[:, 2 * L:3 * L - 1]
    return fx, fy, fz


def _check_fluxes(shape, fx, fy, fz):
    B, L, nlat, nlon = shape
    expect = {"fx": (B, L, nlat, nlon), "fy": (B, L, nlat - 1, nlon), "fz": (B, L - 1, nlat, nlon)}
    for name, f in (("fx", fx), ("fy", fy), ("fz", fz)):
        if tuple(f.shape) != expect[name]:
            raise ValueError(f"{name} must have shape {expect[name]}, got {tuple(f.shape)}")


def flux_divergence(fx: torch.Tensor, fy: torch.Tensor, fz: torch.Tensor) -> torch.Tensor:
    """Net inflow ``F_in - F_out`` per cell (B, L, lat, lon) from face fluxes (see module doc)."""
    # longitude: inflow through the west face = east flux of the western neighbour (periodic)
    d = torch.roll(fx, shifts=1, dims=-1) - fx
    # latitude: zero-flux pole faces
    zero_y = torch.zeros_like(fy[:, :, :1])
    fy_full = torch.cat([zero_y, fy, zero_y], dim=2)  # faces south of row 0 .. north of last row
    d = d + fy_full[:, :, :-1] - fy_full[:, :, 1:]
    # vertical: zero flux at bottom and top
    zero_z = torch.zeros_like(fz[:, :1]) if fz.shape[1] > 0 else torch.zeros_like(fx[:, :1])
    fz_full = torch.cat([zero_z, fz, zero_z], dim=1)
    d = d + fz_full[:, :-1] - fz_full[:, 1:]
    return d


def limit_outflow(r: torch.Tensor, fx: torch.Tensor, fy: torch.Tensor, fz: torch.Tensor, eps: float = 0.0):
    """Positivity limiter: scale each face flux by ``min(1, r_donor / outflow_donor)``.

    ``r`` (B, L, lat, lon) must be non-negative. Returns limited ``(fx, fy, fz)``.
    """
    _check_fluxes(r.shape, fx, fy, fz)
    pos, neg = torch.relu, lambda f: torch.relu(-f)
    # outflow of each cell: positive east flux, negative flux through its west face, etc.
    out = pos(fx) + torch.roll(neg(fx), shifts=1, dims=-1)
    zy = torch.zeros_like(fy[:, :, :1])
    out = out + torch.cat([pos(fy), zy], dim=2) + torch.cat([zy, neg(fy)], dim=2)
    if fz.shape[1] > 0:
        zz = torch.zeros_like(fz[:, :1])
        out = out + torch.cat([pos(fz), zz], dim=1) + torch.cat([zz, neg(fz)], dim=1)
    avail = torch.clamp(r, min=0.0)
    factor = torch.where(out > avail, avail / torch.clamp(out, min=torch.finfo(r.dtype).tiny) * (1.0 - eps),
                         torch.ones_like(out))
    # a face flux is limited with its donor's factor
    f_east = torch.roll(factor, shifts=-1, dims=-1)
    fx = torch.where(fx > 0, fx * factor, fx * f_east)
    fy = torch.where(fy > 0, fy * factor[:, :, :-1], fy * factor[:, :, 1:])
    if fz.shape[1] > 0:
        fz = torch.where(fz > 0, fz * factor[:, :-1], fz * factor[:, 1:])
    return fx, fy, fz


def apply_face_fluxes(r: torch.Tensor, fx, fy, fz, *, positive: bool = False) -> torch.Tensor:
    """Finite-volume update ``r + F_in - F_out`` (B, L, lat, lon); ``positive`` applies the limiter."""
    if r.dim() != 4:
        raise ValueError(f"r must have shape (B, L, lat, lon), got {tuple(r.shape)}")
    _check_fluxes(r.shape, fx, fy, fz)
    if positive:
        fx, fy, fz = limit_outflow(r, fx, fy, fz)
    return r + flux_divergence(fx, fy, fz)


class FluxFormHead(nn.Module):
    """Turns a (B, 3 L, lat, lon) network output into a conservative update of tracer mass.

    Parameters
    ----------
    n_levels : number of levels L.
    flux_scale : scalar or (L,) tensor multiplying the raw outputs (units of ``r`` per step).
    positive : apply the positivity limiter on outgoing fluxes.

    ``forward(r, raw) -> r_next`` with ``r`` (B, L, lat, lon); ``sum r_next == sum r``.
    """

    def __init__(self, n_levels: int, flux_scale=1.0, positive: bool = False):
        super().__init__()
        if int(n_levels) < 1:
            raise ValueError(f"n_levels must be >= 1, got {n_levels}")
        self.n_levels = int(n_levels)
        self.positive = bool(positive)
        scale = torch.as_tensor(flux_scale, dtype=torch.float64).reshape(-1)
        if scale.numel() not in (1, self.n_levels):
            raise ValueError(f"flux_scale must be a scalar or have {n_levels} entries, got {scale.numel()}")
        self.register_buffer("flux_scale", scale.expand(self.n_levels).clone())

    def fluxes(self, raw: torch.Tensor):
        """Scaled face fluxes ``(fx, fy, fz)`` from the raw network output."""
        s = self.flux_scale.to(raw.dtype).view(1, -1, 1, 1)
        fx, fy, fz = split_face_fluxes(raw, self.n_levels)
        # a vertical face between k and k+1 uses the scale of level k
        return fx * s, fy * s, fz * s[:, :-1]

    def forward(self, r: torch.Tensor, raw: torch.Tensor) -> torch.Tensor:
        fx, fy, fz = self.fluxes(raw)
        return apply_face_fluxes(r, fx, fy, fz, positive=self.positive)
