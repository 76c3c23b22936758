"""Spectral convolution (the Fourier layer of the FNO), any number of spatial dimensions.

``y = irfftn( W(k) . rfftn(x)(k) ) + b``: the input's Fourier coefficients at the kept low
frequencies are mixed across channels by a complex matrix ``W(k)`` per frequency; all other
frequencies are set to zero.

Mode convention (the same as neuraloperator, so equal ``n_modes`` means equal parameter count):
``n_modes[j]`` is the total number of kept frequencies along axis ``j``. On every axis but the
last, frequencies ``-(m // 2) .. m - m // 2 - 1`` are kept (both signs); on the last axis, where
the real FFT stores only non-negative frequencies, ``0 .. m // 2`` are kept. If the input has fewer
points than the kept modes along an axis, the modes it does not resolve are dropped (truncation),
so one layer runs at any resolution.

The transform is done axis by axis and pruned: a real FFT along the last axis, keep the low
columns, then complex FFTs along the other axes on the kept columns only (and the reverse for the
inverse). This does the same arithmetic as ``irfftn(W * rfftn(x))`` on the kept modes with fewer
FFT operations.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from .layers import check_choice, check_input, check_int, int_tuple
from .tensorized import FACTORIZATIONS, make_spectral_weight

__all__ = ["SpectralConv"]


class SpectralConv(nn.Module):
    """Fourier-space convolution with complex weights on the low modes.

    Parameters
    ----------
    in_channels, out_channels : int
    n_modes : tuple of int
        Kept modes per spatial axis (its length sets the dimension: 1D, 2D, 3D, ...), see the
        module docstring for the convention.
    factorization : None, "dense", "cp" or "tucker"
        Weight parameterisation; "cp"/"tucker" need tensorly.
    rank : float or int or tuple
        Rank of the factorisation (float in (0, 1]: fraction of the dense parameter count).
    bias : bool
        Add a learned per-channel constant.

    Shapes: ``(B, in_channels, *spatial) -> (B, out_channels, *spatial)``, ``len(spatial) ==
    len(n_modes)``. Half-precision inputs are transformed in float32 (cuFFT/pocketfft need it)
    and the result cast back.
    """

    def __init__(self, in_channels: int, out_channels: int, n_modes, *, factorization=None,
                 rank=0.5, bias: bool = True):
        super().__init__()
        self.in_channels = check_int("in_channels", in_channels)
        self.out_channels = check_int("out_channels", out_channels)
        self.n_modes = int_tuple("n_modes", n_modes)
        check_choice("factorization", factorization, FACTORIZATIONS)
        if factorization in ("cp", "tucker"):
            check_rank(rank, factorization, len(self.n_modes) + 2)
        self.factorization = factorization
        self.rank = rank
        self.ndim = len(self.n_modes)
        # per-axis kept counts: (pos, neg) on the leading axes, m//2+1 on the last
        self._split = [(m - m // 2, m // 2) for m in self.n_modes[:-1]]
        self._last = self.n_modes[-1] // 2 + 1
        block = [p + n for p, n in self._split] + [self._last]
        std = math.sqrt(2.0 / (self.in_channels + self.out_channels))
        self.weight = make_spectral_weight((self.in_channels, self.out_channels, *block), factorization, rank, std)
        self.bias = nn.Parameter(torch.zeros(self.out_channels, *([1] * self.ndim))) if bias else None
        letters = "xyzuvw"[:self.ndim]
        self._equation = f"bi{letters},io{letters}->bo{letters}"

    # ------------------------------------------------------------------ helpers
    def kept_modes(self, shape) -> tuple[list[tuple[int, int]], int]:
        """Kept (positive, negative) counts per leading axis and the last-axis count at ``shape``."""
        split = [(min(p, n - n // 2), min(q, n // 2)) for (p, q), n in zip(self._split, shape[:-1])]
        last = min(self._last, shape[-1] // 2 + 1)
        return split, last

    def _weight(self, split, last) -> torch.Tensor:
        w = self.weight.full()
        if last < self._last:
            w = w[..., :last]
        for j, ((p, q), (pf, qf)) in enumerate(zip(split, self._split)):
            if p == pf and q == qf:
                continue
            ax = 2 + j
            w = torch.cat([w.narrow(ax, 0, p), w.narrow(ax, pf + qf - q, q)], dim=ax)
        return w

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, n_modes={self.n_modes}, "
                f"factorization={self.factorization}")

    # ------------------------------------------------------------------ forward
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input("x", x, ndim=self.ndim, channels=self.in_channels)
        out_dtype = x.dtype
        if x.dtype in (torch.float16, torch.bfloat16):
            x = x.float()
        with torch.autocast(device_type=x.device.type, enabled=False):
            y = self._spectral(x)
        if self.bias is not None:
            y = y + self.bias.to(y.dtype)
        return y.to(out_dtype)

    def _spectral(self, x: torch.Tensor) -> torch.Tensor:
        shape = x.shape[2:]
        d = self.ndim
        split, last = self.kept_modes(shape)
        xf = torch.fft.rfft(x, dim=-1)[..., :last]
        for j in range(d - 1):
            ax, n = 2 + j, shape[j]
            p, q = split[j]
            xf = torch.fft.fft(xf, dim=ax)
            if p + q < n:
                xf = torch.cat([xf.narrow(ax, 0, p), xf.narrow(ax, n - q, q)], dim=ax)
        w = self._weight(split, last)
        if w.dtype != xf.dtype:
            w = w.to(xf.dtype)
        yf = torch.einsum(self._equation, xf, w)
        for j in reversed(range(d - 1)):
            ax, n = 2 + j, shape[j]
            p, q = split[j]
            if p + q < n:
                zshape = list(yf.shape)
                zshape[ax] = n - p - q
                yf = torch.cat([yf.narrow(ax, 0, p), yf.new_zeros(zshape), yf.narrow(ax, p, q)], dim=ax)
            yf = torch.fft.ifft(yf, dim=ax)
        return torch.fft.irfft(yf, n=shape[-1], dim=-1)


def check_rank(rank, factorization, order):
    if isinstance(rank, bool):
        raise TypeError("rank must be a float in (0, 1], an int or a tuple of ints")
    if isinstance(rank, float):
        if not (0.0 < rank <= 1.0):
            raise ValueError(f"rank as a fraction must be in (0, 1], got {rank}")
        return
    if isinstance(rank, int):
        if factorization == "tucker":
            raise ValueError("rank for factorization='tucker' must be a float fraction or a tuple of per-mode ranks")
        if rank < 1:
            raise ValueError(f"rank must be >= 1, got {rank}")
        return
    if isinstance(rank, (tuple, list)):
        if factorization != "tucker":
            raise ValueError("a tuple rank is only meaningful for factorization='tucker'")
        int_tuple("rank", tuple(rank), length=order)
        return
    raise TypeError(f"rank must be a float in (0, 1], an int or a tuple of ints, got {type(rank).__name__}")
