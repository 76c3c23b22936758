"""Grids: uniform 1D/2D helpers and the finite-volume latitude-longitude grid on the sphere.

``LatLonGrid`` is the grid of the atmospheric transport solver and the CarbonBench
stores: cell centres and bounds (degrees and radians), exact cell areas on the
sphere, hybrid sigma-pressure (or pure sigma) levels with interface pressures
``p_k = a_k + b_k p_s`` and air mass per cell ``m = A dp / g``.

Conventions: latitude runs south -> north, longitude east from 0; level 0 is the
layer at the surface (the published CarbonBench order); interface ``k`` is the
bottom of layer ``k`` and interface ``nlev`` is the model top.
"""
from __future__ import annotations

import re

import numpy as np

__all__ = [
    "EARTH_RADIUS",
    "GRAVITY",
    "LatLonGrid",
    "default_hybrid_levels",
    "periodic_grid",
    "torus_grid",
    "unit_square_grid",
]

EARTH_RADIUS = 6.37122e6  # m (Williamson et al. 1992)
GRAVITY = 9.80665  # m s-2
P_REF = 101300.0  # Pa, reference surface pressure of the level tables

# CarbonBench "l10": the CarbonTracker (TM5) layers aggregated to 10, bottom interface
# pressures (hPa) at a 1013 hPa surface; the top of the last layer is the model top.
_CT_L10_INTERFACES_HPA = np.array([1013.0, 1005.0, 995.0, 971.0, 943.0, 843.0, 642.0, 441.0, 243.0, 73.0, 0.0])


# ----------------------------------------------------------------------------- uniform grids
def periodic_grid(n: int, length: float = 1.0) -> np.ndarray:
    """``n`` equispaced points ``x_i = i L / n`` of the periodic interval ``[0, L)``; shape ``(n,)``."""
    n = _positive_int(n, "n")
    if not length > 0:
        raise ValueError(f"length must be positive, got {length!r}")
    return np.arange(n) * (float(length) / n)


def torus_grid(n: int, length: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Coordinates ``(x, y)`` of the ``n x n`` periodic grid on ``[0, L)^2``, each ``(n, n)``, ``indexing='ij'``."""
    x = periodic_grid(n, length)
    return tuple(np.meshgrid(x, x, indexing="ij"))


def unit_square_grid(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Vertex-centred ``n x n`` grid on ``[0, 1]^2`` including the boundary; ``(x, y)`` each ``(n, n)``."""
    n = _positive_int(n, "n")
    if n < 2:
        raise ValueError(f"n must be >= 2 for a grid that includes both boundaries, got {n}")
    x = np.linspace(0.0, 1.0, n)
    return tuple(np.meshgrid(x, x, indexing="ij"))


def _positive_int(v, name: str) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(v).__name__}")
    if v <= 0:
        raise ValueError(f"{name} must be positive, got {v}")
    return int(v)


# ----------------------------------------------------------------------------- vertical levels
def default_hybrid_levels(nlev: int, *, p_ref: float = P_REF, p_top: float = 0.0,
                          sigma_top: float = 0.1, kind: str = "hybrid") -> tuple[np.ndarray, np.ndarray]:
    """Interface coefficients ``(a, b)``, each ``(nlev + 1,)``, bottom -> top, ``p_k = a_k + b_k p_s``.

    For ``nlev == 10`` the interfaces at ``p_s = p_ref`` are the CarbonBench l10 layer
    bounds (1013, 1005, 995, 971, 943, 843, 642, 441, 243, 73 hPa, top); otherwise
    interfaces are stretched so layers are thin near the surface,
    ``p_k = p_top + (p_ref - p_top) (1 - (k / nlev)^1.6)``.

    ``kind="hybrid"``: terrain-following below the reference level ``sigma_top * p_ref``
    and pure pressure above it (``b = ((p/p_ref - s_t) / (1 - s_t))_+``, ``a = p - b p_ref``,
    so ``a >= 0``); ``kind="sigma"``: ``a = p_top (1 - b)``, ``b = (p - p_top) / (p_ref - p_top)``.
    ``a`` in Pa, ``b`` dimensionless; ``b_0 = 1``, ``a_0 = 0`` so interface 0 is the surface.
    """
    nlev = _positive_int(nlev, "nlev")
    if not (0.0 <= p_top < p_ref):
        raise ValueError(f"p_top must satisfy 0 <= p_top < p_ref, got p_top={p_top}, p_ref={p_ref}")
    if kind not in ("hybrid", "sigma"):
        raise ValueError(f"kind must be 'hybrid' or 'sigma', got {kind!r}")
    if nlev == 10 and p_ref == P_REF and p_top == 0.0:
        p = _CT_L10_INTERFACES_HPA * 100.0
    else:
        s = np.arange(nlev + 1) / nlev
        p = p_top + (p_ref - p_top) * (1.0 - s ** 1.6)
    if kind == "sigma":
        b = (p - p_top) / (p_ref - p_top)
        a = p_top * (1.0 - b)
    else:
        if not 0.0 < sigma_top < 1.0:
            raise ValueError(f"sigma_top must be in (0, 1), got {sigma_top}")
        eta = p / p_ref
        b = np.clip((eta - sigma_top) / (1.0 - sigma_top), 0.0, None)
        a = p - b * p_ref
    b[0], a[0] = 1.0, 0.0
    return a, b


