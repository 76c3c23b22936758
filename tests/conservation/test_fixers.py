import pytest
import torch

from sciml.conservation import add_surface_flux, global_mass, scale_fixer, shift_fixer


@pytest.fixture(autouse=True)
def _float64():
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)


def _state(seed=0, B=3, L=4, nlat=8, nlon=16):
    g = torch.Generator().manual_seed(seed)
    q = 400 + 5 * torch.rand(B, L, nlat, nlon, generator=g)
    m = 1 + torch.rand(B, L, nlat, nlon, generator=g)
    m2 = m * (1 + 0.05 * torch.randn(B, L, nlat, nlon, generator=g))
    q_hat = q + torch.randn(B, L, nlat, nlon, generator=g)
    return q, m, m2, q_hat


@pytest.mark.parametrize("fixer", [scale_fixer, shift_fixer])
def test_fixer_restores_global_mass(fixer):
    q, m, m2, q_hat = _state()
    before = global_mass(q, m)
    assert (global_mass(q_hat, m2) - before).abs().max() > 1.0  # the prediction is off
    q_fix = fixer(q_hat, m2, q, m)
    rel = ((global_mass(q_fix, m2) - before) / before).abs().max()
    assert rel <= 1e-14


def test_fixer_formulas_by_hand():
    q, m = torch.tensor([[1.0, 2.0]]), torch.tensor([[1.0, 1.0]])
    q_hat, m2 = torch.tensor([[2.0, 4.0]]), torch.tensor([[2.0, 1.0]])
    # M_hat = [4, 4], sum M(t) = 3 -> scale 3/8 -> M = [1.5, 1.5] -> q = [0.75, 1.5]
    assert torch.allclose(scale_fixer(q_hat, m2, q, m), torch.tensor([[0.75, 1.5]]))
    # shift: M = M_hat - 4 + 1.5 = [1.5, 1.5]
    assert torch.allclose(shift_fixer(q_hat, m2, q, m), torch.tensor([[0.75, 1.5]]))


def test_scale_fixer_preserves_correct_prediction():
    q, m, m2, _ = _state(1)
    q_true = q * m / m2  # a prediction that already conserves mass is unchanged
    assert torch.allclose(scale_fixer(q_true, m2, q, m), q_true, rtol=1e-14, atol=0)
    assert torch.allclose(shift_fixer(q_true, m2, q, m), q_true, rtol=1e-13, atol=0)


def test_surface_flux_budget():
    q, m, m2, q_hat = _state(2)
    g = torch.Generator().manual_seed(3)
    B, L, nlat, nlon = q.shape
    flux = 1e-8 * torch.randn(B, 3, nlat, nlon, generator=g)  # land, ocean, anthro (kg m-2 s-1)
    area = 1e10 * (1 + torch.rand(nlat, nlon, generator=g))
    dt, unit = 21600.0, 1e6
    q_fix = scale_fixer(q_hat, m2, q, m)
    q_new = add_surface_flux(q_fix, m2, flux, area, dt, mass_unit=unit)
    expected = global_mass(q, m) + (flux.sum(1) * area).flatten(1).sum(1) * dt / unit
    assert torch.allclose(global_mass(q_new, m2), expected, rtol=1e-14, atol=0)
    # only the lowest layer changed
    assert torch.equal(q_new[:, 1:], q_fix[:, 1:])
    assert not torch.equal(q_new[:, 0], q_fix[:, 0])


def test_bad_inputs():
    q, m, m2, q_hat = _state()
    with pytest.raises(TypeError, match="q_hat"):
        scale_fixer(q_hat.numpy(), m2, q, m)
    with pytest.raises(ValueError, match="m_next"):
        shift_fixer(q_hat, m2[..., :3], q, m)
    with pytest.raises(ValueError, match="area"):
        add_surface_flux(q, m2, q[:, 0], torch.ones(3, 3), 1.0)
    with pytest.raises(ValueError, match="dt"):
        add_surface_flux(q, m2, q[:, 0], torch.ones(q.shape[-2:]), -1.0)


def test_bounded_fixer_exact_mass_within_bounds():
    from sciml.conservation import bounded_fixer

    g = torch.Generator().manual_seed(0)
    q_prev = 400 + torch.rand(3, 4, 6, 8, generator=g, dtype=torch.float64)
    m = 1 + torch.rand(1, 4, 6, 8, generator=g, dtype=torch.float64)
    lo, hi = q_prev.amin((1, 2, 3), keepdim=True), q_prev.amax((1, 2, 3), keepdim=True)
    for shift in (-3.0, 0.3, 3.0):  # too low, slightly high, far too high predictions
        q_hat = q_prev + shift + 0.5 * torch.randn(q_prev.shape, generator=g, dtype=torch.float64)
        q = bounded_fixer(q_hat, m, q_prev, m, lo, hi)
        rel = ((q * m).sum((1, 2, 3)) - (q_prev * m).sum((1, 2, 3))) / (q_prev * m).sum((1, 2, 3))
        assert rel.abs().max() < 1e-15
        assert (q >= lo - 1e-12).all() and (q <= hi + 1e-12).all()
