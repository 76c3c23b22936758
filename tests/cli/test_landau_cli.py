"""``sciml landau`` subcommand: runs, reports, plots; user mistakes exit 2 with one line."""
from sciml.cli import main


def test_landau_cli_blob_with_plot(tmp_path, capsys):
    out = tmp_path / "landau.png"
    rc = main(["landau", "--method", "blob", "--dim", "2", "--particles", "576", "--t-end", "0.5",
               "--plot", str(out), "--no-progress"])
    assert rc == 0 and out.exists() and out.stat().st_size > 1000
    line = capsys.readouterr().out.splitlines()[0]
    assert "rel_L2_error=" in line and "energy_drift=" in line
    err = float(line.split("rel_L2_error=")[1].split()[0])
    assert err < 0.1


def test_landau_cli_user_errors(tmp_path, capsys):
    assert main(["landau", "--method", "nope"]) == 2
    assert main(["landau", "--particles", "0"]) == 2
    assert main(["landau", "--plot", str(tmp_path / "missing" / "x.png")]) == 2
    errs = capsys.readouterr().err.strip().splitlines()
    assert len(errs) == 3 and all(e.startswith("sciml: error:") for e in errs)
