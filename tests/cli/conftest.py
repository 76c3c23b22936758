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
def readonly_dir(tmp_path):
    """A read-only folder (a tmpfs mounted ``-o ro``; root ignores chmod). Skips when mounting is impossible."""
    import subprocess

    d = tmp_path / "ro"
    d.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(d)], capture_output=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a read-only tmpfs here: {r.stderr.decode().strip()}")
    try:
        yield d
    finally:
        subprocess.run(["umount", str(d)], check=False)


def hdf5_bytes(path):
    """Write a small valid HDF5 file at ``path``; return its bytes."""
    import h5py

    with h5py.File(path, "w") as f:
        f["x"] = np.arange(3.0)
    return path.read_bytes()


@pytest.fixture
def full_dir(tmp_path):
    """A folder on a 64 kB tmpfs (writes of more fail with ENOSPC). Skips when mounting is impossible."""
    import subprocess

    d = tmp_path / "full"
    d.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(d)], capture_output=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.decode().strip()}")
    try:
        yield d
    finally:
        subprocess.run(["umount", str(d)], check=False)
