import numpy as np
import pytest


@pytest.fixture(scope="session")
def tiny_darcy(tmp_path_factory):
    """A 13 x 13 Darcy store with 6 samples (a few seconds to make)."""
    from sciml.datasets import generate

    out = tmp_path_factory.mktemp("data") / "darcy13.h5"
    generate("darcy", 6, seed=0, out=out, resolution=25, subsample=2, progress=False)
    return out


@pytest.fixture
def readonly_dir(tmpfs):
    """A read-only folder (a tmpfs mounted ``-o ro``; root ignores chmod)."""
    return tmpfs("ro", "ro,size=1m")


def hdf5_bytes(path):
    """Write a small valid HDF5 file at ``path``; return its bytes."""
    import h5py

    with h5py.File(path, "w") as f:
        f["x"] = np.arange(3.0)
    return path.read_bytes()


@pytest.fixture
def full_dir(tmpfs):
    """A folder on a 64 kB tmpfs (writes of more fail with ENOSPC)."""
    return tmpfs("full", "size=64k")
