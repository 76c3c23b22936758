"""DeepONet (Lu et al. 2021) and POD-DeepONet (Lu et al. 2022) on gridded fields.

``G(a)(y) = sum_k b_k(a) t_k(y) + b_0``: a *branch* MLP reads the input field at fixed sensor
points (the grid values, flattened) and returns coefficients ``b_k``; a *trunk* MLP maps an
output coordinate ``y`` in [0, 1]^d to basis functions ``t_k(y)``. POD-DeepONet replaces the
trunk with the leading POD modes (principal components) of the training outputs.

Both take and return channel-first grids like the other operators, so they run on the same
Darcy data: ``(B, in_channels, H, W) -> (B, out_channels, H, W)``.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .._util.validation import check_int, check_int_tuple
from .layers import check_input, get_activation

__all__ = ["DeepONet", "PODDeepONet"]


def _MLP(sizes, non_linearity: str, last_activation: bool):
    """Branch / trunk network: sciml's one :class:`~sciml.pinns.networks.MLP` (torch initialisation)."""
    from ..pinns.networks import MLP

    get_activation(non_linearity)  # the operators' activation names and their error message
    return MLP(sizes[0], sizes[-1], sizes[1], len(sizes) - 2, activation=non_linearity, init="torch",
               last_activation=last_activation)


def _node_grid(shape, device, dtype, periodic: bool = False) -> torch.Tensor:
    """Coordinates ``(prod(shape), d)`` of the nodes ``linspace(0, 1, n)`` per axis, or with
    ``periodic`` of the torus's ``j / n`` (its two ends are one point)."""
    axes = [torch.arange(n, device=device, dtype=dtype) / n if periodic
            else torch.linspace(0.0, 1.0, n, device=device, dtype=dtype) for n in shape]
    return torch.stack(torch.meshgrid(*axes, indexing="ij"), dim=-1).reshape(-1, len(shape))


def _resample(x: torch.Tensor, shape) -> torch.Tensor:
    """Bilinear/trilinear resampling of node-based grids (corners kept) to ``shape``."""
    if tuple(x.shape[2:]) == tuple(shape):
        return x
    mode = {1: "linear", 2: "bilinear", 3: "trilinear"}[len(shape)]
    return F.interpolate(x, size=tuple(shape), mode=mode, align_corners=True)


def _check_sensors(sensor_shape, branch_in: int, in_channels: int, ndim: int):
    """``sensor_shape`` as a tuple of ``ndim`` ints whose points times ``in_channels`` are ``branch_in``."""
    if sensor_shape is None:
        return None
    sensor_shape = check_int_tuple(sensor_shape, "sensor_shape", min=1, length=ndim)
    if in_channels * math.prod(sensor_shape) != branch_in:
        raise ValueError(f"branch_in must equal in_channels * prod(sensor_shape) = "
                         f"{in_channels * math.prod(sensor_shape)}, got {branch_in}")
    return sensor_shape


