"""Outputs never replace an input, a file of another kind, or an existing run without --overwrite/--resume;
every output is locked while being written."""
import json
import os
import time

from sciml.cli import main

from .conftest import hdf5_bytes


def _one_line(capsys, *words):
    err = capsys.readouterr().err.strip()
    assert err.startswith("sciml: error:") and "\n" not in err, err
    for w in words:
        assert w in err, err
    return err


def test_bench_table_never_overwrites_its_input_or_other_data(tmp_path, capsys):
    res = tmp_path / "R"
    res.mkdir()
    (res / "x.json").write_text('{"schema": "x"}')
    before = (res / "x.json").read_bytes()
    assert main(["bench", "table", str(res), "--out", str(res / "x.json")]) == 2
    _one_line(capsys, "--out")
    assert (res / "x.json").read_bytes() == before
    data = tmp_path / "data.h5"
    h5 = hdf5_bytes(data)
    assert main(["bench", "table", str(res), "--out", str(data)]) == 2
    _one_line(capsys, "--out")
    assert data.read_bytes() == h5
    md = tmp_path / "lb.md"
    md.write_bytes(h5)  # an HDF5 file named .md is not replaced, even with --overwrite
    assert main(["bench", "table", str(res), "--out", str(md), "--overwrite"]) == 2
    _one_line(capsys, "HDF5")
    assert md.read_bytes() == h5


def test_pinn_json_refuses_data_files_and_folders_before_training(tmp_path, capsys):
    data = tmp_path / "data.h5"
    h5 = hdf5_bytes(data)
    t0 = time.perf_counter()
    assert main(["pinn", "poisson-lshape", "--json", str(data), "--no-progress"]) == 2
    _one_line(capsys, "--json")
    other = tmp_path / "r.json"
    other.write_bytes(h5)
    assert main(["pinn", "poisson-lshape", "--json", str(other), "--overwrite", "--no-progress"]) == 2
    _one_line(capsys, "--json", "HDF5")
    (tmp_path / "dir.json").mkdir()
    assert main(["pinn", "poisson-lshape", "--json", str(tmp_path / "dir.json"), "--no-progress"]) == 2
    _one_line(capsys, "--json", "folder")
    assert main(["pinn", "poisson-lshape", "--json", str(tmp_path / "a.json"), "--plot", str(tmp_path / "a.json"),
                 "--no-progress"]) == 2
    _one_line(capsys, "--plot")
    assert data.read_bytes() == h5 and other.read_bytes() == h5
    assert time.perf_counter() - t0 < 20  # refused before any training


def test_plot_never_overwrites_its_input(tiny_darcy, tmp_path, capsys):
    d = tmp_path / "d.png"  # an HDF5 store named .png
    d.write_bytes(tiny_darcy.read_bytes())
    before = d.read_bytes()
    assert main(["plot", str(d), "--out", str(d)]) == 2
    _one_line(capsys, "input")
    assert main(["plot", str(d), "--out", str(d), "--overwrite"]) == 2
    _one_line(capsys, "input")
    link = tmp_path / "link.png"
    link.symlink_to(d)
    assert main(["plot", str(d), "--out", str(link), "--overwrite"]) == 2  # symlinks are resolved
    _one_line(capsys, "input")
    assert d.read_bytes() == before
    fig = tmp_path / "fig.png"
    assert main(["plot", str(d), "--out", str(fig)]) == 0 and fig.stat().st_size > 1000
    capsys.readouterr()
    assert main(["plot", str(d), "--out", str(fig)]) == 2  # exists
    _one_line(capsys, "--overwrite")
    assert main(["plot", str(d), "--out", str(fig), "--overwrite", "--sample", "1"]) == 0


def test_generate_never_replaces_a_file_of_another_kind(tmp_path, capsys):
    png = tmp_path / "x.h5"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + b"0" * 100)
    before = png.read_bytes()
    assert main(["generate", "darcy", "--n", "2", "--resolution", "17", "--out", str(png), "--no-progress"]) == 2
    _one_line(capsys, "--out", "png")
    assert png.read_bytes() == before


def test_train_refuses_an_existing_run_without_resume(tiny_darcy, tmp_path, capsys):
    run = tmp_path / "run"
    base = ["train", "--data", str(tiny_darcy), "--out", str(run), "--epochs", "1", "--modes", "2", "--width", "4",
            "--layers", "1", "--batch-size", "2", "--no-progress", "--device", "cpu"]
    assert main(base) == 0
    capsys.readouterr()
    results = (run / "results.json").read_bytes()
    assert main(base) == 2
    _one_line(capsys, "--out", "--overwrite")
    assert (run / "results.json").read_bytes() == results
    # --resume with other model options: refused with one line naming them
    assert main([a if a != "4" else "8" for a in base] + ["--resume"]) == 2
    _one_line(capsys, "--resume", "hidden_channels")
    assert main(base[:-2] + ["--model", "tfno", "--resume", "--device", "cpu"]) == 2
    _one_line(capsys, "--resume", "--model fno, not tfno")
    assert main([a if a != "1" or i != base.index("--epochs") + 1 else "2" for i, a in enumerate(base)]
                + ["--resume"]) == 0
    capsys.readouterr()
    assert main(base + ["--overwrite"]) == 0
    assert json.loads((run / "results.json").read_text())["epochs"] == 1


def test_train_modes_are_checked_against_the_grid(tiny_darcy, tmp_path, capsys):
    t0 = time.perf_counter()
    assert main(["train", "--data", str(tiny_darcy), "--out", str(tmp_path / "r"), "--epochs", "1",
                 "--modes", "1000", "--no-progress"]) == 2
    _one_line(capsys, "--modes", "13x13")
    assert not (tmp_path / "r").exists() and time.perf_counter() - t0 < 30


def test_concurrent_writer_is_refused_naming_the_holder(tiny_darcy, tmp_path, capsys, live_lock):
    fig = tmp_path / "fig.png"
    holder = live_lock(fig)
    assert main(["plot", str(tiny_darcy), "--out", str(fig)]) == 2
    _one_line(capsys, f"PID {holder.pid}")
    assert not fig.exists()
    holder.kill()
    holder.wait()
    # the holder died: its lock is stale and taken over
    assert main(["plot", str(tiny_darcy), "--out", str(fig)]) == 0
    assert fig.exists() and not (tmp_path / "fig.png.lock").exists()


def test_lock_is_held_while_writing(tiny_darcy, tmp_path, monkeypatch):
    import sciml.viz.fields as vf

    seen = {}
    real = vf.plot_sample

    def spy(path, out, **kw):
        seen["locked"] = os.path.exists(str(out) + ".lock")
        return real(path, out=out, **kw)

    monkeypatch.setattr(vf, "plot_sample", spy)
    assert main(["plot", str(tiny_darcy), "--out", str(tmp_path / "f.png")]) == 0
    assert seen["locked"] and not (tmp_path / "f.png.lock").exists()
