"""FNO / TFNO: shapes in 1D-3D, overfitting, resolution invariance, config round trip, errors."""
import json
import math

import numpy as np
import pytest
import torch

from sciml.operators import FNO, TFNO, build_model


def smooth_periodic_fields(n_samples, n, kmax=5, seed=0):
    """Band-limited random fields on the unit torus sampled on an n x n grid (exact at any n > 2 kmax)."""
    g = torch.Generator().manual_seed(seed)
    ks = torch.arange(-kmax, kmax + 1, dtype=torch.float64)
    kx, ky = torch.meshgrid(ks, ks, indexing="ij")
    amp = (1.0 + kx**2 + ky**2) ** -1.0
    a = torch.randn(n_samples, 2 * kmax + 1, 2 * kmax + 1, generator=g, dtype=torch.float64) * amp
    b = torch.randn(n_samples, 2 * kmax + 1, 2 * kmax + 1, generator=g, dtype=torch.float64) * amp
    x = torch.arange(n, dtype=torch.float64) / n
    phase = 2 * math.pi * (kx[..., None, None] * x[:, None] + ky[..., None, None] * x[None, :])  # (K, K, n, n)
    f = torch.einsum("skl,klij->sij", a, torch.cos(phase)) + torch.einsum("skl,klij->sij", b, torch.sin(phase))
    u = torch.einsum("skl,klij->sij", a / (1 + 0.1 * (kx**2 + ky**2)), torch.cos(phase)) + torch.einsum(
        "skl,klij->sij", b / (1 + 0.1 * (kx**2 + ky**2)), torch.sin(phase))
    return f[:, None].float(), u[:, None].float()


def rel_l2(pred, true):
    diff = (pred - true).flatten(1).norm(dim=1)
    return (diff / true.flatten(1).norm(dim=1)).mean().item()


@pytest.mark.parametrize("n_modes, shape", [((6,), (20,)), ((6, 6), (12, 10)), ((4, 4, 4), (8, 8, 6))])
def test_shapes_any_dimension(n_modes, shape):
    model = FNO(2, 3, n_modes, hidden_channels=8, n_layers=2, domain_padding=0.1)
    y = model(torch.randn(2, 2, *shape))
    assert y.shape == (2, 3, *shape)
    half = tuple(s // 2 for s in shape)
    assert model(torch.randn(1, 2, *half)).shape == (1, 3, *half)


def test_overfits_tiny_batch():
    torch.manual_seed(0)
    x = torch.randn(4, 1, 16, 16)
    y = torch.randn(4, 1, 16, 16).cumsum(-1).cumsum(-2) / 16  # rough fields, no structure to exploit
    model = FNO(1, 1, (8, 8), hidden_channels=16, n_layers=2)
    opt = torch.optim.Adam(model.parameters(), lr=5e-3)
    first = None
    for _ in range(250):
        opt.zero_grad()
        loss = torch.mean((model(x) - y) ** 2) / torch.mean(y**2)
        loss.backward()
        opt.step()
        first = loss.item() if first is None else first
    assert loss.item() < first / 10


@pytest.mark.parametrize("impl", ["fft", "dft"])
def test_resolution_invariance(impl):
    """Trained at 32^2 on a smoothing Fourier multiplier, the error at 64^2 stays within 1.5x (both
    spectral paths)."""
    from sciml.operators.spectral import spectral_impl

    with spectral_impl(impl):
        _resolution_invariance()


def _resolution_invariance():
    torch.manual_seed(0)
    f32, u32 = smooth_periodic_fields(24, 32, seed=1)
    model = FNO(1, 1, (10, 10), hidden_channels=12, n_layers=2, positional_embedding="periodic-grid",
                channel_mlp_expansion=None)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, 200)
    for _ in range(200):
        opt.zero_grad()
        pred = model(f32)
        loss = ((pred - u32).flatten(1).norm(dim=1) / u32.flatten(1).norm(dim=1)).mean()
        loss.backward()
        opt.step()
        sched.step()
    ft32, ut32 = smooth_periodic_fields(8, 32, seed=2)
    ft64, ut64 = smooth_periodic_fields(8, 64, seed=2)
    assert torch.allclose(ft64[..., ::2, ::2], ft32, atol=1e-5)  # same fields, two resolutions
    with torch.no_grad():
        e32 = rel_l2(model(ft32), ut32)
        e64 = rel_l2(model(ft64), ut64)
    print(f"relative L2 at 32: {e32:.4f}, at 64: {e64:.4f}")
    assert e32 < 0.08, e32
    assert e64 < 1.5 * e32, (e32, e64)


