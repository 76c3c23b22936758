import json

import h5py
import numpy as np
import pytest
import torch

from sciml.bench import SCHEMA, get_task, load_results, run, table
from sciml.bench.runner import RESULT_KEYS
from sciml.cli import main
from sciml.datasets import generate


@pytest.fixture(scope="module")
def darcy(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "darcy_small.h5"
    return generate("darcy", 14, seed=0, out=path, resolution=16, subsample=1, progress=False)


TINY = {"modes": 2, "width": 4, "layers": 1, "domain_padding": 0.0}


def test_run_writes_schema_and_table_renders(darcy, tmp_path):
    res = run("darcy85", "fno", out=tmp_path, data=darcy, epochs=2, n_train=10, n_test=4, model_config=TINY,
              progress=False)
    f = tmp_path / "darcy85__fno__e2_n10_s0.json"
    assert res["results_file"] == str(f)
    saved = json.loads(f.read_text())
    assert saved["schema"] == SCHEMA and set(RESULT_KEYS) <= set(saved)
    assert saved["n_train"] == 10 and saved["n_test"] == 4 and saved["epochs"] == 2
    assert saved["epochs_recipe"] == 500 and saved["full_recipe"] is False
    assert 0 < saved["test_rel_l2"] < 2 and saved["params"] > 0 and saved["train_seconds"] > 0
    assert saved["inference_ms_per_sample"] > 0 and saved["hardware"]["cpu"]
    # no path of this machine: the data by name, the run folder relative to the results file
    assert saved["data"] == darcy.name and saved["run_dir"] == "runs/" + f.stem
    assert (tmp_path / saved["run_dir"] / "checkpoints" / "last").is_dir()
    assert str(tmp_path) not in f.read_text()
    assert saved["hardware"]["cpu_capability"] == torch.backends.cpu.get_cpu_capability()  # AVX2, AVX512, ...
    assert saved["training"]["scheduler"] == "step" and saved["training"]["step_size"] == 1  # 100/500 of 2 epochs
    assert saved["figures"] == {"predictions": f.stem + "_predictions.png", "loss": f.stem + "_loss.png"}
    assert all((tmp_path / v).stat().st_size > 1000 for v in saved["figures"].values())
    # a second entry, then the table: ordered by test error, markdown + png
    run("darcy85", "fno", out=tmp_path, data=darcy, epochs=1, n_train=10, n_test=4, model_config=TINY,
        progress=False, label="short")
    rows = load_results(tmp_path)
    assert [r["test_rel_l2"] for r in rows] == sorted(r["test_rel_l2"] for r in rows)
    md = table(tmp_path, out=tmp_path / "leaderboard.md")
    assert (tmp_path / "leaderboard.png").stat().st_size > 1000
    assert "## darcy85" in md and "| 1 | fno |" in md and "| 2 | fno |" in md
    assert "0.0076" in md  # the published bar is printed beside the runs
    assert f"[json]({f.name}) · [predictions]({f.stem}_predictions.png) · [loss]({f.stem}_loss.png)" in md
    assert md == (tmp_path / "leaderboard.md").read_text()
    # the row names the data it read: what regenerates the file, and a digest of the fields
    prov = saved["data_provenance"]
    assert (prov["file"], prov["recipe"], prov["seed"], prov["n"]) == (darcy.name, "darcy", 0, 14)
    assert prov["params"]["resolution"] == 16 and prov["fields"] == ["a", "u"]
    assert json.loads((tmp_path / "darcy85__fno__short.json").read_text())["data_provenance"] == prov


def test_data_digest_follows_the_values_not_the_file(darcy, tmp_path):
    from sciml.bench.runner import data_provenance

    copy = tmp_path / "copy.h5"
    copy.write_bytes(darcy.read_bytes())
    first = data_provenance(darcy, ["u", "a"])["sha256"]
    assert data_provenance(copy, ["a", "u"])["sha256"] == first  # order of the names does not matter
    with h5py.File(copy, "r+") as f:
        f.attrs["created"] = "another day"  # file bytes change, values do not
    assert data_provenance(copy, ["a", "u"])["sha256"] == first
    with h5py.File(copy, "r+") as f:
        d = f[[k for k in _datasets(f) if k.rsplit("/", 1)[-1] == "u"][0]]
        d[0, ...] = d[0, ...] + 1e-6  # one sample's values change
    assert data_provenance(copy, ["a", "u"])["sha256"] != first
    assert data_provenance(darcy, ["a"])["sha256"] != first  # the fields read are part of the digest


def _datasets(f):
    names = []
    f.visititems(lambda k, v: names.append(k) if isinstance(v, h5py.Dataset) else None)
    return names


def test_bench_and_train_cli(darcy, tmp_path, capsys):
    out = tmp_path / "res"
    rc = main(["bench", "run", "--task", "darcy85", "--data", str(darcy), "--epochs", "1", "--n-train", "8",
               "--n-test", "4", "--modes", "2", "--width", "4", "--layers", "1", "--out", str(out), "--no-progress"])
    assert rc == 0
    assert "test relative L2" in capsys.readouterr().out
    assert main(["bench", "table", str(out), "--out", str(tmp_path / "lb.md")]) == 0
    assert (tmp_path / "lb.png").exists()
    rc = main(["train", "--data", str(darcy), "--epochs", "1", "--modes", "2", "--width", "4", "--layers", "1",
               "--out", str(tmp_path / "run"), "--no-progress"])
    text = capsys.readouterr().out
    assert rc == 0 and "test relative L2 =" in text
    assert (tmp_path / "run" / "predictions.png").exists() and (tmp_path / "run" / "loss_curves.png").exists()


def test_the_optimizer_is_chosen_recorded_and_named_in_the_protocol(darcy, tmp_path):
    # darcy85's recipe is the FNO code's Adam (weight decay as an L2 term in the gradient, 5e-6 on the mean
    # loss); --optimizer adamw (decoupled decay) trains otherwise: the runs differ, the result records it
    # and the board names the departure from the recipe
    kw = dict(data=darcy, epochs=2, n_train=8, n_test=4, model_config=TINY, progress=False, out=tmp_path)
    adam = run("darcy85", "fno", label="a", **kw)
    adamw = run("darcy85", "fno", label="w", optimizer="adamw", weight_decay=1e-4, **kw)
    assert adam["training"]["optimizer"] == "adam" and adam["training"]["weight_decay"] == 5e-6
    assert adamw["training"]["optimizer"] == "adamw" and adamw["training"]["weight_decay"] == 1e-4
    assert adam["test_rel_l2"] != adamw["test_rel_l2"]
    md = table(tmp_path)
    assert "trained otherwise: optimizer adamw (recipe adam), weight_decay 0.0001 (recipe 5e-06)" in md
    assert md.count("optimizer adamw") == 1
    assert main(["bench", "run", "--task", "darcy85", "--optimizer", "lion"]) == 2
    l2 = run("darcy85", "fno", label="l2", optimizer="adam", weight_decay=1e-4, **kw)
    assert l2["training"]["weight_decay"] == 1e-4 and l2["test_rel_l2"] != adam["test_rel_l2"]
    assert "weight_decay 0.0001 (recipe 5e-06)" in table(tmp_path)


def test_runs_of_other_labels_share_a_results_folder_the_same_label_is_refused(darcy, tmp_path, capsys, live_lock):
    out = tmp_path / "res"
    out.mkdir()
    base = ["bench", "run", "--task", "darcy85", "--data", str(darcy), "--epochs", "1", "--n-train", "8",
            "--n-test", "4", "--modes", "2", "--width", "4", "--layers", "1", "--out", str(out), "--no-progress"]
    holder = live_lock(out / "darcy85__fno__a.json")  # a live run of label "a", as from another core or job
    assert main(base + ["--label", "b"]) == 0  # another label trains into the same folder meanwhile
    assert (out / "darcy85__fno__b.json").exists() and not (out / "darcy85__fno__b.json.lock").exists()
    capsys.readouterr()
    assert main(base + ["--label", "a"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"PID {holder.pid}" in err[0], err
    assert not (out / "darcy85__fno__a.json").exists() and not (out / "runs" / "darcy85__fno__a").exists()


@pytest.mark.parametrize("argv, words", [
    (["train", "--data", "missing.h5", "--out", "x", "--epochs", "1"], "--data file does not exist"),
    (["train", "--data", "{darcy}", "--out", "x", "--epochs", "0"], "positive integer"),
    (["train", "--data", "{darcy}", "--out", "x"], "--epochs"),
    (["train", "--data", "{darcy}", "--out", "/no/such/dir/run", "--epochs", "1"], "parent directory"),
    (["train", "--data", "{darcy}", "--out", "x", "--epochs", "1", "--model", "nope"], "--model must be one of"),
    (["train", "--data", "{darcy}", "--out", "x", "--epochs", "1", "--inputs", "b"], "field 'b'"),
    (["bench", "run", "--task", "nope"], "task must be one of"),
    (["bench", "run", "--task", "darcy85", "--data", "{darcy}", "--n-train", "100", "--epochs", "1", "--modes", "2"],
     "exceeds"),
    (["bench", "table", "/no/such/results"], "does not exist"),
    (["bench", "run", "--task", "darcy85", "--data", "{darcy}", "--modes", "1000", "--epochs", "1"],
     "--modes: 1000 per sign"),
    (["bench", "run", "--task", "darcy85", "--data", "{darcy}", "--train-frames", "1", "--epochs", "1"],
     "train_frames needs a rollout model"),
    (["train", "--data", "{darcy}", "--out", "x", "--epochs", "1", "--train-frames", "1"],
     "--train-frames needs --t-in"),
])
def test_cli_bad_input_exits_2_with_one_line(darcy, tmp_path, capsys, monkeypatch, argv, words):
    monkeypatch.chdir(tmp_path)
    rc = main([a.replace("{darcy}", str(darcy)) for a in argv])
    err = capsys.readouterr().err
    assert rc == 2
    assert len(err.strip().splitlines()) == 1 and words in err, err


def test_tasks_registry():
    t = get_task("darcy85")
    assert (t.n_train, t.n_test, t.params) == (1000, 200, {"resolution": 421, "subsample": 5})
    ns = get_task("ns-1e-3")
    assert (ns.t_in, ns.t_out) == (10, 40)
    with pytest.raises(ValueError, match="task must be one of"):
        get_task("darcy421")


def test_cpu_navier_stokes_task_is_the_same_problem_on_its_own_file():
    # ns-1e-3-n200: the ns-1e-3 problem, rollout, training recipe and published figures, on fewer
    # trajectories solved at 128^2; its own data file (w0 is drawn at the solve resolution)
    from sciml.datasets import get_recipe

    full, cpu = get_task("ns-1e-3"), get_task("ns-1e-3-n200")
    assert (cpu.t_in, cpu.t_out, cpu.train, cpu.models, cpu.published) == (
        full.t_in, full.t_out, full.train, full.models, full.published)
    assert (cpu.n_train, cpu.n_test) == (200, 50) and cpu.data_filename() != full.data_filename()
    p = get_recipe(cpu.recipe).resolve(**cpu.params)
    assert (p["resolution"], p["store_resolution"], p["T"], p["viscosity"]) == (128, 64, 50.0, 1e-3)
    assert full.departs == "" and "128^2" in cpu.departs


@pytest.mark.parametrize("task, decayed", [("burgers", True), ("burgers-1e-3", False)])
def test_burgers_tasks_differ_as_documented(tmp_path, task, decayed):
    # The two Burgers settings (see sciml.bench.tasks): under the paper's stated nu = 0.1 u(., 1) is a
    # ~2 % single sine mode; the authors' script parameters keep most of the norm and steep fronts.
    # Solved here at 2048 points instead of 8192 (resolved either way: 1e-15 between 8192 and 16384).
    t = get_task(task)
    params = dict(t.params, resolution=2048, subsample=2)
    ds = generate(t.recipe, 6, seed=0, out=tmp_path / "b.h5", progress=False, **params)
    with h5py.File(ds, "r") as f:
        u0, u = np.asarray(f["u0"]).reshape(6, -1), np.asarray(f["u"]).reshape(6, -1)
    ratio = np.linalg.norm(u, axis=1) / np.linalg.norm(u0, axis=1)
    power = np.abs(np.fft.rfft(u, axis=1)) ** 2
    k1 = power[:, 1] / power[:, 1:].sum(axis=1)
    steep = np.abs(np.diff(u, axis=1)).max(axis=1) * u.shape[1] / np.abs(u).max(axis=1)
    if decayed:
        assert ratio.max() < 0.03 and k1.min() > 0.999 and steep.max() < 7.0
    else:
        assert ratio.min() > 0.3 and k1.min() < 0.99 and steep.min() > 20.0


def test_a_task_variant_trains_the_space_time_fno(tmp_path, monkeypatch):
    # "fno3d" on the NS tasks: the registry FNO over (x, y, t) through SpaceTimeModel, with the task's
    # FNO-3D settings (plain coordinates, time padding) and FNO-3D's published figure beside it
    import sciml.viz.training as viz
    from sciml.datasets import save_dataset

    labels = []  # the figures name the board's variant, not the registry model it is built from
    plot = viz.plot_rollout_errors
    monkeypatch.setattr(viz, "plot_rollout_errors", lambda *a, **k: labels.append(k["label"]) or plot(*a, **k))

    rng = np.random.default_rng(0)
    w = np.cumsum(rng.normal(size=(6, 50, 1, 8, 8)), axis=1) * 0.1  # (N, T = 50, C, 8, 8)
    data = save_dataset(tmp_path / "ns_tiny.h5", {"w": w})
    res = run("ns-1e-3-n200", "fno3d", out=tmp_path / "res", data=data, epochs=1, n_train=4, n_test=2,
              model_config={"modes": 2, "width": 4}, label="t", progress=False)
    cfg = res["model_config"]
    assert res["model"] == "fno3d" and cfg["n_modes"] == [4, 4, 4] and cfg["in_channels"] == 10
    assert cfg["positional_embedding"] == "grid" and cfg["domain_padding"] == [0.0, 0.0, 0.15]
    assert len(res["rollout_rel_l2_per_step"]) == 40 and not res["full_recipe"]
    assert labels == ["fno3d"]
    md = table(tmp_path / "res")
    assert "0.0086 FNO-3D" in md and "task: 200/1000 train" in md
    with pytest.raises(ValueError, match="fno3d"):
        run("ns-1e-3-n200", "fno4d", out=tmp_path / "res", data=data, epochs=1)


def test_a_teacher_forced_rollout_row_says_so(tmp_path, capsys):
    # --train-frames 1 on the NS task: the step FNO trains on every 10-frame window of the true
    # trajectories (4 x 40 windows), is tested by the 40-frame rollout, and the board says so
    from sciml.datasets import save_dataset

    rng = np.random.default_rng(0)
    w = np.cumsum(rng.normal(size=(6, 50, 1, 8, 8)), axis=1) * 0.1
    data = save_dataset(tmp_path / "ns_tiny.h5", {"w": w})
    assert main(["bench", "run", "--task", "ns-1e-3-n200", "--data", str(data), "--out", str(tmp_path / "res"),
                 "--epochs", "1", "--n-train", "4", "--n-test", "2", "--modes", "2", "--width", "4",
                 "--train-frames", "1", "--label", "tf", "--no-progress"]) == 0
    res = json.loads((tmp_path / "res" / "ns-1e-3-n200__fno__tf.json").read_text())
    assert res["train_frames"] == 1 and res["train_windows"] == 160 and len(res["rollout_rel_l2_per_step"]) == 40
    assert "trained on true windows (teacher forcing), tested by the full rollout" in table(tmp_path / "res")
    capsys.readouterr()
    assert main(["bench", "run", "--task", "ns-1e-3-n200", "--data", str(data), "--out", str(tmp_path / "res"),
                 "--model", "fno3d", "--epochs", "1", "--train-frames", "1"]) == 2
    assert "train_frames needs a rollout model" in capsys.readouterr().err
    with pytest.raises(ValueError, match="from 1 to 40"):
        run("ns-1e-3-n200", "fno", out=tmp_path / "res", data=data, epochs=1, train_frames=41)


def test_table_rejects_empty_directory(tmp_path):
    with pytest.raises(ValueError, match="no sciml bench results"):
        table(tmp_path)


def test_an_interrupted_run_resumes_to_the_uninterrupted_result(darcy, tmp_path, monkeypatch):
    kw = dict(data=darcy, epochs=3, n_train=10, n_test=4, model_config=TINY, progress=False)
    full = run("darcy85", "fno", out=tmp_path / "a", **kw)
    real_step, calls = torch.optim.Adam.step, {"n": 0}

    def killed_step(self, *a, **k):
        calls["n"] += 1
        if calls["n"] == 5:  # batch 4 on 10 samples: 3 steps an epoch, so this dies in epoch 2
            raise KeyboardInterrupt
        return real_step(self, *a, **k)

    monkeypatch.setattr(torch.optim.Adam, "step", killed_step)
    with pytest.raises(KeyboardInterrupt):
        run("darcy85", "fno", out=tmp_path / "b", batch_size=4, **kw)
    monkeypatch.setattr(torch.optim.Adam, "step", real_step)
    again = run("darcy85", "fno", out=tmp_path / "b", batch_size=4, resume=True, **kw)
    ref = run("darcy85", "fno", out=tmp_path / "c", batch_size=4, **kw)
    assert again["epochs"] == 3 and again["test_rel_l2"] == ref["test_rel_l2"]
    assert [h["train_loss"] for h in again["history"]] == [h["train_loss"] for h in ref["history"]]
    assert full["test_rel_l2"] != ref["test_rel_l2"]  # another batch size: another run
