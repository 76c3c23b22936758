"""``sciml generate carbonbench``: the options, their errors naming the option, nothing written on a mistake."""
import shutil

import sciml.datasets.carbonbench as cb
from sciml.cli import main


def test_cli(tmp_path, capsys):
    out = tmp_path / "cli"
    rc = main(["generate", "carbonbench", "--grid", "latlon22.5", "--levels", "2", "--years", "2000-2001",
               "--days-per-year", "1", "--out", str(out), "--no-progress"])
    assert rc == 0
    s = cb.open_carbonbench(out, "test")
    assert len(s) == 4 and s.level.size == 2
    capsys.readouterr()
    assert main(["generate", "carbonbench", "--years", "2000..2003", "--out", str(out)]) == 2
    assert "--years" in capsys.readouterr().err
    assert main(["generate", "carbonbench", "--years", "2000-2001"]) == 2
    assert "--out" in capsys.readouterr().err
    # user mistakes are one line naming the option, and nothing is written
    assert main(["generate", "carbonbench", "--grid", "latlon7", "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err.strip()
    assert "divide 180" in err and "--grid" in err and "\n" not in err
    assert not (tmp_path / "x").exists()
    shutil.rmtree(out)


def test_seed_minus_one_writes_nothing_and_the_corrected_command_runs(tmp_path, capsys):
    out = tmp_path / "cb"
    base = ["generate", "carbonbench", "--grid", "latlon22.5", "--levels", "2", "--years", "2000",
            "--splits", "test=2000", "--days-per-year", "1", "--out", str(out), "--no-progress"]
    assert main(base + ["--seed", "-1"]) == 2
    assert "--seed" in capsys.readouterr().err
    assert not out.exists()
    assert main(base + ["--seed", "1"]) == 0


def test_n_is_refused_with_a_message(tmp_path, capsys):
    assert main(["generate", "carbonbench", "--n", "10", "--out", str(tmp_path / "cb")]) == 2
    err = capsys.readouterr().err
    assert "--n does not apply to carbonbench" in err
    assert not (tmp_path / "cb").exists()