# ----------------------------------------------------------------------------- lat-lon grid
class LatLonGrid:
    """Regular latitude-longitude finite-volume grid on a sphere, with optional vertical levels.

    Parameters
    ----------
    nlat, nlon : int
        Number of rows (south -> north, covering -90..90) and columns (0..360, periodic).
    levels : None or int or tuple of numpy.ndarray, optional
        ``None`` (2D grid), an int (number of layers, ``default_hybrid_levels``), or
        ``(a, b)`` interface coefficients (each ``(nlev + 1,)``, bottom -> top, Pa and 1).
    radius : float, optional
        Sphere radius in m (default 6.37122e6, Williamson et al.).
    vertical : {"hybrid", "sigma"}, optional
        Level family when ``levels`` is an int.
    p_top : float, optional
        Model-top pressure (Pa) when ``levels`` is an int.
    name : str, optional
        Grid name (default ``"latlon<deg>"``).

    Attributes
    ----------
    lat, lon : numpy.ndarray
        Cell centres in degrees, ``(nlat,)`` and ``(nlon,)``; ``lat_bounds (nlat+1,)``,
        ``lon_bounds (nlon+1,)``; ``dlat``/``dlon`` in radians (``*_rad`` variants in radians).
    cell_area : numpy.ndarray
        ``(nlat, nlon)`` in m^2, exact: ``R^2 dlon (sin lat_n - sin lat_s)``.
    a, b : numpy.ndarray
        Hybrid interface coefficients; ``level`` is the layer bottom pressure at
        ``p_s = 1013 hPa`` in hPa, like the published CarbonBench ``level`` coordinate.

    Examples
    --------
    >>> g = LatLonGrid.carbonbench("lowres")
    >>> g
    LatLonGrid('latlon5.625', nlat=32, nlon=64, nlev=10, radius=6.37122e+06)
    >>> g.shape, float(g.lat[0]), float(g.lon[-1])
    ((10, 32, 64), -87.1875, 354.375)
    >>> bool(abs(g.total_area / (4 * np.pi * g.radius**2) - 1) < 1e-14)
    True
    >>> m = g.air_mass(np.full((32, 64), 101325.0))   # kg per cell at uniform surface pressure
    >>> m.shape
    (10, 32, 64)
    """

    def __init__(self, nlat: int, nlon: int, levels=None, *, radius: float = EARTH_RADIUS,
                 vertical: str = "hybrid", p_top: float = 0.0, name: str | None = None):
        self.nlat = _positive_int(nlat, "nlat")
        self.nlon = _positive_int(nlon, "nlon")
        if self.nlat < 2 or self.nlon < 3:
            raise ValueError(f"need nlat >= 2 and nlon >= 3, got nlat={nlat}, nlon={nlon}")
        if not (isinstance(radius, (int, float, np.floating)) and radius > 0):
            raise ValueError(f"radius must be a positive number (m), got {radius!r}")
        self.radius = float(radius)
        self.dlat = np.pi / self.nlat
        self.dlon = 2.0 * np.pi / self.nlon
        self.lat_bounds_rad = -0.5 * np.pi + self.dlat * np.arange(self.nlat + 1)
        self.lat_bounds_rad[0], self.lat_bounds_rad[-1] = -0.5 * np.pi, 0.5 * np.pi
        self.lat_rad = 0.5 * (self.lat_bounds_rad[:-1] + self.lat_bounds_rad[1:])
        self.lon_bounds_rad = self.dlon * (np.arange(self.nlon + 1) - 0.5)
        self.lon_rad = self.dlon * np.arange(self.nlon)
        self.lat = np.degrees(self.lat_rad)
        self.lon = np.degrees(self.lon_rad)
        self.lat_bounds = np.degrees(self.lat_bounds_rad)
        self.lon_bounds = np.degrees(self.lon_bounds_rad)
        sin_b = np.sin(self.lat_bounds_rad)
        sin_b[0], sin_b[-1] = -1.0, 1.0
        row_area = self.radius ** 2 * self.dlon * np.diff(sin_b)  # (nlat,)
        self.cell_area = np.repeat(row_area[:, None], self.nlon, axis=1)
        self.cos_lat_bounds = np.cos(self.lat_bounds_rad)
        self.cos_lat_bounds[0] = self.cos_lat_bounds[-1] = 0.0
        # face geometry: x-faces (between lon columns) have length R dlat; y-faces (at lat
        # bound j, j = 0..nlat) have length R cos(lat_j) dlon (zero at the poles).
        self.x_face_length = self.radius * self.dlat
        self.y_face_length = self.radius * self.cos_lat_bounds * self.dlon  # (nlat+1,)

        if levels is None:
            self.a = self.b = None
            self.nlev = 0
        else:
            if isinstance(levels, (int, np.integer)) and not isinstance(levels, bool):
                a, b = default_hybrid_levels(int(levels), p_top=p_top, kind=vertical)
            elif isinstance(levels, (tuple, list)) and len(levels) == 2:
                a, b = (np.asarray(x, dtype=np.float64) for x in levels)
                if a.ndim != 1 or a.shape != b.shape or a.size < 2:
                    raise ValueError("levels=(a, b) needs two 1D arrays of equal length nlev + 1 >= 2, "
                                     f"got shapes {a.shape} and {b.shape}")
                dp_ref = -np.diff(a + b * P_REF)
                if not np.all(dp_ref > 0):
                    raise ValueError("levels=(a, b): interface pressures at p_s = 1013 hPa must decrease "
                                     "strictly from the surface (index 0) to the top")
            else:
                raise TypeError(f"levels must be None, an int or a pair (a, b) of arrays, got {type(levels).__name__}")
            self.a, self.b = np.array(a, dtype=np.float64), np.array(b, dtype=np.float64)
            self.nlev = self.a.size - 1
        self.name = name or self._default_name()

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_name(cls, name: str, levels=None, **kw) -> LatLonGrid:
        """Grid from a CarbonBench grid name ``"latlon<deg>"`` (e.g. ``latlon5.625`` = 32 x 64,
        ``latlon2.8125`` = 64 x 128, ``latlon22.5`` = 8 x 16); ``deg`` must divide 180."""
        if not isinstance(name, str):
            raise TypeError(f"grid name must be a str, got {type(name).__name__}")
        m = re.fullmatch(r"latlon(\d+(?:\.\d+)?)", name.strip())
        if not m:
            raise ValueError(f"grid must look like 'latlon5.625' (degrees per cell), got {name!r}")
        deg = float(m.group(1))
        nlat = 180.0 / deg if deg > 0 else 0
        if deg <= 0 or abs(nlat - round(nlat)) > 1e-9 or round(nlat) < 2:
            raise ValueError(f"grid {name!r}: the spacing {deg} degrees must divide 180 into >= 2 rows")
        nlat = int(round(nlat))
        return cls(nlat, 2 * nlat, levels, name=name.strip(), **kw)

    @classmethod
    def carbonbench(cls, variant: str = "lowres", levels=None) -> LatLonGrid:
        """The CarbonBench grids: ``"lowres"`` 32 x 64 (5.625 deg, lat +-87.1875, lon
        0..354.375) with 10 levels; ``"midres"`` 64 x 128 (2.8125 deg) with 20 levels.
        ``levels`` overrides the number of levels."""
        table = {"lowres": ("latlon5.625", 10), "midres": ("latlon2.8125", 20)}
        if variant not in table:
            raise ValueError(f"variant must be one of {sorted(table)}, got {variant!r}")
        gname, nlev = table[variant]
        return cls.from_name(gname, nlev if levels is None else levels)

    def _default_name(self) -> str:
        deg = 180.0 / self.nlat
        if self.nlon == 2 * self.nlat:
            return f"latlon{deg:g}"
        return f"latlon{self.nlat}x{self.nlon}"

    # ------------------------------------------------------------------ properties
    @property
    def shape(self) -> tuple[int, ...]:
        """``(nlev, nlat, nlon)`` for a grid with levels, else ``(nlat, nlon)``."""
        return (self.nlev, self.nlat, self.nlon) if self.nlev else (self.nlat, self.nlon)

    @property
    def total_area(self) -> float:
        """Sum of the cell areas (= 4 pi R^2 to round-off), m^2."""
        return float(self.cell_area.sum())

    @property
    def level(self) -> np.ndarray:
        """Layer bottom pressure (hPa) at ``p_s = 1013 hPa``, ``(nlev,)``."""
        self._need_levels()
        return (self.a[:-1] + self.b[:-1] * P_REF) / 100.0

    @property
    def vertical_name(self) -> str:
        """CarbonBench-style level set name, e.g. ``"l10"``."""
        return f"l{self.nlev}"

    def _need_levels(self):
        if not self.nlev:
            raise ValueError("this LatLonGrid has no vertical levels (pass levels=...)")

    # ------------------------------------------------------------------ vertical structure
    def pressure_bounds(self, ps) -> np.ndarray:
        """Interface pressures (Pa) for surface pressure ``ps`` (Pa, ``(..., nlat, nlon)``):
        ``(..., nlev + 1, nlat, nlon)``, interface 0 = surface."""
        self._need_levels()
        ps = self._check_ps(ps)
        shape = (1,) * (ps.ndim - 2) + (self.nlev + 1, 1, 1)
        return self.a.reshape(shape) + self.b.reshape(shape) * ps[..., None, :, :]

    def dp(self, ps) -> np.ndarray:
        """Layer pressure thickness (Pa), ``(..., nlev, nlat, nlon)``; ``sum_k dp_k = ps - p_top``."""
        self._need_levels()
        ps = self._check_ps(ps)
        da = -np.diff(self.a)
        db = -np.diff(self.b)
        shape = (1,) * (ps.ndim - 2) + (self.nlev, 1, 1)
        return da.reshape(shape) + db.reshape(shape) * ps[..., None, :, :]

    def air_mass(self, ps) -> np.ndarray:
        """Air mass per cell ``m = A dp / g`` (kg), ``(..., nlev, nlat, nlon)``."""
        return self.dp(ps) * (self.cell_area / GRAVITY)

    def column_mass(self, ps) -> np.ndarray:
        """Air mass of each column (kg), ``(..., nlat, nlon)``."""
        self._need_levels()
        ps = self._check_ps(ps)
        return (ps - self.a[-1] - self.b[-1] * ps) * (self.cell_area / GRAVITY)

    def _check_ps(self, ps) -> np.ndarray:
        ps = np.asarray(ps, dtype=np.float64)
        if ps.ndim < 2 or ps.shape[-2:] != (self.nlat, self.nlon):
            raise ValueError(f"ps must have shape (..., {self.nlat}, {self.nlon}), got {ps.shape}")
        return ps

    # ------------------------------------------------------------------ helpers
    def area_mean(self, field) -> np.ndarray:
        """Area-weighted mean over the last two axes ``(nlat, nlon)``."""
        field = np.asarray(field)
        return (field * self.cell_area).sum(axis=(-2, -1)) / self.total_area

    def coords(self) -> dict:
        """``{"lat", "lon"[, "level"]}`` coordinate arrays (degrees / hPa) as in CarbonBench stores."""
        c = {"lat": self.lat.copy(), "lon": self.lon.copy()}
        if self.nlev:
            c["level"] = self.level.copy()
        return c

    def __repr__(self) -> str:
        lev = f", nlev={self.nlev}" if self.nlev else ""
        return f"LatLonGrid({self.name!r}, nlat={self.nlat}, nlon={self.nlon}{lev}, radius={self.radius:g})"

    def __eq__(self, other) -> bool:
        if not isinstance(other, LatLonGrid):
            return NotImplemented
        same = (self.nlat, self.nlon, self.nlev, self.radius) == (other.nlat, other.nlon, other.nlev, other.radius)
        if same and self.nlev:
            same = np.array_equal(self.a, other.a) and np.array_equal(self.b, other.b)
        return bool(same)

    __hash__ = None
