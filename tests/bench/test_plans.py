import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sciml.bench.plans import PLANS, Row, get_plan, row_command, run_plan
from sciml.bench.tasks import get_task
from sciml.cli import main
from sciml.datasets import generate

TINY = ("--n-train", "10", "--n-test", "4", "--modes", "2", "--width", "4", "--layers", "1",
        "--model-arg", "domain_padding=0.0")


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    # a small Darcy store under the darcy85 task's file name: the rows read it as the task's data
    d = tmp_path_factory.mktemp("plan_data")
    generate("darcy", 14, seed=0, out=d / get_task("darcy85").data_filename(), resolution=16, subsample=1,
             progress=False)
    return d


def _after_first_checkpoint(name):
    def stop(row, run_dir):
        if row.label != name:
            return False
        t0 = time.monotonic()
        while not (run_dir / "checkpoints" / "last" / "state.pt").exists():
            if time.monotonic() - t0 > 120:
                raise AssertionError(f"no checkpoint from {row.name}")
            time.sleep(0.001)
        return True
    return stop


def test_plan_interrupts_resumes_and_skips(data_dir, tmp_path):
    long = Row("darcy85", "fno", "long", 40, TINY)
    short = Row("darcy85", "fno", "short", 2, TINY)
    out, ref = tmp_path / "out", tmp_path / "ref"
    kw = dict(data_dir=data_dir, device="cpu", threads=1, workers=1, log=lambda m: None, poll=0.01)

    first = run_plan([long, short], out=out, stop=_after_first_checkpoint("long"), **kw)
    assert first == {long.name: "interrupted", short.name: "done"}
    assert not long.results_file(out).exists() and short.results_file(out).exists()
    assert (out / "runs" / long.results_file(out).stem / "checkpoints" / "last").is_dir()
    written = short.results_file(out).stat().st_mtime_ns
    # --list reads each row's state from JSON: the interrupted row's epoch and error, the written row's result
    cfg = json.loads((long.run_dir(out) / "checkpoints" / "last" / "config.json").read_text())["trainer"]
    err = cfg["history"][-1]["val_rel_l2"]
    assert long.status(out).startswith(f"checkpoint: epoch {cfg['epoch']}/40, test rel. L2 {err:.4g}, ")
    pace = sum(h["seconds"] for h in cfg["history"][-10:]) / len(cfg["history"][-10:])
    assert long.status(out).endswith(f"left at {pace:.0f} s per epoch")  # the time to go, from the recent pace
    res = json.loads(short.results_file(out).read_text())
    assert short.status(out) == f"written: test rel. L2 {res['test_rel_l2']:.4g} after 2 epochs"
    assert Row("darcy85", "fno", "never").status(out) == "to do"

    second = run_plan([long, short], out=out, **kw)
    assert second == {long.name: "done", short.name: "skipped"}
    assert short.results_file(out).stat().st_mtime_ns == written  # a written row is not trained again

    # the interrupted-then-continued row ends where an uninterrupted one does (same code path: to the bit)
    assert run_plan([long], out=ref, **kw) == {long.name: "done"}
    got, want = (json.loads(long.results_file(d).read_text()) for d in (out, ref))
    assert got["epochs"] == want["epochs"] == 40
    assert got["test_rel_l2"] == want["test_rel_l2"] and got["train_rel_l2"] == want["train_rel_l2"]
    assert [h["train_loss"] for h in got["history"]] == [h["train_loss"] for h in want["history"]]


def test_deadline_starts_nothing_after_it_and_only_filters(data_dir, tmp_path):
    rows = [Row("darcy85", "fno", "a", 1, TINY), Row("darcy85", "fno", "b", 1, TINY)]
    kw = dict(data_dir=data_dir, device="cpu", threads=1, workers=1, log=lambda m: None, poll=0.01)
    status = run_plan(rows, out=tmp_path, minutes=1e-6, **kw)
    assert status == {r.name: "not started" for r in rows}
    assert not list(tmp_path.glob("*.json"))
    assert run_plan(rows, out=tmp_path, only=["darcy85/fno/b"], **kw) == {"darcy85/fno/b": "done"}
    with pytest.raises(ValueError, match="no row of the plan matches"):
        run_plan(rows, out=tmp_path, only=["burgers"], **kw)


