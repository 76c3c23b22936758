"""ConservativeEmulator: wraps any operator into a mass-conserving tracer-transport emulator.

One step maps the tracer mixing ratio ``q(t)`` (B, L, lat, lon) to ``q(t+1)`` given the air
mass at both times (B, L, lat, lon), optional forcing channels (B, C_f, lat, lon; winds,
pressure, ... ) and optional surface fluxes. The recipe (Benson et al. 2024, CarbonBench):

1. normalise ``q`` per level with ``stats`` and, if ``center``, remove the per-sample global
   mean (:mod:`sciml.conservation.centering`);
2. the backbone maps ``[q_norm, forcing_norm]`` (B, L + C_f, lat, lon) to
   - ``mode="fixer"``: L channels, the normalised increment (``predict_increment``) or the
     normalised centred next state, then a global mass fixer (``"scale"`` / ``"shift"``)
     restores ``sum q m``;
   - ``mode="flux"``: 3 L channels, face mass fluxes applied in finite-volume form by
     :class:`~sciml.conservation.flux_head.FluxFormHead` (local conservation, optional
     positivity limiter);
3. surface fluxes (kg m-2 s-1) are injected into the lowest layer.

Without surface fluxes the global tracer mass ``sum q(t+1) m(t+1)`` equals
``sum q(t) m(t)`` to round-off whatever the backbone outputs.
"""
from __future__ import annotations

import torch
from torch import nn

from .centering import center as _center
from .centering import denormalize, normalize, uncenter
from .fixers import add_surface_flux, bounded_fixer, local_bounds, scale_fixer, shift_fixer
from .flux_head import FluxFormHead
from .increments import EmulatorStats, apply_increment

__all__ = ["ConservativeEmulator"]

_FIXERS = {"scale": scale_fixer, "shift": shift_fixer, None: None}


