"""Icosahedral multi-mesh and grid<->mesh connectivity for :class:`~sciml.operators.GraphCast`.

All functions are numpy/scipy, run once when a model is built, and return integer index
arrays and float64 positions on the unit sphere.

* :func:`icosahedral_meshes` -- the icosahedron ``M_0`` refined ``r`` times (each triangle
  split into four, new vertices projected onto the sphere). ``M_k`` has ``10 4^k + 2``
  vertices, ``30 4^k`` edges and ``20 4^k`` faces; the vertices of ``M_k`` are the first
  ``10 4^k + 2`` vertices of ``M_{k+1}`` (the meshes are nested). One vertex sits on each pole.
* :func:`multimesh_edges` -- the directed edges of every level ``M_0 .. M_r`` merged, on the
  vertices of the finest mesh (the long edges of the coarse levels carry information far in
  few message-passing steps).
* :func:`grid_to_mesh_edges` -- each grid point to every mesh vertex within a radius
  (GraphCast: 0.6 x the longest edge of the finest mesh), found with ``scipy.spatial.cKDTree``.
* :func:`mesh_to_grid_edges` -- each grid point from the three vertices of the finest-mesh
  triangle that contains it.
* :func:`edge_features` / :func:`node_features` -- edge length and the sender-minus-receiver
  displacement in the receiver's local (east, north, up) frame; ``cos lat, sin lon, cos lon``.
"""
from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

__all__ = ["icosahedron", "refine", "icosahedral_meshes", "faces_to_edges", "multimesh_edges",
           "max_edge_length", "latlon_to_xyz", "xyz_to_latlon", "grid_points", "grid_to_mesh_edges",
           "mesh_to_grid_edges", "edge_features", "node_features", "mesh_counts"]


def mesh_counts(level: int) -> tuple[int, int, int]:
    """``(vertices, edges, faces)`` of the icosahedron refined ``level`` times."""
    return 10 * 4 ** level + 2, 30 * 4 ** level, 20 * 4 ** level


def icosahedron() -> tuple[np.ndarray, np.ndarray]:
    """Unit icosahedron with vertices on the poles: ``vertices (12, 3)``, ``faces (20, 3)``
    (counter-clockwise seen from outside, i.e. ``det(a, b, c) > 0``)."""
    z = 1.0 / np.sqrt(5.0)  # the two rings of five vertices lie at z = +-1/sqrt(5)
    r = 2.0 / np.sqrt(5.0)
    k = np.arange(5)
    upper = np.stack([r * np.cos(2 * np.pi * k / 5), r * np.sin(2 * np.pi * k / 5), np.full(5, z)], 1)
    lower = np.stack([r * np.cos(2 * np.pi * (k + 0.5) / 5), r * np.sin(2 * np.pi * (k + 0.5) / 5),
                      np.full(5, -z)], 1)
    v = np.concatenate([[[0.0, 0.0, 1.0]], upper, lower, [[0.0, 0.0, -1.0]]])
    u = 1 + k          # upper ring indices 1..5
    lo = 6 + k         # lower ring indices 6..10
    faces = np.concatenate([
        np.stack([np.zeros(5, int), u, 1 + (k + 1) % 5], 1),        # north cap
        np.stack([u, lo, 1 + (k + 1) % 5], 1),                      # upper band
        np.stack([1 + (k + 1) % 5, lo, 6 + (k + 1) % 5], 1),        # lower band
        np.stack([np.full(5, 11), 6 + (k + 1) % 5, lo], 1),         # south cap
    ])
    return v, _orient(v, faces)


def _orient(v: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Flip faces so that every ``det(a, b, c)`` is positive (outward normal)."""
    a, b, c = v[faces[:, 0]], v[faces[:, 1]], v[faces[:, 2]]
    neg = np.einsum("ij,ij->i", np.cross(a, b), c) < 0
    faces = faces.copy()
    faces[neg] = faces[neg][:, [0, 2, 1]]
    return faces


def refine(vertices: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Split each triangle into four; the new (edge-midpoint) vertices are appended after the
    old ones and projected onto the unit sphere. Orientation is kept."""
    e = np.sort(np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]]), axis=1)
    uniq, inv = np.unique(e, axis=0, return_inverse=True)
    mid = vertices[uniq[:, 0]] + vertices[uniq[:, 1]]
    mid /= np.linalg.norm(mid, axis=1, keepdims=True)
    n, nf = len(vertices), len(faces)
    inv = inv.reshape(3, nf) + n  # midpoint of edge (0,1), (1,2), (2,0) of each face
    a, b, c = faces.T
    ab, bc, ca = inv
    new = np.concatenate([np.stack([a, ab, ca], 1), np.stack([ab, b, bc], 1), np.stack([ca, bc, c], 1),
                          np.stack([ab, bc, ca], 1)])
    return np.concatenate([vertices, mid]), new


def icosahedral_meshes(level: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """``[(vertices, faces)]`` of ``M_0 .. M_level`` (nested: ``M_k``'s vertices come first in ``M_{k+1}``)."""
    if isinstance(level, bool) or not isinstance(level, (int, np.integer)) or level < 0:
        raise ValueError(f"level must be an int >= 0, got {level!r}")
    meshes = [icosahedron()]
    for _ in range(int(level)):
        meshes.append(refine(*meshes[-1]))
    return meshes


def faces_to_edges(faces: np.ndarray) -> np.ndarray:
    """Undirected edges ``(E, 2)`` (``i < j``, sorted) of a triangle mesh."""
    e = np.sort(np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]]), axis=1)
    return np.unique(e, axis=0)


