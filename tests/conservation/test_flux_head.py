import pytest
import torch

from sciml.conservation import FluxFormHead, apply_face_fluxes, flux_divergence, limit_outflow


@pytest.fixture(autouse=True)
def _float64():
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)
B, L, NLAT, NLON = 2, 3, 6, 8


def _fluxes(seed=0, scale=1.0):
    g = torch.Generator().manual_seed(seed)
    fx = scale * torch.randn(B, L, NLAT, NLON, generator=g)
    fy = scale * torch.randn(B, L, NLAT - 1, NLON, generator=g)
    fz = scale * torch.randn(B, L - 1, NLAT, NLON, generator=g)
    return fx, fy, fz


def test_global_conservation_round_off():
    r = torch.rand(B, L, NLAT, NLON) + 1
    fx, fy, fz = _fluxes()
    r2 = apply_face_fluxes(r, fx, fy, fz)
    s0, s1 = r.sum((1, 2, 3)), r2.sum((1, 2, 3))
    assert ((s1 - s0) / s0).abs().max() <= 1e-14
    assert (r2 - r).abs().max() > 0.1


def test_local_conservation_each_cell_is_a_divergence():
    fx, fy, fz = _fluxes(1)
    d = flux_divergence(fx, fy, fz)
    b, k, j, i = 1, 1, 2, 0  # an interior cell at the periodic seam
    by_hand = (fx[b, k, j, NLON - 1] - fx[b, k, j, i]
               + fy[b, k, j - 1, i] - fy[b, k, j, i]
               + fz[b, k - 1, j, i] - fz[b, k, j, i])
    assert torch.allclose(d[b, k, j, i], by_hand, rtol=1e-15, atol=1e-15)
    # south pole row, bottom level: no flux through the pole or the ground
    by_hand = fx[0, 0, 0, 2] * 0 + fx[0, 0, 0, 1] - fx[0, 0, 0, 2] - fy[0, 0, 0, 2] - fz[0, 0, 0, 2]
    assert torch.allclose(d[0, 0, 0, 2], by_hand, rtol=1e-15, atol=1e-15)
    # north pole row, top level
    by_hand = (
        fx[0, L - 1, NLAT - 1, 4] - fx[0, L - 1, NLAT - 1, 5] + fy[0, L - 1, NLAT - 2, 5] + fz[0, L - 2, NLAT - 1, 5]
    )
    assert torch.allclose(d[0, L - 1, NLAT - 1, 5], by_hand, rtol=1e-15, atol=1e-15)
    # any subdomain's change = net flux through its boundary (local budget), here rows 1..3 all lon, level 0..L-1
    sub = d[:, :, 1:4].sum((1, 2, 3))
    boundary = fy[:, :, 0].sum((1, 2)) - fy[:, :, 3].sum((1, 2))
    assert torch.allclose(sub, boundary, rtol=1e-13, atol=1e-12)


def test_uniform_flux_no_change():
    fx = torch.full((B, L, NLAT, NLON), 3.0)
    fy = torch.zeros(B, L, NLAT - 1, NLON)
    fz = torch.zeros(B, L - 1, NLAT, NLON)
    assert flux_divergence(fx, fy, fz).abs().max() == 0


def test_positivity_limiter():
    g = torch.Generator().manual_seed(4)
    r = torch.rand(B, L, NLAT, NLON, generator=g)
    r[:, :, 2, 3] = 0.0  # empty cells
    fx, fy, fz = _fluxes(5, scale=2.0)  # fluxes much larger than the tracer available
    assert apply_face_fluxes(r, fx, fy, fz).min() < -1
    r2 = apply_face_fluxes(r, fx, fy, fz, positive=True)
    assert r2.min() >= -1e-15
    assert torch.allclose(r2.sum((1, 2, 3)), r.sum((1, 2, 3)), rtol=1e-14, atol=0)
    lx, ly, lz = limit_outflow(r, fx, fy, fz)
    assert (lx.abs() <= fx.abs() + 1e-15).all() and (ly.abs() <= fy.abs() + 1e-15).all()
    # small fluxes are left alone
    sx, sy, sz = _fluxes(6, scale=1e-4)
    r3 = r + 1.0
    ax, ay, az = limit_outflow(r3, sx, sy, sz)
    assert torch.equal(ax, sx) and torch.equal(ay, sy) and torch.equal(az, sz)


def test_head_scale_and_shapes():
    head = FluxFormHead(L, flux_scale=[1.0, 2.0, 3.0])
    raw = torch.randn(B, 3 * L, NLAT, NLON)
    r = torch.rand(B, L, NLAT, NLON)
    fx, fy, fz = head.fluxes(raw)
    assert fx.shape == (B, L, NLAT, NLON) and fy.shape == (B, L, NLAT - 1, NLON) and fz.shape == (B, L - 1, NLAT, NLON)
    assert torch.allclose(fx[:, 2], 3 * raw[:, 2])
    out = head(r, raw)
    assert torch.allclose(out.sum((1, 2, 3)), r.sum((1, 2, 3)), rtol=1e-14)
    with pytest.raises(ValueError, match="raw"):
        head(r, raw[:, :5])
    with pytest.raises(ValueError, match="flux_scale"):
        FluxFormHead(3, flux_scale=[1.0, 2.0])
