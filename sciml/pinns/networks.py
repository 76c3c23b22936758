"""The one fully connected network of sciml (PINNs, PINN-PM, score networks, DeepONet branch/trunk).

:class:`MLP` maps points ``(n, in_features)`` to ``(n, out_features)``. Options:
input normalisation to ``[-1, 1]`` from a box, exact periodicity in chosen inputs
(``x -> (cos(2 pi k x / L), sin(2 pi k x / L))``, k = 1..m), random Fourier features
(Tancik et al. 2020), Glorot or torch's default initialisation, an activation after the last
layer (a DeepONet trunk), float32 or float64 parameters. :func:`ScoreMLP` is the score network of
the particle methods (an :class:`MLP` with torch's initialisation).
"""
from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["MLP", "ScoreMLP", "ACTIVATIONS"]

ACTIVATIONS = {
    "tanh": nn.Tanh,
    "sin": None,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "softplus": nn.Softplus,
    "relu": nn.ReLU,
    "identity": nn.Identity,
}
INITS = ("glorot", "torch")


class _Sin(nn.Module):
    def forward(self, x):
        return torch.sin(x)


def _dtype(dtype):
    if dtype in (torch.float32, "float32"):
        return torch.float32
    if dtype in (torch.float64, "float64"):
        return torch.float64
    raise ValueError(f"dtype must be float32 or float64, got {dtype!r}")