@pytest.mark.parametrize("name, kwargs", [
    ("fno", dict(in_channels=1, out_channels=2, n_modes=(6, 6), hidden_channels=8, n_layers=2, domain_padding=0.1,
                 norm="group")),
    ("tfno", dict(in_channels=1, out_channels=1, n_modes=(6, 6), hidden_channels=8, n_layers=2)),
    ("fno", dict(in_channels=2, out_channels=1, n_modes=[5], hidden_channels=8, factorization="cp", rank=0.3,
                 skip="soft-gating", positional_embedding=None, lifting_channels=0)),
])
def test_config_round_trip(name, kwargs):
    model = build_model(name, **kwargs)
    config = json.loads(json.dumps(model.config))
    clone = build_model(name, **config)
    clone.load_state_dict(model.state_dict())
    x = torch.randn(2, kwargs["in_channels"], *([12] * len(kwargs["n_modes"])))
    with torch.no_grad():
        assert torch.equal(model(x), clone(x))


def test_spectral_init_fno_code_and_neuraloperator():
    # "uniform": real and imaginary parts uniform on [0, 1/(in*out)), as the FNO code's
    # scale * torch.rand(..., dtype=cfloat); "normal" (default): E|w|^2 = 2 / (in + out)
    torch.manual_seed(0)
    uni = FNO(1, 1, (24, 22), hidden_channels=32, n_layers=2, spectral_init="uniform")
    torch.manual_seed(0)
    nor = FNO(1, 1, (24, 22), hidden_channels=32, n_layers=2)
    assert uni.config["spectral_init"] == "uniform" and nor.config["spectral_init"] == "normal"
    w = uni.blocks[0].conv.weight.weight.detach()
    assert w.shape == (32, 32, 24, 12, 2)  # the FNO code's 2 x (32, 32, 12, 12) complex weights
    scale = 1 / (32 * 32)
    assert w.min() >= 0 and w.max() < scale
    assert abs(w.mean().item() / (scale / 2) - 1) < 0.01 and abs(w.var().item() / (scale**2 / 12) - 1) < 0.02
    wn = torch.view_as_complex(nor.blocks[0].conv.weight.weight.detach())
    assert abs(wn.abs().pow(2).mean().item() / (2 / 64) - 1) < 0.02
    # only the spectral weights differ: the same seed gives the same lifting
    assert torch.equal(uni.lifting.layers[0].weight, nor.lifting.layers[0].weight)


def test_tfno_has_fewer_parameters():
    fno = FNO(1, 1, (16, 16), hidden_channels=32)
    tfno = TFNO(1, 1, (16, 16), hidden_channels=32)
    n_fno = sum(p.numel() for p in fno.parameters())
    n_tfno = sum(p.numel() for p in tfno.parameters())
    assert tfno.config["factorization"] == "tucker"
    assert n_tfno < 0.3 * n_fno


@pytest.mark.parametrize("kwargs, name", [
    (dict(n_modes=(0, 4)), "n_modes"),
    (dict(hidden_channels=0), "hidden_channels"),
    (dict(n_layers=0), "n_layers"),
    (dict(norm="batch"), "norm"),
    (dict(skip="dense"), "skip"),
    (dict(domain_padding=-0.1), "domain_padding"),
    (dict(domain_padding=[0.1]), "domain_padding"),
    (dict(positional_embedding="sincos"), "positional_embedding"),
    (dict(non_linearity="swish"), "non_linearity"),
    (dict(factorization="tt"), "factorization"),
    (dict(channel_mlp_expansion=0.0), "channel_mlp_expansion"),
    (dict(spectral_init="xavier"), "spectral_init"),
    (dict(spectral_init="uniform", factorization="tucker"), "spectral_init"),
])
def test_bad_arguments(kwargs, name):
    args = dict(in_channels=1, out_channels=1, n_modes=(4, 4))
    args.update(kwargs)
    with pytest.raises(ValueError, match=name):
        FNO(**args)


