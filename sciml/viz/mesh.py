"""Figures of the GraphCast graphs: the icosahedral multi-mesh over the globe and the grid <-> mesh links.

:func:`plot_multimesh` draws (left) an orthographic view of the globe with the multi-mesh edges
coloured by the refinement level they come from (great-circle arcs, far side hidden) and
(right) a latitude-longitude map with the finest-mesh triangles, the grid cell centres and, for a
few mesh vertices, their grid -> mesh edges (the radius) and, for a few grid cells, the three
mesh vertices they receive from. Returns the matplotlib figure and writes it when ``out`` is given.
"""
from __future__ import annotations

import numpy as np

from ..operators import _mesh
from .carbon import _plt
from .fields import save_figure

__all__ = ["plot_multimesh"]


def _arcs(a, b, n=16):
    """Great-circle points ``(E, n, 3)`` from ``a`` to ``b`` (each ``(E, 3)``, unit vectors)."""
    t = np.linspace(0.0, 1.0, n)[None, :, None]
    p = (1 - t) * a[:, None] + t * b[:, None]
    return p / np.linalg.norm(p, axis=-1, keepdims=True)


def _view_basis(lat0, lon0):
    lat0, lon0 = np.radians(lat0), np.radians(lon0)
    c = _mesh.latlon_to_xyz(lat0, lon0)
    east = np.array([-np.sin(lon0), np.cos(lon0), 0.0])
    north = np.cross(c, east)
    return c, east, north


