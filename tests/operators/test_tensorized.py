"""Factorised spectral weights: agreement with tensorly, parameter savings, training."""
import pytest
import torch

from sciml.operators import SpectralConv
from sciml.operators.tensorized import CPWeight, DenseWeight, TuckerWeight

tl = pytest.importorskip("tensorly")


def test_cp_reconstruction_matches_tensorly():
    torch.manual_seed(0)
    w = CPWeight((4, 3, 6, 5), rank=7, std=1.0)
    with tl.backend_context("pytorch"):
        ref = tl.cp_to_tensor((torch.view_as_complex(w.weights), [torch.view_as_complex(f) for f in w.factors]))
    assert torch.allclose(w.full(), ref, atol=1e-5)


def test_tucker_reconstruction_matches_tensorly():
    torch.manual_seed(0)
    w = TuckerWeight((4, 3, 6, 5), rank=(2, 3, 4, 3), std=1.0)
    with tl.backend_context("pytorch"):
        ref = tl.tucker_to_tensor((torch.view_as_complex(w.core), [torch.view_as_complex(f) for f in w.factors]))
    assert torch.allclose(w.full(), ref, atol=1e-5)


def test_fraction_ranks_follow_tensorly_and_scale_of_entries():
    shape = (16, 16, 12, 7)
    cp = CPWeight(shape, rank=0.1, std=0.3)
    tk = TuckerWeight(shape, rank=0.1, std=0.3)
    assert cp.rank == tl.cp_tensor.validate_cp_rank(shape, rank=0.1)
    assert list(tk.ranks) == list(tl.tucker_tensor.validate_tucker_rank(shape, rank=0.1))
    dense = DenseWeight(shape, std=0.3)
    for w in (cp, tk):
        assert w.n_parameters() < 0.2 * dense.n_parameters()
        std = w.full().abs().pow(2).mean().sqrt().item()
        assert 0.15 < std < 0.6  # initialised at the dense layer's scale


@pytest.mark.parametrize("factorization", ["cp", "tucker"])
def test_factorized_conv_fewer_parameters_and_trains(factorization):
    """A factorised layer fits the output of a random low-rank dense layer (loss falls > 10x)."""
    torch.manual_seed(0)
    dense = SpectralConv(6, 6, (8, 8))
    fact = SpectralConv(6, 6, (8, 8), factorization=factorization, rank=0.25)
    n_dense = sum(p.numel() for p in dense.parameters())
    n_fact = sum(p.numel() for p in fact.parameters())
    assert n_fact < 0.5 * n_dense
    target = SpectralConv(6, 6, (8, 8), factorization=factorization, rank=0.25)
    x = torch.randn(8, 6, 16, 16)
    with torch.no_grad():
        y = target(x)
    opt = torch.optim.Adam(fact.parameters(), lr=2e-2)
    losses = []
    for _ in range(150):
        opt.zero_grad()
        loss = torch.mean((fact(x) - y) ** 2) / torch.mean(y**2)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0] / 10
