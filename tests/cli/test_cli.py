import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from sciml.cli import main
from sciml.datasets import open_dataset, save_dataset


def test_generate_info_plot(tmp_path, capsys):
    out = tmp_path / "d.h5"
    assert main(["generate", "darcy", "--n", "4", "--resolution", "33", "--subsample", "2", "--out", str(out),
                 "--no-progress"]) == 0
    with open_dataset(out) as ds:
        assert ds["u"].shape == (4, 1, 17, 17)
    assert main(["info", str(out)]) == 0
    assert "recipe   darcy" in capsys.readouterr().out
    png = tmp_path / "fig.png"
    assert main(["plot", str(out), "--sample", "1", "--out", str(png)]) == 0
    assert png.stat().st_size > 5000


def test_plot_trajectory_and_1d_fields(tmp_path):
    t = np.linspace(0, 1, 3)
    rng = np.random.default_rng(0)
    path = save_dataset(tmp_path / "t.h5", {"w": rng.random((2, 3, 1, 8, 8)), "u": rng.random((2, 1, 16))},
                        coords={"t": (("time",), t, "s")})
    assert main(["plot", str(path), "--out", str(tmp_path / "t.png")]) == 0
    assert main(["plot", str(path), "--time", "-1", "--out", str(tmp_path / "t1.png")]) == 0


@pytest.mark.parametrize("argv, match", [
    (["generate", "darcy", "--n", "0", "--out", "x.h5"], "positive integer"),
    (["generate", "darcy", "--n", "-3", "--out", "x.h5"], "positive integer"),
    (["generate", "nope", "--n", "2", "--out", "x.h5"], "unknown recipe"),
    (["generate", "darcy", "--n", "2", "--resolution", "4", "--out", "x.h5"], "resolution"),
    (["generate", "darcy", "--n", "2", "--out", "missing_dir/x.h5"], "does not exist"),
    (["generate", "darcy", "--out", "x.h5"], "--n is required"),
    (["generate", "darcy", "--n", "2", "--colour", "red", "--out", "x.h5"], "colour"),
    (["info", "missing.h5"], "no dataset file"),
    (["plot", "missing.h5", "--out", "x.png"], "no dataset file"),
    (["frobnicate"], "invalid choice"),
])
def test_user_errors_exit_2_with_one_line(tmp_path, monkeypatch, capsys, argv, match):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("sciml: error:") and match in err and "\n" not in err
    assert not (tmp_path / "x.h5").exists()


def test_existing_file_with_other_parameters_is_not_overwritten(tmp_path, capsys):
    out = tmp_path / "d.h5"
    base = ["generate", "darcy", "--n", "2", "--resolution", "17", "--out", str(out), "--no-progress"]
    assert main(base + ["--seed", "1"]) == 0
    before = out.read_bytes()
    assert main(base + ["--seed", "2"]) == 2
    assert "other seed" in capsys.readouterr().err
    assert out.read_bytes() == before


def test_console_script_no_traceback(tmp_path):
    r = subprocess.run([sys.executable, "-m", "sciml.cli", "generate", "darcy", "--n", "0", "--out", "x.h5"],
                       capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 2 and "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_generate_carbonbench_forwards_its_options(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    import sciml.datasets.carbonbench as cb

    seen = {}

    def fake(out, **kw):
        seen.update(kw, out=out)
        return {"seconds": 0.0}

    monkeypatch.setattr(cb, "generate_carbonbench", fake)
    assert main(["generate", "carbonbench", "--grid", "latlon5.625", "--years", "2000", "--out", "d",
                 "--seed", "3", "--no-progress"]) == 0
    assert seen["grid"] == "latlon5.625" and tuple(seen["years"]) == (2000, 2000)
    assert Path(seen["out"]) == Path("d").resolve() and seen["seed"] == 3
    assert seen["progress"] is False


def test_help_does_not_import_subcommand_modules():
    import subprocess
    import sys

    code = ("import sys; from sciml.cli import main\n"
            "try: main(['--help'])\nexcept SystemExit: pass\n"
            "print(sorted(m for m in ('torch', 'sciml.cli.train', 'sciml.cli.pinn', 'sciml.cli.landau',\n"
            "                         'sciml.cli.bench', 'sciml.cli.generate') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"
