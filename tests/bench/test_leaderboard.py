import json
import math

import pytest

from sciml.bench import SCHEMA, TASKS, get_task, load_results, table
from sciml.bench.leaderboard import figure_paths, follows_recipe, plot_curves, plot_rollout, plot_scatter, protocol
from sciml.bench.runner import RESULT_KEYS
from sciml.cli import main


def _result(task="darcy85", model="fno", label="a", err=0.02, params=1000, seconds=10.0, epochs=500, **kw):
    t = get_task(task)
    r = {k: None for k in RESULT_KEYS}
    r.update(schema=SCHEMA, task=task, model=model, label=label, test_rel_l2=err, train_rel_l2=err / 2,
             params=params, train_seconds=seconds, seconds_per_epoch=seconds / epochs, epochs=epochs,
             epochs_recipe=t.train["epochs"], inference_ms_per_sample=1.5, n_train=t.n_train, n_test=t.n_test,
             resolution=[85, 85], full_recipe=epochs >= t.train["epochs"],
             hardware={"summary": "test cpu, 1 thread"}, seed=0, sciml_version="0", torch_version="0",
             date="2026-12-01T00:00:00+00:00", model_config={}, training={"epochs": epochs}, data="x.h5")
    r.update(kw)
    return r


def _drawn(plot_fn, *args, **kwargs):
    """The figure ``plot_fn`` draws (and saves), caught before it is closed; the caller closes it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figs, orig = [], plt.close
    try:
        plt.close = lambda fig=None: figs.append(fig)
        plot_fn(*args, **kwargs)
    finally:
        plt.close = orig
    (fig,) = figs
    return fig


def _write(d, name, obj):
    (d / name).write_text(json.dumps(obj))


@pytest.fixture
def board(tmp_path):
    d = tmp_path / "res"
    d.mkdir()
    _write(d, "d_fno.json", _result(err=0.012, params=2_500_000, seconds=3000.0))
    _write(d, "d_fno_short.json", _result(label="short", err=0.03, params=2_500_000, seconds=100.0, epochs=20))
    _write(d, "d_unet.json", _result(model="unet", err=0.02, params=1_900_000, seconds=500.0))
    _write(d, "d_mgno.json", _result(model="mgno", err=0.009, params=450_000, seconds=800.0, n_train=100))
    _write(d, "b_fno.json", _result(task="burgers", err=0.02, params=600_000, seconds=50.0))
    _write(d, "carbonbench_x_result.json", {"model": "unet", "params": 5, "at": {"7": {"r2": float("nan")}}})
    return d


def _task_rows(md, task):
    block = md.split(f"## {task}")[1].split("\n## ")[0]
    return [line for line in block.splitlines() if line.startswith("| ") and not line.startswith("| rank")]


def test_table_sorted_per_task_with_published_column(board, tmp_path):
    md = table(board)
    darcy = _task_rows(md, "darcy85")
    errs = [float(row.split("|")[4]) for row in darcy]
    assert errs == sorted(errs) and len(darcy) == 4
    assert [row.split("|")[2].strip() for row in darcy] == ["mgno", "fno", "unet", "fno"]
    fno_row = next(row for row in darcy if "| fno | a |" in row)
    assert "0.0108 FNO (paper); 0.0076 FNO (public code" in fno_row and "full recipe" in fno_row
    unet_row = next(row for row in darcy if "| unet |" in row)
    assert "| — |" in unet_row  # no published darcy85 U-Net figure
    short = next(row for row in darcy if "| short |" in row)
    assert "reduced: 20/500 epochs" in short
    assert "reduced: 100/1000 train samples" in next(row for row in darcy if "| mgno |" in row)
    # other published figures under the table, with their source and setting
    assert "- FCN: **0.0253** — Li et al. 2021" in md and "- PCANN: **0.0300**" in md
    # figures left off are named with their setting and the reason, under the darcy85 table only
    darcy_block = md.split("## darcy85")[1].split("\n## ")[0]
    assert "Published elsewhere, not listed:" in darcy_block
    assert "- MgNO (He, Liu and Xu, ICLR 2024): measured on the same FNO data at 211^2" in darcy_block
    assert "a 29^2 figure is not comparable" in darcy_block
    burgers_block = md.split("## burgers")[1].split("\n## ")[0]
    assert "- DeepONet and POD-DeepONet (Lu et al., CMAME 393, 2022): measured on the same burgers_data_R10" \
        in burgers_block and "s = 128 ([::64] of 8192)" in burgers_block
    assert md.count("Published elsewhere, not listed:") == 2  # darcy85 and burgers, once each
    (burgers,) = _task_rows(md, "burgers")
    assert "0.0160 FNO" in burgers and "0.0016" not in md
    assert "carbonbench" not in md


def test_published_figures_keyed_by_model():
    ns = get_task("ns-1e-3")
    assert [p.value for p in ns.published_for("fno")] == [0.0128]
    assert [p.value for p in ns.published_for("unet")] == [0.0245]
    assert ns.reference["FNO-3D"] == 0.0086
    assert get_task("burgers").published_for("fno")[0].value == 0.0160
    for t in TASKS.values():
        for p in t.published:
            assert p.source and p.setting and 0 < p.value < 1


@pytest.mark.parametrize("bad, words", [
    ({"test_rel_l2": float("nan")}, "non-finite number NaN"),
    ({"train_seconds": "fast"}, "train_seconds must be a finite"),
    ({"params": 1.5}, "params must be a non-negative integer"),
    ({"rollout_rel_l2_per_step": [0.1, float("inf")]}, "non-finite number Infinity"),
])
def test_bad_result_is_refused_naming_the_file(tmp_path, bad, words):
    _write(tmp_path, "broken_run.json", _result(**bad))
    with pytest.raises(ValueError, match="broken_run.json") as exc:
        load_results(tmp_path)
    assert words in str(exc.value)


def test_missing_field_and_not_json_refused(tmp_path):
    r = _result()
    del r["hardware"]
    _write(tmp_path, "nohw.json", r)
    with pytest.raises(ValueError, match=r"nohw.json is missing result fields \['hardware'\]"):
        load_results(tmp_path)
    (tmp_path / "nohw.json").unlink()
    (tmp_path / "junk.json").write_text("{not json")
    with pytest.raises(ValueError, match="junk.json is not valid JSON"):
        load_results(tmp_path)


def test_plots_written_and_match_rows(board, tmp_path):
    import matplotlib.pyplot as plt

    rows = load_results(board)
    out = tmp_path / "params.png"
    fig = _drawn(plot_scatter, rows, out, x="params")
    assert out.stat().st_size > 1000
    points, labels, keys = {}, {}, {}
    for ax in fig.axes:
        for coll in ax.collections:
            points[coll.get_gid()] = [tuple(xy) for xy in coll.get_offsets().tolist()]
        labels[ax.get_title()] = sorted(t.get_text() for t in ax.texts)
        leg = ax.get_legend()
        keys[ax.get_title()] = {t.get_text(): h.get_markerfacecolor()
                                for t, h in zip(leg.get_texts(), leg.legend_handles)
                                if not t.get_text().startswith("published")}
    plt.close(fig)
    # a model with several runs in a panel has its points labelled by run; one run needs no label
    assert labels == {"darcy85": ["a", "short"], "burgers": []}
    # the legend shows each model filled (whatever its runs' fill) and one key per fill
    assert set(keys["darcy85"]) == {"fno", "unet", "mgno", "full recipe", "reduced or trained otherwise"}
    assert keys["darcy85"]["reduced or trained otherwise"] == "none"
    assert all(c != "none" for k, c in keys["darcy85"].items() if k != "reduced or trained otherwise")
    want = {}
    for r in rows:
        want.setdefault(f"{r['task']}/{r['model']}", []).append((float(r["params"]), r["test_rel_l2"]))
    assert points == want
    with pytest.raises(ValueError, match="x must be"):
        plot_scatter(rows, out, x="epochs")


def test_curves_plot_one_line_per_run_from_its_history(tmp_path):
    import matplotlib.pyplot as plt

    hist = [{"epoch": e, "train_loss": 0.1, "val_rel_l2": 0.1 / e} for e in range(1, 6)]
    _write(tmp_path, "a.json", _result(label="a", history=hist))
    _write(tmp_path, "b.json", _result(label="b", training={"optimizer": "adamw"}, history=hist[:3]))
    _write(tmp_path, "c.json", _result(label="c", history=[{"epoch": 1, "train_loss": 0.1}]))  # no test error
    fig = _drawn(plot_curves, load_results(tmp_path), tmp_path / "c.png")
    lines = {ln.get_gid(): ln for ln in fig.axes[0].lines if ln.get_gid()}
    assert sorted(lines) == ["darcy85/fno/a", "darcy85/fno/b"]
    assert list(lines["darcy85/fno/a"].get_xdata()) == [1, 2, 3, 4, 5]
    assert list(lines["darcy85/fno/b"].get_ydata()) == [0.1, 0.05, 0.1 / 3]
    # one colour per model, another line style per run
    assert lines["darcy85/fno/a"].get_color() == lines["darcy85/fno/b"].get_color()
    assert lines["darcy85/fno/a"].get_linestyle() != lines["darcy85/fno/b"].get_linestyle()
    plt.close(fig)
    assert "](lb_curves.png)" in table(tmp_path, out=tmp_path / "lb.md")


def test_a_run_trained_otherwise_does_not_follow_the_recipe():
    assert follows_recipe(_result())
    assert not follows_recipe(_result(epochs=30))
    assert not follows_recipe(_result(training={"optimizer": "adamw"}))
    assert not follows_recipe(_result(model_args={"spectral_init": "uniform"}))


def test_rollout_plot_from_synthetic_result(tmp_path):
    import matplotlib.pyplot as plt

    steps = [0.01 * 1.05 ** k for k in range(40)]
    _write(tmp_path, "ns.json", _result(task="ns-1e-3", rollout_rel_l2_per_step=steps))
    rows = load_results(tmp_path)
    md = table(tmp_path, out=tmp_path / "lb.md")
    paths = figure_paths(tmp_path / "lb.md", rows)
    assert [p.name for p in paths][-1] == "lb_rollout.png" and "](lb_rollout.png)" in md
    for p in paths:
        assert p.stat().st_size > 1000, p
    fig = _drawn(plot_rollout, rows, tmp_path / "r.png")
    (line,) = [ln for ln in fig.axes[0].lines if ln.get_gid()]
    assert list(line.get_xdata()) == list(range(11, 51))  # frames after the 10 given ones
    assert all(math.isclose(a, b) for a, b in zip(line.get_ydata(), steps))
    plt.close(fig)
    with pytest.raises(ValueError, match="no result carries"):
        plot_rollout(load_results(tmp_path)[:0], tmp_path / "none.png")


def test_cli_regenerates_idempotently_and_refuses_without_overwrite(board, tmp_path, capsys):
    docs = tmp_path / "docs"
    docs.mkdir()
    md = docs / "leaderboard.md"
    assert main(["bench", "table", str(board), "--out", str(md), "--quiet"]) == 0
    first = md.read_text()
    for name in ("leaderboard.png", "leaderboard_error_vs_params.png", "leaderboard_error_vs_time.png"):
        assert (docs / name).stat().st_size > 1000 and f"]({name})" in first
    assert "](../res/d_fno.json)" in first  # each row links its results file
    capsys.readouterr()
    assert main(["bench", "table", str(board), "--out", str(md)]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert main(["bench", "table", str(board), "--out", str(md), "--overwrite", "--quiet"]) == 0
    assert md.read_text() == first
    # the results folder itself may hold the board (docs/ does)
    assert main(["bench", "table", str(board), "--out", str(board / "lb.md"), "--quiet"]) == 0
    assert "](d_fno.json)" in (board / "lb.md").read_text()


def test_protocol_names_a_time_budget():
    r = _result(epochs=39, training={"epochs": 65})
    assert protocol(r) == "reduced: 39/500 epochs, stopped after 39 of 65 planned epochs (time budget)"
    assert protocol(_result()) == "full recipe"


def test_protocol_names_mixed_precision():
    assert protocol(_result(training={"amp": "bf16"})) == "full recipe; bf16 autocast"  # evaluated under it
    assert protocol(_result(training={"amp": "bf16", "amp_eval": True})) == "full recipe; bf16 autocast"
    assert (protocol(_result(training={"amp": "bf16", "amp_eval": False}))
            == "full recipe; bf16 autocast, evaluated in float32")
    assert protocol(_result(epochs=30, training={"amp": None})) == "reduced: 30/500 epochs"


def test_protocol_names_micro_batches_but_keeps_the_recipe():
    # the recipe's step up to rounding: named (time and memory differ), still the full recipe's marker
    r = _result(training={"batch_size": 20, "micro_batch": 5})
    assert protocol(r) == "full recipe; micro-batches of 5" and follows_recipe(r)
    assert protocol(_result(training={"batch_size": 20, "micro_batch": 20})) == "full recipe"  # one chunk
    assert protocol(_result(training={"batch_size": 20, "micro_batch": None})) == "full recipe"


def test_protocol_names_another_architecture():
    r = _result(model_args={"n_modes": [24, 22], "spectral_init": "uniform", "lifting_channels": 0})
    assert protocol(r) == "full recipe; model lifting_channels=0, n_modes=[24, 22], spectral_init='uniform'"
    assert protocol(_result(model_args={})) == "full recipe"


def test_a_row_built_before_its_task_changed_says_what_it_was_built_with():
    # the darcy85 MG-TFNO row trained before the task gave its patches the field's coordinates; a
    # missing key reads as the constructor's default (the option did not exist when it was recorded)
    before = {"n_modes": [24, 24], "hidden_channels": 32, "n_layers": 4, "levels": 1, "padding_fraction": 0.1,
              "in_channels": 1, "out_channels": 1}
    old = _result(model="mg-tfno", model_config=before)
    assert protocol(old) == "full recipe; model built before the task's changed: global_grid=False (task now True)"
    assert not follows_recipe(old)
    now = _result(model="mg-tfno", model_config={**before, "global_grid": True})
    assert protocol(now) == "full recipe" and follows_recipe(now)
    # the runner's knobs compare as the model records them: modes per sign -> n_modes on every axis
    wider = _result(model_config={"n_modes": [32, 32], "hidden_channels": 64, "n_layers": 4, "in_channels": 1})
    assert protocol(wider).endswith("n_modes=[32, 32] (task now [24, 24]), hidden_channels=64 (task now 32)")
    # what the run set itself is said once, as its own model arguments; "auto" is resolved from the data
    own = _result(model_config={"n_modes": [24, 22], "hidden_channels": 32, "n_layers": 4, "domain_padding": 0.1},
                  model_args={"n_modes": [24, 22]})
    assert protocol(own) == "full recipe; model n_modes=[24, 22]"


def test_protocol_names_training_on_true_windows():
    assert protocol(_result(train_frames=1)) == ("full recipe; trained on true windows (teacher forcing), tested by "
                                                 "the full rollout")
    assert "(4-frame unrolls)" in protocol(_result(epochs=30, train_frames=4))


def test_protocol_of_a_task_smaller_than_its_published_setting_says_so():
    # a full run of the CPU task is still not the published protocol: the row says how it differs
    t = get_task("ns-1e-3-n200")
    assert protocol(_result(task="ns-1e-3-n200")) == f"{t.departs}; full recipe"
    assert protocol(_result(task="ns-1e-3-n200", epochs=50)).startswith(f"{t.departs}; reduced: 50/500 epochs")