class MLP(nn.Module):
    """Multilayer perceptron ``in_features -> [width] * depth -> out_features``.

    Parameters
    ----------
    in_features, out_features : int
        Input / output sizes.
    width, depth : int, optional
        Neurons per hidden layer; number of hidden layers.
    activation : {"tanh", "sin", "gelu", "silu", "softplus", "relu"}, optional
        Hidden-layer non-linearity.
    lower, upper : sequence of float, optional
        A box (length ``in_features``); inputs are mapped affinely to ``[-1, 1]``.
    periodic : dict, optional
        ``{input_index: period}``; those inputs enter only through
        ``cos/sin(2 pi k x / period)``, k = 1..``periodic_modes`` (exactly periodic output).
    fourier_features : int, optional
        Number ``m`` of random Fourier features ``[cos(2 pi B x), sin(2 pi B x)]`` with
        ``B ~ N(0, fourier_scale^2)`` of shape ``(m, in)``, fixed (a buffer); 0 = off.
    dtype : torch.dtype, optional
        ``torch.float32`` or ``torch.float64`` (parameters and buffers).
    seed : int, optional
        For a reproducible initialisation.
    init : {"glorot", "torch"}, optional
        Glorot-uniform weights and zero biases (from ``seed``), or ``nn.Linear``'s default,
        drawn from the global RNG.
    last_activation : bool, optional
        Apply the activation to the output too.

    Notes
    -----
    ``model.config`` holds the constructor arguments (JSON data), so checkpoints rebuild it.
    Without a box, periodic inputs or Fourier features the input may have leading batch axes
    ``(..., in_features)``.

    Examples
    --------
    >>> net = MLP(2, 1, width=16, depth=3, seed=0)
    >>> net(torch.rand(5, 2)).shape
    torch.Size([5, 1])
    >>> import math
    >>> wave = MLP(2, 1, width=16, depth=3, periodic={0: 2 * math.pi}, seed=0)   # periodic in x
    >>> x = torch.rand(4, 2)
    >>> bool(torch.allclose(wave(x), wave(x + torch.tensor([2 * math.pi, 0.0])), atol=1e-6))
    True
    """

    def __init__(self, in_features: int, out_features: int = 1, width: int = 20, depth: int = 4, *,
                 activation: str = "tanh", lower=None, upper=None, periodic: dict | None = None,
                 periodic_modes: int = 1, fourier_features: int = 0, fourier_scale: float = 1.0,
                 dtype=torch.float32, seed: int | None = None, init: str = "glorot", last_activation: bool = False):
        super().__init__()
        if init not in INITS:
            raise ValueError(f"init must be one of {INITS}, got {init!r}")
        for name, v in (("in_features", in_features), ("out_features", out_features), ("width", width)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be a positive int, got {v!r}")
        if isinstance(depth, bool) or not isinstance(depth, int) or depth < 1:
            raise ValueError(f"depth must be a positive int, got {depth!r}")
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {tuple(ACTIVATIONS)}, got {activation!r}")
        if fourier_features < 0 or (fourier_features and fourier_scale <= 0):
            raise ValueError("fourier_features must be >= 0 and fourier_scale > 0")
        if periodic_modes < 1:
            raise ValueError(f"periodic_modes must be >= 1, got {periodic_modes}")
        dtype = _dtype(dtype)
        self.config = {"in_features": in_features, "out_features": out_features, "width": width, "depth": depth,
                       "activation": activation,
                       "lower": None if lower is None else [float(v) for v in torch.as_tensor(lower).reshape(-1)],
                       "upper": None if upper is None else [float(v) for v in torch.as_tensor(upper).reshape(-1)],
                       "periodic": {str(k): float(v) for k, v in (periodic or {}).items()} or None,
                       "periodic_modes": int(periodic_modes), "fourier_features": int(fourier_features),
                       "fourier_scale": float(fourier_scale), "dtype": str(dtype).replace("torch.", ""),
                       "seed": seed, "init": init, "last_activation": bool(last_activation)}
        self.last_activation = bool(last_activation)
        self.in_features, self.out_features = in_features, out_features
        self.width, self.depth, self.activation = width, depth, activation
        gen = torch.Generator().manual_seed(seed) if seed is not None else None

        if (lower is None) != (upper is None):
            raise ValueError("give both lower and upper, or neither")
        if lower is not None:
            lo = torch.as_tensor(lower, dtype=dtype).reshape(-1)
            hi = torch.as_tensor(upper, dtype=dtype).reshape(-1)
            if lo.numel() != in_features or hi.numel() != in_features or not bool(torch.all(hi > lo)):
                raise ValueError(f"lower/upper must have {in_features} entries with upper > lower")
            self.register_buffer("lower", lo)
            self.register_buffer("upper", hi)
        else:
            self.lower = self.upper = None

        periodic = dict(periodic or {})
        for k, p in periodic.items():
            if not (0 <= int(k) < in_features) or not p > 0:
                raise ValueError(f"periodic must map input indices in [0, {in_features}) to positive periods, got {periodic}")
        self.periodic = {int(k): float(p) for k, p in periodic.items()}
        self.periodic_modes = int(periodic_modes)
        n_in = in_features + len(self.periodic) * (2 * periodic_modes - 1)

        if fourier_features:
            B = torch.randn(fourier_features, n_in, generator=gen, dtype=dtype) * fourier_scale
            self.register_buffer("fourier_B", B)
            n_in = 2 * fourier_features
        else:
            self.fourier_B = None

        sizes = [n_in] + [width] * depth + [out_features]
        self.layers = nn.ModuleList(nn.Linear(a, b, dtype=dtype) for a, b in zip(sizes[:-1], sizes[1:]))
        for lin in self.layers if init == "glorot" else ():
            bound = math.sqrt(6.0 / (lin.in_features + lin.out_features))  # Glorot uniform
            with torch.no_grad():
                lin.weight.uniform_(-bound, bound, generator=gen)
                lin.bias.zero_()
        self._plain = self.lower is None and not self.periodic and self.fourier_B is None
        act = ACTIVATIONS[activation]
        self.act = _Sin() if act is None else act()

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Input features fed to the first linear layer."""
        if x.ndim != 2 or x.shape[-1] != self.in_features:
            raise ValueError(f"input must have shape (n, {self.in_features}), got {tuple(x.shape)}")
        feats = []
        for i in range(self.in_features):
            xi = x[:, i:i + 1]
            if i in self.periodic:
                w = 2 * math.pi / self.periodic[i]
                k = torch.arange(1, self.periodic_modes + 1, dtype=x.dtype, device=x.device)
                feats += [torch.cos(w * k * xi), torch.sin(w * k * xi)]
            else:
                if self.lower is not None:
                    xi = 2 * (xi - self.lower[i]) / (self.upper[i] - self.lower[i]) - 1
                feats.append(xi)
        h = torch.cat(feats, dim=1)
        if self.fourier_B is not None:
            proj = 2 * math.pi * h @ self.fourier_B.T
            h = torch.cat([torch.cos(proj), torch.sin(proj)], dim=1)
        return h

    @property
    def supports_jet(self) -> bool:
        """Whether :meth:`jet` is available (tanh or sin activation)."""
        return self.activation in ("tanh", "sin")

    def _embed_jet(self, x, dims, second):
        """Embedding and its first derivatives along input ``dims`` and pure second derivatives
        along ``second``: tensors ``(n, f)``, ``(len(dims), n, f)``, ``(len(second), n, f)``."""
        m = len(second)
        vals, d1, d2 = [], [], []
        for i in range(self.in_features):
            xi = x[:, i:i + 1]
            sel = torch.tensor([1.0 if d == i else 0.0 for d in dims], dtype=x.dtype, device=x.device)[:, None, None]
            sel2 = torch.tensor([1.0 if d == i else 0.0 for d in second], dtype=x.dtype,
                                device=x.device)[:, None, None]
            if i in self.periodic:
                w = 2 * math.pi / self.periodic[i] * torch.arange(1, self.periodic_modes + 1, dtype=x.dtype,
                                                                  device=x.device)
                c, s = torch.cos(w * xi), torch.sin(w * xi)
                vals += [c, s]
                d1 += [sel * (-w * s), sel * (w * c)]
                d2 += [sel2 * (-w * w * c), sel2 * (-w * w * s)]
            else:
                scale = 1.0
                if self.lower is not None:
                    scale = 2 / (self.upper[i] - self.lower[i])
                    xi = scale * (xi - self.lower[i]) - 1
                vals.append(xi)
                d1.append(sel * scale * torch.ones_like(xi))
                d2.append(torch.zeros(m, *xi.shape, dtype=x.dtype, device=x.device))
        h, h1, h2 = torch.cat(vals, 1), torch.cat(d1, 2), torch.cat(d2, 2)
        if self.fourier_B is not None:
            B = 2 * math.pi * self.fourier_B.T
            z, z1, z2 = h @ B, h1 @ B, h2 @ B
            c, s = torch.cos(z), torch.sin(z)
            zs = z1[[dims.index(d) for d in second]]
            h = torch.cat([c, s], 1)
            h1 = torch.cat([-s * z1, c * z1], 2)
            h2 = torch.cat([-c * zs * zs - s * z2, -s * zs * zs + c * z2], 2)
        return h, h1, h2

    def jet(self, x: torch.Tensor, dims=None, second=None):
        """Output with its first and pure second input derivatives by forward (Taylor) propagation.

        x: ``(n, in_features)``; dims: inputs for first derivatives (default all); second: inputs for
        pure second derivatives (default ``dims``; must be a subset of ``dims``). Returns ``(u, du, d2u)``:
        ``u`` ``(n, out)``, ``du[j] = du/dx_{dims[j]}`` ``(len(dims), n, out)`` and
        ``d2u[j] = d2u/dx_{second[j]}^2`` ``(len(second), n, out)``. No input graph is needed (one reverse pass for the parameters only),
        which makes PDE residuals several times cheaper than nested autograd. tanh / sin only.
        """
        if not self.supports_jet or self.last_activation:
            raise ValueError(f"jet needs activation 'tanh' or 'sin' and no last_activation, got {self.activation!r}")
        if x.ndim != 2 or x.shape[-1] != self.in_features:
            raise ValueError(f"input must have shape (n, {self.in_features}), got {tuple(x.shape)}")
        dims = tuple(range(self.in_features)) if dims is None else tuple(int(d) for d in dims)
        if not dims or any(not 0 <= d < self.in_features for d in dims):
            raise ValueError(f"dims must be input indices in [0, {self.in_features}), got {dims}")
        second = dims if second is None else tuple(int(d) for d in second)
        if any(d not in dims for d in second):
            raise ValueError(f"second must be a subset of dims {dims}, got {second}")
        pos = [dims.index(d) for d in second]
        h, h1, h2 = self._embed_jet(x, dims, second)
        for lin in self.layers[:-1]:
            z = lin(h)
            z1 = h1 @ lin.weight.T
            z2 = h2 @ lin.weight.T
            if self.activation == "tanh":
                a = torch.tanh(z)
                da = 1 - a * a
                dda = -2 * a * da
            else:
                a, da = torch.sin(z), torch.cos(z)
                dda = -a
            zs = z1[pos]
            h, h1, h2 = a, da * z1, dda * zs * zs + da * z2
        out = self.layers[-1]
        return out(h), h1 @ out.weight.T, h2 @ out.weight.T

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(n, in_features) -> (n, out_features)``."""
        if self._plain and x.ndim >= 1 and x.shape[-1] == self.in_features:
            h = x  # the embedding is the identity
        else:
            h = self.embed(x)
        for lin in self.layers[:-1]:
            h = self.act(lin(h))
        h = self.layers[-1](h)
        return self.act(h) if self.last_activation else h


def ScoreMLP(in_dim: int, out_dim: int, width: int = 32, depth: int = 2, activation: str = "tanh") -> MLP:
    """Score network ``R^(in_dim) -> R^(out_dim)`` of the particle methods: an :class:`MLP` with
    torch's default initialisation (drawn from the global RNG), float32 (cast it with ``.to``).

    in_dim: d for ``s(v)``, d + 1 for ``s(t, v)``; activation: 'tanh' | 'softplus' | 'silu'.
    Input ``(..., in_dim)`` -> output ``(..., out_dim)``.
    """
    if activation not in ("tanh", "softplus", "silu"):
        raise ValueError(f"activation must be one of ['silu', 'softplus', 'tanh'], got {activation!r}")
    for name, val in (("in_dim", in_dim), ("out_dim", out_dim), ("width", width), ("depth", depth)):
        if isinstance(val, bool) or not isinstance(val, int) or val < 1:
            raise ValueError(f"{name} must be a positive integer, got {val!r}")
    return MLP(in_dim, out_dim, width, depth, activation=activation, init="torch")