class DeepONet(nn.Module):
    """Unstacked DeepONet with an MLP branch and an MLP trunk.

    Parameters
    ----------
    branch_in : int
        Number of sensor values the branch reads: ``in_channels * prod(sensor_shape)``.
    trunk_in : int
        Dimension of the output coordinates (2 for fields on the unit square).
    width, depth : int
        Hidden width and number of hidden layers of both MLPs.
    n_basis : int
        Number of basis functions ``t_k`` (per output channel for the branch).
    in_channels, out_channels : int
    sensor_shape : tuple of int or None
        Grid on which the branch reads its sensors. If given, inputs on another grid are
        resampled to it (linear interpolation on node grids), so the model also runs at other
        resolutions; if None, the input must have exactly ``branch_in`` values per sample.
    non_linearity : str
    periodic_harmonics : int
        0 (default): the trunk reads the coordinate ``y``, and the grid's nodes are
        ``linspace(0, 1, n)`` per axis. ``K > 0``: the output is periodic with period 1 in every
        coordinate: the trunk reads ``cos(2 pi k y_i), sin(2 pi k y_i)`` for ``k = 1..K`` on each
        axis (Lu et al. 2022's Burgers trunk has K = 2), and the grid's nodes are the torus's
        ``j / n``. The branch's sensors are still resampled on node grids.

    Shapes: ``(B, in_channels, *spatial) -> (B, out_channels, *spatial)`` with
    ``len(spatial) == trunk_in``; outputs are evaluated at the nodes of the input grid.

    Examples
    --------
    >>> import torch
    >>> from sciml.operators import DeepONet
    >>> model = DeepONet(branch_in=64, trunk_in=1, width=32, n_basis=16, periodic_harmonics=2)
    >>> u0 = torch.randn(4, 1, 64)
    >>> model(u0).shape
    torch.Size([4, 1, 64])
    >>> y = torch.tensor([[0.25], [1.25]])  # one point and its periodic image
    >>> out = model(u0, coords=y)
    >>> bool(torch.allclose(out[..., 0], out[..., 1], atol=1e-5))
    True
    """

    model_name = "deeponet"

    def __init__(self, branch_in: int, trunk_in: int = 2, width: int = 128, depth: int = 3, n_basis: int = 64,
                 in_channels: int = 1, out_channels: int = 1, sensor_shape=None, non_linearity: str = "gelu",
                 periodic_harmonics: int = 0):
        super().__init__()
        branch_in = check_int(branch_in, "branch_in", min=1)
        trunk_in = check_int(trunk_in, "trunk_in", min=1)
        width = check_int(width, "width", min=1)
        depth = check_int(depth, "depth", min=1)
        n_basis = check_int(n_basis, "n_basis", min=1)
        in_channels = check_int(in_channels, "in_channels", min=1)
        out_channels = check_int(out_channels, "out_channels", min=1)
        periodic_harmonics = check_int(periodic_harmonics, "periodic_harmonics", min=0)
        get_activation(non_linearity)
        sensor_shape = _check_sensors(sensor_shape, branch_in, in_channels, trunk_in)
        self.config = dict(branch_in=branch_in, trunk_in=trunk_in, width=width, depth=depth, n_basis=n_basis,
                           in_channels=in_channels, out_channels=out_channels,
                           sensor_shape=None if sensor_shape is None else list(sensor_shape),
                           non_linearity=non_linearity, periodic_harmonics=periodic_harmonics)
        self.periodic_harmonics = periodic_harmonics
        if periodic_harmonics:
            self.register_buffer("_wavenumbers", 2 * math.pi * torch.arange(1, periodic_harmonics + 1.0),
                                 persistent=False)
        self.branch_in, self.trunk_in, self.n_basis = branch_in, trunk_in, n_basis
        self.in_channels, self.out_channels, self.sensor_shape = in_channels, out_channels, sensor_shape
        self.branch = _MLP([branch_in] + [width] * depth + [n_basis * out_channels], non_linearity, False)
        features = trunk_in * 2 * periodic_harmonics if periodic_harmonics else trunk_in
        self.trunk = _MLP([features] + [width] * depth + [n_basis], non_linearity, True)
        self.bias = nn.Parameter(torch.zeros(out_channels))

    def _branch_input(self, x: torch.Tensor) -> torch.Tensor:
        check_input("x", x, ndim=self.trunk_in, channels=self.in_channels)
        if self.sensor_shape is not None:
            x = _resample(x, self.sensor_shape)
        flat = x.reshape(x.shape[0], -1)
        if flat.shape[1] != self.branch_in:
            raise ValueError(f"x has {flat.shape[1]} values per sample, branch_in is {self.branch_in} "
                             "(give sensor_shape to resample other resolutions)")
        return flat

    def forward(self, x: torch.Tensor, coords: torch.Tensor | None = None) -> torch.Tensor:
        """Evaluate on the input grid, or at ``coords`` ``(P, trunk_in)`` -> ``(B, out_channels, P)``."""
        shape = x.shape[2:]
        b = self.branch(self._branch_input(x)).reshape(x.shape[0], self.out_channels, self.n_basis)
        grid = coords if coords is not None else _node_grid(shape, x.device, x.dtype, self.periodic_harmonics > 0)
        if self.periodic_harmonics:  # (P, d) -> (P, d * 2K): cos, sin of each harmonic on each axis
            phase = grid[:, :, None] * self._wavenumbers.to(grid.dtype)
            grid = torch.cat([phase.cos(), phase.sin()], dim=-1).reshape(grid.shape[0], -1)
        t = self.trunk(grid)  # (P, n_basis)
        y = torch.einsum("bok,pk->bop", b, t) / math.sqrt(self.n_basis) + self.bias[:, None]
        return y if coords is not None else y.reshape(x.shape[0], self.out_channels, *shape)


