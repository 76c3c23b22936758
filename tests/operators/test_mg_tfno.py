"""MG-TFNO: TFNO on multigrid patches: patch sizes, odd grids, levels=0, overfitting, config/checkpoint round trip."""
import json

import pytest
import torch

from sciml.operators import MGTFNO, TFNO, build_model


def test_tfno_sees_quarter_patches_with_context_channels():
    model = MGTFNO(1, 1, n_modes=[6, 6], hidden_channels=8, n_layers=1, levels=1, padding_fraction=0.25)
    seen = []
    model.tfno.register_forward_pre_hook(lambda m, args: seen.append(tuple(args[0].shape)))
    y = model(torch.randn(3, 1, 32, 32))
    assert y.shape == (3, 1, 32, 32)
    assert seen == [(3 * 4, 2, 16 + 2 * 4, 16 + 2 * 4)]  # 4 patches per sample, 16 + 2 x 4 overlap


@pytest.mark.parametrize("shape", [(85, 85), (17, 30)])
def test_odd_grids_are_padded_and_cropped(shape):
    model = MGTFNO(2, 3, n_modes=[4, 4], hidden_channels=4, n_layers=1, levels=2)
    assert model(torch.randn(2, 2, *shape)).shape == (2, 3, *shape)


def test_levels_zero_is_the_tfno_itself():
    torch.manual_seed(0)
    mg = MGTFNO(1, 1, n_modes=[6, 6], hidden_channels=8, n_layers=2, levels=0, padding_fraction=0.0)
    plain = TFNO(1, 1, [6, 6], 8, 2)
    plain.load_state_dict(mg.tfno.state_dict())
    x = torch.randn(2, 1, 20, 20)
    with torch.no_grad():
        assert torch.equal(mg(x), plain(x))


def test_overfits_a_tiny_batch():
    torch.manual_seed(0)
    s = torch.linspace(0, 1, 32)
    x = sum(torch.randn(4, 1, 1, 1) * torch.sin(torch.pi * k * s)[:, None] * torch.sin(torch.pi * j * s)
            for k, j in ((1, 1), (1, 2), (2, 1), (2, 3)))
    y = 0.5 * x + 0.2 * x**2 + torch.roll(x, 3, -1)  # pointwise and non-local parts
    model = MGTFNO(1, 1, n_modes=[8, 8], hidden_channels=16, n_layers=2, levels=1, padding_fraction=0.25)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(120):
        opt.zero_grad()
        loss = ((model(x) - y) ** 2).mean() / (y**2).mean()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0] / 10, (losses[0], losses[-1])


def test_config_and_checkpoint_round_trip(tmp_path):
    from sciml.training.checkpoint import load_model, save_checkpoint

    model = build_model("mg-tfno", in_channels=1, out_channels=1, n_modes=[6, 6], hidden_channels=8, n_layers=1,
                        levels=1, rank=0.5)
    assert model.config["rank"] == 0.5 and model.config["levels"] == 1
    clone = build_model("mg-tfno", **json.loads(json.dumps(model.config)))
    clone.load_state_dict(model.state_dict())
    save_checkpoint(tmp_path / "ck", model)
    loaded = load_model(tmp_path / "ck")
    x = torch.randn(2, 1, 24, 24)
    with torch.no_grad():
        assert torch.equal(model(x), clone(x)) and torch.equal(model(x), loaded(x))


def test_global_grid_tells_the_patches_apart(tmp_path):
    from sciml.training.checkpoint import load_model, save_checkpoint

    # a constant field: without global coordinates every patch sees the same input and the same context,
    # so the four patch outputs are the same (the patches do not know where they lie); with them they differ
    x = torch.ones(1, 1, 32, 32)
    torch.manual_seed(0)
    local = MGTFNO(1, 1, n_modes=[6, 6], hidden_channels=8, n_layers=2, levels=1, padding_mode="replicate")
    torch.manual_seed(0)
    placed = MGTFNO(1, 1, n_modes=[6, 6], hidden_channels=8, n_layers=2, levels=1, padding_mode="replicate",
                    global_grid=True)
    assert placed.tfno.in_channels == local.tfno.in_channels + 4  # x, y at the patch and at the context level
    with torch.no_grad():
        a, b = local(x), placed(x)
    quads = lambda y: [y[..., i:i + 16, j:j + 16] for i in (0, 16) for j in (0, 16)]  # noqa: E731
    assert all(torch.allclose(q, quads(a)[0], atol=1e-6) for q in quads(a)[1:])
    assert min((q - quads(b)[0]).abs().max().item() for q in quads(b)[1:]) > 1e-4
    save_checkpoint(tmp_path / "ck", placed)
    loaded = load_model(tmp_path / "ck")
    assert loaded.config["global_grid"] is True
    with torch.no_grad():
        assert torch.equal(loaded(x), b)
    with pytest.raises(TypeError, match="global_grid"):
        MGTFNO(1, 1, n_modes=[4, 4], global_grid="yes")


def test_bad_arguments():
    with pytest.raises(ValueError, match="n_modes must have 2 entries"):
        MGTFNO(1, 1, n_modes=[4, 4, 4])
    with pytest.raises(ValueError, match="levels"):
        MGTFNO(1, 1, n_modes=[4, 4], levels=-1)
