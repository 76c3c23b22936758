import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from sciml.datasets import save_dataset
from sciml.datasets.loaders import FieldDataset, UnitGaussianNormalizer, split_indices


@pytest.fixture()
def store(tmp_path):
    rng = np.random.default_rng(0)
    a = rng.normal(size=(12, 1, 8, 8))
    u = a * 2 + np.arange(12)[:, None, None, None]  # sample index recoverable from u - 2a
    w = rng.normal(size=(12, 6, 1, 8, 8))
    return save_dataset(tmp_path / "d.h5", {"a": a, "u": u, "w": w},
                        dims={"w": ("time", "channel", "y", "x")}), a, u, w


def test_lazy_and_in_memory_agree(store):
    path, a, u, _ = store
    idx = np.array([7, 2, 5])
    lazy = FieldDataset(path, "a", "u", indices=idx)
    mem = FieldDataset(path, "a", "u", indices=idx, in_memory=True)
    assert len(lazy) == len(mem) == 3
    for i, j in enumerate(idx):
        x, y = lazy[i]
        assert x.shape == (1, 8, 8) and x.dtype == torch.float32
        np.testing.assert_allclose(x.numpy(), a[j].astype(np.float32))
        np.testing.assert_allclose(y.numpy(), u[j].astype(np.float32))
        torch.testing.assert_close(mem[i][0], x)
    xb, yb = lazy.get_batch([2, 0])
    np.testing.assert_allclose(xb.numpy(), a[[5, 7]].astype(np.float32))
    two = FieldDataset(path, ["a", "u"], "u", dtype=torch.float64)
    assert two[3][0].shape == (2, 8, 8) and two[3][0].dtype == torch.float64


def test_dataloader_with_two_workers(store):
    path, a, u, _ = store
    ds = FieldDataset(path, "a", "u")
    ds[0]  # opens a handle in the parent; workers must open their own
    loader = DataLoader(ds, batch_size=4, num_workers=2, shuffle=False)
    xs, ys = zip(*loader)
    x, y = torch.cat(xs), torch.cat(ys)
    np.testing.assert_allclose(x.numpy(), a.astype(np.float32))
    np.testing.assert_allclose(y.numpy(), u.astype(np.float32))


def test_trajectory_windows(store):
    path, _, _, w = store
    ds = FieldDataset(path, "w", "w", t_in=2, t_out=3)
    x, y = ds[4]
    assert x.shape == (2, 1, 8, 8) and y.shape == (3, 1, 8, 8)
    np.testing.assert_allclose(y.numpy(), w[4, 2:5].astype(np.float32))
    assert FieldDataset(path, "w", "w", t_in=4)[0][1].shape == (2, 1, 8, 8)
    with pytest.raises(ValueError, match="t_in"):
        FieldDataset(path, "w", "w", t_in=6)


def test_bad_arguments(store):
    path = store[0]
    with pytest.raises(ValueError, match="field 'b'"):
        FieldDataset(path, "b", "u")
    with pytest.raises(TypeError, match="inputs"):
        FieldDataset(path, 3, "u")
    with pytest.raises(ValueError, match="indices"):
        FieldDataset(path, "a", "u", indices=[0, 12])
    with pytest.raises(FileNotFoundError):
        FieldDataset(path.with_name("nope.h5"))


def test_normalizer_round_trip_and_statistics():
    g = torch.Generator().manual_seed(0)
    x = 3.0 + 2.0 * torch.randn(400, 2, 5, 5, generator=g, dtype=torch.float64)
    norm = UnitGaussianNormalizer.fit(x, dtype=torch.float64)
    z = norm.encode(x)
    torch.testing.assert_close(z.mean(0), torch.zeros(2, 5, 5, dtype=torch.float64), atol=1e-12, rtol=0)
    torch.testing.assert_close(z.std(0, unbiased=False), torch.ones(2, 5, 5, dtype=torch.float64), atol=1e-5, rtol=0)
    torch.testing.assert_close(norm.decode(z), x, atol=1e-12, rtol=0)
    # streaming fit over batches equals the one-shot fit
    streamed = UnitGaussianNormalizer.fit(x.split(64), dtype=torch.float64)
    torch.testing.assert_close(streamed.mean, norm.mean, atol=1e-12, rtol=0)
    # per-channel statistics
    per_channel = UnitGaussianNormalizer.fit(x, reduce_dims=(0, 2, 3))
    assert per_channel.mean.shape == (2, 1, 1)
    # state dict round trip through from_config
    again = UnitGaussianNormalizer.from_config(norm.config)
    again.load_state_dict(norm.state_dict())
    torch.testing.assert_close(again.decode(z.float()), x.float())


def test_splits_are_seeded_and_disjoint():
    tr, te = split_indices(100, [70, 30], seed=3)
    assert len(tr) == 70 and len(te) == 30 and not set(tr) & set(te)
    tr2, te2 = split_indices(100, [70, 30], seed=3)
    assert (tr == tr2).all() and (te == te2).all()
    assert not (split_indices(100, [70, 30], seed=4)[0] == tr).all()
    a, b, c = split_indices(10, [0.6, 0.2, 0.2], seed=0)
    assert (len(a), len(b), len(c)) == (6, 2, 2)
    first, last = split_indices(12, [8, 3], seed=None)
    assert first.tolist() == list(range(8)) and last.tolist() == [9, 10, 11]
    mask = np.ones(10, bool)
    mask[3] = False
    assert 3 not in np.concatenate(split_indices(10, [5, 4], seed=1, available=mask))
    with pytest.raises(ValueError, match="only 10"):
        split_indices(10, [8, 3])


def test_old_module_name_is_a_deprecated_alias():
    import importlib
    import sys

    import pytest

    sys.modules.pop("sciml.datasets.torch", None)
    with pytest.warns(DeprecationWarning, match="sciml.datasets.loaders"):
        old = importlib.import_module("sciml.datasets.torch")
    assert old.FieldDataset is FieldDataset and old.UnitGaussianNormalizer is UnitGaussianNormalizer