class PODDeepONet(nn.Module):
    """POD-DeepONet: branch MLP coefficients on the POD modes of the training outputs.

    Parameters
    ----------
    branch_in : int
        ``in_channels * prod(sensor_shape)`` (the branch's input size).
    out_shape : tuple of int
        Grid of the outputs (and of the POD modes).
    n_basis : int
        Number of POD modes kept.
    width, depth : int
        Branch MLP size.
    in_channels, out_channels : int
    sensor_shape : tuple of int or None
        As in ``DeepONet``.

    Call ``fit_pod(y)`` with the training outputs ``(N, out_channels, *out_shape)`` before
    training: it stores their mean and leading right singular vectors (``torch.linalg.svd``) as
    buffers, so they travel with ``state_dict``. Outputs are on ``out_shape``; when the input
    grid differs, the output is interpolated to it.
    """

    model_name = "pod-deeponet"

    def __init__(self, branch_in: int, out_shape, n_basis: int = 32, width: int = 128, depth: int = 3,
                 in_channels: int = 1, out_channels: int = 1, sensor_shape=None, non_linearity: str = "gelu"):
        super().__init__()
        branch_in = check_int(branch_in, "branch_in", min=1)
        out_shape = check_int_tuple(out_shape, "out_shape", min=1)
        n_basis = check_int(n_basis, "n_basis", min=1)
        width = check_int(width, "width", min=1)
        depth = check_int(depth, "depth", min=1)
        in_channels = check_int(in_channels, "in_channels", min=1)
        out_channels = check_int(out_channels, "out_channels", min=1)
        get_activation(non_linearity)
        n_points = math.prod(out_shape)
        if n_basis > n_points:
            raise ValueError(f"n_basis must be <= the number of output points {n_points}, got {n_basis}")
        sensor_shape = _check_sensors(sensor_shape, branch_in, in_channels, len(out_shape))
        self.config = dict(branch_in=branch_in, out_shape=list(out_shape), n_basis=n_basis, width=width, depth=depth,
                           in_channels=in_channels, out_channels=out_channels,
                           sensor_shape=None if sensor_shape is None else list(sensor_shape),
                           non_linearity=non_linearity)
        self.branch_in, self.out_shape, self.n_basis = branch_in, out_shape, n_basis
        self.in_channels, self.out_channels, self.sensor_shape = in_channels, out_channels, sensor_shape
        self.branch = _MLP([branch_in] + [width] * depth + [n_basis * out_channels], non_linearity, False)
        self.register_buffer("pod_mean", torch.zeros(out_channels, n_points))
        self.register_buffer("pod_modes", torch.zeros(out_channels, n_basis, n_points))
        self.register_buffer("pod_scale", torch.ones(out_channels, n_basis))
        self.register_buffer("fitted", torch.zeros((), dtype=torch.bool))

    @torch.no_grad()
    def fit_pod(self, y: torch.Tensor) -> torch.Tensor:
        """Fit mean and POD modes to outputs ``y`` ``(N, out_channels, *out_shape)``.

        Returns the fraction of the centred variance captured by the kept modes, per channel.
        """
        if not isinstance(y, torch.Tensor):
            raise TypeError(f"y must be a torch.Tensor, got {type(y).__name__}")
        if tuple(y.shape[1:]) != (self.out_channels, *self.out_shape):
            raise ValueError(f"y must have shape (N, {self.out_channels}, {', '.join(map(str, self.out_shape))}), "
                             f"got {tuple(y.shape)}")
        if y.shape[0] < self.n_basis:
            raise ValueError(f"y needs at least n_basis={self.n_basis} samples, got {y.shape[0]}")
        flat = y.reshape(y.shape[0], self.out_channels, -1).to(torch.float64)
        captured = []
        for c in range(self.out_channels):
            mean = flat[:, c].mean(0)
            _, s, vh = torch.linalg.svd(flat[:, c] - mean, full_matrices=False)
            self.pod_mean[c] = mean.to(self.pod_mean.dtype)
            self.pod_modes[c] = vh[: self.n_basis].to(self.pod_modes.dtype)
            # typical coefficient size, so the branch learns O(1) numbers
            self.pod_scale[c] = (s[: self.n_basis] / math.sqrt(y.shape[0])).clamp_min(1e-12).to(self.pod_scale.dtype)
            energy = s**2
            captured.append((energy[: self.n_basis].sum() / energy.sum().clamp_min(1e-300)).item())
        self.fitted.fill_(True)
        return torch.tensor(captured)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, in_channels, *spatial) -> (B, out_channels, *spatial)``."""
        if not bool(self.fitted):
            raise RuntimeError("PODDeepONet.fit_pod(y_train) must be called before the model is used")
        check_input("x", x, ndim=len(self.out_shape), channels=self.in_channels)
        shape = tuple(x.shape[2:])
        xs = _resample(x, self.sensor_shape) if self.sensor_shape is not None else x
        flat = xs.reshape(x.shape[0], -1)
        if flat.shape[1] != self.branch_in:
            raise ValueError(f"x has {flat.shape[1]} values per sample, branch_in is {self.branch_in} "
                             "(give sensor_shape to resample other resolutions)")
        coef = self.branch(flat).reshape(x.shape[0], self.out_channels, self.n_basis) * self.pod_scale
        y = torch.einsum("bok,okp->bop", coef, self.pod_modes) + self.pod_mean
        y = y.reshape(x.shape[0], self.out_channels, *self.out_shape)
        return _resample(y, shape) if shape != self.out_shape else y
