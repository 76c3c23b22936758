"""Ordering a set of linear systems so that neighbours in the order are similar.

``sort_systems(features, method)`` returns a permutation of ``range(N)``:

* ``"greedy"`` -- SKR's nearest-neighbour walk in the full feature space: start at
  the system with the smallest first principal coordinate, repeatedly go to the
  nearest unvisited system. ``O(N^2 d)`` time, ``O(N d)`` memory.
* ``"kdtree"`` -- the same walk on a PCA embedding (``dims`` coordinates, default 4):
  ``scipy.spatial.cKDTree`` gives every system's K nearest neighbours; the walk goes
  to the nearest unvisited neighbour, else to the nearest unvisited neighbour of a
  neighbour, else (dead end) to the nearer of the unvisited systems adjacent along a
  Hilbert curve. ``O(N (K^2 + log N))``.
* ``"hilbert"`` -- sort by the index on a Hilbert space-filling curve through the
  PCA embedding (``dims`` coordinates, default 3, quantised to ``63 // dims`` bits),
  ``O(N log N)``.
"""
from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

__all__ = ["sort_systems", "pca_embed", "path_length", "SORT_METHODS"]

SORT_METHODS = ("greedy", "kdtree", "hilbert")


def _as_features(features) -> np.ndarray:
    if isinstance(features, (list, tuple)):
        if len(features) == 0:
            raise ValueError("features must hold at least one system")
        features = np.stack([np.asarray(f, dtype=float).ravel() for f in features])
    X = np.asarray(features, dtype=float)
    if X.ndim == 1:
        X = X[:, None]
    if X.ndim > 2:
        X = X.reshape(X.shape[0], -1)
    if X.shape[0] == 0:
        raise ValueError("features must hold at least one system")
    if not np.all(np.isfinite(X)):
        raise ValueError("features has non-finite values")
    return X


def pca_embed(features, dims: int, seed: int = 0) -> np.ndarray:
    """Coordinates of the rows of ``features`` (``(N, d)``) on their ``dims`` leading principal axes, ``(N, dims)``."""
    X = _as_features(features)
    X = X - X.mean(axis=0)
    N, d = X.shape
    dims = int(min(dims, N, d))
    if d <= dims:
        return X.copy()
    if min(N, d) <= 2000:
        if N <= d:
            lam, V = np.linalg.eigh(X @ X.T)
            idx = np.argsort(lam)[::-1][:dims]
            return V[:, idx] * np.sqrt(np.maximum(lam[idx], 0.0))
        lam, V = np.linalg.eigh(X.T @ X)
        idx = np.argsort(lam)[::-1][:dims]
        return X @ V[:, idx]
    # randomised range finder (Halko, Martinsson & Tropp 2011), two power iterations
    rng = np.random.default_rng(seed)
    Y = X @ rng.standard_normal((d, dims + 10))
    for _ in range(2):
        Y, _r = np.linalg.qr(Y)
        Y = X @ (X.T @ Y)
    Q, _r = np.linalg.qr(Y)
    _u, s, Vt = np.linalg.svd(Q.T @ X, full_matrices=False)
    return X @ Vt[:dims].T


def path_length(features, order) -> float:
    """Sum of Euclidean distances between consecutive systems of ``order``."""
    X = _as_features(features)
    order = np.asarray(order)
    return float(np.linalg.norm(np.diff(X[order], axis=0), axis=1).sum())


def _greedy(X: np.ndarray, start: int) -> np.ndarray:
    N = X.shape[0]
    sq = np.einsum("ij,ij->i", X, X)
    visited = np.zeros(N, dtype=bool)
    order = np.empty(N, dtype=np.int64)
    cur = start
    for t in range(N):
        order[t] = cur
        visited[cur] = True
        if t == N - 1:
            break
        d2 = sq - 2.0 * (X @ X[cur]) + sq[cur]
        d2[visited] = np.inf
        cur = int(np.argmin(d2))
    return order


def _find(parent, i):
    """Path-compressed lookup in a skip list over positions (``parent[i] == i`` means free)."""
    root = i
    while parent[root] != root:
        root = parent[root]
    while parent[i] != root:
        parent[i], i = root, parent[i]
    return root


