"""Computational domains for PINNs: intervals, rectangles, disks, polygons, CSG and space-time.

Every geometry works on points given as arrays of shape ``(n, dim)`` (float64,
coordinates in the problem's length unit) and provides

* ``contains(x, tol)``: closed-set membership, ``(n,)`` bool;
* ``on_boundary(x, tol)``: ``(n,)`` bool;
* ``sample_interior(n, method="uniform"|"lhs"|"sobol", rng)``: ``(n, dim)``;
* ``sample_boundary(n, method, rng)``: ``(n, dim)`` on the boundary (uniform in arc length);
* ``distance(x)``: a smooth-ish signed approximate distance ``phi`` — positive inside,
  exactly zero on the boundary, negative outside. Accepts numpy (returns numpy) or a
  torch tensor (returns a differentiable tensor), so it can build hard boundary
  conditions ``u = g + phi * N`` (:class:`sciml.pinns.conditions.HardDirichlet`).

The distance functions are R-functions (Rvachev): ``a ∧ b = a + b - sqrt(a² + b²)``
(intersection) and ``a ∨ b = a + b + sqrt(a² + b²)`` (union); they vanish exactly
where one argument vanishes and the other has the right sign.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from .._util.validation import check_int
from .sampling import METHODS, as_rng, sample_unit_cube

__all__ = ["Geometry", "Interval", "Rectangle", "Disk", "Polygon", "Union", "Difference",
           "TimeDomain", "GeometryXTime", "r_and", "r_or"]


def _to_torch(x):
    if isinstance(x, torch.Tensor):
        return x, False
    return torch.as_tensor(np.asarray(x, dtype=float)), True


def _back(y, was_numpy):
    return y.detach().numpy() if was_numpy else y


def r_and(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """R-conjunction (intersection): ``a + b - sqrt(a^2 + b^2)``; zero where ``a = 0, b >= 0``."""
    return a + b - torch.sqrt(a * a + b * b + 0.0)


def r_or(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """R-disjunction (union): ``a + b + sqrt(a^2 + b^2)``; zero where ``a = 0, b <= 0``."""
    return a + b + torch.sqrt(a * a + b * b + 0.0)


def _check_method(method):
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")


class Geometry:
    """Base class: rejection sampling in the bounding box, CSG operators ``|`` and ``-``."""

    dim: int

    @property
    def bbox(self) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    @property
    def perimeter(self) -> float:
        """Boundary measure (number of endpoints in 1D, length in 2D)."""
        raise NotImplementedError

    def _points(self, x):
        x = np.asarray(x, dtype=float)
        if x.ndim == 1 and self.dim == 1:
            x = x[:, None]
        if x.ndim != 2 or x.shape[1] != self.dim:
            raise ValueError(f"x must have shape (n, {self.dim}), got {x.shape}")
        return x

    def contains(self, x, tol: float = 1e-12) -> np.ndarray:
        x = self._points(x)
        return _back(self.distance(torch.as_tensor(x)), False).numpy() >= -tol * self._scale()

    def on_boundary(self, x, tol: float = 1e-10) -> np.ndarray:
        raise NotImplementedError

    def _scale(self):
        lo, hi = self.bbox
        return float(np.max(hi - lo))

    def interior(self, x, tol: float = 1e-10) -> np.ndarray:
        """Strict interior: ``contains & ~on_boundary``."""
        return self.contains(x, tol) & ~self.on_boundary(x, tol)

    def distance(self, x):
        raise NotImplementedError

    def sample_interior(self, n: int, method: str = "uniform", rng=None) -> np.ndarray:
        """``n`` points inside (rejection from the bounding box), ``(n, dim)``.

        For non-box domains ``lhs``/``sobol`` stratify the bounding box; the kept points inherit that
        low discrepancy but not exact stratification."""
        n = check_int(n, "n", min=0)
        _check_method(method)
        rng = as_rng(rng)
        lo, hi = self.bbox
        out, have, batch = [], 0, max(2 * n, 64)
        while have < n:
            pts = lo + (hi - lo) * sample_unit_cube(batch, self.dim, method, rng)
            pts = pts[self.interior(pts)]
            out.append(pts)
            have += len(pts)
            batch *= 2
        return np.concatenate(out)[:n] if n else np.zeros((0, self.dim))

    def sample_boundary(self, n: int, method: str = "uniform", rng=None) -> np.ndarray:
        raise NotImplementedError

    def __or__(self, other):
        return Union(self, other)

    def __sub__(self, other):
        return Difference(self, other)


class Interval(Geometry):
    """``[a, b]``; points ``(n, 1)``. ``distance = (x - a)(b - x) / (b - a)``."""

    def __init__(self, a: float, b: float):
        a, b = float(a), float(b)
        if not (math.isfinite(a) and math.isfinite(b)) or b <= a:
            raise ValueError(f"Interval needs finite a < b, got a={a}, b={b}")
        self.a, self.b, self.dim = a, b, 1

    @property
    def bbox(self):
        return np.array([self.a]), np.array([self.b])

    @property
    def perimeter(self):
        return 2.0

    def distance(self, x):
        x, was_np = _to_torch(x)
        if x.ndim == 1:
            x = x[:, None]
        return _back((x[:, 0] - self.a) * (self.b - x[:, 0]) / (self.b - self.a), was_np)

    def on_boundary(self, x, tol=1e-10):
        x = self._points(x)[:, 0]
        s = tol * (self.b - self.a)
        return (np.abs(x - self.a) <= s) | (np.abs(x - self.b) <= s)

    def sample_interior(self, n, method="uniform", rng=None):
        n = check_int(n, "n", min=0)
        _check_method(method)
        u = sample_unit_cube(n, 1, method, as_rng(rng))
        return self.a + (self.b - self.a) * u

    def sample_boundary(self, n, method="uniform", rng=None):
        """Alternating endpoints ``a, b, a, ...``, shape ``(n, 1)``."""
        n = check_int(n, "n", min=0)
        _check_method(method)
        return np.where(np.arange(n) % 2 == 0, self.a, self.b)[:, None].astype(float)

    def boundary_normal(self, x):
        x = self._points(x)[:, 0]
        return np.where(np.abs(x - self.a) < np.abs(x - self.b), -1.0, 1.0)[:, None]


class Polygon(Geometry):
    """Simple polygon from its vertices ``(m, 2)`` (either orientation).

    ``contains`` by ray casting; boundary sampled uniformly in arc length;
    ``distance`` = sign * generalised mean (p = 2) of the edge-segment distances
    (zero exactly on every edge, close to the true distance near the boundary).
    """

    def __init__(self, vertices):
        v = np.asarray(vertices, dtype=float)
        if v.ndim != 2 or v.shape[1] != 2 or v.shape[0] < 3:
            raise ValueError(f"vertices must have shape (m >= 3, 2), got {v.shape}")
        if np.allclose(v[0], v[-1]):
            v = v[:-1]
        if not np.all(np.isfinite(v)):
            raise ValueError("vertices must be finite")
        edges = np.roll(v, -1, axis=0) - v
        lengths = np.hypot(edges[:, 0], edges[:, 1])
        if np.any(lengths == 0):
            raise ValueError("vertices must not repeat consecutively")
        area2 = np.sum(v[:, 0] * np.roll(v[:, 1], -1) - np.roll(v[:, 0], -1) * v[:, 1])
        if area2 == 0:
            raise ValueError("polygon has zero area")
        self.vertices, self.dim = v, 2
        self._edges, self._lengths = edges, lengths
        self._ccw = area2 > 0

    @property
    def bbox(self):
        return self.vertices.min(axis=0), self.vertices.max(axis=0)

    @property
    def perimeter(self):
        return float(self._lengths.sum())

    def _segment_distances(self, x):
        """``(n, m)`` Euclidean distances from points to each edge segment (torch)."""
        v = torch.as_tensor(self.vertices, dtype=x.dtype, device=x.device)
        e = torch.as_tensor(self._edges, dtype=x.dtype, device=x.device)
        l2 = (e * e).sum(1)
        d = x[:, None, :] - v[None]
        t = ((d * e[None]).sum(-1) / l2).clamp(0.0, 1.0)
        r = d - t[..., None] * e[None]
        return torch.sqrt((r * r).sum(-1))

    def _inside(self, x: np.ndarray) -> np.ndarray:
        v, w = self.vertices, np.roll(self.vertices, -1, axis=0)
        px, py = x[:, :1], x[:, 1:]
        cond = (v[None, :, 1] > py) != (w[None, :, 1] > py)
        with np.errstate(divide="ignore", invalid="ignore"):
            xint = v[None, :, 0] + (py - v[None, :, 1]) * (w[None, :, 0] - v[None, :, 0]) / (
                w[None, :, 1] - v[None, :, 1]
            )
        crossings = np.sum(cond & (px < xint), axis=1)
        return crossings % 2 == 1

    def distance(self, x):
        x, was_np = _to_torch(x)
        d = self._segment_distances(x)
        dmin = d.min(dim=1).values
        tiny = 1e-300 if x.dtype == torch.float64 else 1e-30
        ratio = (dmin[:, None] + tiny) / (d + tiny)
        phi = dmin * (ratio * ratio).sum(1).rsqrt()
        inside = torch.as_tensor(self._inside(x.detach().cpu().numpy()), device=x.device)
        return _back(torch.where(inside, phi, -phi), was_np)

    def on_boundary(self, x, tol=1e-10):
        x = self._points(x)
        d = self._segment_distances(torch.as_tensor(x)).min(dim=1).values.numpy()
        return d <= tol * self._scale()

    def contains(self, x, tol=1e-12):
        x = self._points(x)
        return self._inside(x) | self.on_boundary(x, max(tol, 1e-12))

    def sample_boundary(self, n, method="uniform", rng=None):
        """``n`` points uniform in arc length along the edges, ``(n, 2)``."""
        n = check_int(n, "n", min=0)
        _check_method(method)
        s = sample_unit_cube(n, 1, method, as_rng(rng))[:, 0] * self.perimeter
        cum = np.concatenate([[0.0], np.cumsum(self._lengths)])
        k = np.clip(np.searchsorted(cum, s, side="right") - 1, 0, len(self._lengths) - 1)
        frac = (s - cum[k]) / self._lengths[k]
        return self.vertices[k] + frac[:, None] * self._edges[k]

    def boundary_normal(self, x):
        """Outward unit normals ``(n, 2)`` at boundary points (of the nearest edge)."""
        x = self._points(x)
        k = self._segment_distances(torch.as_tensor(x)).argmin(dim=1).numpy()
        e = self._edges[k] / self._lengths[k, None]
        nrm = np.stack([e[:, 1], -e[:, 0]], axis=1)  # right normal: outward for ccw
        return nrm if self._ccw else -nrm


class Rectangle(Polygon):
    """Axis-aligned rectangle ``[x0, x1] x [y0, y1]``.

    ``distance`` = R-conjunction of the two interval distances (smooth inside, exactly
    zero on the sides).

    Examples
    --------
    >>> L = Rectangle([-1, -1], [1, 1]) - Rectangle([0, 0], [1, 1])   # an L-shaped domain
    >>> L.contains(np.array([[0.5, 0.5], [-0.5, 0.5]]))
    array([False,  True])
    >>> x = L.sample_interior(500, "sobol", rng=0)
    >>> x.shape, bool(L.contains(x).all())
    ((500, 2), True)
    >>> xb = L.sample_boundary(64, rng=1)
    >>> bool(np.abs(L.distance(xb)).max() < 1e-12)
    True
    """

    def __init__(self, lo, hi):
        lo = np.asarray(lo, dtype=float).reshape(-1)
        hi = np.asarray(hi, dtype=float).reshape(-1)
        if lo.shape != (2,) or hi.shape != (2,) or not np.all(hi > lo):
            raise ValueError(f"Rectangle needs lo, hi of length 2 with hi > lo, got {lo}, {hi}")
        self.lo, self.hi = lo, hi
        super().__init__([[lo[0], lo[1]], [hi[0], lo[1]], [hi[0], hi[1]], [lo[0], hi[1]]])

    def distance(self, x):
        x, was_np = _to_torch(x)
        lo = torch.as_tensor(self.lo, dtype=x.dtype, device=x.device)
        hi = torch.as_tensor(self.hi, dtype=x.dtype, device=x.device)
        d = (x - lo) * (hi - x) / (hi - lo)
        return _back(r_and(d[:, 0], d[:, 1]), was_np)

    def sample_interior(self, n, method="uniform", rng=None):
        n = check_int(n, "n", min=0)
        _check_method(method)
        return self.lo + (self.hi - self.lo) * sample_unit_cube(n, 2, method, as_rng(rng))


class Disk(Geometry):
    """Disk of ``center`` (2,) and ``radius``; ``distance = (r^2 - |x - c|^2) / (2 r)``."""

    def __init__(self, center, radius: float):
        c = np.asarray(center, dtype=float).reshape(-1)
        if c.shape != (2,):
            raise ValueError(f"center must have 2 coordinates, got {c.shape}")
        if not (np.isfinite(radius) and radius > 0):
            raise ValueError(f"radius must be positive, got {radius}")
        self.center, self.radius, self.dim = c, float(radius), 2

    @property
    def bbox(self):
        return self.center - self.radius, self.center + self.radius

    @property
    def perimeter(self):
        return 2 * math.pi * self.radius

    def distance(self, x):
        x, was_np = _to_torch(x)
        c = torch.as_tensor(self.center, dtype=x.dtype, device=x.device)
        r2 = ((x - c) ** 2).sum(1)
        return _back((self.radius ** 2 - r2) / (2 * self.radius), was_np)

    def on_boundary(self, x, tol=1e-10):
        x = self._points(x)
        return np.abs(np.hypot(*(x - self.center).T) - self.radius) <= tol * self.radius

    def sample_interior(self, n, method="uniform", rng=None):
        """Area-uniform points: ``r = R sqrt(u1)``, ``theta = 2 pi u2``."""
        n = check_int(n, "n", min=0)
        _check_method(method)
        u = sample_unit_cube(n, 2, method, as_rng(rng))
        r = self.radius * np.sqrt(u[:, 0]) * (1 - 1e-12)
        th = 2 * math.pi * u[:, 1]
        return self.center + np.stack([r * np.cos(th), r * np.sin(th)], axis=1)

    def sample_boundary(self, n, method="uniform", rng=None):
        n = check_int(n, "n", min=0)
        _check_method(method)
        th = 2 * math.pi * sample_unit_cube(n, 1, method, as_rng(rng))[:, 0]
        return self.center + self.radius * np.stack([np.cos(th), np.sin(th)], axis=1)

    def boundary_normal(self, x):
        x = self._points(x)
        d = x - self.center
        return d / np.hypot(d[:, 0], d[:, 1])[:, None]


class _CSG(Geometry):
    def __init__(self, a: Geometry, b: Geometry):
        if not isinstance(a, Geometry) or not isinstance(b, Geometry):
            raise TypeError("CSG operands must be Geometry objects")
        if a.dim != b.dim:
            raise ValueError(f"CSG operands must have the same dim, got {a.dim} and {b.dim}")
        self.a, self.b, self.dim = a, b, a.dim

    @property
    def perimeter(self):
        return self.a.perimeter + self.b.perimeter

    def _boundary_candidates(self, n, method, rng, keep):
        """Sample both boundaries in proportion to their measure and keep the valid parts."""
        n = check_int(n, "n", min=0)
        _check_method(method)
        rng = as_rng(rng)
        pa, pb = self.a.perimeter, self.b.perimeter
        out, have, batch = [], 0, max(2 * n, 64)
        while have < n:
            na = int(round(batch * pa / (pa + pb)))
            pts = np.concatenate([self.a.sample_boundary(na, method, rng),
                                  self.b.sample_boundary(batch - na, method, rng)])
            pts = pts[keep(pts)]
            pts = pts[rng.permutation(len(pts))]
            out.append(pts)
            have += len(pts)
            batch *= 2
        return np.concatenate(out)[:n] if n else np.zeros((0, self.dim))


class Union(_CSG):
    """``a ∪ b``; ``distance = r_or(phi_a, phi_b)``."""

    @property
    def bbox(self):
        (la, ha), (lb, hb) = self.a.bbox, self.b.bbox
        return np.minimum(la, lb), np.maximum(ha, hb)

    def distance(self, x):
        x, was_np = _to_torch(x)
        return _back(r_or(self.a.distance(x), self.b.distance(x)), was_np)

    def contains(self, x, tol=1e-12):
        return self.a.contains(x, tol) | self.b.contains(x, tol)

    def on_boundary(self, x, tol=1e-10):
        return ((self.a.on_boundary(x, tol) & ~self.b.interior(x, tol))
                | (self.b.on_boundary(x, tol) & ~self.a.interior(x, tol)))

    def sample_boundary(self, n, method="uniform", rng=None):
        return self._boundary_candidates(n, method, rng, lambda p: self.on_boundary(p))


class Difference(_CSG):
    """``a \\ b`` (closure); ``distance = r_and(phi_a, -phi_b)``."""

    @property
    def bbox(self):
        return self.a.bbox

    def distance(self, x):
        x, was_np = _to_torch(x)
        return _back(r_and(self.a.distance(x), -self.b.distance(x)), was_np)

    def contains(self, x, tol=1e-12):
        return self.a.contains(x, tol) & ~self.b.interior(x, 1e-10)

    def on_boundary(self, x, tol=1e-10):
        return ((self.a.on_boundary(x, tol) & ~self.b.interior(x, tol))
                | (self.b.on_boundary(x, tol) & self.a.contains(x, tol)))

    def sample_boundary(self, n, method="uniform", rng=None):
        return self._boundary_candidates(n, method, rng, lambda p: self.on_boundary(p))


class TimeDomain(Interval):
    """Time interval ``[t0, t1]`` (an :class:`Interval`, unit: the problem's time unit)."""

    def __init__(self, t0: float, t1: float):
        super().__init__(t0, t1)
        self.t0, self.t1 = self.a, self.b


class GeometryXTime:
    """Space-time cylinder ``geometry x [t0, t1]``; points ``(n, dim + 1)`` with time LAST.

    ``sample_interior`` draws jointly in ``dim + 1`` (so ``lhs``/``sobol`` stratify time
    too), ``sample_boundary`` is the lateral boundary ``∂Ω x (t0, t1]``, ``sample_initial``
    is ``Ω x {t0}``. ``distance`` (spatial) and ``initial_distance`` (``t - t0``) build
    hard boundary / initial conditions.
    """

    def __init__(self, geometry: Geometry, time: TimeDomain):
        if not isinstance(geometry, Geometry):
            raise TypeError(f"geometry must be a Geometry, got {type(geometry).__name__}")
        if not isinstance(time, Interval):
            raise TypeError(f"time must be a TimeDomain, got {type(time).__name__}")
        self.geometry, self.time, self.dim = geometry, time, geometry.dim + 1

    def _split(self, x):
        x = np.asarray(x, dtype=float)
        if x.ndim != 2 or x.shape[1] != self.dim:
            raise ValueError(f"x must have shape (n, {self.dim}), got {x.shape}")
        return x[:, :-1], x[:, -1:]

    def contains(self, x, tol=1e-12):
        xs, t = self._split(x)
        return self.geometry.contains(xs, tol) & self.time.contains(t, tol)

    def on_boundary(self, x, tol=1e-10):
        xs, t = self._split(x)
        return self.geometry.on_boundary(xs, tol) & self.time.contains(t, tol)

    def on_initial(self, x, tol=1e-10):
        xs, t = self._split(x)
        return (np.abs(t[:, 0] - self.time.t0) <= tol * (self.time.t1 - self.time.t0)) & self.geometry.contains(xs)

    def sample_interior(self, n, method="uniform", rng=None):
        n = check_int(n, "n", min=0)
        _check_method(method)
        rng = as_rng(rng)
        lo, hi = self.geometry.bbox
        lo = np.append(lo, self.time.t0)
        hi = np.append(hi, self.time.t1)
        if isinstance(self.geometry, (Interval, Rectangle)):  # box x time: no rejection, strata kept
            return lo + (hi - lo) * sample_unit_cube(n, self.dim, method, rng)
        out, have, batch = [], 0, max(2 * n, 64)
        while have < n:
            pts = lo + (hi - lo) * sample_unit_cube(batch, self.dim, method, rng)
            pts = pts[self.geometry.interior(pts[:, :-1])]
            out.append(pts)
            have += len(pts)
            batch *= 2
        return np.concatenate(out)[:n] if n else np.zeros((0, self.dim))

    def sample_boundary(self, n, method="uniform", rng=None):
        rng = as_rng(rng)
        xs = self.geometry.sample_boundary(n, method, rng)
        t = self.time.sample_interior(n, method, rng)
        return np.concatenate([xs, t], axis=1)

    def sample_initial(self, n, method="uniform", rng=None):
        xs = self.geometry.sample_interior(n, method, as_rng(rng))
        return np.concatenate([xs, np.full((len(xs), 1), self.time.t0)], axis=1)

    def distance(self, x):
        """Spatial distance of the space part, same conventions as :meth:`Geometry.distance`."""
        x, was_np = _to_torch(x)
        return _back(self.geometry.distance(x[:, :-1]), was_np)

    def initial_distance(self, x):
        """``(t - t0) / (t1 - t0)``: zero exactly at the initial time."""
        x, was_np = _to_torch(x)
        return _back((x[:, -1] - self.time.t0) / (self.time.t1 - self.time.t0), was_np)
