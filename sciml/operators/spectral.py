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

Two implementations of the same linear map, chosen by ``impl``:

``"fft"``
    Pruned FFTs axis by axis: a real FFT along the last axis, keep the low columns, then complex
    FFTs along the other axes on the kept columns only (and the reverse for the inverse). The
    channel mixing is a complex ``einsum``.
``"dft"``
    The transform restricted to the kept modes as dense real matrices (a DFT as matrix products):
    ``x @ [cos | -sin]`` along the last axis, then one real matrix per leading axis acting on
    (real, imaginary) pairs, the channel mixing as one real batched matrix product per mode with the
    real and imaginary parts of the input stacked, and the transposed steps for the inverse.
    Only the kept coefficients are ever computed, no full-size complex spectrum or zero padding
    is formed, and forward and backward are matrix products (fast BLAS on CPU; on this project's
    2-core machine a darcy85 training step is several times faster than with ``"fft"``). The
    matrices depend on the grid only and are cached per (modes, grid, device, dtype). Its cost
    per axis grows with (grid points x kept modes) instead of ``n log n``.
``"auto"`` (default)
    ``"dft"`` when every axis keeps at most ``DFT_MAX_KEPT`` coefficients (all FNO settings of
    the leaderboard), else ``"fft"``; the choice depends on the shapes only, so a run is
    reproducible.