def _kdtree_walk(Y: np.ndarray, start: int, K: int = 10) -> np.ndarray:
    """Greedy nearest-unvisited walk on the K-nearest-neighbour graph of ``Y`` (cKDTree).

    Next system: the nearest unvisited of the K nearest neighbours; else the nearest
    unvisited among the neighbours' neighbours; else (a dead end) the nearest of the two
    unvisited points adjacent to the current one along a Hilbert curve through ``Y``,
    found in amortised O(1) with skip pointers. Total cost O(N K^2 + N log N).
    """
    N = Y.shape[0]
    K = min(K, N - 1)
    _d, nb = cKDTree(Y).query(Y, k=K + 1)
    nb = nb[:, 1:]
    nbl = nb.tolist()
    hil = _hilbert_order(Y)
    pos = np.empty(N, dtype=np.int64)
    pos[hil] = np.arange(N)
    pos = pos.tolist()
    hil = hil.tolist()
    fwd = list(range(N + 1))  # fwd skip: smallest free position >= i (N = none)
    bwd = list(range(N + 1))  # bwd skip over shifted positions: largest free position <= i-1, 0 = none
    visited = bytearray(N)
    order = np.empty(N, dtype=np.int64)
    cur = start
    for t in range(N):
        order[t] = cur
        visited[cur] = 1
        p = pos[cur]
        fwd[p] = p + 1
        bwd[p + 1] = p
        if t == N - 1:
            break
        nxt = -1
        for j in nbl[cur]:
            if not visited[j]:
                nxt = j
                break
        if nxt < 0:
            cand = {j2 for j in nbl[cur] for j2 in nbl[j] if not visited[j2]}
            if cand:
                c = np.fromiter(cand, dtype=np.int64)
                nxt = int(c[np.argmin(((Y[c] - Y[cur]) ** 2).sum(axis=1))])
            else:
                options = []
                f = _find(fwd, p)
                if f < N:
                    options.append(hil[f])
                g = _find(bwd, p + 1)
                if g > 0:
                    options.append(hil[g - 1])
                nxt = min(options, key=lambda j: float(((Y[j] - Y[cur]) ** 2).sum()))
        cur = nxt
    return order


def _hilbert_order(Y: np.ndarray) -> np.ndarray:
    D = Y.shape[1]
    bits = max(1, min(21, 63 // D))
    lo, hi = Y.min(axis=0), Y.max(axis=0)
    span = np.where(hi > lo, hi - lo, 1.0)
    Q = np.floor((Y - lo) / span * (2 ** bits - 1)).astype(np.int64)
    return np.argsort(_hilbert_index(Q, bits), kind="stable").astype(np.int64)


def _hilbert_index(Q: np.ndarray, bits: int) -> np.ndarray:
    """Hilbert-curve index of integer points ``Q`` (``(N, n)``, values < 2**bits), Skilling's transform."""
    X = [Q[:, i].astype(np.uint64) for i in range(Q.shape[1])]
    n = len(X)
    one = np.uint64(1)
    Mbit = one << np.uint64(bits - 1)
    q = Mbit
    while q > one:
        p = q - one
        for i in range(n):
            hit = (X[i] & q) != 0
            # invert low bits of X[0] where bit q of X[i] is set, else exchange low bits of X[0] and X[i]
            t = (X[0] ^ X[i]) & p
            x0_inv = X[0] ^ p
            x0_ex = X[0] ^ t
            xi_ex = X[i] ^ t
            if i == 0:
                X[0] = np.where(hit, x0_inv, X[0])
            else:
                X[0], X[i] = np.where(hit, x0_inv, x0_ex), np.where(hit, X[i], xi_ex)
        q >>= one
    for i in range(1, n):
        X[i] = X[i] ^ X[i - 1]
    t = np.zeros_like(X[0])
    q = Mbit
    while q > one:
        t = np.where((X[n - 1] & q) != 0, t ^ (q - one), t)
        q >>= one
    for i in range(n):
        X[i] = X[i] ^ t
    h = np.zeros_like(X[0])
    for b in range(bits - 1, -1, -1):
        for i in range(n):
            h = (h << one) | ((X[i] >> np.uint64(b)) & one)
    return h


def sort_systems(features, method: str = "greedy", *, dims: int | None = None, seed: int = 0) -> np.ndarray:
    """Permutation that orders systems so that consecutive ones have similar features.

    features: ``(N, d)`` array (or a list of N arrays, each flattened) -- e.g. coefficient
        fields or PDE parameters of the systems.
    method: ``"greedy"`` (SKR, O(N^2)), ``"kdtree"`` or ``"hilbert"`` (both scale to 1e5+ systems).
    dims: PCA dimensions for kdtree (default 4) and hilbert (default 3).
    seed: seed of the randomised PCA (large inputs only).
    Returns an int64 array, a permutation of ``range(N)``: solve system ``order[0]`` first.
    """
    if method not in SORT_METHODS:
        raise ValueError(f"method must be one of {SORT_METHODS}, got {method!r}")
    if dims is not None and (isinstance(dims, bool) or not isinstance(dims, (int, np.integer)) or dims < 1):
        raise ValueError(f"dims must be a positive integer, got {dims!r}")
    X = _as_features(features)
    N = X.shape[0]
    if N == 1:
        return np.zeros(1, dtype=np.int64)
    if method == "greedy":
        start = int(np.argmin(pca_embed(X, 1, seed)[:, 0]))
        return _greedy(X - X.mean(axis=0), start)
    if method == "kdtree":
        Y = pca_embed(X, 4 if dims is None else dims, seed)
        return _kdtree_walk(Y, int(np.argmin(Y[:, 0])))
    return _hilbert_order(pca_embed(X, 3 if dims is None else dims, seed))
