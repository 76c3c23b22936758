import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from sciml.datasets import generate, get_recipe, open_dataset
from sciml.datasets.recipes_elliptic import darcy_inputs

SMALL = dict(resolution=33, subsample=2, chunk=3)


def _read(path):
    with open_dataset(path) as ds:
        return {k: ds[k][()] for k in ds.fields}, ds.attrs


def test_serial_pool_and_dask_are_bit_identical(tmp_path):
    from dask.distributed import Client, LocalCluster

    serial = generate("darcy", 8, seed=5, out=tmp_path / "s.h5", progress=False, **SMALL)
    pool = generate("darcy", 8, seed=5, out=tmp_path / "p.h5", workers=2, progress=False, **SMALL)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        dask = generate("darcy", 8, seed=5, out=tmp_path / "d.h5", scheduler=client, progress=False, **SMALL)
    ref, attrs = _read(serial)
    for other in (pool, dask):
        data, _ = _read(other)
        for k in ref:
            assert np.array_equal(ref[k], data[k])
    assert ref["a"].shape == (8, 1, 17, 17) and attrs["n"] == 8 and attrs["recipe"] == "darcy"
    assert not (tmp_path / "s.h5.partial").exists()
    # Sample i depends only on (recipe, params, seed, i).
    p = get_recipe("darcy").resolve(**SMALL)
    assert np.array_equal(ref["a"][6, 0], darcy_inputs(p, 5, 6)[::2, ::2])
    # Solutions satisfy the discrete problem they came from.
    assert np.all(ref["u"][:, 0, 0, :] == 0) and ref["u"].max() > 0


def test_existing_file_is_reused_or_protected(tmp_path):
    out = tmp_path / "d.h5"
    generate("darcy", 3, seed=1, out=out, progress=False, **SMALL)
    mtime = out.stat().st_mtime_ns
    assert generate("darcy", 3, seed=1, out=out, progress=False, **SMALL) == out
    with pytest.raises(FileExistsError, match="other seed"):
        generate("darcy", 3, seed=2, out=out, progress=False, **SMALL)
    with pytest.raises(FileExistsError, match="other params"):
        generate("darcy", 3, seed=1, out=out, progress=False, **{**SMALL, "resolution": 41})
    assert out.stat().st_mtime_ns == mtime


