"""One error path: user mistakes exit 2, faults exit 1, interrupts 130; one line, never a traceback."""
import errno
import subprocess
import sys
import time

import numpy as np
import pytest

import sciml.cli._core as core
from sciml.cli import main


def _fake_command(monkeypatch, exc):
    import sciml.cli.info as info

    def boom(args):
        raise exc

    monkeypatch.setattr(info, "run", boom)


@pytest.mark.parametrize("exc, status, words", [
    (OSError(errno.ENOSPC, "No space left on device", "/data/x.h5"), 1, "No space left on device: /data/x.h5"),
    (OSError(errno.EROFS, "Read-only file system", "/ro/x.h5"), 1, "Read-only file system: /ro/x.h5"),
    (PermissionError(errno.EACCES, "Permission denied", "/root/x"), 1, "Permission denied: /root/x"),
    (ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused"), 1, "Connection refused"),
    (TimeoutError("no Dask workers joined tcp://h:8786 within 30 s"), 1, "no Dask workers"),
    (ValueError("--n must be positive\nsecond line"), 2, "--n must be positive"),
    (FileExistsError("x.h5 exists"), 2, "x.h5 exists"),
])
def test_exceptions_map_to_one_line_and_status(monkeypatch, capsys, exc, status, words):
    monkeypatch.delenv("SCIML_DEBUG", raising=False)
    _fake_command(monkeypatch, exc)
    assert main(["info", "x.h5"]) == status
    err = capsys.readouterr().err.strip()
    assert err == f"sciml: error: {words}" or (err.startswith("sciml: error:") and words in err), err
    assert "\n" not in err


def test_library_errors_and_interrupts(monkeypatch, capsys):
    from sciml._util.io import OutputLockedError
    from sciml.training import NonFiniteLossError

    _fake_command(monkeypatch, NonFiniteLossError("non-finite training loss (nan) at epoch 1"))
    assert main(["info", "x"]) == 1
    assert capsys.readouterr().err.strip() == "sciml: error: non-finite training loss (nan) at epoch 1"
    _fake_command(monkeypatch, OutputLockedError("x.h5 is being written by PID 1 on h"))
    assert main(["info", "x"]) == 2
    _fake_command(monkeypatch, KeyboardInterrupt())
    assert main(["info", "x"]) == 130
    assert capsys.readouterr().err.strip().splitlines()[-1] == "sciml: interrupted"


def test_bugs_keep_their_traceback_and_debug_shows_it(monkeypatch):
    _fake_command(monkeypatch, ZeroDivisionError("a bug"))
    with pytest.raises(ZeroDivisionError):
        main(["info", "x"])
    _fake_command(monkeypatch, ValueError("bad"))
    monkeypatch.setenv("SCIML_DEBUG", "1")
    with pytest.raises(ValueError):
        main(["info", "x"])


def test_python_m_sciml_runs_the_cli(tmp_path):
    r = subprocess.run([sys.executable, "-m", "sciml", "--version"], capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 0 and r.stdout.startswith("sciml ")
    r = subprocess.run([sys.executable, "-m", "sciml", "generate", "darcy", "--n", "0", "--out", "x.h5"],
                       capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 2 and "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_nan_training_data_is_one_line_nonzero_and_leaves_no_run_dir(tmp_path, capsys):
    from sciml.datasets import save_dataset

    rng = np.random.default_rng(0)
    a, u = rng.random((6, 1, 9, 9)), rng.random((6, 1, 9, 9))
    a[:] = np.nan
    data = save_dataset(tmp_path / "nan.h5", {"a": a, "u": u})
    run = tmp_path / "run"
    rc = main(["train", "--data", str(data), "--out", str(run), "--epochs", "2", "--modes", "2", "--width", "4",
               "--layers", "1", "--batch-size", "2", "--no-progress", "--device", "cpu"])
    err = capsys.readouterr().err.strip()
    assert rc in (1, 2) and err.startswith("sciml: error:") and "\n" not in err, err
    assert "non-finite" in err or "NaN" in err
    assert not run.exists() or any(p.is_file() for p in run.rglob("*"))  # nothing empty left behind
    assert not list(tmp_path.glob("*.lock"))  # the lock is released on failure


@pytest.mark.parametrize("argv, words", [
    (["landau", "--plot", "x.txt"], "--plot"),
    (["landau", "--particles", "1e11"], "--particles"),
    (["landau", "--t-end", "1e308"], "--t-end"),
    (["landau", "--dt", "1e-300"], "--dt"),
    (["landau", "--method", "score", "--dt", "1e-300"], "--dt"),
    (["generate", "darcy", "--n", "1e11", "--out", "x.h5"], "n=100,000,000,000"),
    (["generate", "darcy", "--n", "2", "--resolution", "60000", "--out", "x.h5"], "resolution=60000"),
    (["generate", "ns2d", "--n", "2", "--resolution", "60000", "--out", "x.h5"], "resolution=60000"),
    (["generate", "landau", "--n", "2", "--particles", "100000", "--out", "x.h5"], "particles=100000"),
    (["generate", "carbonbench", "--seed", "-1", "--out", "cb"], "--seed"),
    (["generate", "carbonbench", "--n", "5", "--out", "cb"], "--n"),
    (["generate", "carbonbench", "--days-per-year", "0", "--out", "cb"], "--days-per-year"),
    (["generate", "carbonbench", "--years", "2000..2003", "--out", "cb"], "--years"),
    (["generate", "carbonbench", "--levels", "x", "--out", "cb"], "--levels"),
    (["generate", "darcy", "--n", "2", "--seed", "-1", "--out", "x.h5"], "--seed"),
    (["generate", "darcy", "--n", "2", "--solver", "magic", "--out", "x.h5"], "--solver"),
    (["demo", "--n", "0"], "--n"),
    (["generate", "ns2d", "--n", "1", "--dt", "1e-300", "--out", "x.h5"], "--dt=1e-300"),
    (["generate", "ns2d", "--n", "1", "--max-dt", "1e-300", "--out", "x.h5"], "--max-dt=1e-300"),
    (["generate", "burgers", "--n", "1", "--dt", "1e-300", "--out", "x.h5"], "--dt=1e-300"),
    (["generate", "landau", "--n", "1", "--dt", "1e-300", "--out", "x.h5"], "--dt=1e-300"),
])
def test_refused_before_any_work_naming_the_option(tmp_path, monkeypatch, capsys, argv, words):
    monkeypatch.chdir(tmp_path)
    t0 = time.perf_counter()
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("sciml: error:") and words in err and "\n" not in err, err
    assert time.perf_counter() - t0 < 15
    assert list(tmp_path.iterdir()) == []  # nothing written, no empty run folder


def test_error_line_names_the_file():
    e = OSError(errno.ENOSPC, "No space left on device")
    e.filename = "/d/x.h5"
    assert core.error_line(e) == "No space left on device: /d/x.h5"
    assert core.exit_status(e) == 1
    assert core.exit_status(FileNotFoundError(errno.ENOENT, "No such file", "x")) == 2


def test_unreachable_scheduler_is_one_line_and_leaves_no_partial(tmp_path, capsys, monkeypatch):
    """A Dask scheduler that cannot be reached: exit 1, one line naming it, no ``.partial`` left behind."""
    import sciml.datasets as ds

    def unreachable(*a, **k):
        out = k["out"]
        (tmp_path / (out.name + ".partial")).mkdir()
        (tmp_path / (out.name + ".partial") / "manifest.json").write_text("{}")
        raise OSError("Timed out trying to connect to tcp://10.0.0.1:8786 after 30 s")

    monkeypatch.setattr(ds, "generate", lambda *a, **k: unreachable(*a, out=__import__("pathlib").Path(k["out"])))
    rc = main(["generate", "darcy", "--n", "2", "--resolution", "17", "--scheduler", "tcp://10.0.0.1:8786",
               "--out", str(tmp_path / "d.h5"), "--no-progress"])
    err = capsys.readouterr().err.strip()
    assert rc == 1 and err == "sciml: error: Timed out trying to connect to tcp://10.0.0.1:8786 after 30 s"
    assert list(tmp_path.iterdir()) == []


def test_corrupt_checkpoints_are_one_line(tmp_path, tiny_darcy, capsys):
    ck = tmp_path / "ck.pt"
    ck.write_text("not a checkpoint")
    assert main(["pinn", "poisson-lshape", "--iterations", "1", "--lbfgs-iterations", "0", "--bfgs-iterations", "0",
                 "--checkpoint", str(ck), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("sciml: error: --checkpoint") and "\n" not in err, err
    d = tmp_path / "ckdir"
    d.mkdir()
    (d / "config.json").write_text("{broken")
    (d / "model.pt").write_bytes(b"PK\x03\x04garbage")
    assert main(["pinn", "poisson-lshape", "--iterations", "1", "--lbfgs-iterations", "0", "--bfgs-iterations", "0",
                 "--checkpoint", str(d), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("sciml: error:") and "\n" not in err and "ckdir" in err, err
    # an operator run whose last checkpoint was damaged: --resume refuses it with one line
    run = tmp_path / "run"
    base = ["train", "--data", str(tiny_darcy), "--out", str(run), "--epochs", "1", "--modes", "2", "--width", "4",
            "--layers", "1", "--no-progress", "--device", "cpu"]
    assert main(base) == 0
    capsys.readouterr()
    weights = next(p for p in (run / "checkpoints" / "last").iterdir() if p.name != "config.json")
    weights.write_bytes(b"garbage")
    assert main(base[:7] + ["2"] + base[8:] + ["--resume"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("sciml: error:") and "\n" not in err, err


def test_train_amp_fp16_on_a_cpu_is_one_line_exit_2(tiny_darcy, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "--data", str(tiny_darcy), "--out", str(run), "--epochs", "1", "--modes", "2", "--width",
                 "4", "--layers", "1", "--no-progress", "--device", "cpu", "--amp", "fp16"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("sciml: error:") and "\n" not in err and "amp='fp16' needs a CUDA device" in err, err
    assert not (run / "checkpoints").exists()  # refused before any work


@pytest.mark.filterwarnings("ignore:amp='bf16' on a CPU without bf16 units")
def test_train_amp_bf16_runs_on_a_cpu(tiny_darcy, tmp_path):
    run = tmp_path / "run"
    assert main(["train", "--data", str(tiny_darcy), "--out", str(run), "--epochs", "1", "--modes", "2", "--width",
                 "4", "--layers", "1", "--no-progress", "--device", "cpu", "--amp", "bf16"]) == 0
    from sciml.training import load_checkpoint

    assert load_checkpoint(run / "checkpoints" / "last")["config"]["trainer"]["hyperparameters"]["amp"] == "bf16"


def test_train_micro_batch_is_recorded_and_a_batch_norm_unet_is_refused_in_one_line(tiny_darcy, tmp_path, capsys):
    import json

    run = tmp_path / "run"
    common = ["--data", str(tiny_darcy), "--epochs", "1", "--no-progress", "--device", "cpu", "--batch-size", "4"]
    assert main(["train", "--out", str(run), "--modes", "2", "--width", "4", "--layers", "1", "--micro-batch", "3",
                 *common]) == 0
    hyper = json.loads((run / "results.json").read_text())["hyperparameters"]
    assert (hyper["batch_size"], hyper["micro_batch"]) == (4, 3)
    capsys.readouterr()
    bad = tmp_path / "bad"
    assert main(["train", "--out", str(bad), "--model", "unet", "--model-arg", "norm=batch", "--micro-batch", "2",
                 *common]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("sciml: error:") and "\n" not in err and "batch normalisation" in err, err
    assert not bad.exists()  # refused before any work: no run folder left behind
    assert main(["train", "--out", str(bad), "--micro-batch", "0", *common]) == 2
