"""Complex weight tensors for spectral convolutions: dense, CP or Tucker factorised.

A spectral convolution's weight is a complex tensor of shape
``(in_channels, out_channels, *modes)``. Factorising it (Kossaifi et al. 2023, TFNO) cuts the
parameter count: CP stores ``rank`` columns per mode, Tucker a small core and one factor matrix
per mode. Ranks given as a float in ``(0, 1]`` are a fraction of the dense parameter count and are
turned into integer ranks by tensorly's own rules (``validate_cp_rank`` / ``validate_tucker_rank``);
tensorly is therefore needed, and imported, only when a factorisation is requested.

Complex parameters are stored as real tensors with a trailing axis of size 2 (real, imaginary),
so optimisers, weight decay, gradient clipping, AMP scalers and DDP all see plain real tensors.
The full tensor is rebuilt with ``torch.einsum`` / matrix products (the same contraction as
``tensorly.cp_to_tensor`` / ``tensorly.tucker_to_tensor``, checked against them in the tests)
so that the reconstruction stays inside autograd and costs a few milliseconds.
"""
from __future__ import annotations

import math
import string

import torch
from torch import nn

from .._util.extras import require

__all__ = ["SpectralWeight", "DenseWeight", "CPWeight", "TuckerWeight", "make_spectral_weight", "FACTORIZATIONS",
           "SPECTRAL_INITS", "check_spectral_init"]

FACTORIZATIONS = (None, "dense", "cp", "tucker")


def _tensorly():
    return require("tensorly", "tensorly", "factorized spectral weights (factorization='cp' or 'tucker')")


def _complex_param(shape, std: float) -> nn.Parameter:
    """Real parameter of shape ``(*shape, 2)`` holding a complex normal tensor with E|z|^2 = std^2."""
    return nn.Parameter(torch.randn(*shape, 2) * (std / math.sqrt(2.0)))


def _as_complex(p: torch.Tensor) -> torch.Tensor:
    return torch.view_as_complex(p)


class SpectralWeight(nn.Module):
    """Base class: ``full()`` returns the complex weight of shape ``self.shape``."""

    shape: tuple[int, ...]

    def full(self) -> torch.Tensor:
        raise NotImplementedError

    def n_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())


class DenseWeight(SpectralWeight):
    """Dense complex weight, entries complex normal with standard deviation ``std``.

    ``init="uniform"`` instead draws real and imaginary parts uniformly on ``[0, scale)`` with
    ``scale = 1 / (in_channels * out_channels)`` (``shape[:2]``), the FNO authors' public code
    (``scale * torch.rand(..., dtype=torch.cfloat)``); ``std`` is then unused.
    """

    def __init__(self, shape, std: float, init: str = "normal"):
        super().__init__()
        self.shape = tuple(shape)
        if init == "uniform":
            scale = 1.0 / (self.shape[0] * self.shape[1])
            self.weight = nn.Parameter(torch.rand(*self.shape, 2) * scale)
        else:
            self.weight = _complex_param(self.shape, std)

    def full(self) -> torch.Tensor:
        return _as_complex(self.weight)


class CPWeight(SpectralWeight):
    """CP (canonical polyadic) weight: ``W = sum_r lambda_r a_r (x) b_r (x) ...``.

    ``rank``: int (number of rank-one terms) or float in (0, 1] (fraction of the dense size,
    resolved by ``tensorly.cp_tensor.validate_cp_rank``). Initialised so that the entries of the
    reconstructed tensor have standard deviation ``std``.
    """

    def __init__(self, shape, rank, std: float):
        super().__init__()
        _tensorly()
        from tensorly.cp_tensor import validate_cp_rank

        self.shape = tuple(shape)
        r = int(validate_cp_rank(self.shape, rank=rank)) if isinstance(rank, float) else int(rank)
        self.rank = max(r, 1)
        order = len(self.shape)
        # Var(entry) = R * prod(var factors) with unit weights -> factor std s: R s^(2N) = std^2.
        s = (std**2 / self.rank) ** (1.0 / (2 * order))
        self.weights = nn.Parameter(torch.stack([torch.ones(self.rank), torch.zeros(self.rank)], dim=-1))
        self.factors = nn.ParameterList(_complex_param((n, self.rank), s) for n in self.shape)

    def full(self) -> torch.Tensor:
        f = [_as_complex(p) for p in self.factors]
        lam = _as_complex(self.weights)
        # Khatri-Rao products of the channel factors and of the mode factors, then one matmul.
        left = torch.einsum("ir,or->ior", f[0] * lam, f[1]).reshape(-1, self.rank)
        right = f[2]
        for g in f[3:]:
            right = torch.einsum("ar,br->abr", right, g).reshape(-1, self.rank)
        return (left @ right.transpose(0, 1)).reshape(self.shape)


class TuckerWeight(SpectralWeight):
    """Tucker weight: ``W = core x_1 U_1 x_2 U_2 ...`` (mode products with factor matrices).

    ``rank``: float in (0, 1] (fraction of the dense size, resolved by
    ``tensorly.tucker_tensor.validate_tucker_rank``) or a tuple of per-mode ranks.
    """

    def __init__(self, shape, rank, std: float):
        super().__init__()
        _tensorly()
        from tensorly.tucker_tensor import validate_tucker_rank

        self.shape = tuple(shape)
        if isinstance(rank, float):
            ranks = validate_tucker_rank(self.shape, rank=rank)
        else:
            ranks = list(rank)
        self.ranks = tuple(max(1, min(int(r), n)) for r, n in zip(ranks, self.shape))
        # factor entries std 1/sqrt(r_k) -> Var(entry) = var(core).
        self.core = _complex_param(self.ranks, std)
        self.factors = nn.ParameterList(
            _complex_param((n, r), 1.0 / math.sqrt(r)) for n, r in zip(self.shape, self.ranks)
        )
        letters = string.ascii_letters
        order = len(self.shape)
        core_idx = letters[:order]
        out_idx = letters[order:2 * order]
        self._equation = core_idx + "," + ",".join(o + c for o, c in zip(out_idx, core_idx)) + "->" + out_idx

    def full(self) -> torch.Tensor:
        return torch.einsum(self._equation, _as_complex(self.core), *[_as_complex(p) for p in self.factors])


SPECTRAL_INITS = ("normal", "uniform")


def check_spectral_init(init: str, factorization, name: str = "init") -> None:
    """Refuse an unknown ``init``, and "uniform" on a factorised weight (it is defined for dense ones)."""
    if init not in SPECTRAL_INITS:
        raise ValueError(f"{name} must be one of {', '.join(repr(i) for i in SPECTRAL_INITS)}; got {init!r}")
    if init == "uniform" and factorization not in (None, "dense"):
        raise ValueError(f"{name}='uniform' needs a dense spectral weight; got factorization={factorization!r}")


def make_spectral_weight(shape, factorization, rank, std: float, init: str = "normal") -> SpectralWeight:
    """Weight of the given ``factorization`` (None/"dense", "cp", "tucker").

    ``init``: "normal" (entries of standard deviation ``std``) or "uniform" (dense only, see
    :class:`DenseWeight`).
    """
    check_spectral_init(init, factorization)
    if factorization in (None, "dense"):
        return DenseWeight(shape, std, init)
    if factorization == "cp":
        return CPWeight(shape, rank, std)
    if factorization == "tucker":
        return TuckerWeight(shape, rank, std)
    allowed = ", ".join(repr(f) for f in FACTORIZATIONS)
    raise ValueError(f"factorization must be one of {allowed}; got {factorization!r}")
