"""GraphCast (Lam et al. 2023): an encoder-processor-decoder graph network between a lat-lon
grid and an icosahedral multi-mesh.

* **Graphs** (built once with numpy/scipy, :mod:`sciml.operators._mesh`, kept as non-persistent
  buffers: they are rebuilt from the config, so checkpoints hold only weights): the multi-mesh
  (vertices of the icosahedron refined ``mesh_level`` times, edges of every level merged);
  grid -> mesh edges from each grid cell to the mesh vertices within ``radius_factor`` x the
  longest finest-mesh edge; mesh -> grid edges into each grid cell from the three vertices of
  the finest-mesh triangle that contains it.
* **Features**: nodes ``cos lat, sin lon, cos lon`` (grid nodes also the input channels); edges
  the length and the sender-minus-receiver displacement in the receiver's (east, north, up) frame.
* **Blocks** (every MLP is Linear-SiLU-Linear-LayerNorm, ``latent`` wide): embedders; the encoder
  (one interaction network grid -> mesh, a residual MLP on the grid nodes); the processor
  (``n_layers`` interaction networks on the multi-mesh, residual on nodes and edges); the decoder
  (one interaction network mesh -> grid, residual on the grid latent); an output MLP to
  ``out_channels``. An interaction network updates each edge from ``[edge, sender, receiver]``
  and each receiver from ``[node, sum of its incoming edges]``.

Message passing is a gather (``index_select``) and a sum over incoming edges; ``aggregation``
picks how the sum is done (``"index_add"``, the default and the fastest here, see
``benchmarks/graphcast_message_passing.py``; ``"scatter_reduce"``; ``"csr"``, a sparse matrix
product; ``"pyg"``, ``torch_geometric.utils.scatter``, extra ``sciml[pyg]``). No Python loops over nodes
or edges. The first layer of each edge MLP is applied to the nodes before the gather (a linear
map of a concatenation is a sum of linear maps), which is exact and cheaper when there are
fewer nodes than edges.

The network is not exactly equivariant to rotations in longitude: the icosahedron is
symmetric under 72 degree rotations only, and ``lon_features`` gives the nodes their absolute
longitude (see ``tests/operators/test_graphcast.py`` for the measured figure).
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .._util.extras import require
from .._util.validation import check_choice, check_float, check_int
from ..grids import LatLonGrid
from . import _mesh
from .layers import check_input

__all__ = ["GraphCast", "default_mesh_level", "build_graphs"]

AGGREGATIONS = ("index_add", "scatter_reduce", "csr", "pyg")


def _grid_xyz(nlat: int, nlon: int, lat_order: str) -> np.ndarray:
    g = LatLonGrid(nlat, nlon)
    lat = g.lat_rad if lat_order == "south_to_north" else g.lat_rad[::-1]
    return _mesh.grid_points(lat, g.lon_rad)


def default_mesh_level(nlat: int, nlon: int, radius_factor: float = 0.6, max_level: int = 6) -> int:
    """The finest refinement level (<= ``max_level``) at which every mesh vertex receives from at
    least one grid cell (1 at 22.5 deg, 2 at 11.25 deg, 3 at 5.625 deg)."""
    x = _grid_xyz(nlat, nlon, "south_to_north")
    best = 0
    for r, (v, f) in enumerate(_mesh.icosahedral_meshes(max_level)):
        e = _mesh.grid_to_mesh_edges(x, v, radius_factor * _mesh.max_edge_length(v, f))
        if np.bincount(e[1], minlength=len(v)).min() < 1:
            break
        best = r
    return best


def build_graphs(nlat: int, nlon: int, mesh_level: int, radius_factor: float = 0.6,
                 lat_order: str = "south_to_north", lon_features: bool = True) -> dict:
    """The three graphs and their static features (numpy).

    Returns a dict with ``mesh_xyz (Nm, 3)``, ``grid_xyz (Ng, 3)`` (row-major, ``Ng = nlat nlon``),
    ``mesh_edges``, ``g2m_edges``, ``m2g_edges`` (each ``(2, E)``: senders, receivers), their
    ``*_feat (E, 4)`` edge features, ``mesh_node_feat``, ``grid_node_feat`` and ``faces`` (finest mesh).
    """
    meshes = _mesh.icosahedral_meshes(mesh_level)
    v, f = meshes[-1]
    x = _grid_xyz(nlat, nlon, lat_order)
    mm = _mesh.multimesh_edges(meshes)
    g2m = _mesh.grid_to_mesh_edges(x, v, radius_factor * _mesh.max_edge_length(v, f))
    m2g = _mesh.mesh_to_grid_edges(x, v, f)
    return {"mesh_xyz": v, "grid_xyz": x, "faces": f, "mesh_edges": mm, "g2m_edges": g2m, "m2g_edges": m2g,
            "mesh_feat": _mesh.edge_features(v, v, mm), "g2m_feat": _mesh.edge_features(x, v, g2m),
            "m2g_feat": _mesh.edge_features(v, x, m2g),
            "mesh_node_feat": _mesh.node_features(v, lon_features),
            "grid_node_feat": _mesh.node_features(x, lon_features)}


class _MLP(nn.Module):
    """Linear-SiLU-Linear(-LayerNorm). The first layer is split by input part so that node
    parts can be applied before the gather."""

    def __init__(self, in_sizes, hidden: int, out: int, norm: bool = True):
        super().__init__()
        self.first = nn.ModuleList([nn.Linear(n, hidden, bias=(i == 0)) for i, n in enumerate(in_sizes)])
        self.second = nn.Linear(hidden, out)
        self.norm = nn.LayerNorm(out) if norm else nn.Identity()

    def tail(self, h):
        return self.norm(self.second(nn.functional.silu(h)))

    def forward(self, *parts):
        h = self.first[0](parts[0])
        for lin, p in zip(self.first[1:], parts[1:]):
            h = h + lin(p)
        return self.tail(h)


def _aggregate(msg, recv, n_recv: int, how: str, csr=None):
    """Sum of ``msg (B, E, C)`` over edges with the same receiver: ``(B, n_recv, C)``."""
    B, E, C = msg.shape
    if how == "index_add":
        return msg.new_zeros(B, n_recv, C).index_add_(1, recv, msg)
    if how == "scatter_reduce":
        return msg.new_zeros(B, n_recv, C).scatter_reduce_(1, recv.view(1, E, 1).expand(B, E, C), msg, "sum")
    if how == "csr":
        out = torch.sparse.mm(csr.to(msg.dtype), msg.transpose(0, 1).reshape(E, B * C))
        return out.reshape(n_recv, B, C).transpose(0, 1)
    from torch_geometric.utils import scatter

    return scatter(msg, recv, dim=1, dim_size=n_recv, reduce="sum")


class _InteractionNetwork(nn.Module):
    """Edge update from ``[edge, sender, receiver]``; receiver update from ``[node, sum of edges]``."""

    def __init__(self, latent: int):
        super().__init__()
        self.edge_mlp = _MLP((latent, latent, latent), latent, latent)
        self.node_mlp = _MLP((latent, latent), latent, latent)

    def forward(self, e, h_send, h_recv, graph, how):
        send, recv, csr = graph
        es, ed, ee = self.edge_mlp.first[1], self.edge_mlp.first[2], self.edge_mlp.first[0]
        pre = ee(e) + es(h_send).index_select(-2, send) + ed(h_recv).index_select(-2, recv)
        e_new = self.edge_mlp.tail(pre)  # (B, E, latent)
        agg = _aggregate(e_new, recv, h_recv.shape[-2], how, csr)
        return e_new, h_recv + self.node_mlp(h_recv, agg)


class GraphCast(nn.Module):
    """GraphCast on a lat-lon grid.

    Parameters
    ----------
    in_channels, out_channels : channels of the input / output fields (levels folded into channels).
    nlat, nlon : grid size (rows latitudes, cell-centred as :class:`sciml.grids.LatLonGrid`;
        columns longitudes from 0, periodic).
    mesh_level : refinement level ``r`` of the icosahedral multi-mesh (``10 4^r + 2`` vertices);
        ``None`` (default): :func:`default_mesh_level`, the finest level whose every vertex
        receives from the grid (2 at 11.25 deg). The resolved int is stored in ``config``.
    latent : width of all node and edge latents and MLP hidden layers.
    n_layers : processor layers (interaction networks on the multi-mesh).
    radius_factor : grid -> mesh radius as a multiple of the longest finest-mesh edge (0.6 as GraphCast).
    lat_order : ``"south_to_north"`` (default, CarbonBench) or ``"north_to_south"``.
    lon_features : give the nodes ``sin lon, cos lon`` as well as ``cos lat``.
    residual : add the first ``out_channels`` input channels to the output (for a backbone that
        predicts a state; leave False inside ``ConservativeEmulator``, whose backbone predicts an
        increment). Needs ``in_channels >= out_channels``.
    aggregation : ``"index_add"`` (default), ``"scatter_reduce"``, ``"csr"`` or ``"pyg"``; same sums.

    ``forward(x)``: (B, in_channels, nlat, nlon) -> (B, out_channels, nlat, nlon); another grid
    size gets its grid <-> mesh graphs built (and cached) on first use.
    ``model.config`` holds the constructor arguments: ``GraphCast(**model.config)``.

    Examples
    --------
    >>> import torch
    >>> from sciml.operators import GraphCast
    >>> model = GraphCast(7, 5, 16, 32, latent=32, n_layers=2)
    >>> model.config["mesh_level"], model(torch.randn(2, 7, 16, 32)).shape
    (2, torch.Size([2, 5, 16, 32]))
    """

    model_name = "graphcast"

    def __init__(self, in_channels: int, out_channels: int, nlat: int, nlon: int, *, mesh_level: int | None = None,
                 latent: int = 64, n_layers: int = 8, radius_factor: float = 0.6, lat_order: str = "south_to_north",
                 lon_features: bool = True, residual: bool = False, aggregation: str = "index_add"):
        super().__init__()
        in_channels = check_int(in_channels, "in_channels", min=1)
        out_channels = check_int(out_channels, "out_channels", min=1)
        nlat, nlon = check_int(nlat, "nlat", min=2), check_int(nlon, "nlon", min=3)
        latent, n_layers = check_int(latent, "latent", min=1), check_int(n_layers, "n_layers", min=0)
        radius_factor = check_float(radius_factor, "radius_factor", min=0, min_open=True)
        check_choice(lat_order, "lat_order", ("south_to_north", "north_to_south"))
        check_choice(aggregation, "aggregation", AGGREGATIONS)
        for name, v in (("lon_features", lon_features), ("residual", residual)):
            if not isinstance(v, bool):
                raise TypeError(f"{name} must be a bool, got {type(v).__name__}")
        if residual and in_channels < out_channels:
            raise ValueError(f"residual=True needs in_channels >= out_channels, got {in_channels} < {out_channels}")
        if mesh_level is None:
            mesh_level = default_mesh_level(nlat, nlon, radius_factor)
        mesh_level = check_int(mesh_level, "mesh_level", min=0)
        if mesh_level > 7:
            raise ValueError(f"mesh_level must be <= 7 (655,362 vertices), got {mesh_level}")
        if aggregation == "pyg":
            require("torch_geometric", "pyg", "GraphCast(aggregation='pyg')")
        self.config = dict(in_channels=in_channels, out_channels=out_channels, nlat=nlat, nlon=nlon,
                           mesh_level=mesh_level, latent=latent, n_layers=n_layers, radius_factor=radius_factor,
                           lat_order=lat_order, lon_features=lon_features, residual=residual,
                           aggregation=aggregation)
        self.in_channels, self.out_channels, self.nlat, self.nlon = in_channels, out_channels, nlat, nlon
        self.aggregation, self.residual = aggregation, residual
        nf = 3 if lon_features else 1
        g = build_graphs(nlat, nlon, mesh_level, radius_factor, lat_order, lon_features)
        self.n_mesh = len(g["mesh_xyz"])
        f32 = lambda a: torch.as_tensor(a, dtype=torch.float32)  # noqa: E731
        self.register_buffer("mesh_node_feat", f32(g["mesh_node_feat"]), persistent=False)
        self.register_buffer("mesh_edge_feat", f32(g["mesh_feat"]), persistent=False)
        self.register_buffer("mesh_edges", torch.as_tensor(g["mesh_edges"]), persistent=False)
        self._grid_cache = {}
        self._set_grid_buffers(g)
        self.grid_embed = _MLP((in_channels + nf,), latent, latent)
        self.mesh_embed = _MLP((nf,), latent, latent)
        self.g2m_edge_embed = _MLP((4,), latent, latent)
        self.mesh_edge_embed = _MLP((4,), latent, latent)
        self.m2g_edge_embed = _MLP((4,), latent, latent)
        self.encoder = _InteractionNetwork(latent)
        self.grid_update = _MLP((latent,), latent, latent)
        self.processor = nn.ModuleList([_InteractionNetwork(latent) for _ in range(n_layers)])
        self.decoder = _InteractionNetwork(latent)
        self.head = _MLP((latent,), latent, out_channels, norm=False)

    # ------------------------------------------------------------------ graphs
    def _set_grid_buffers(self, g):
        f32 = lambda a: torch.as_tensor(a, dtype=torch.float32)  # noqa: E731
        self.register_buffer("grid_node_feat", f32(g["grid_node_feat"]), persistent=False)
        self.register_buffer("g2m_edges", torch.as_tensor(g["g2m_edges"]), persistent=False)
        self.register_buffer("g2m_feat", f32(g["g2m_feat"]), persistent=False)
        self.register_buffer("m2g_edges", torch.as_tensor(g["m2g_edges"]), persistent=False)
        self.register_buffer("m2g_feat", f32(g["m2g_feat"]), persistent=False)

    def _grid_graph(self, nlat, nlon, ref):
        """(grid_node_feat, g2m_edges, g2m_feat, m2g_edges, m2g_feat) for a grid size, on ``ref``'s device/dtype."""
        if (nlat, nlon) == (self.nlat, self.nlon):
            return self.grid_node_feat, self.g2m_edges, self.g2m_feat, self.m2g_edges, self.m2g_feat
        key = (nlat, nlon)
        if key not in self._grid_cache:
            c = self.config
            g = build_graphs(nlat, nlon, c["mesh_level"], c["radius_factor"], c["lat_order"], c["lon_features"])
            self._grid_cache[key] = tuple(torch.as_tensor(g[k]) for k in
                                          ("grid_node_feat", "g2m_edges", "g2m_feat", "m2g_edges", "m2g_feat"))
        out = []
        for t in self._grid_cache[key]:
            out.append(t.to(ref.device, ref.dtype) if t.is_floating_point() else t.to(ref.device))
        return tuple(out)

    def _csr(self, edges, n_recv, n_send_edges):
        """Sparse (n_recv, E) incidence matrix for ``aggregation="csr"`` (cached by edges identity)."""
        if self.aggregation != "csr":
            return None
        key = (edges.data_ptr(), n_recv, str(edges.device))
        cache = self.__dict__.setdefault("_csr_cache", {})
        if key not in cache:
            recv = edges[1]
            idx = torch.stack([recv, torch.arange(n_send_edges, device=edges.device)])
            cache[key] = torch.sparse_coo_tensor(idx, torch.ones(n_send_edges, device=edges.device),
                                                 (n_recv, n_send_edges)).to_sparse_csr()
        return cache[key]

    # ------------------------------------------------------------------ forward
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, in_channels, nlat, nlon) -> (B, out_channels, nlat, nlon)``."""
        check_input("x", x, ndim=2, channels=self.in_channels)
        B, _, nlat, nlon = x.shape
        gfeat, g2m, g2m_feat, m2g, m2g_feat = self._grid_graph(nlat, nlon, x)
        ng, how = nlat * nlon, self.aggregation
        xg = x.flatten(2).transpose(1, 2)  # (B, Ng, C), row-major like the graphs
        hg = self.grid_embed(torch.cat([xg, gfeat.to(x.dtype).expand(B, -1, -1)], dim=-1))
        hm = self.mesh_embed(self.mesh_node_feat.to(x.dtype)).expand(B, -1, -1)
        # encoder: grid -> mesh
        e = self.g2m_edge_embed(g2m_feat.to(x.dtype))
        _, hm = self.encoder(e, hg, hm, (g2m[0], g2m[1], self._csr(g2m, self.n_mesh, g2m.shape[1])), how)
        hg = hg + self.grid_update(hg)
        # processor on the multi-mesh
        mm = self.mesh_edges
        graph = (mm[0], mm[1], self._csr(mm, self.n_mesh, mm.shape[1]))
        e = self.mesh_edge_embed(self.mesh_edge_feat.to(x.dtype))
        for layer in self.processor:
            e_new, hm = layer(e, hm, hm, graph, how)
            e = e + e_new
        # decoder: mesh -> grid
        e = self.m2g_edge_embed(m2g_feat.to(x.dtype))
        _, hg = self.decoder(e, hm, hg, (m2g[0], m2g[1], self._csr(m2g, ng, m2g.shape[1])), how)
        y = self.head(hg).transpose(1, 2).reshape(B, self.out_channels, nlat, nlon)
        if self.residual:
            y = y + x[:, : self.out_channels]
        return y