bfloat16 inputs (bf16 autocast) on the ``"dft"`` path: the last axis's two products touch
full-grid tensors, the forward ``(R, n) @ (n, 2K)`` and the inverse ``(R, 2K) @ (2K, n)`` (``R`` =
batch x channels x leading points). They run as bfloat16 products (float32 accumulation; 4-7x
faster than float32 on a CPU with bf16 units), so no full-grid tensor is cast; the leading axes,
the channel mixing and the bias act on the float32 coefficients in between. A bfloat16 product
rounds its output to bfloat16, so the products whose output is full-grid (the inverse, and the
forward's input gradient) keep their small float32 operand to float32 accuracy by splitting both
operands into bfloat16 high and low parts, ``a @ m ~ a_hi m_hi + a_hi m_lo + a_lo m_hi``, as one
product with three times the inner dimension; the products with a small output (the forward, the
inverse's gradient) use ``m`` rounded to bfloat16. Measured on 20 x 32 fields at 96^2 (modes 24,
against float64 on the same bfloat16 input): relative error 1.9e-3, against 1.7e-3 for float32
transforms with the output rounded to bfloat16 (what bf16 autocast gave before) and 3.2e-3 with
every operand in bfloat16. Other half-precision inputs are transformed in float32 and cast back.

Both agree to float32 rounding (about 1e-6 relative, checked in the tests); each is bit-for-bit
reproducible on one machine and thread count. The process-wide default is ``"auto"``, or the
environment variable ``SCIML_SPECTRAL_IMPL`` at import, or :func:`set_spectral_impl`; a layer's own
``impl`` argument overrides it.
"""
from __future__ import annotations

import math
import os
from contextlib import contextmanager
from functools import lru_cache

import torch
from torch import nn

from .._util.validation import check_choice, check_int, check_int_tuple
from .layers import check_input
from .tensorized import FACTORIZATIONS, make_spectral_weight

__all__ = ["SpectralConv", "IMPLS", "DFT_MAX_KEPT", "set_spectral_impl", "get_spectral_impl", "spectral_impl"]

IMPLS = ("auto", "fft", "dft")
DFT_MAX_KEPT = 128
_default_impl = check_choice(os.environ.get("SCIML_SPECTRAL_IMPL", "auto"), "SCIML_SPECTRAL_IMPL", IMPLS)


def get_spectral_impl() -> str:
    """The process-wide default implementation of :class:`SpectralConv` (``"auto"``, ``"fft"``, ``"dft"``)."""
    return _default_impl


def set_spectral_impl(impl: str) -> str:
    """Set the process-wide default implementation for layers built with ``impl=None``; returns the old one.

    Examples
    --------
    >>> from sciml.operators.spectral import set_spectral_impl
    >>> old = set_spectral_impl("fft")   # today's FFT path, e.g. to benchmark against
    >>> _ = set_spectral_impl(old)
    """
    global _default_impl
    check_choice(impl, "impl", IMPLS)
    old, _default_impl = _default_impl, impl
    return old


@contextmanager
def spectral_impl(impl: str):
    """Context manager: ``with spectral_impl("fft"): ...`` runs layers with ``impl=None`` on that path."""
    old = set_spectral_impl(impl)
    try:
        yield
    finally:
        set_spectral_impl(old)


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
    init : "normal" or "uniform"
        Initial weights: "normal", complex normal entries of standard deviation
        ``sqrt(2 / (in_channels + out_channels))`` (neuraloperator 2.0); "uniform", real and
        imaginary parts uniform on ``[0, 1 / (in_channels * out_channels))`` (the FNO authors'
        public code, ``fourier_2d.py``; dense weights only), about 100x smaller at width 32.
    impl : None, "auto", "fft" or "dft"
        Implementation of the transform (see the module docstring); None follows the process-wide
        default (:func:`set_spectral_impl`). Not part of the architecture: the parameters and the
        map are the same, the result agrees to float32 rounding.

    Shapes: ``(B, in_channels, *spatial) -> (B, out_channels, *spatial)``, ``len(spatial) ==
    len(n_modes)``. Half-precision inputs are transformed in float32 (cuFFT/pocketfft need it)
    and the result cast back; except bfloat16 inputs on the ``"dft"`` path (bf16 autocast), whose
    two full-grid products (the last axis's forward and inverse transform) run in bfloat16, with
    everything between them in float32 (see the module docstring).
    """

    def __init__(self, in_channels: int, out_channels: int, n_modes, *, factorization=None,
                 rank=0.5, bias: bool = True, init: str = "normal", impl: str | None = None):
        super().__init__()
        if impl is not None:
            check_choice(impl, "impl", IMPLS)
        self.impl = impl
        self.in_channels = check_int(in_channels, "in_channels", min=1)
        self.out_channels = check_int(out_channels, "out_channels", min=1)
        self.n_modes = check_int_tuple(n_modes, "n_modes", min=1)
        check_choice(factorization, "factorization", FACTORIZATIONS)
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
        self.weight = make_spectral_weight((self.in_channels, self.out_channels, *block), factorization, rank, std,
                                           init)
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
        dft = self.resolved_impl(x.shape[2:]) == "dft"
        if x.dtype == torch.float16 or (x.dtype == torch.bfloat16 and not dft):
            x = x.float()
        with torch.autocast(device_type=x.device.type, enabled=False):
            if dft:
                y = self._dft(x)  # adds the bias through the DC coefficient
            else:
                y = self._spectral(x)
                if self.bias is not None:
                    y = y + self.bias.to(y.dtype)
        return y.to(out_dtype)

    def resolved_impl(self, shape) -> str:
        """``"fft"`` or ``"dft"``: the path a forward pass at spatial ``shape`` takes."""
        impl = self.impl or _default_impl
        if impl != "auto":
            return impl
        split, last = self.kept_modes(tuple(shape))
        return "dft" if max([last] + [p + q for p, q in split]) <= DFT_MAX_KEPT else "fft"

    def _dft(self, x: torch.Tensor) -> torch.Tensor:
        b, c = x.shape[:2]
        shape = tuple(x.shape[2:])
        d = self.ndim
        split, last = self.kept_modes(shape)
        low = x.dtype == torch.bfloat16  # bf16 full-grid products, float32 coefficients (module docstring)
        f_last, h_last, f_lead, g_lead = _dft_matrices(shape, tuple(split), last, x.device,
                                                       torch.float32 if low else x.dtype)
        # (B, C, *shape) -> (B, C, n_0 .. n_{d-2}, 2, K_last): (re, im) of the kept last-axis modes
        if low:
            f_hi, f_t3, h3, h_t_hi = _bf16_matrices(shape, tuple(split), last, x.device)
            a = _Contract.apply(x.reshape(-1, shape[-1]), f_hi, f_t3).view(b, c, *shape[:-1], 2, last)
        else:
            a = (x.reshape(-1, shape[-1]) @ f_last).view(b, c, *shape[:-1], 2, last)
        for j in range(d - 1):  # contract axis 2+j with the (re, im) pair axis
            a = torch.tensordot(a, f_lead[j], dims=([2 + j, a.dim() - 2], [2, 3]))
            a = a.movedim(-2, 2 + j).movedim(-1, -2)
        # channel mixing per kept mode in real arithmetic (see _ModeMix)
        kept = a.shape[2:d + 1] + (last,)
        n_kept = math.prod(kept)
        xm = a.permute(*range(2, d + 1), d + 2, d + 1, 0, 1).reshape(n_kept, 2 * b, c)
        w = torch.view_as_real(self._weight(split, last))  # (Cin, Cout, *kept, 2)
        if w.dtype != a.dtype:
            w = w.to(a.dtype)
        y = _ModeMix.apply(xm, w.reshape(c, self.out_channels, n_kept, 2))  # (M, B, 2, Cout)
        o = self.out_channels
        if self.bias is not None:
            # a per-channel constant is the zero-frequency coefficient times the grid size: adding it
            # here costs nothing on the full grid (the inverse transform spreads it)
            dc = torch.zeros(n_kept, 1, 2, o, dtype=y.dtype, device=y.device)
            dc[0, 0, 0] = self.bias.reshape(o).to(y.dtype) * math.prod(shape)
            y = y + dc
        a = y.view(*kept, b, 2, o).permute(d, d + 2, *range(d - 1), d + 1, d - 1)
        for j in reversed(range(d - 1)):
            a = torch.tensordot(a, g_lead[j], dims=([2 + j, a.dim() - 2], [2, 3]))
            a = a.movedim(-2, 2 + j).movedim(-1, -2)
        if low:
            return _Expand.apply(a.reshape(-1, 2 * last), h3, h_t_hi).view(b, self.out_channels, *shape)
        return (a.reshape(-1, 2 * last) @ h_last).view(b, self.out_channels, *shape)

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


class _ModeMix(torch.autograd.Function):
    """``y[m] = x[m] @ W[m]`` per kept mode ``m`` in real arithmetic.

    ``x``: ``(M, 2B, Cin)``, real parts of the B samples stacked over imaginary parts; ``w``:
    ``(Cin, Cout, M, 2)``, the (strided) parameter. Returns ``(M, B, 2, Cout)`` with
    ``y_re = x_re W_re - x_im W_im``, ``y_im = x_re W_im + x_im W_re``. Batched BLAS needs each
    mode's ``(Cin, Cout)`` block contiguous, so the weight is copied for the products; a Function
    (instead of autograd through the copies) keeps those copies out of the tensors saved for
    backward, which hold only ``x`` and the parameter view. The complex ``einsum`` this replaces runs
    a per-mode loop of copies in torch's CPU ``bmm`` (its backward above all) and dominated a
    darcy85 step. The backward is written with differentiable operations (double backward works).
    """

    @staticmethod
    def forward(ctx, x, w):
        ctx.save_for_backward(x, w)
        return _mode_mix(x, w)

    @staticmethod
    def backward(ctx, gy):
        x, w = ctx.saved_tensors
        m, b2, c = x.shape
        gr, gi = gy[:, :, 0], gy[:, :, 1]  # (M, B, Cout)
        g1 = torch.cat([gr, gi], dim=1)  # (M, 2B, Cout)
        g2 = torch.cat([gi, -gr], dim=1)
        wt = w.permute(2, 3, 1, 0)  # (M, 2, Cout, Cin)
        gx = gw = None
        if ctx.needs_input_grad[0]:
            gx = torch.bmm(g1, wt[:, 0].contiguous()) + torch.bmm(g2, wt[:, 1].contiguous())
        if ctx.needs_input_grad[1]:
            xt = x.transpose(1, 2)
            gw = torch.stack([torch.bmm(xt, g1), torch.bmm(xt, g2)], dim=-1).permute(1, 2, 0, 3)
        return gx, gw


def _mode_mix(x, w):
    b = x.shape[1] // 2
    wm = w.permute(2, 3, 0, 1)  # (M, 2, Cin, Cout)
    q = torch.bmm(x, wm[:, 0].contiguous())
    p = torch.bmm(x, wm[:, 1].contiguous())
    return torch.stack([q[:, :b] - p[:, b:], p[:, :b] + q[:, b:]], dim=2)


def _split_bf16(a: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``a ~ hi + lo`` with both parts bfloat16 (``hi`` = ``a`` rounded; ``lo`` its rounding error, rounded)."""
    hi = a.to(torch.bfloat16)
    return hi, (a - hi.float()).to(torch.bfloat16)


def _expand_product(a: torch.Tensor, m3: torch.Tensor) -> torch.Tensor:
    """``a @ m`` for a float32 ``a (R, k)`` as one bfloat16 product: ``[a_hi, a_hi, a_lo] @ [m_hi; m_lo; m_hi]``."""
    hi, lo = _split_bf16(a)
    return torch.cat([hi, hi, lo], dim=1) @ m3


class _Contract(torch.autograd.Function):
    """``(x @ m).float()`` for a bfloat16 ``x (R, n)`` and a constant ``m (n, k)`` (``m_hi`` given); its
    gradient ``g @ m.T`` (bfloat16, full-grid) as a split product with ``mt3 = [mT_hi; mT_lo; mT_hi]``."""

    @staticmethod
    def forward(ctx, x, m_hi, mt3):
        ctx.save_for_backward(mt3)
        return (x @ m_hi).float()

    @staticmethod
    def backward(ctx, g):
        (mt3,) = ctx.saved_tensors
        return _expand_product(g.float(), mt3), None, None


class _Expand(torch.autograd.Function):
    """``a @ m`` (bfloat16, full-grid) for a float32 ``a (R, k)`` and a constant ``m (k, n)`` as a split
    product (``m3 = [m_hi; m_lo; m_hi]``); its gradient ``(g @ m.T).float()`` with ``mt_hi`` = ``m.T`` in bf16."""

    @staticmethod
    def forward(ctx, a, m3, mt_hi):
        ctx.save_for_backward(mt_hi)
        return _expand_product(a, m3)

    @staticmethod
    def backward(ctx, g):
        (mt_hi,) = ctx.saved_tensors
        return (g.to(torch.bfloat16) @ mt_hi).float(), None, None


@lru_cache(maxsize=32)
def _bf16_matrices(shape, split, last, device):
    """The last axis's DFT matrices for bfloat16 inputs (module docstring): ``f_hi (n, 2K)``, the
    split transpose ``[fT_hi; fT_lo; fT_hi] (6K, n)``, the split inverse ``[h_hi; h_lo; h_hi] (6K, n)`` and
    ``hT_hi (n, 2K)``, all bfloat16 and contiguous."""
    f_last, h_last, _, _ = _dft_matrices(shape, split, last, device, torch.float32)

    def three(m):
        hi, lo = _split_bf16(m)
        return torch.cat([hi, lo, hi], dim=0).contiguous()

    return (f_last.to(torch.bfloat16).contiguous(), three(f_last.t()), three(h_last),
            h_last.t().to(torch.bfloat16).contiguous())


@lru_cache(maxsize=32)
def _dft_matrices(shape, split, last, device, dtype):
    """Real DFT matrices restricted to the kept modes (built in float64, then cast).

    Returns ``f_last (n, 2K)``, ``h_last (2K, n)`` for the last axis (forward real -> (re, im);
    inverse with the Hermitian weights 1/2/1 and 1/n, as ``irfft``), and per leading axis
    ``f (K, 2, n, 2)`` and ``g (n, 2, K, 2)`` acting on (re, im) pairs, kept frequencies in the
    weight's order ``0 .. p-1, -q .. -1``; ``g`` includes the 1/n of the inverse.
    """
    def angles(freqs, n):
        f = torch.as_tensor(freqs, dtype=torch.int64)
        k = torch.arange(n, dtype=torch.int64)
        return (2 * math.pi / n) * ((f[:, None] * k[None, :]) % n).to(torch.float64)  # (K, n), exact reduction

    n = shape[-1]
    th = angles(range(last), n)
    cos, sin = torch.cos(th), torch.sin(th)
    f_last = torch.cat([cos, -sin], dim=0).t()
    weight = torch.full((last, 1), 2.0, dtype=torch.float64)
    weight[0] = 1.0
    if n % 2 == 0 and last == n // 2 + 1:
        weight[-1] = 1.0
    h_last = torch.cat([weight * cos, -weight * sin], dim=0) / n
    f_lead, g_lead = [], []
    for (p, q), n in zip(split, shape[:-1]):
        th = angles(list(range(p)) + list(range(-q, 0)), n)
        cos, sin = torch.cos(th), torch.sin(th)
        f = torch.stack([torch.stack([cos, sin], -1), torch.stack([-sin, cos], -1)], 1)  # (K, 2, n, 2)
        g = torch.stack([torch.stack([cos, -sin], -1), torch.stack([sin, cos], -1)], 1).permute(2, 1, 0, 3) / n
        f_lead.append(f)
        g_lead.append(g)
    to = dict(device=device, dtype=dtype)
    return (f_last.contiguous().to(**to), h_last.to(**to), tuple(f.contiguous().to(**to) for f in f_lead),
            tuple(g.contiguous().to(**to) for g in g_lead))


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
        check_int_tuple(tuple(rank), "rank", min=1, length=order)
        return
    raise TypeError(f"rank must be a float in (0, 1], an int or a tuple of ints, got {type(rank).__name__}")
