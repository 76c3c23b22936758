"""Global mass fixers and surface-flux injection (CarbonBench recipe, Benson et al. 2024).

Notation (all tensors share a leading batch dimension; the cells are every
remaining dimension, typically ``(level, lat, lon)``):

- ``q``   tracer mixing ratio, e.g. CO2 in 1e-6 kg/kg,
- ``m``   air mass per cell, e.g. Pg,
- ``M = q m`` tracer mass per cell (in units of ``q`` times units of ``m``).

Formulas (docs/references.md#carbonbench)::

    M_hat_i = q_hat_i m_i(t+1),     M_i(t) = q_i(t) m_i(t)
    scale:  q_i = M_hat_i (sum M(t) / sum M_hat) / m_i(t+1)
    shift:  q_i = (M_hat_i - mean M_hat + mean M(t)) / m_i(t+1)
    surface: q_0,i += (F_land + F_ocean + F_anthro)_i A_i dt / m_0,i(t+1)

so that ``sum M(t+1) = sum M(t) + sum F A dt``. All functions are vectorised
torch code, differentiable, and keep the caller's dtype/device (use float64
to verify conservation to round-off).
"""
from __future__ import annotations

import torch

__all__ = ["tracer_mass", "global_mass", "scale_fixer", "shift_fixer", "add_surface_flux", "local_bounds",
           "clip_to_bounds", "bounded_fixer"]


def _check_pair(name_a, a, name_b, b):
    if not isinstance(a, torch.Tensor):
        raise TypeError(f"{name_a} must be a torch.Tensor, got {type(a).__name__}")
    if not isinstance(b, torch.Tensor):
        raise TypeError(f"{name_b} must be a torch.Tensor, got {type(b).__name__}")
    if a.dim() < 2:
        raise ValueError(f"{name_a} must have shape (batch, *cells), got {tuple(a.shape)}")
    try:
        torch.broadcast_shapes(a.shape, b.shape)
    except RuntimeError:
        raise ValueError(
            f"{name_b} of shape {tuple(b.shape)} does not broadcast against {name_a} of shape {tuple(a.shape)}"
        ) from None


