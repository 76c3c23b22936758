"""SpectralConv: agreement with a dense FFT multiplier, a known Fourier multiplier, shapes, errors."""
import math

import numpy as np
import pytest
import torch

from sciml.operators import SpectralConv


def dense_multiplier_reference(conv: SpectralConv, x: torch.Tensor) -> torch.Tensor:
    """irfftn(M * rfftn(x)) with M the full-grid multiplier built frequency by frequency.

    Independent of the layer's pruned transforms: the kept signed frequencies are enumerated here
    from the documented convention and looked up in the weight tensor.
    """
    shape = x.shape[2:]
    d = len(shape)
    w = conv.weight.full().detach()
    full_counts = [(m - m // 2, m // 2) for m in conv.n_modes[:-1]]
    half = shape[-1] // 2 + 1
    M = torch.zeros(conv.in_channels, conv.out_channels, *shape[:-1], half, dtype=torch.complex128)
    ranges = []
    for j in range(d - 1):
        p, q = full_counts[j]
        n = shape[j]
        lo, hi = -(n // 2), n - n // 2 - 1  # signed frequencies the grid resolves
        ks = [k for k in range(-q, p) if lo <= k <= hi]
        ranges.append([(k % n, k if k >= 0 else p + q + k) for k in ks])
    last = [(k, k) for k in range(min(conv.n_modes[-1] // 2 + 1, half))]
    ranges.append(last)
    for combo in np.ndindex(*[len(r) for r in ranges]):
        grid_idx = tuple(ranges[j][c][0] for j, c in enumerate(combo))
        w_idx = tuple(ranges[j][c][1] for j, c in enumerate(combo))
        M[(slice(None), slice(None)) + grid_idx] = w[(slice(None), slice(None)) + w_idx].to(torch.complex128)
    dims = tuple(range(-d, 0))
    xf = torch.fft.rfftn(x.double(), dim=dims)
    letters = "xyz"[:d]
    yf = torch.einsum(f"bi{letters},io{letters}->bo{letters}", xf, M)
    y = torch.fft.irfftn(yf, s=shape, dim=dims)
    return y + conv.bias.detach().double()


@pytest.mark.parametrize(
    "n_modes, shape",
    [
        ((7,), (20,)),
        ((6, 5), (16, 12)),
        ((5, 6), (15, 11)),  # odd sizes and odd mode counts
        ((12, 12), (8, 6)),  # grid coarser than the modes: truncation
        ((4, 4, 4), (8, 10, 6)),
    ],
)
def test_matches_dense_fft_multiplier(n_modes, shape):
    torch.manual_seed(0)
    conv = SpectralConv(3, 2, n_modes)
    with torch.no_grad():
        conv.bias.normal_()
    x = torch.randn(2, 3, *shape)
    y = conv(x)
    ref = dense_multiplier_reference(conv, x)
    assert y.shape == (2, 2, *shape)
    assert torch.allclose(y.double(), ref, atol=1e-5, rtol=1e-4)


def test_derivative_multiplier_is_exact():
    """With W(k) = 2 pi i k the layer differentiates band-limited periodic signals on [0, 1)."""
    n, m = 64, 16
    conv = SpectralConv(1, 1, (m,), bias=False).double()
    k = torch.arange(m // 2 + 1, dtype=torch.float64)
    with torch.no_grad():
        conv.weight.weight.zero_()
        conv.weight.weight[0, 0, :, 1] = 2 * math.pi * k  # imaginary part
    x = torch.arange(n, dtype=torch.float64) / n
    u = torch.sin(2 * math.pi * 3 * x) + 0.5 * torch.cos(2 * math.pi * 5 * x)
    du = 2 * math.pi * 3 * torch.cos(2 * math.pi * 3 * x) - 0.5 * 2 * math.pi * 5 * torch.sin(2 * math.pi * 5 * x)
    out = conv(u.reshape(1, 1, n))[0, 0]
    assert torch.max(torch.abs(out - du)) < 1e-10
    # frequencies above the kept modes are removed
    hi = torch.sin(2 * math.pi * 20 * x).reshape(1, 1, n)
    assert torch.max(torch.abs(conv(hi))) < 1e-10


def test_dtypes_and_gradients():
    conv = SpectralConv(2, 3, (4, 4))
    x = torch.randn(1, 2, 8, 8, requires_grad=True)
    conv(x).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    assert all(p.grad is not None for p in conv.parameters())
    y = conv.double()(torch.randn(1, 2, 8, 8, dtype=torch.float64))
    assert y.dtype == torch.float64
    if hasattr(torch, "bfloat16"):
        conv = SpectralConv(2, 3, (4, 4))
        yb = conv(torch.randn(1, 2, 8, 8).to(torch.bfloat16))
        assert yb.dtype == torch.bfloat16


@pytest.mark.parametrize(
    "kwargs, name, exc",
    [
        (dict(in_channels=0, out_channels=1, n_modes=(4,)), "in_channels", ValueError),
        (dict(in_channels=1, out_channels=1, n_modes=(4, 0)), "n_modes", ValueError),
        (dict(in_channels=1, out_channels=1, n_modes=()), "n_modes", ValueError),
        (dict(in_channels=1, out_channels=1, n_modes="4"), "n_modes", TypeError),
        (dict(in_channels=1, out_channels=1, n_modes=(4,), factorization="tt"), "factorization", ValueError),
        (dict(in_channels=1, out_channels=1, n_modes=(4,), factorization="cp", rank=1.5), "rank", ValueError),
        (dict(in_channels=1, out_channels=1, n_modes=(4,), factorization="tucker", rank=3), "rank", ValueError),
    ],
)
def test_bad_arguments(kwargs, name, exc):
    with pytest.raises(exc, match=name):
        SpectralConv(**kwargs)


def test_bad_input():
    conv = SpectralConv(2, 2, (4, 4))
    with pytest.raises(ValueError, match="channels"):
        conv(torch.randn(1, 3, 8, 8))
    with pytest.raises(ValueError, match="spatial"):
        conv(torch.randn(1, 2, 8))
