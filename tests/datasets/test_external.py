import h5py
import numpy as np
import pytest
import scipy.io
import torch

from sciml.datasets.external import read_fno_darcy, read_mat, read_neuraloperator_pt


def _fno_arrays(n=3, s=21):
    rng = np.random.default_rng(0)
    return rng.random((n, s, s)), rng.random((n, s, s))


def test_fno_darcy_mat_v5(tmp_path):
    coeff, sol = _fno_arrays()
    scipy.io.savemat(tmp_path / "d.mat", {"coeff": coeff, "sol": sol, "Kcoeff": coeff})
    d = read_fno_darcy(tmp_path / "d.mat", subsample=5)
    assert d["a"].shape == (3, 1, 5, 5)
    assert np.array_equal(d["a"][:, 0], coeff[:, ::5, ::5]) and np.array_equal(d["u"][:, 0], sol[:, ::5, ::5])


def test_fno_darcy_mat_v73_hdf5_layout(tmp_path):
    coeff, sol = _fno_arrays()
    # MATLAB v7.3: HDF5 with a 512-byte user block, arrays stored column-major (axes reversed).
    with h5py.File(tmp_path / "d.mat", "w", userblock_size=512) as f:
        f["coeff"] = coeff.T
        f["sol"] = sol.T
    d = read_fno_darcy(tmp_path / "d.mat")
    assert np.array_equal(d["a"][:, 0], coeff) and np.array_equal(d["u"][:, 0], sol)
    assert set(read_mat(tmp_path / "d.mat")) == {"coeff", "sol"}


def test_neuraloperator_pt(tmp_path):
    x, y = torch.rand(4, 16, 16), torch.rand(4, 16, 16)
    torch.save({"x": x, "y": y}, tmp_path / "darcy_train_16.pt")
    d = read_neuraloperator_pt(tmp_path / "darcy_train_16.pt")
    assert d["a"].shape == (4, 1, 16, 16) and np.allclose(d["u"][:, 0], y.numpy())


def test_external_bad_input(tmp_path):
    scipy.io.savemat(tmp_path / "d.mat", {"coeff": np.zeros((2, 4, 4))})
    with pytest.raises(KeyError, match="sol"):
        read_fno_darcy(tmp_path / "d.mat")
    with pytest.raises(ValueError, match="subsample"):
        read_fno_darcy(tmp_path / "d.mat", subsample=0)
    with pytest.raises(FileNotFoundError):
        read_mat(tmp_path / "none.mat")