def test_numpy_integer_channel_counts_accepted_bools_zero_and_fractions_refused():
    # channel counts read from numpy arrays or configs (np.int64) are integers; they are stored as int
    model = FNO(np.int64(2), np.int64(1), (np.int64(4), np.int64(4)), hidden_channels=np.int64(4), n_layers=1)
    assert model(torch.randn(1, 2, 8, 8)).shape == (1, 1, 8, 8)
    assert type(model.config["in_channels"]) is int and json.dumps(model.config)
    with pytest.raises(TypeError, match="in_channels must be an integer, got True"):
        FNO(True, 1, (4, 4))
    with pytest.raises(ValueError, match="in_channels must be a positive integer, got 0"):
        FNO(0, 1, (4, 4))
    with pytest.raises(TypeError, match="in_channels must be an integer, got 2.5"):
        FNO(2.5, 1, (4, 4))
    with pytest.raises(TypeError, match=r"n_modes\[1\] must be an integer, got True"):
        FNO(1, 1, (4, True))


def test_unknown_model_and_bad_input():
    with pytest.raises(ValueError, match="name"):
        build_model("transformer9000")
    model = FNO(1, 1, (4, 4), hidden_channels=4, n_layers=1)
    with pytest.raises(ValueError, match="channels"):
        model(torch.randn(1, 2, 8, 8))


@pytest.mark.parametrize("skip, mlp_skip, expansion", [
    ("linear", "soft-gating", 0.5),  # the default block
    ("soft-gating", "linear", 0.5),
    ("identity", "identity", 0.5),
    ("linear", "soft-gating", None),
])
def test_fused_blocks_match_unfused(skip, mlp_skip, expansion):
    """The fused elementwise path (layers.set_fused, the default) computes the same block: outputs and
    all parameter gradients agree to 1e-6 relative (measured <= 1.4e-7) with the unfused path."""
    from sciml.operators.layers import get_fused, set_fused

    torch.manual_seed(0)
    model = FNO(2, 1, (6, 6), hidden_channels=8, n_layers=3, skip=skip, channel_mlp_skip=mlp_skip,
                channel_mlp_expansion=expansion, domain_padding=0.1)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.1 * torch.randn_like(p))  # off the ones/zeros initialisation of gates and biases
    x = torch.randn(3, 2, 20, 20)
    assert get_fused()
    outs = []
    try:
        for fused in (False, True):
            set_fused(fused)
            y = model(x)
            outs.append([y] + list(torch.autograd.grad(y.square().sum(), list(model.parameters()))))
    finally:
        set_fused(True)
    for a, b in zip(*outs):
        assert ((a - b).norm() / b.norm()).item() < 1e-6
    with pytest.raises(TypeError, match="flag"):
        set_fused("yes")


@pytest.mark.parametrize("impl", ["dft", "fft"])
def test_bf16_autocast_keeps_full_grid_tensors_in_bf16(impl):
    """Under CPU bf16 autocast no tensor of the blocks' full-grid size is made in float32 on the DFT path
    (no cast of a block's input or output, no float32 gating addend or gradient), forward and backward;
    the FFT path transforms in float32 and does make them. The output is close to float32's."""
    from torch.utils._python_dispatch import TorchDispatchMode

    from sciml.operators.spectral import spectral_impl

    b, width, n = 2, 8, 24
    torch.manual_seed(0)
    model = FNO(1, 1, (8, 8), hidden_channels=width, n_layers=2)
    x = torch.randn(b, 1, n, n)
    made = []

    class Record(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            out = func(*args, **(kwargs or {}))
            for t in out if isinstance(out, (tuple, list)) else [out]:
                if isinstance(t, torch.Tensor) and t.numel() >= b * width * n * n:
                    made.append((str(func), t.dtype))
            return out

    with spectral_impl(impl), Record():
        with torch.autocast("cpu", dtype=torch.bfloat16):
            y = model(x)
        y.float().square().mean().backward()
    float32 = [f for f, dt in made if dt == torch.float32]
    assert any(dt == torch.bfloat16 for _, dt in made)
    assert (float32 == []) == (impl == "dft"), float32
    with spectral_impl(impl), torch.no_grad():
        ref = model(x)
    assert y.dtype == torch.bfloat16 and (y.float() - ref).norm() / ref.norm() < 2e-2