def multimesh_edges(meshes) -> np.ndarray:
    """Directed edges ``(2, E)`` (row 0 senders, row 1 receivers) of all levels merged, both
    directions, duplicates removed, sorted by receiver."""
    und = np.unique(np.concatenate([faces_to_edges(f) for _, f in meshes]), axis=0)
    d = np.concatenate([und, und[:, ::-1]])
    d = d[np.lexsort((d[:, 0], d[:, 1]))]
    return np.ascontiguousarray(d.T)


def max_edge_length(vertices: np.ndarray, faces: np.ndarray) -> float:
    """Longest edge (chord length on the unit sphere) of a mesh."""
    e = faces_to_edges(faces)
    return float(np.linalg.norm(vertices[e[:, 0]] - vertices[e[:, 1]], axis=1).max())


def latlon_to_xyz(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Unit vectors ``(..., 3)`` from latitude / longitude in radians."""
    lat, lon = np.asarray(lat, float), np.asarray(lon, float)
    return np.stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)], -1)


def xyz_to_latlon(xyz: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Latitude, longitude (radians, lon in ``[-pi, pi]``) of unit vectors ``(..., 3)``."""
    xyz = np.asarray(xyz, float)
    return np.arcsin(np.clip(xyz[..., 2], -1.0, 1.0)), np.arctan2(xyz[..., 1], xyz[..., 0])


def grid_points(lat_rad: np.ndarray, lon_rad: np.ndarray) -> np.ndarray:
    """Unit vectors ``(nlat * nlon, 3)`` of a lat-lon grid, row-major (latitude rows)."""
    la, lo = np.meshgrid(lat_rad, lon_rad, indexing="ij")
    return latlon_to_xyz(la, lo).reshape(-1, 3)


def grid_to_mesh_edges(grid_xyz: np.ndarray, mesh_xyz: np.ndarray, radius: float) -> np.ndarray:
    """Directed edges ``(2, E)`` grid point -> mesh vertex for every pair closer than ``radius``
    (chord length), sorted by receiver (mesh vertex)."""
    tree = cKDTree(grid_xyz)
    lists = tree.query_ball_point(mesh_xyz, r=float(radius))
    recv = np.repeat(np.arange(len(mesh_xyz)), [len(x) for x in lists])
    send = np.concatenate([np.asarray(x, dtype=np.int64) for x in lists]) if len(recv) else np.zeros(0, np.int64)
    order = np.lexsort((send, recv))
    return np.stack([send[order], recv[order]]).astype(np.int64)


def mesh_to_grid_edges(grid_xyz: np.ndarray, vertices: np.ndarray, faces: np.ndarray, k: int = 8) -> np.ndarray:
    """Directed edges ``(2, 3 N)`` mesh vertex -> grid point: each of the ``N`` grid points
    receives from the three vertices of the finest-mesh triangle that contains it.

    The containing face is searched among the ``k`` faces with the nearest centroids (a point
    lies in triangle ``abc`` when ``det(a, b, p)``, ``det(b, c, p)``, ``det(c, a, p)`` are all
    >= 0 for outward-oriented faces); points on an edge take the first face found.
    """
    cen = vertices[faces].mean(1)
    tree = cKDTree(cen)
    n = len(grid_xyz)
    found = np.full(n, -1, dtype=np.int64)
    kk = min(k, len(faces))
    while True:
        todo = np.flatnonzero(found < 0)
        if not len(todo):
            break
        _, cand = tree.query(grid_xyz[todo], k=kk)
        cand = cand.reshape(len(todo), kk)
        p = grid_xyz[todo][:, None, :]
        a, b, c = (vertices[faces[cand, i]] for i in range(3))
        tol = -1e-12
        inside = ((np.einsum("nkj,nkj->nk", np.cross(a, b), p) >= tol)
                  & (np.einsum("nkj,nkj->nk", np.cross(b, c), p) >= tol)
                  & (np.einsum("nkj,nkj->nk", np.cross(c, a), p) >= tol))
        hit = inside.any(1)
        found[todo[hit]] = cand[hit, inside[hit].argmax(1)]
        if kk == len(faces):
            if (found < 0).any():  # cannot happen for a closed mesh; guard against a silent gap
                raise RuntimeError("some grid points lie in no mesh triangle")
            break
        kk = min(4 * kk, len(faces))
    send = faces[found].reshape(-1)
    recv = np.repeat(np.arange(n), 3)
    return np.stack([send, recv]).astype(np.int64)


def edge_features(send_xyz: np.ndarray, recv_xyz: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """``(E, 4)``: chord length and the displacement ``x_send - x_recv`` in the receiver's local
    (east, north, up) frame. At a pole the frame of longitude 0 is used."""
    ps, pr = send_xyz[edges[0]], recv_xyz[edges[1]]
    lat, lon = xyz_to_latlon(pr)
    east = np.stack([-np.sin(lon), np.cos(lon), np.zeros_like(lon)], -1)
    north = np.stack([-np.sin(lat) * np.cos(lon), -np.sin(lat) * np.sin(lon), np.cos(lat)], -1)
    d = ps - pr
    disp = np.stack([np.einsum("ij,ij->i", d, east), np.einsum("ij,ij->i", d, north),
                     np.einsum("ij,ij->i", d, pr)], -1)
    return np.concatenate([np.linalg.norm(d, axis=1, keepdims=True), disp], 1)


def node_features(xyz: np.ndarray, lon_features: bool = True) -> np.ndarray:
    """``(N, 3)`` = ``cos lat, sin lon, cos lon`` (or ``(N, 1)`` = ``cos lat`` without longitude)."""
    lat, lon = xyz_to_latlon(xyz)
    cols = [np.cos(lat)] + ([np.sin(lon), np.cos(lon)] if lon_features else [])
    return np.stack(cols, -1)