def tracer_mass(q: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    """Tracer mass per cell ``M = q m``; shapes broadcast, result (batch, *cells)."""
    _check_pair("q", q, "m", m)
    return q * m


def global_mass(q: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    """Total tracer mass ``sum_i q_i m_i`` per batch element, shape (batch,)."""
    M = tracer_mass(q, m)
    return M.flatten(1).sum(dim=1)


def _bshape(x: torch.Tensor, ndim: int) -> torch.Tensor:
    return x.reshape(x.shape[0], *([1] * (ndim - 1)))


def scale_fixer(q_hat: torch.Tensor, m_next: torch.Tensor, q_prev: torch.Tensor, m_prev: torch.Tensor) -> torch.Tensor:
    """Multiplicative mass fixer.

    Parameters
    ----------
    q_hat : (B, *cells) predicted mixing ratio at t+1.
    m_next : (B, *cells) air mass at t+1 (broadcastable).
    q_prev, m_prev : (B, *cells) mixing ratio and air mass at t.

    Returns
    -------
    q : (B, *cells) with ``sum q m_next == sum q_prev m_prev`` to round-off.

    Examples
    --------
    >>> g = torch.Generator().manual_seed(0)
    >>> m_prev, m_next = 1 + torch.rand(2, 2, 3, 4, 8, generator=g, dtype=torch.float64)
    >>> q_prev = 400 + torch.rand(3, 4, 8, generator=g, dtype=torch.float64)[None]
    >>> q = scale_fixer(1.01 * q_prev, m_next, q_prev, m_prev)   # a prediction 1 % too high
    >>> bool(torch.allclose(global_mass(q, m_next), global_mass(q_prev, m_prev), rtol=1e-14, atol=0))
    True
    """
    _check_pair("q_hat", q_hat, "m_next", m_next)
    _check_pair("q_prev", q_prev, "m_prev", m_prev)
    M_hat = q_hat * m_next
    total_prev = global_mass(q_prev, m_prev)
    total_hat = M_hat.flatten(1).sum(dim=1)
    if bool((total_hat == 0).any()):
        raise ValueError("scale_fixer: predicted global tracer mass is zero; use shift_fixer")
    ratio = _bshape(total_prev / total_hat, M_hat.dim())
    return M_hat * ratio / m_next


def shift_fixer(q_hat: torch.Tensor, m_next: torch.Tensor, q_prev: torch.Tensor, m_prev: torch.Tensor) -> torch.Tensor:
    """Additive (in tracer mass) mass fixer: the global mass error is spread evenly over cells.

    Shapes as :func:`scale_fixer`; returns q (B, *cells) with
    ``sum q m_next == sum q_prev m_prev`` to round-off.
    """
    _check_pair("q_hat", q_hat, "m_next", m_next)
    _check_pair("q_prev", q_prev, "m_prev", m_prev)
    M_hat = q_hat * m_next
    M_prev = q_prev * m_prev
    mean_hat = M_hat.flatten(1).mean(dim=1)
    mean_prev = M_prev.flatten(1).mean(dim=1)
    shift = _bshape(mean_prev - mean_hat, M_hat.dim())
    return (M_hat + shift) / m_next


def add_surface_flux(
    q: torch.Tensor,
    m_next: torch.Tensor,
    flux: torch.Tensor,
    area: torch.Tensor,
    dt: float,
    *,
    level_dim: int = 1,
    surface_level: int = 0,
    mass_unit: float = 1.0,
) -> torch.Tensor:
    """Inject surface fluxes into the lowest layer.

    Parameters
    ----------
    q : (B, L, lat, lon) mixing ratio at t+1 (after the fixer).
    m_next : (B, L, lat, lon) air mass at t+1.
    flux : (B, lat, lon) or (B, K, lat, lon) surface flux in kg m-2 s-1
        (K components such as land, ocean, anthropogenic are summed).
    area : (lat, lon) cell area in m2.
    dt : time step in s.
    level_dim : the level axis of ``q`` (default 1).
    surface_level : index of the lowest layer along ``level_dim`` (default 0).
    mass_unit : kg per unit of ``q * m``; e.g. q in 1e-6 kg/kg and m in Pg gives
        ``1e-6 * 1e12 = 1e6`` kg, so ``mass_unit=1e6``.

    Returns
    -------
    q_new : same shape as q, ``sum q_new m_next = sum q m_next + sum F A dt / mass_unit``.
    """
    _check_pair("q", q, "m_next", m_next)
    if not isinstance(flux, torch.Tensor) or not isinstance(area, torch.Tensor):
        raise TypeError("flux and area must be torch.Tensors")
    if q.dim() != 4 or level_dim != 1:
        raise ValueError(f"q must have shape (B, L, lat, lon) with level_dim=1, got {tuple(q.shape)}")
    if flux.dim() == 4:
        flux = flux.sum(dim=1)
    if flux.dim() != 3 or flux.shape[-2:] != q.shape[-2:]:
        raise ValueError(f"flux must be (B, lat, lon) or (B, K, lat, lon) matching q's grid, got {tuple(flux.shape)}")
    if area.shape != q.shape[-2:]:
        raise ValueError(f"area must have shape {tuple(q.shape[-2:])}, got {tuple(area.shape)}")
    if not float(dt) > 0:
        raise ValueError(f"dt must be positive, got {dt}")
    if not (-q.shape[1] <= surface_level < q.shape[1]):
        raise ValueError(f"surface_level {surface_level} out of range for {q.shape[1]} levels")
    m0 = m_next.expand_as(q)[:, surface_level]
    dq = flux * area * (float(dt) / float(mass_unit)) / m0
    onehot = torch.zeros(q.shape[1], dtype=q.dtype, device=q.device)
    onehot[surface_level] = 1.0
    return q + dq.unsqueeze(1) * onehot.view(1, -1, 1, 1)


def local_bounds(q: torch.Tensor, radius: int = 1, *, column: bool = True):
    """Bounds a transported mixing ratio cannot leave: the min / max of ``q`` over the
    ``(2 radius + 1)^2`` lat-lon neighbourhood of each cell (periodic in longitude, clamped at the
    poles) and, if ``column``, over all levels of those columns (vertical mixing is a convex
    combination within a column; without it, over levels k-1..k+1).

    q : (B, L, lat, lon). Returns ``(lo, hi)``, each (B, L, lat, lon).

    Advection by a monotone scheme with Courant number below ``radius`` and column mixing keep
    the next mixing ratio inside these bounds, so clipping a prediction to them (then restoring
    the global mass with :func:`scale_fixer`) removes spurious new extrema without touching
    physically reachable values.
    """
    if not isinstance(q, torch.Tensor) or q.dim() != 4:
        raise ValueError(f"q must be a tensor (B, L, lat, lon), got "
                         f"{tuple(q.shape) if isinstance(q, torch.Tensor) else type(q).__name__}")
    radius = int(radius)
    if radius < 0:
        raise ValueError(f"radius must be >= 0, got {radius}")
    if radius > 0:
        k = 2 * radius + 1
        x = torch.nn.functional.pad(q, (radius, radius, 0, 0), mode="circular")
        x = torch.nn.functional.pad(x, (0, 0, radius, radius), mode="replicate")
        hi = torch.nn.functional.max_pool2d(x, k, stride=1)
        lo = -torch.nn.functional.max_pool2d(-x, k, stride=1)
    else:
        lo, hi = q, q
    if column:
        lo = lo.amin(dim=1, keepdim=True).expand_as(q)
        hi = hi.amax(dim=1, keepdim=True).expand_as(q)
    elif q.shape[1] > 1:
        lo = torch.minimum(
            lo, torch.minimum(torch.cat([lo[:, :1], lo[:, :-1]], 1), torch.cat([lo[:, 1:], lo[:, -1:]], 1))
        )
        hi = torch.maximum(
            hi, torch.maximum(torch.cat([hi[:, :1], hi[:, :-1]], 1), torch.cat([hi[:, 1:], hi[:, -1:]], 1))
        )
    return lo, hi


def clip_to_bounds(q_hat: torch.Tensor, lo: torch.Tensor, hi: torch.Tensor) -> torch.Tensor:
    """``min(max(q_hat, lo), hi)`` elementwise (shapes broadcast); gradients flow inside the bounds."""
    return torch.maximum(torch.minimum(q_hat, hi), lo)


def bounded_fixer(q_hat: torch.Tensor, m_next: torch.Tensor, q_prev: torch.Tensor, m_prev: torch.Tensor,
                  lo: torch.Tensor, hi: torch.Tensor) -> torch.Tensor:
    """Bounds-preserving mass fixer: clip ``q_hat`` to ``[lo, hi]``, then put the global mass
    error back in proportion to each cell's room towards the bound in the needed direction,

        D = sum q_prev m_prev - sum q m_next,
        q_i += D (hi_i - q_i) / sum_j (hi_j - q_j) m_j   (D > 0; with q - lo and lo for D < 0),

    so ``sum q m_next == sum q_prev m_prev`` to round-off and ``lo <= q <= hi`` exactly whenever the
    bounds can hold the mass (always for local bounds of ``q_prev`` when the global air mass is
    constant). Otherwise the cells are set to the bound and the rest is restored with
    :func:`scale_fixer` (mass still exact, bounds then violated by the unavoidable amount).

    Shapes: q_hat, m_next, q_prev, m_prev, lo, hi (B, *cells) (broadcastable). Returns q (B, *cells).
    """
    _check_pair("q_hat", q_hat, "m_next", m_next)
    _check_pair("q_prev", q_prev, "m_prev", m_prev)
    q = clip_to_bounds(q_hat, lo, hi)
    m = m_next.expand_as(q)
    nd = q.dim()
    deficit = _bshape(global_mass(q_prev, m_prev) - global_mass(q, m), nd)
    up = (hi - q).clamp(min=0.0)
    dn = (q - lo).clamp(min=0.0)
    room = torch.where(deficit >= 0, _bshape((up * m).flatten(1).sum(1), nd), _bshape((dn * m).flatten(1).sum(1), nd))
    alpha = deficit.abs() / torch.clamp(room, min=torch.finfo(q.dtype).tiny)
    direction = torch.where(deficit >= 0, up, -dn)
    q = q + torch.clamp(alpha, max=1.0) * direction
    if bool((alpha > 1.0).any()):
        q = scale_fixer(q, m_next, q_prev, m_prev)
    return q