def test_plans_name_registered_tasks_and_models():
    from sciml.operators import MODELS

    for name, rows in PLANS.items():
        assert len({r.name for r in rows}) == len(rows), name
        for r in rows:
            task = get_task(r.task)
            assert r.model in MODELS or r.model in task.models, r.name
            if r.epochs is not None:
                assert 0 < r.epochs <= task.train["epochs"], r.name
    assert get_plan("gpu")[0].name == "darcy85/fno/gpu-full"  # the row a CPU cannot finish comes first
    assert get_plan("gpu")[1].name == "darcy85/fno/gpu-full-fnocode"  # then the FNO code's own model
    assert {r.task for r in get_plan("gpu")} == {"darcy85", "burgers", "burgers-1e-3", "ns-1e-3"}
    row = get_plan("cpu")[0]
    cmd = row_command(row, out="o", data_dir="d", device="cuda")
    assert cmd[-4 - len(row.args):] == ["--epochs", "30", "--device", "cuda", *row.args] and "--resume" in cmd
    with pytest.raises(ValueError, match="plan must be one of"):
        get_plan("tpu")


def test_plan_cli_lists_rows_and_refuses_bad_input(data_dir, tmp_path, capsys):
    shutil.copytree(data_dir, tmp_path / "d")
    assert main(["bench", "plan", "cpu", "--list", "--out", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(get_plan("cpu")) and all(line.rstrip().endswith("to do") for line in lines)
    assert main(["bench", "run", "--task", "darcy85", "--data-dir", str(tmp_path / "d"), "--data-only"]) == 0
    made = tmp_path / "d" / get_task("darcy85").data_filename()
    assert capsys.readouterr().out.strip() == f"data for darcy85: {made}"
    assert main(["bench", "plan", "tpu", "--out", str(tmp_path)]) == 2
    assert "plan must be one of" in capsys.readouterr().err
    assert main(["bench", "plan", "cpu", "--jobs", "0", "--out", str(tmp_path)]) == 2


def test_a_row_that_fails_is_a_fault_exit_1_and_a_refused_row_is_named(data_dir, tmp_path, capsys, monkeypatch):
    bad = Row("darcy85", "fno", "bad", 1, TINY + ("--model-arg", "no_such_argument=1"))
    kw = dict(data_dir=data_dir, device="cpu", threads=1, workers=1, log=lambda m: None, poll=0.01)
    assert run_plan([bad], out=tmp_path, **kw) == {bad.name: "refused"}  # the run's own exit 2
    # data that cannot be made fails its task's rows (here the data folder is a file), not the others
    blocked = tmp_path / "not_a_folder"
    blocked.write_text("")
    kw["data_dir"] = blocked
    status = run_plan([Row("burgers", "fno", "x", 1), Row("burgers", "unet", "y", 1)], out=tmp_path, **kw)
    assert set(status.values()) == {"failed (data, exit 2)"}, status  # the data command's one-line refusal
    import sciml.bench.plans as plans

    monkeypatch.setattr(plans, "run_plan", lambda rows, **k: {r.name: "failed (exit 1)" for r in rows[:1]})
    assert main(["bench", "plan", "cpu", "--out", str(tmp_path / "o"), "--data-dir", str(data_dir)]) == 1
    assert capsys.readouterr().err.strip() == "sciml: error: rows failed: darcy85/unet/cpu-e30"


def _processes_with(text):
    found = []
    for cmd in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if text in cmd.read_bytes().replace(b"\0", b" ").decode(errors="replace"):
                found.append(cmd.parent.name)
        except OSError:
            pass
    return found


@pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="reads /proc")
def test_sigterm_to_a_background_plan_stops_its_rows_and_they_resume(data_dir, tmp_path):
    # a plan started in the background by a shell has SIGINT ignored, and so would its rows: the
    # interrupt it sends must still reach them, and `kill PLAN` must not leave a row training alone
    out = tmp_path / "out"
    label = f"term-{tmp_path.name}"
    # the signal must land while the row trains, also on a loaded machine where this process waits
    # for a core: 400 epochs (~7 ms each) leave ~3 s of training after the first checkpoint, then
    # ~2 s of evaluation and figures (40 epochs left 0.3 s of training, and a run beside a training
    # failed once in six)
    epochs = 400
    cmd = [sys.executable, "-c",
           "import sys; from sciml.bench.plans import Row, run_plan; "
           f"run_plan([Row('darcy85', 'fno', {label!r}, {epochs}, {TINY!r})], out={str(out)!r}, "
           f"data_dir={str(data_dir)!r}, device='cpu', threads=1, workers=1, poll=0.01)"]
    plan = subprocess.Popen(cmd, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    row = Row("darcy85", "fno", label, epochs, TINY)
    state = row.run_dir(out) / "checkpoints" / "last" / "state.pt"
    t0 = time.monotonic()
    while not state.exists():
        assert plan.poll() is None and time.monotonic() - t0 < 120, "no checkpoint from the plan's row"
        time.sleep(0.01)
    plan.send_signal(signal.SIGTERM)
    assert plan.wait(150) == 143, "the plan was not stopped by the signal (did the row finish first?)"
    assert not row.results_file(out).exists() and _processes_with(f"--label {label}") == []
    # the row ended through its own interrupt path (a killed row would leave its lock file behind)
    assert not Path(str(row.results_file(out)) + ".lock").exists()
    kw = dict(data_dir=data_dir, device="cpu", threads=1, workers=1, log=lambda m: None, poll=0.01)
    assert run_plan([row], out=out, **kw) == {row.name: "done"}
    assert json.loads(row.results_file(out).read_text())["epochs"] == epochs


def test_every_rows_command_parses_and_builds_its_model():
    # a row's options are those `sciml bench run` takes, and its --model-arg values build the model
    # (the FNO code's rows: that code's parameter count)
    from sciml.cli._core import build_parser
    from sciml.cli.train import parse_model_args
    from sciml.operators import build_model
    from sciml.training.pipeline import default_model_config

    for rows in PLANS.values():
        for r in rows:
            cmd = row_command(r, out="o", data_dir="d")
            args = build_parser(cmd[3:]).parse_args(cmd[3:])
            assert (args.task, args.model, args.label) == (r.task, r.model, r.label)
            extra = parse_model_args(args.model_arg)
            if "fnocode" in r.label:
                cfg = default_model_config("fno", 1, 1, 2, **{**get_task(r.task).models["fno"], **extra})
                model = build_model("fno", **cfg)
                assert sum(p.numel() for p in model.parameters()) == 2_368_001, r.name
                assert args.optimizer is None  # the recipe's (Adam at 5e-6) since 2026-12-07


def test_plan_rows_on_the_board_train_as_their_results_record():
    # training a board row again (the cpu plan) must give the same training settings as its results
    # JSON in docs/: a task whose recipe changed leaves its older rows pinned to what they ran with
    from sciml.bench.runner import training_settings
    from sciml.cli._core import build_parser

    docs = Path(__file__).resolve().parents[2] / "docs"
    checked = 0
    for r in get_plan("cpu"):
        f = docs / r.results_file("o").name
        if not f.exists():
            continue
        rec = json.loads(f.read_text())["training"]
        cmd = row_command(r, out="o", data_dir="d")
        args = build_parser(cmd[3:]).parse_args(cmd[3:])
        want = training_settings(get_task(r.task), epochs=args.epochs, seconds=args.seconds,
                                 batch_size=args.batch_size, lr=args.lr, optimizer=args.optimizer,
                                 weight_decay=args.weight_decay)
        assert {k: rec[k] for k in want} == want, r.name
        checked += 1
    assert checked >= 15  # the board's rows that the cpu plan lists


def test_only_matches_whole_parts_of_a_row_name():
    from sciml.bench.plans import select

    rows = [Row("darcy85", "fno", "cpu-full"), Row("darcy85", "fno", "cpu-full-adam"), Row("darcy85", "unet", "a"),
            Row("burgers", "fno", "a")]
    assert [r.label for r in select(rows, ["darcy85/fno/cpu-full"])] == ["cpu-full"]
    assert [r.label for r in select(rows, ["darcy85/fno"])] == ["cpu-full", "cpu-full-adam"]
    assert len(select(rows, ["darcy85/"])) == 3 and len(select(rows, ["darcy85", "burgers"])) == 4
    assert select(rows, None) == rows
    for bad in (["darcy85/fn"], ["darcy"], ["/"]):
        with pytest.raises(ValueError, match="no row of the plan matches"):
            select(rows, bad)