def plot_multimesh(level: int = 2, *, nlat: int = 16, nlon: int = 32, radius_factor: float = 0.6,
                   view=(30.0, -30.0), out=None, title: str | None = None):
    """The GraphCast multi-mesh at refinement ``level`` and its links to an ``nlat x nlon`` grid.

    Parameters
    ----------
    level : refinement level (``10 4^level + 2`` vertices; edges of levels 0..level drawn).
    nlat, nlon : the lat-lon grid (cell-centred, :class:`sciml.grids.LatLonGrid`).
    radius_factor : grid -> mesh radius in longest finest-mesh edges (GraphCast: 0.6).
    view : ``(lat, lon)`` in degrees of the globe's centre of view.
    out : path to write (PNG/PDF/SVG) or None.

    Examples
    --------
    >>> fig = plot_multimesh(2, nlat=16, nlon=32)  # doctest: +SKIP
    """
    from matplotlib.collections import LineCollection

    from ..operators.graphcast import build_graphs

    if isinstance(level, bool) or not isinstance(level, (int, np.integer)) or not 0 <= level <= 5:
        raise ValueError(f"level must be an int in [0, 5] (a figure of more edges is unreadable), got {level!r}")
    plt = _plt()
    meshes = _mesh.icosahedral_meshes(int(level))
    g = build_graphs(nlat, nlon, int(level), radius_factor)
    v, faces = meshes[-1]
    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(13, 5.6), gridspec_kw={"width_ratios": [1, 1.7]})
    # ---- globe, orthographic
    c, east, north = _view_basis(*view)
    theta = np.linspace(0, 2 * np.pi, 200)
    ax0.fill(np.cos(theta), np.sin(theta), color="#eef3f8", zorder=0)
    ax0.plot(np.cos(theta), np.sin(theta), color="0.4", lw=0.8)
    colors = ["tab:red", "tab:orange", "tab:blue", "tab:green", "tab:purple"]
    # coarse edges run along the arcs of finer ones: draw the finest first, the coarsest on top
    for k, (_, f) in reversed(list(enumerate(meshes))):
        e = _mesh.faces_to_edges(f)
        p = _arcs(v[e[:, 0]], v[e[:, 1]])
        vis = p @ c >= 0
        xy = np.stack([p @ east, p @ north], -1)
        segs = []
        for s, m in zip(xy, vis):  # keep the visible runs of each arc
            if m.all():
                segs.append(s)
            elif m.any():
                segs.append(s[m])
        color = "0.55" if k == level else colors[k]
        lw = 0.5 + 2.0 * (level - k) / max(level, 1)
        ax0.add_collection(LineCollection(segs, colors=[color], linewidths=lw, label=f"M{k} edges ({len(e)})"))
    front = v @ c >= 0
    ax0.scatter(v[front] @ east, v[front] @ north, s=6, color="k", zorder=3)
    ax0.set_xlim(-1.05, 1.05)
    ax0.set_ylim(-1.05, 1.05)
    ax0.set_aspect("equal")
    ax0.axis("off")
    ax0.legend(loc="lower left", fontsize=7, frameon=False, bbox_to_anchor=(-0.05, -0.08))
    n_mm = g["mesh_edges"].shape[1] // 2
    ax0.set_title(f"multi-mesh M0..M{level}: {len(v)} vertices, {n_mm} edges", fontsize=10)
    # ---- lat-lon map
    lat, lon = _mesh.xyz_to_latlon(v)
    lat, lon = np.degrees(lat), np.degrees(lon) % 360
    e = _mesh.faces_to_edges(faces)
    la, lo = lat[e], lon[e]
    pole = np.abs(la) > 89.999  # a pole has no longitude: draw its edges as meridians
    lo[pole[:, 0], 0] = lo[pole[:, 0], 1]
    lo[pole[:, 1], 1] = lo[pole[:, 1], 0]
    wrap = np.abs(lo[:, 0] - lo[:, 1]) > 180  # arcs across the 0/360 seam: draw both halves
    segs = [np.stack([lo[i], la[i]], 1) for i in np.flatnonzero(~wrap)]
    for i in np.flatnonzero(wrap):
        a, b = lo[i].copy(), la[i]
        a[a > 180] -= 360
        segs.append(np.stack([a, b], 1))
        segs.append(np.stack([a + 360, b], 1))
    ax1.add_collection(LineCollection(segs, colors="0.55", linewidths=0.6))
    ax1.scatter(lon, lat, s=10, color="k", zorder=3, label=f"mesh vertices ({len(v)})")
    glat, glon = _mesh.xyz_to_latlon(g["grid_xyz"])
    glat, glon = np.degrees(glat), np.degrees(glon) % 360
    ax1.scatter(glon, glat, s=4, color="tab:blue", zorder=2, label=f"grid cells ({nlat} x {nlon})")
    rng = np.random.default_rng(0)
    g2m = g["g2m_edges"]
    for j in rng.choice(len(v), size=min(6, len(v)), replace=False):
        sel = g2m[0][g2m[1] == j]
        for s in sel:
            ax1.plot([glon[s], lon[j]], [glat[s], lat[j]], color="tab:orange", lw=1.2, zorder=4)
    m2g = g["m2g_edges"]
    for i in rng.choice(len(glat), size=6, replace=False):
        for s in m2g[0][m2g[1] == i]:
            ls = glon[i] if abs(lat[s]) > 89.999 else lon[s]
            if abs(ls - glon[i]) < 180:
                ax1.plot([ls, glon[i]], [lat[s], glat[i]], color="tab:red", lw=1.2, zorder=4)
    ax1.plot([], [], color="tab:orange", label=f"grid -> mesh (radius {radius_factor} x longest edge), 6 vertices")
    ax1.plot([], [], color="tab:red", label="mesh -> grid (3 triangle vertices), 6 cells")
    ax1.set_xlim(0, 360)
    ax1.set_ylim(-90, 90)
    ax1.set_xticks(range(0, 361, 60))
    ax1.set_yticks(range(-90, 91, 30))
    ax1.set_xlabel("longitude (deg E)")
    ax1.set_ylabel("latitude (deg)")
    ax1.set_title(f"finest mesh M{level} and the grid <-> mesh edges "
                  f"({g2m.shape[1]} grid->mesh, {m2g.shape[1]} mesh->grid)", fontsize=10)
    ax1.legend(loc="lower center", fontsize=7, ncol=2, bbox_to_anchor=(0.5, -0.22), frameon=False)
    if title:
        fig.suptitle(title)
    if out is not None:
        save_figure(fig, out)
    return fig