@pytest.mark.parametrize("kwargs, exc, match", [
    (dict(n=0), ValueError, "n must be"),
    (dict(n=2, seed=-1), ValueError, "seed"),
    (dict(n=2, workers=0), ValueError, "workers"),
    (dict(n=2, resolution=4), ValueError, "resolution"),
    (dict(n=2, bogus=1), ValueError, "bogus"),
    (dict(n=2, solver="nope"), ValueError, "solver"),
])
def test_bad_arguments_fail_before_work(tmp_path, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        generate("darcy", out=tmp_path / "x.h5", progress=False, **kwargs)
    assert not list(tmp_path.iterdir())


def test_missing_directory_and_unknown_recipe(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        generate("darcy", 2, out=tmp_path / "no" / "x.h5", progress=False)
    with pytest.raises(ValueError, match="unknown recipe"):
        generate("nope", 2, out=tmp_path / "x.h5", progress=False)


def test_killed_run_resumes_to_identical_file(tmp_path):
    args = ["--n", "40", "--seed", "2", "--resolution", "65", "--subsample", "2", "--chunk", "2", "--no-progress"]
    ref = tmp_path / "ref.h5"
    subprocess.run([sys.executable, "-m", "sciml.cli", "generate", "darcy", *args, "--out", str(ref)], check=True)

    out = tmp_path / "run.h5"
    cmd = [sys.executable, "-m", "sciml.cli", "generate", "darcy", *args, "--out", str(out)]
    proc = subprocess.Popen(cmd)
    partial = tmp_path / "run.h5.partial"
    deadline = time.time() + 60
    while time.time() < deadline and len(list(partial.glob("chunk-*.h5"))) < 3:
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not out.exists()
    done_before = len(list(partial.glob("chunk-*.h5")))
    assert 3 <= done_before < 20, done_before
    subprocess.run(cmd, check=True)
    assert not partial.exists()
    a, attrs_a = _read(ref)
    b, attrs_b = _read(out)
    for k in a:
        assert np.array_equal(a[k], b[k])
    assert {k: v for k, v in attrs_a.items() if k != "created"} == {k: v for k, v in attrs_b.items() if k != "created"}


def test_partial_run_with_other_parameters_is_protected(tmp_path):
    out = tmp_path / "x.h5"
    from sciml.datasets.store import ShardDirectory

    ShardDirectory(out).create({"recipe": "darcy", "params": {}, "seed": 9, "n": 3, "n_chunks": 1, "created": ""})
    with pytest.raises(FileExistsError, match="interrupted run"):
        generate("darcy", 3, seed=1, out=out, progress=False, **SMALL)


def test_every_recipe_reaches_worker_processes(tmp_path):
    # a worker receives the recipe by pickle: a lambda in any of its fields (work_bytes, layout)
    # broke workers > 1 for every recipe but darcy until 2026-12-07
    import pickle

    from sciml.datasets import list_recipes

    for name in list_recipes():
        rec = get_recipe(name)
        assert pickle.loads(pickle.dumps(rec)).name == name
    small = dict(resolution=128, subsample=4, chunk=1)
    serial = generate("burgers", 2, seed=1, out=tmp_path / "s.h5", progress=False, **small)
    pooled = generate("burgers", 2, seed=1, out=tmp_path / "p.h5", progress=False, workers=2, **small)
    with open_dataset(serial) as a, open_dataset(pooled) as b:
        assert np.array_equal(a["u"][()], b["u"][()]) and np.array_equal(a["u0"][()], b["u0"][()])


def test_a_recipe_workers_cannot_receive_is_refused_before_work(tmp_path):
    from dataclasses import replace

    rec = replace(get_recipe("darcy"), work_bytes=lambda p: 1.0)
    with pytest.raises(ValueError, match="cannot be sent to worker processes.*or use workers=1"):
        generate(rec, 2, out=tmp_path / "x.h5", progress=False, workers=2, **SMALL)
    assert not any(tmp_path.iterdir())  # nothing written
    generate(rec, 2, out=tmp_path / "x.h5", progress=False, **SMALL)  # one process needs no pickle


def test_file_records_the_libraries_and_blas_kernels_it_was_made_with(tmp_path):
    from sciml._util.environment import software_environment
    from sciml.datasets.store import describe

    out = generate("darcy", 2, seed=1, out=tmp_path / "d.h5", progress=False, **SMALL)
    _, attrs = _read(out)
    env = software_environment()
    assert attrs["environment"] == env and "resumed_environment" not in attrs
    assert env["packages"]["numpy"] == np.__version__ and env["packages"]["scipy"]
    line = next(x for x in describe(out).splitlines() if x.strip().startswith("made with"))
    assert f"numpy {np.__version__}" in line and "openblas" in line


def test_resuming_with_other_kernels_warns_and_records_both(tmp_path):
    from sciml._util.environment import software_environment
    from sciml.datasets.store import ShardDirectory, describe

    out = tmp_path / "x.h5"
    started = {"python": "3.11.0", "platform": "linux-x86_64", "packages": {"numpy": "2.0.0"},
               "blas": [{"library": "libopenblas.so", "api": "openblas", "version": "0.3.27",
                         "architecture": "SkylakeX"}]}
    p = get_recipe("darcy").resolve(**SMALL)
    ShardDirectory(out).create({"recipe": "darcy", "params": p, "seed": 1, "n": 3, "n_chunks": 1,
                                "created": "2026-12-01T00:00:00+00:00", "environment": started})
    with pytest.warns(UserWarning, match="other libraries or BLAS kernels"):
        generate("darcy", 3, seed=1, out=out, progress=False, **SMALL)
    _, attrs = _read(out)
    assert attrs["environment"] == started and attrs["resumed_environment"] == software_environment()
    text = describe(out)
    assert "made with numpy 2.0.0; openblas 0.3.27 SkylakeX" in text and f"numpy {np.__version__}" in text


def _openblas_kernels():
    from sciml._util.environment import blas_libraries

    return [b for b in blas_libraries() if b["api"] == "openblas"]


@pytest.mark.skipif(not _openblas_kernels() or os.uname().machine != "x86_64", reason="OpenBLAS on x86-64 only")
def test_darcy_data_agree_across_blas_kernels_to_the_solver_tolerance(tmp_path):
    # OpenBLAS chooses its kernels per CPU; the CG solves' dot products then round differently,
    # so two machines give other last bits (measured 2e-14 relative at 421^2). Sandybridge (AVX)
    # and Prescott (SSE3) kernels run on any x86-64 CPU of this decade.
    args = ["--n", "4", "--seed", "3", "--resolution", "129", "--subsample", "2", "--no-progress"]
    data = {}
    for core in ("Sandybridge", "Prescott"):
        out = tmp_path / f"{core}.h5"
        env = {**os.environ, "OPENBLAS_CORETYPE": core}
        subprocess.run([sys.executable, "-m", "sciml.cli", "generate", "darcy", *args, "--out", str(out)],
                       check=True, env=env)
        data[core] = _read(out)
    (a, attrs_a), (b, attrs_b) = data["Sandybridge"], data["Prescott"]
    kernels = [{k["architecture"] for k in attrs["environment"]["blas"]} for attrs in (attrs_a, attrs_b)]
    assert kernels[0] == {"Sandybridge"} and len(kernels[1]) == 1 and kernels[1] != kernels[0]  # recorded
    assert np.array_equal(a["a"], b["a"])  # the inputs involve no BLAS reduction
    rel = np.abs(a["u"] - b["u"]).max() / np.abs(a["u"]).max()
    print(f"kernels {kernels}: max relative difference {rel:.2e}")
    assert rel < 1e-10, rel  # the recipe's rtol
