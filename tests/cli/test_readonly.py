"""A read-only output folder: every writer command gives one line naming the file, exit 1, no traceback."""
import pytest

from sciml.cli import main


def _writers(ro, data):
    return {
        "generate": ["generate", "darcy", "--n", "2", "--resolution", "17", "--out", f"{ro}/d.h5", "--no-progress"],
        "carbonbench": ["generate", "carbonbench", "--grid", "latlon22.5", "--levels", "2", "--years", "2000",
                        "--days-per-year", "1", "--out", f"{ro}/cb", "--no-progress"],
        "plot": ["plot", str(data), "--out", f"{ro}/f.png"],
        "train": ["train", "--data", str(data), "--out", f"{ro}/run", "--epochs", "1", "--modes", "2", "--width", "4",
                  "--layers", "1", "--no-progress", "--device", "cpu"],
        "bench run": ["bench", "run", "--task", "darcy85", "--data", str(data), "--n-train", "4", "--n-test", "2",
                      "--epochs", "1", "--modes", "2", "--width", "4", "--layers", "1", "--out", f"{ro}/results",
                      "--no-progress"],
        "bench table": ["bench", "table", "{results}", "--out", f"{ro}/lb.md"],
        "pinn": ["pinn", "poisson-lshape", "--iterations", "1", "--lbfgs-iterations", "0", "--bfgs-iterations", "0",
                 "--json", f"{ro}/p.json", "--no-progress"],
        "landau": ["landau", "--particles", "64", "--t-end", "0.05", "--plot", f"{ro}/l.png", "--no-progress"],
        "demo": ["demo", "--out", f"{ro}/demo", "--n", "4", "--resolution", "17", "--train-seconds", "1"],
    }


@pytest.mark.parametrize("name", ["generate", "carbonbench", "plot", "train", "bench run", "bench table", "pinn",
                                  "landau", "demo"])
def test_readonly_output(readonly_dir, tiny_darcy, tmp_path, capsys, monkeypatch, name):
    monkeypatch.delenv("SCIML_DEBUG", raising=False)
    results = tmp_path / "results"
    results.mkdir()
    (results / "r.json").write_text("{}")
    argv = [a.replace("{results}", str(results)) for a in _writers(readonly_dir, tiny_darcy)[name]]
    assert main(argv) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("sciml: error:") and "\n" not in err, err
    assert "Read-only file system" in err and str(readonly_dir) in err, err


def test_disk_full_while_writing_a_figure(full_dir, tiny_darcy, capsys, monkeypatch):
    monkeypatch.delenv("SCIML_DEBUG", raising=False)
    (full_dir / "filler").write_bytes(b"0" * (60 << 10))
    assert main(["plot", str(tiny_darcy), "--out", f"{full_dir}/f.png"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("sciml: error: No space left on device") and "\n" not in err, err
    assert sorted(p.name for p in full_dir.iterdir()) == ["filler"]  # no lock file, no partial figure left