class ConservativeEmulator(nn.Module):
    """Mass-conserving emulator around a backbone.

    Parameters
    ----------
    backbone : nn.Module mapping (B, L + C_f, lat, lon) to (B, L, lat, lon) (``mode="fixer"``)
        or (B, 3 L, lat, lon) (``mode="flux"``); see :meth:`backbone_channels`.
    mode : ``"fixer"`` (global fixer) or ``"flux"`` (flux-form head, local conservation).
    fixer : ``"scale"``, ``"shift"`` or None (no fixer; not conservative). ``"auto"`` (default)
        means ``"scale"`` in fixer mode and None in flux mode (the flux form needs no fixer).
    center : remove the per-sample global mean of the normalised input.
    predict_increment : (fixer mode) the backbone predicts the normalised increment.
    stats : :class:`~sciml.conservation.increments.EmulatorStats`.
    positive : (flux mode) positivity limiter on outgoing fluxes.
    mass_unit : kg per unit of ``q * m`` (for surface fluxes), e.g. 1e6 for q in 1e-6 kg/kg and m in Pg.
    surface_level : index of the lowest layer.
    bound_radius : (fixer mode) if not None, the prediction is kept within the local bounds of
        ``q(t)`` (:func:`~sciml.conservation.fixers.local_bounds`, neighbourhood radius in cells,
        whole columns) and the mass restored by the bounds-preserving
        :func:`~sciml.conservation.fixers.bounded_fixer` (instead of ``fixer``; without a fixer the
        prediction is only clipped): no new extrema, positivity, bounded free runs, exact mass.

    Examples
    --------
    >>> import numpy as np
    >>> from sciml.conservation import compute_stats, global_mass
    >>> q = 400 + np.random.default_rng(0).standard_normal((8, 2, 4, 8))   # (T, L, lat, lon)
    >>> c_in, c_out = ConservativeEmulator.backbone_channels(2)
    >>> em = ConservativeEmulator(nn.Conv2d(c_in, c_out, 3, padding=1).double(), stats=compute_stats(q))
    >>> q0 = torch.as_tensor(q[:1])
    >>> m = torch.ones_like(q0)                                             # air mass at t and t+1
    >>> with torch.no_grad():
    ...     q1 = em(q0, m, m)
    >>> q1.shape, bool(torch.allclose(global_mass(q1, m), global_mass(q0, m), rtol=1e-14, atol=0))
    (torch.Size([1, 2, 4, 8]), True)
    """

    def __init__(self, backbone: nn.Module, *, mode: str = "fixer", fixer="auto", center: bool = True,
                 predict_increment: bool = True, stats: EmulatorStats | None = None, positive: bool = False,
                 mass_unit: float = 1.0, surface_level: int = 0, bound_radius: int | None = None):
        super().__init__()
        if not isinstance(backbone, nn.Module):
            raise TypeError(f"backbone must be a torch.nn.Module, got {type(backbone).__name__}")
        if mode not in ("fixer", "flux"):
            raise ValueError(f"mode must be 'fixer' or 'flux', got {mode!r}")
        if fixer == "auto":
            fixer = "scale" if mode == "fixer" else None
        if fixer not in _FIXERS:
            raise ValueError(f"fixer must be 'scale', 'shift', None or 'auto', got {fixer!r}")
        if mode == "flux" and fixer is not None:
            raise ValueError("fixer must be None in mode='flux' (the flux form conserves mass by construction)")
        if not isinstance(stats, EmulatorStats):
            raise TypeError("stats must be an EmulatorStats (see sciml.conservation.compute_stats)")
        if not float(mass_unit) > 0:
            raise ValueError(f"mass_unit must be positive, got {mass_unit}")
        if bound_radius is not None:
            if mode != "fixer":
                raise ValueError("bound_radius applies to mode='fixer' (use positive=True in mode='flux')")
            if int(bound_radius) < 0:
                raise ValueError(f"bound_radius must be None or >= 0, got {bound_radius}")
            bound_radius = int(bound_radius)
        self.bound_radius = bound_radius
        self.positive = bool(positive)
        self.backbone = backbone
        self.mode, self.fixer, self.center = mode, fixer, bool(center)
        self.predict_increment = bool(predict_increment)
        self.stats = stats
        self.mass_unit = float(mass_unit)
        self.surface_level = int(surface_level)
        L = stats.n_levels
        self.n_levels, self.n_forcing = L, stats.n_forcing
        if mode == "flux":
            am = stats.air_mass_mean
            if am is None:
                raise ValueError("mode='flux' needs stats.air_mass_mean (compute_stats(..., air_mass=...))")
            # a face flux of one unit moves diff_std of mixing ratio across a typical cell
            self.head = FluxFormHead(L, flux_scale=torch.as_tensor(stats.diff_std * am), positive=positive)
        else:
            self.head = None

    @property
    def config(self) -> dict:
        """Constructor options other than ``backbone`` and ``stats`` (JSON data, for checkpoints)."""
        return {"mode": self.mode, "fixer": self.fixer, "center": self.center,
                "predict_increment": self.predict_increment, "positive": self.positive,
                "mass_unit": self.mass_unit, "surface_level": self.surface_level, "bound_radius": self.bound_radius}

    @staticmethod
    def backbone_channels(n_levels: int, n_forcing: int = 0, mode: str = "fixer"):
        """``(in_channels, out_channels)`` a backbone needs."""
        if mode not in ("fixer", "flux"):
            raise ValueError(f"mode must be 'fixer' or 'flux', got {mode!r}")
        return n_levels + n_forcing, (n_levels if mode == "fixer" else 3 * n_levels)

    def _inputs(self, q, forcing):
        s = self.stats
        x = normalize(q, s.q_mean, s.q_std)
        mean = None
        if self.center:
            x, mean = _center(x)
        if self.n_forcing:
            if forcing is None:
                raise ValueError(f"forcing with {self.n_forcing} channels is required (stats has forcing statistics)")
            if forcing.shape[1] != self.n_forcing:
                raise ValueError(f"forcing must have {self.n_forcing} channels, got {forcing.shape[1]}")
            x = torch.cat([x, normalize(forcing.to(q.dtype), s.forcing_mean, s.forcing_std)], dim=1)
        elif forcing is not None and forcing.shape[1] != 0:
            raise ValueError("forcing given but stats has no forcing statistics")
        return x, mean

    def forward(self, q, m_now, m_next, forcing=None, surface_flux=None, area=None, dt=None):
        """One step. q, m_now, m_next: (B, L, lat, lon); forcing (B, C_f, lat, lon);
        surface_flux (B, [K,] lat, lon) kg m-2 s-1 with area (lat, lon) m2 and dt s. Returns q(t+1)."""
        if not isinstance(q, torch.Tensor) or q.dim() != 4 or q.shape[1] != self.n_levels:
            raise ValueError(f"q must be a tensor (B, {self.n_levels}, lat, lon), got "
                             f"{tuple(q.shape) if isinstance(q, torch.Tensor) else type(q).__name__}")
        for name, m in (("m_now", m_now), ("m_next", m_next)):
            if not isinstance(m, torch.Tensor) or m.shape != q.shape:
                raise ValueError(f"{name} must be a tensor of shape {tuple(q.shape)}")
        x, mean = self._inputs(q, forcing)
        out = self.backbone(x)
        if self.mode == "flux":
            r_next = self.head(q * m_now, out)
            q_next = r_next / m_next
        else:
            if out.shape != q.shape:
                raise ValueError(f"backbone output must have shape {tuple(q.shape)}, got {tuple(out.shape)}")
            if self.predict_increment:
                q_hat = apply_increment(q, out, self.stats)
            else:
                if mean is not None:
                    out = uncenter(out, mean)
                q_hat = denormalize(out, self.stats.q_mean, self.stats.q_std)
            fix = _FIXERS[self.fixer]
            if self.bound_radius is not None:
                lo, hi = local_bounds(q, self.bound_radius)
                q_next = bounded_fixer(q_hat, m_next, q, m_now, lo, hi) if fix is not None else \
                    torch.maximum(torch.minimum(q_hat, hi), lo)
            else:
                q_next = fix(q_hat, m_next, q, m_now) if fix is not None else q_hat
        if surface_flux is not None:
            if area is None or dt is None:
                raise ValueError("surface_flux needs area and dt")
            q_next = add_surface_flux(q_next, m_next, surface_flux.to(q.dtype), area.to(q.dtype), dt,
                                      surface_level=self.surface_level, mass_unit=self.mass_unit)
        return q_next

    def rollout(self, q0, air_mass, forcing=None, surface_flux=None, area=None, dt=None, steps=None):
        """Autoregressive rollout (differentiable).

        q0 : (B, L, lat, lon); air_mass : (B, T+1, L, lat, lon); forcing : (B, T(+1), C_f, lat, lon);
        surface_flux : (B, T(+1), [K,] lat, lon). ``steps`` defaults to T.
        Returns (B, steps+1, L, lat, lon), the first frame being q0.
        """
        if air_mass.dim() != 5:
            raise ValueError(f"air_mass must have shape (B, T+1, L, lat, lon), got {tuple(air_mass.shape)}")
        T = air_mass.shape[1] - 1 if steps is None else int(steps)
        if T < 0 or T > air_mass.shape[1] - 1:
            raise ValueError(f"steps must be in [0, {air_mass.shape[1] - 1}], got {steps}")
        qs = [q0]
        q = q0
        for t in range(T):
            f = forcing[:, t] if forcing is not None else None
            sf = surface_flux[:, t] if surface_flux is not None else None
            q = self(q, air_mass[:, t], air_mass[:, t + 1], f, sf, area, dt)
            qs.append(q)
        return torch.stack(qs, dim=1)
