"""Synthetic atmosphere for CO2 transport: analytic meteorology, surface fluxes and the 6-h model step.

:class:`SyntheticAtmosphere` gives smooth, time-varying fields on a :class:`~sciml.grids.LatLonGrid`
with levels, each a deterministic function of ``(t, seed)`` (``t`` in seconds since
2000-01-01 00:00 UTC): surface pressure (global air mass constant), winds, temperature,
humidity, boundary-layer height, insolation and land / ocean / anthropogenic CO2 fluxes
(kg CO2 m-2 s-1). :class:`CO2TransportModel` advances the tracer mass with
:mod:`sciml.solvers.transport`: winds -> face mass fluxes balanced so that the air mass follows
the prescribed surface pressure -> vertical fluxes from continuity -> Strang-split mass-form
advection -> surface fluxes into the lowest layer -> mass-conserving mixing of the boundary
layer, tropical deep convection and synoptic-scale tropospheric mixing.

Magnitudes follow CarbonTracker: global fluxes fossil ~7-8, land -1.5 (monthly means swinging
between ~+15 and ~-18), ocean -2 PgC/yr; growth ~1.8-2 ppm/yr; a northern boundary-layer
seasonal range of ~12-15 ppm, ~2 ppm in the south. The CarbonBench generator
(:mod:`sciml.datasets.carbonbench`) records these fields in the published store schema.

Examples
--------
>>> from sciml.grids import LatLonGrid
>>> g = LatLonGrid.from_name("latlon22.5", 3)
>>> model = CO2TransportModel(g, seed=0)
>>> ps = model.atm.surface_pressure(0.0)
>>> r = model.atm.initial_co2(ps) * g.air_mass(ps)
>>> r1 = model.step(0.0, r, g.air_mass(ps), sum(model.atm.fluxes(0.5 * model.dt)))
>>> bool(model.max_transport_drift < 1e-13)
True
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..grids import GRAVITY, LatLonGrid
from .transport import (add_surface_flux, advect, balance_mass_fluxes, mix_columns, vertical_mass_fluxes,
                        winds_to_mass_fluxes)

__all__ = ["SyntheticAtmosphere", "CO2TransportModel", "M_AIR", "M_CO2", "MASSMIX_TO_PPM", "PGC_PER_KG_CO2",
           "SECONDS_PER_DAY", "R_DRY"]

M_AIR, M_CO2 = 28.9647, 44.0095  # g/mol
MASSMIX_TO_PPM = M_AIR / M_CO2  # co2 mass mixing ratio (1e-6 kg/kg) -> ppm (umol/mol)
PGC_PER_KG_CO2 = 1e-12 / (M_CO2 / 12.011)  # kg CO2 -> PgC
_PGC_YR_TO_KGCO2_S = 1e12 * (M_CO2 / 12.011) / (365.25 * 86400.0)
SECONDS_PER_DAY = 86400.0
R_DRY = 287.05  # J kg-1 K-1, dry air


def _gauss(x, w):
    return np.exp(-(x / w) ** 2)


def _lon_dist(lon, lon_c):
    return (lon - lon_c + 180.0) % 360.0 - 180.0


@dataclass
class _Continent:
    lon: float
    lat: float
    wlon: float
    wlat: float


_CONTINENTS = (
    _Continent(258, 47, 32, 20), _Continent(282, 33, 12, 10), _Continent(300, -14, 14, 24), _Continent(292, -40, 6, 14),
    _Continent(20, 6, 20, 26), _Continent(40, -18, 8, 12), _Continent(30, 52, 35, 14), _Continent(95, 55, 50, 15),
    _Continent(100, 30, 28, 12), _Continent(78, 21, 8, 10), _Continent(135, -25, 17, 10), _Continent(318, 72, 12, 9),
)
# mountains: lon, lat, wlon, wlat, height (m)
_MOUNTAINS = ((250, 42, 6, 14, 2200.0), (291, -20, 3.5, 18, 3200.0), (88, 33, 14, 6, 4500.0),
              (318, 72, 8, 6, 2000.0), (25, -5, 15, 18, 800.0), (45, 45, 30, 8, 700.0))
# industrial regions: lon, lat, width (deg), share of the anthropogenic emission
_INDUSTRY = ((282, 40, 5.0, 0.22), (8, 50, 6.0, 0.22), (115, 32, 6.0, 0.32), (78, 23, 5.0, 0.10),
             (138, 36, 3.0, 0.06), (240, 36, 4.0, 0.08))


class SyntheticAtmosphere:
    """Analytic, smooth, time-varying meteorology and CO2 surface fluxes on ``grid`` (with levels).

    Time ``t`` in seconds since 2000-01-01 00:00 UTC. Everything is a deterministic function of
    ``(t, seed)``: surface pressure from orography with travelling synoptic waves (global air mass
    constant), winds = zonal jets with a seasonal shift + Rossby-Haurwitz planetary waves +
    Hadley / Walker divergent circulations, temperature, humidity, boundary-layer height,
    top-of-atmosphere insolation, and land / ocean / anthropogenic CO2 fluxes (kg CO2 m-2 s-1) with
    seasonal and diurnal cycles and a growing (2 %/yr) anthropogenic trend.
    """

    def __init__(self, grid: LatLonGrid, seed: int = 0):
        if grid.nlev == 0:
            raise ValueError("SyntheticAtmosphere needs a grid with levels")
        self.grid = grid
        rng = np.random.default_rng(seed)
        lon, lat = np.meshgrid(grid.lon, grid.lat)
        self.lon_deg, self.lat_deg = lon, lat
        self.lam, self.phi = np.radians(lon), np.radians(lat)
        land = np.zeros_like(lon)
        for c in _CONTINENTS:
            d2 = (_lon_dist(lon, c.lon) / c.wlon) ** 2 + ((lat - c.lat) / c.wlat) ** 2
            land = np.maximum(land, 1.0 / (1.0 + np.exp(np.minimum(6.0 * (d2 - 1.0), 50.0))))
        land = np.maximum(land, 1.0 / (1.0 + np.exp(-(-lat - 68.0) / 2.0)))  # Antarctica
        self.land = land
        oro = np.zeros_like(lon)
        for lo, la, wl, wa, h in _MOUNTAINS:
            oro += h * np.exp(-(_lon_dist(lon, lo) / wl) ** 2 - ((lat - la) / wa) ** 2)
        oro += 2500.0 / (1.0 + np.exp(-(-lat - 76.0) / 3.0))
        self.orography = oro * land
        ind = np.zeros_like(lon)
        for lo, la, w, share in _INDUSTRY:
            blob = np.exp(-(_lon_dist(lon, lo) / w) ** 2 - ((lat - la) / w) ** 2)
            ind += share * blob / max((blob * grid.cell_area).sum(), 1e-30)
        self.industry = ind  # m-2, integrates to 1 over the sphere
        # random phases / small amplitude perturbations make seeds differ
        self.phase = rng.uniform(0, 2 * np.pi, size=16)
        self.amp = 1.0 + 0.15 * rng.standard_normal(16)
        self.ps_base = 101300.0 * np.exp(-self.orography / 7500.0)
        # land / ocean sink patterns (normalised to 1 PgC/yr over the sphere)
        A = grid.cell_area
        sink_land = land * (0.6 * _gauss(lat, 15.0) + _gauss(lat - 50.0, 15.0))
        self.sink_land = sink_land / (sink_land * A).sum()
        out = (1 - land) * _gauss(lat, 15.0)
        inn = (1 - land) * _gauss(np.abs(lat) - 50.0, 12.0)
        self.ocean_out = out / (out * A).sum()
        self.ocean_in = inn / (inn * A).sum()
        # seasonal net ecosystem exchange amplitude (kg CO2 m-2 s-1): the global land flux swings
        # between ~+12 PgC/yr (boreal winter) and ~-14 PgC/yr (July) in monthly means, as in
        # CarbonTracker; the diurnal cycle (gross photosynthesis vs respiration) is twice as large
        self.nep_amp = land * (0.7e-7 * _gauss(lat - 55.0, 15.0) + 0.25e-7 * _gauss(lat, 15.0)
                               + 0.2e-7 * _gauss(lat + 30.0, 12.0))
        self.synoptic_mixing = (0.004, 0.016)  # background and storm-track mixing fractions per 6 h

    # ------------------------------------------------------------------ time helpers
    @staticmethod
    def _season(t):
        """Phase of the year (radians), 0 at Jan 1."""
        return 2 * np.pi * ((t / SECONDS_PER_DAY) % 365.25) / 365.25

    def _hour_angle(self, t):
        """Local solar hour angle (radians), 0 at local noon."""
        return 2 * np.pi * ((t / SECONDS_PER_DAY) % 1.0) + self.lam - np.pi

    def cos_zenith(self, t):
        s = self._season(t)
        decl = np.radians(23.44) * np.sin(s - 2 * np.pi * 80.0 / 365.25)
        return np.sin(self.phi) * np.sin(decl) + np.cos(self.phi) * np.cos(decl) * np.cos(self._hour_angle(t))

    # ------------------------------------------------------------------ fields
    def surface_pressure(self, t):
        """Surface pressure (Pa), ``(nlat, nlon)``; its area mean is constant in time."""
        days = t / SECONDS_PER_DAY
        s = self._season(t)
        lam, phi = self.lam, self.phi
        env = _gauss(np.abs(np.degrees(phi)) - 50.0, 15.0)
        d = np.zeros_like(lam)
        for i, (R, c) in enumerate(((4, 9.0), (5, 11.0), (6, 13.0))):
            w = R * (lam - c * days * SECONDS_PER_DAY / (self.grid.radius * np.cos(np.radians(45.0))))
            d += 700.0 * self.amp[i] * env * np.cos(w + self.phase[i])
        d += 250.0 * self.land * np.cos(s) * np.sign(phi)  # winter highs over NH continents
        d += 150.0 * np.cos(s + self.phase[3]) * np.sin(phi)
        d -= self.grid.area_mean(d)
        return self.ps_base + d

    def winds(self, t, ps=None):
        """Eastward / northward wind (m/s) on the levels, each ``(nlev, nlat, nlon)``."""
        g = self.grid
        ps = self.surface_pressure(t) if ps is None else ps
        pb = g.pressure_bounds(ps)
        sigma = 0.5 * (pb[:-1] + pb[1:]) / ps  # (nlev, nlat, nlon)
        days = t / SECONDS_PER_DAY
        s = self._season(t)
        lam = self.lam[:1, :]  # (1, nlon)
        phi = self.phi[:, :1]  # (nlat, 1)
        latd = np.degrees(phi)
        cph, sph = np.cos(phi), np.sin(phi)
        # zonal jets (stronger in winter, poleward in summer)
        jet_prof = 6.0 + 30.0 * np.exp(-((np.log(sigma) - np.log(0.25)) / 0.7) ** 2)
        shift = 6.0 * np.cos(s - 2 * np.pi * 200 / 365.25)
        strength_n = 1.0 + 0.3 * np.cos(s - 2 * np.pi * 15 / 365.25)
        strength_s = 1.0 - 0.2 * np.cos(s - 2 * np.pi * 15 / 365.25)
        u = jet_prof * (strength_n * _gauss(latd - (40.0 + shift), 13.0) + strength_s * _gauss(latd + (45.0 - shift), 13.0))
        u += -7.0 * sigma ** 2 * _gauss(latd, 18.0)  # trades
        u += -3.0 * sigma * _gauss(np.abs(latd) - 75.0, 8.0)  # polar easterlies
        # Rossby-Haurwitz-like planetary / synoptic waves: psi = a^2 K cos^R(phi) sin(phi) cos(R lam - nu t)
        uw = np.zeros((g.nlat, g.nlon))
        vw = np.zeros((g.nlat, g.nlon))
        for i, (R, aK, period) in enumerate(((3, 6.0, 25.0), (4, 8.0, -12.0), (6, 5.0, -5.0))):
            arg = R * lam - 2 * np.pi * days / period + self.phase[4 + i]
            amp = aK * self.amp[4 + i] * (1.0 + 0.3 * np.cos(s + self.phase[8 + i]))
            dfdphi = -R * cph ** (R - 1) * sph ** 2 + cph ** (R + 1)
            uw += -amp * dfdphi * np.cos(arg)
            vw += -amp * R * cph ** (R - 1) * sph * np.sin(arg)
        vert = 0.5 + 0.3 / np.sqrt(sigma)
        u += vert * uw
        v = vert * vw
        # divergent circulations: Hadley cell towards a seasonally migrating ITCZ, Walker cell
        gsig = np.cos(np.pi * (1.0 - sigma))  # +1 at the surface, -1 aloft
        itcz = 6.0 * np.sin(s - 2 * np.pi * 110 / 365.25)
        dl = np.radians(latd - itcz)
        v += gsig * (-3.0 * np.sin(2 * dl) * np.exp(-(dl / np.radians(28.0)) ** 2))
        u += gsig * (2.0 * np.sin(lam - np.radians(150.0)) * _gauss(latd, 15.0))
        return u, v

    def temperature(self, t, ps):
        g = self.grid
        pb = g.pressure_bounds(ps)
        sigma = 0.5 * (pb[:-1] + pb[1:]) / ps
        s = self._season(t)
        ts = (250.0 + 50.0 * np.cos(self.phi) ** 2 + 12.0 * np.sin(self.phi) * np.cos(s - 2 * np.pi * 200 / 365.25)
              + 5.0 * self.land * np.cos(self._hour_angle(t) - np.radians(45.0)) - 0.0065 * self.orography)
        return np.maximum(ts[None] * sigma ** 0.19, 205.0), ts

    def fluxes(self, t):
        """Land, ocean and anthropogenic CO2 surface fluxes (kg CO2 m-2 s-1), each ``(nlat, nlon)``."""
        years = t / (365.25 * SECONDS_PER_DAY)
        s = self._season(t)
        k = _PGC_YR_TO_KGCO2_S
        # land: seasonal net ecosystem exchange (uptake in the local summer), diurnal photosynthesis, net sink
        season_nh = np.cos(s - 2 * np.pi * 196 / 365.25)
        season = np.where(self.phi >= 0, season_nh, -season_nh)
        growing = 0.5 * (1.0 + season)
        land = -self.nep_amp * season
        land += -2.0 * self.nep_amp * growing * np.cos(self._hour_angle(t))
        land += -1.5 * k * self.sink_land
        ocean = k * (1.6 * self.ocean_out * (1.0 + 0.2 * np.cos(s + self.phase[12]))
                     - 3.6 * self.ocean_in * (1.0 + 0.3 * season))
        anth = k * 7.0 * np.exp(0.02 * years) * (1.0 + 0.08 * np.cos(s - 2 * np.pi * 15 / 365.25) * np.sign(self.phi)) \
            * (1.0 + 0.1 * np.cos(self._hour_angle(t) + np.radians(30.0))) * self.industry
        return land, ocean, anth

    def convective_fraction(self, t):
        """Fraction of each column below 250 hPa mixed per 6-h step by deep convection, ``(nlat, nlon)``:
        strongest along the seasonally migrating ITCZ, more over land in the afternoon."""
        s = self._season(t)
        itcz = 6.0 * np.sin(s - 2 * np.pi * 110 / 365.25)
        day = np.clip(np.cos(self._hour_angle(t) - np.radians(45.0)), 0.0, None)
        return np.clip(0.12 * _gauss(np.degrees(self.phi) - itcz, 12.0) * (0.6 + 0.8 * self.land * day), 0.0, 1.0)

    def synoptic_mixing_fraction(self, t):
        """Fraction of each column below 300 hPa mixed per 6-h step by synoptic-scale systems
        (frontal lifting / warm conveyor belts venting the boundary layer), ``(nlat, nlon)``:
        strongest along the winter storm tracks (e-folding ~2 days there, ~1 week elsewhere).
        Without it the surface signal of the land fluxes stays trapped in the lowest ~200 hPa and
        the northern seasonal cycle of the boundary layer is several times larger than observed."""
        s = self._season(t)
        winter = np.where(self.phi >= 0, 1.0, -1.0) * np.cos(s - 2 * np.pi * 15 / 365.25)  # +1 in local winter
        lat = np.degrees(self.phi)
        storm = _gauss(np.abs(lat) - 45.0, 15.0) * (0.75 + 0.25 * winter)
        return np.clip(self.synoptic_mixing[0] + self.synoptic_mixing[1] * storm, 0.0, 1.0)

    def boundary_layer_height(self, t):
        day = np.clip(self.cos_zenith(t), 0.0, None)
        return 500.0 + self.land * (200.0 + 1400.0 * day) + (1 - self.land) * 300.0

    def tisr(self, t):
        """Top-of-atmosphere incident solar radiation over the hour (J m-2, ERA5 convention)."""
        return 1361.0 * 3600.0 * np.clip(self.cos_zenith(t), 0.0, None)

    def initial_co2(self, ps):
        """Initial mass mixing ratio (kg/kg): 370 ppm + a north-south gradient + a vertical profile."""
        g = self.grid
        pb = g.pressure_bounds(ps)
        sigma = 0.5 * (pb[:-1] + pb[1:]) / ps
        ppm = 370.0 + 2.0 * np.sin(self.phi)[None] + 1.0 * (sigma - 0.5) + 0.5 * np.cos(self.lam)[None] * sigma
        return ppm / MASSMIX_TO_PPM * 1e-6


    def humidity(self, T, pb, ps):
        """Specific humidity (kg/kg) from temperature ``T`` and the pressure bounds ``pb``: 80 % of
        saturation at the surface, falling with ``sigma^1.5``; ``(nlev, nlat, nlon)``."""
        pmid = 0.5 * (pb[:-1] + pb[1:])
        es = 611.2 * np.exp(17.67 * (T - 273.15) / (T - 29.65))
        sigma = pmid / ps
        return np.clip(0.8 * sigma ** 1.5 * 0.622 * es / np.maximum(pmid, 1.0), 0.0, 0.03)

    def geopotential_height(self, T, pb):
        """Height (m) of the layer interfaces ``(nlev + 1, nlat, nlon)``, hydrostatic from the orography."""
        z = np.empty_like(pb)
        z[0] = self.orography
        pfloor = np.maximum(pb, 100.0)
        z[1:] = self.orography + np.cumsum(R_DRY * T / GRAVITY * np.log(pfloor[:-1] / pfloor[1:]), axis=0)
        return z


class CO2TransportModel:
    """The classical CO2 model: a :class:`SyntheticAtmosphere` and the 6-h transport step.

    Parameters
    ----------
    grid : LatLonGrid
        Grid with levels.
    seed : int
        Meteorology / flux perturbations.
    dt : float
        Step (s), 6 h by default.
    limiter : str
        Slope limiter of :func:`sciml.solvers.transport.advect`.

    Attributes
    ----------
    max_transport_drift, max_budget_error, max_airmass_mismatch : float
        Largest relative global tracer-mass change by transport, mass-budget error
        ``|sum M(t+1) - sum M(t) - sum F A dt| / sum M(t)`` (float64) and transported-vs-prescribed
        air-mass mismatch over the steps taken so far.
    max_substeps : dict
        Largest number of sub-steps per operator.
    """

    def __init__(self, grid: LatLonGrid, seed: int = 0, dt: float = 6 * 3600.0, limiter: str = "mc"):
        self.grid, self.dt, self.limiter = grid, dt, limiter
        self.atm = SyntheticAtmosphere(grid, seed)
        self.max_transport_drift = 0.0
        self.max_budget_error = 0.0
        self.max_airmass_mismatch = 0.0
        self.max_substeps = {}

    def state(self, t: float, r: np.ndarray) -> dict:
        """Every recorded quantity at time ``t`` for tracer mass ``r`` (kg), float64, in the units of
        the CarbonBench schema (mixing ratio in 1e-6 kg/kg, air mass in Pg, pressure in hPa,
        heights in km); the surface fluxes are those applied during ``[t, t + dt]``."""
        g, atm = self.grid, self.atm
        ps = atm.surface_pressure(t)
        m = g.air_mass(ps)
        pb = g.pressure_bounds(ps)
        T, _ = atm.temperature(t, ps)
        qv = atm.humidity(T, pb, ps)
        z = atm.geopotential_height(T, pb)
        u, v = atm.winds(t, ps)
        land, ocean, anth = atm.fluxes(t + 0.5 * self.dt)
        return {"co2massmix": r / m * 1e6, "airmass": m * 1e-12, "p_bottom": pb[:-1] / 100.0,
                "p_top": pb[1:] / 100.0, "gph_bottom": z[:-1] / 1000.0, "gph_top": z[1:] / 1000.0, "t": T,
                "q": qv, "u": u, "v": v, "cell_area": g.cell_area, "blh": atm.boundary_layer_height(t),
                "orography": atm.orography, "co2flux_land": land, "co2flux_ocean": ocean,
                "co2flux_anthro": anth, "tisr": atm.tisr(t), "_air_mass_kg": m}

    def step(self, t: float, r: np.ndarray, m0: np.ndarray, surface_flux: np.ndarray) -> np.ndarray:
        """Advance tracer mass ``r`` (kg) from ``t`` to ``t + dt``; ``m0`` the air mass at ``t`` (kg),
        ``surface_flux`` the total CO2 flux (kg m-2 s-1) during the step. Returns the new ``r``."""
        g, atm, dt = self.grid, self.atm, self.dt
        psm = atm.surface_pressure(t + 0.5 * dt)
        u, v = atm.winds(t + 0.5 * dt, psm)
        U, V = winds_to_mass_fluxes(u, v, g, psm, dt)
        m1 = g.air_mass(atm.surface_pressure(t + dt))
        U, V = balance_mass_fluxes(U, V, m0, m1, g)
        W, _ = vertical_mass_fluxes(U, V, m0, m1)
        mass0 = r.sum()
        r1, m_adv, info = advect(r, m0, U, V, W, grid=g, limiter=self.limiter)
        for k, n in info.max_substeps.items():
            self.max_substeps[k] = max(self.max_substeps.get(k, 0), n)
        self.max_transport_drift = max(self.max_transport_drift, abs(r1.sum() - mass0) / mass0)
        self.max_airmass_mismatch = max(self.max_airmass_mismatch, float(np.abs(m_adv / m1 - 1.0).max()))
        r2 = add_surface_flux(r1, surface_flux, g, dt)
        # sub-grid vertical transport: a well-mixed boundary layer and tropical deep convection
        ps1 = atm.surface_pressure(t + dt)
        pb = g.pressure_bounds(ps1)
        p_blh = ps1 * np.exp(-atm.boundary_layer_height(t) / 8000.0)  # the recorded blh
        r2 = mix_columns(r2, m1, pb[:-1] > p_blh, 1.0)
        r2 = mix_columns(r2, m1, pb[:-1] > 0.25 * ps1, atm.convective_fraction(t + 0.5 * dt))
        r2 = mix_columns(r2, m1, pb[:-1] > 0.3 * ps1, atm.synoptic_mixing_fraction(t + 0.5 * dt))
        # budget in float64 with the mixing ratio the store records: M = q m1, q = r2 / m1
        M1 = ((r2 / m1) * m1).sum()
        budget = abs(M1 - mass0 - (surface_flux * g.cell_area).sum() * dt) / mass0
        self.max_budget_error = max(self.max_budget_error, budget)
        return r2
