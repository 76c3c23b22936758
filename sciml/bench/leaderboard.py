"""The leaderboard: results JSON files -> a markdown table and the figures a user opens.

``table(results_dir)`` reads every ``*.json`` with schema ``sciml-bench-result/1`` in
``results_dir`` (other JSON files, e.g. CarbonBench results, are skipped) and returns a
markdown table per task, best test error first. Each row carries its parameter count,
training time, inference time, hardware, seed, epochs, a *protocol* column that says how
the run departs from the task's recipe, and the published figure for that model beside
it; the task's other published figures are listed under the table, and so are figures
published in another setting or not verified here, with why they are left off.
``table(results_dir, out="leaderboard.md")`` also writes, beside the markdown:

- ``leaderboard.png``: test error per run, one panel per task (bars);
- ``leaderboard_error_vs_params.png`` and ``leaderboard_error_vs_time.png``: test error
  against parameter count and training time, one marker per model, log axes, published
  figures as dashed lines;
- ``leaderboard_rollout.png``: per-step rollout error curves, when a result carries
  ``rollout_rel_l2_per_step`` (ns-1e-3).

Examples
--------
>>> from sciml.bench import table
>>> md = table("docs", out="docs/leaderboard.md")  # doctest: +SKIP
"""
from __future__ import annotations

import json
import math
import os
from pathlib import Path

from .._util.io import atomic_path, write_text
from .._util.progress import format_duration
from .runner import RESULT_KEYS, SCHEMA
from .tasks import TASKS

__all__ = ["load_results", "table", "plot", "plot_scatter", "plot_rollout", "figure_paths", "protocol"]

_NUMBERS = ("test_rel_l2", "train_rel_l2", "train_seconds", "inference_ms_per_sample")
_MARKERS = "osD^vP*Xhp<>"


def _no_constant(token):
    raise ValueError(f"holds the non-finite number {token}")


def _check_result(r: dict, name: str) -> None:
    missing = [k for k in RESULT_KEYS if k not in r]
    if missing:
        raise ValueError(f"results file {name} is missing result fields {missing}")
    for k in _NUMBERS:
        v = r[k]
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
            raise ValueError(f"results file {name}: {k} must be a finite non-negative number, got {v!r}")
    for k in ("params", "epochs", "epochs_recipe", "n_train", "n_test"):
        v = r[k]
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            raise ValueError(f"results file {name}: {k} must be a non-negative integer, got {v!r}")
    if not isinstance(r["hardware"], dict):
        raise ValueError(f"results file {name}: hardware must be an object, got {r['hardware']!r}")
    steps = r.get("rollout_rel_l2_per_step")
    if steps is not None and not (isinstance(steps, list) and steps and all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in steps)):
        raise ValueError(f"results file {name}: rollout_rel_l2_per_step must be a list of finite numbers")


def load_results(results_dir) -> list[dict]:
    """All leaderboard results in ``results_dir``, sorted by task, then test error.

    Files of another schema are skipped; a leaderboard file with a missing field, a NaN /
    inf or a wrongly typed value, or a ``*.json`` that is not JSON, is refused with a
    ``ValueError`` naming the file.
    """
    results_dir = Path(results_dir)
    if not results_dir.is_dir():
        raise NotADirectoryError(f"results directory does not exist: {results_dir}")
    rows = []
    for f in sorted(results_dir.glob("*.json")):
        try:
            r = json.loads(f.read_text(), parse_constant=_no_constant)
        except json.JSONDecodeError as exc:
            raise ValueError(f"results file {f.name} is not valid JSON ({exc.msg}, line {exc.lineno})") from None
        except ValueError as exc:
            if not f.read_text().count(SCHEMA):
                continue  # not ours: another tool may write NaN
            raise ValueError(f"results file {f.name} {exc}") from None
        if not isinstance(r, dict) or r.get("schema") != SCHEMA:
            continue
        _check_result(r, f.name)
        r["_file"] = f.name
        rows.append(r)
    rows.sort(key=lambda r: (r["task"], r["test_rel_l2"], r["model"], r["label"]))
    return rows


def _trained_otherwise(r: dict) -> list[str]:
    """The recipe's training settings ``r`` changed: not shorter, but not the recipe either."""
    t = TASKS.get(r["task"])
    out = []
    for k, v in (t.train.items() if t is not None else ()):
        got = (r.get("training") or {}).get(k)
        if k not in ("epochs", "step_size") and got is not None and got != v:
            out.append(f"{k} {got} (recipe {v})")
    return out


def _plain(v):
    """``v`` as JSON reads it back (tuples as lists), so recorded and declared values compare."""
    return json.loads(json.dumps(v))


def _model_otherwise(r: dict) -> list[str]:
    """The task's model arguments that run ``r``'s model was built without: the task changed since.

    The task's model is spelled out as the runner spells it (``default_model_config``: the FNO
    knobs ``modes``/``width``/``layers`` become ``n_modes``/``hidden_channels``/``n_layers``). A key
    the run's recorded ``model_config`` lacks was built with the constructor's default (the
    option did not exist yet); keys the run set itself (``model_args``) are said elsewhere, and a
    task's ``"auto"`` is resolved from the data, so neither is compared here.
    """
    from ..operators import MODELS
    from ..training.checkpoint import _constructor_defaults
    from ..training.pipeline import default_model_config

    t, built = TASKS.get(r["task"]), r.get("model_config")
    if t is None or not isinstance(built, dict) or not built:  # nothing recorded: nothing to compare
        return []
    variant = dict(t.models.get(r["model"], {}))
    base = variant.pop("model", r["model"])
    variant.pop("space_time", None)
    knobs = {k: variant.pop(k) for k in ("modes", "width", "layers") if k in variant}
    ndim = len(built.get("n_modes") or r.get("resolution") or ())
    task_cfg = default_model_config(base, 1, 1, ndim, **knobs, **variant)
    defaults = _constructor_defaults(MODELS[base]) if base in MODELS else {}
    given, out = r.get("model_args") or {}, []
    for key, want in task_cfg.items():
        if key in ("in_channels", "out_channels") or key in given or want == "auto":
            continue
        got = built.get(key, defaults.get(key, want))
        if _plain(got) != _plain(want):
            out.append(f"{key}={_plain(got)!r} (task now {_plain(want)!r})")
    return out


def follows_recipe(r: dict) -> bool:
    """Whether run ``r`` is its task's full recipe: its length, its settings and the task's model.

    The filled markers of the figures; a run trained otherwise (another optimiser, a model
    built with other arguments) is drawn hollow like a shortened one.
    """
    return (bool(r["full_recipe"]) and not _trained_otherwise(r) and not r.get("model_args")
            and not _model_otherwise(r))


def protocol(r: dict) -> str:
    """How the run ``r`` departs from its task's recipe (``"full recipe"`` if it does not)."""
    t = TASKS.get(r["task"])
    parts = []
    if r["epochs"] < r["epochs_recipe"]:
        parts.append(f"{r['epochs']}/{r['epochs_recipe']} epochs")
    if t is not None and r["n_train"] < t.n_train:
        parts.append(f"{r['n_train']}/{t.n_train} train samples")
    if t is not None and r["n_test"] < t.n_test:
        parts.append(f"{r['n_test']}/{t.n_test} test samples")
    stopped = str(r.get("stopped") or "")
    training = r.get("training") or {}
    planned = training.get("epochs")
    if stopped.startswith("time budget"):
        parts.append(stopped.split(" reached")[0])
    elif isinstance(planned, int) and planned > r["epochs"]:
        parts.append(f"stopped after {r['epochs']} of {planned} planned epochs (time budget)")
    if not parts and not r["full_recipe"]:
        parts.append("shorter than the recipe")
    other = _trained_otherwise(r)
    text = "; ".join(([f"reduced: {', '.join(parts)}"] if parts else [])
                     + ([f"trained otherwise: {', '.join(other)}"] if other else [])) or "full recipe"
    frames = r.get("train_frames")
    if frames:  # another training protocol than the recipe's back-propagation through the rollout
        windows = "teacher forcing" if frames == 1 else f"{frames}-frame unrolls"
        text += f"; trained on true windows ({windows}), tested by the full rollout"
    args = r.get("model_args")
    if args:  # constructor arguments beyond the task's model: another architecture, said in the row
        text += "; model " + ", ".join(f"{k}={v!r}" for k, v in sorted(args.items()))  # as --model-arg takes them
    older = _model_otherwise(r)
    if older:  # the task's model changed after this run: the row says what it was built with
        text += "; model built before the task's changed: " + ", ".join(older)
    amp = training.get("amp")
    if amp:  # the same recipe in mixed precision: said, never mixed silently
        # runs before amp_eval existed were evaluated under their autocast
        text += f"; {amp} autocast" + ("" if training.get("amp_eval", True) else ", evaluated in float32")
    micro, batch = training.get("micro_batch"), training.get("batch_size")
    if micro and (batch is None or micro < batch):
        text += f"; micro-batches of {micro}"  # the recipe's step up to rounding, at another speed and memory
    return f"{t.departs}; {text}" if t is not None and t.departs else text


def _published_cell(task, model: str) -> str:
    if task is None:
        return ""
    return "; ".join(f"{p.value:.4f} {p.name}" for p in task.published_for(model)) or "—"


def figure_paths(out, rows) -> list[Path]:
    """The figures ``table(..., out=out)`` writes beside the markdown ``out`` for ``rows``."""
    out = Path(out)
    stem = out.with_suffix("")
    paths = [out.with_suffix(".png"), Path(f"{stem}_error_vs_params.png"), Path(f"{stem}_error_vs_time.png"),
             Path(f"{stem}_curves.png")]
    if any(r.get("rollout_rel_l2_per_step") for r in rows):
        paths.append(Path(f"{stem}_rollout.png"))
    return paths


def _rel(name: str, results_dir: Path, out: Path | None) -> str:
    """A file of ``results_dir`` as the markdown ``out`` links it (the name itself without ``out``)."""
    if out is None:
        return name
    return Path(os.path.relpath(results_dir.resolve() / name, out.resolve().parent)).as_posix()


def _markdown(rows, results_dir: Path, out: Path | None) -> str:
    lines = ["# sciml leaderboard", "",
             "Generated by `sciml bench table` from the results JSON files (schema "
             f"`{SCHEMA}`); do not edit by hand. Test error is the relative L2 error on the task's test split. "
             "*protocol* says where a run used less than the task's recipe (epochs, samples, a time budget): "
             "such rows are not comparable with the published figures, which follow the full recipe. It also "
             "names where a task itself is smaller than the published setting (a CPU protocol), a way of "
             "training other than the recipe's (*trained otherwise*: another optimiser, weight decay or batch "
             "size; mixed precision; rollouts trained on windows of the true trajectories, which are still "
             "tested by the full rollout), a model built with arguments beyond the task's (*model*), and a "
             "model built before the task's model changed (*model built before the task's changed*: what the "
             "run had, then what the task has now).", ""]
    if out is not None:
        lines += [f"Regenerate: `sciml bench table {results_dir.as_posix()} --out {out.as_posix()} --overwrite`. "
                  "Train the rows again: `sciml bench plan cpu --out results` (the CPU protocols; `gpu`: every "
                  "full recipe), resumable, `--list` shows what is left.", ""]
        figs = figure_paths(out, rows)
        names = ["test error per run", "error vs parameters", "error vs training time", "test error per epoch",
                 "rollout error per step"]
        lines += [" · ".join(f"[{n}]({p.name})" for n, p in zip(names, figs)), ""]
        lines += [f"![error vs parameters]({figs[1].name})", "", f"![error vs training time]({figs[2].name})", "",
                  f"![test error per epoch]({figs[3].name})", ""]
        if len(figs) > 4:
            lines += [f"![rollout error per step]({figs[4].name})", ""]
    for task in sorted({r["task"] for r in rows}):
        t = TASKS.get(task)
        lines.append(f"## {task}")
        if t is not None:
            lines.append(f"{t.description}.")
        lines += ["", "| rank | model | run | test rel. L2 | published | train rel. L2 | params | train time | "
                      "inference ms/sample | epochs | protocol | hardware | seed | date | result |",
                  "|---:|---|---|---:|---|---:|---:|---:|---:|---:|---|---|---:|---|---|"]
        for i, r in enumerate((r for r in rows if r["task"] == task), 1):
            link = _rel(r["_file"], results_dir, out)
            figs = " · ".join(f"[{k}]({_rel(v, results_dir, out)})" for k, v in (r.get("figures") or {}).items()
                              if (results_dir / v).exists())
            lines.append(
                f"| {i} | {r['model']} | {r['label']} | {r['test_rel_l2']:.4f} | {_published_cell(t, r['model'])} | "
                f"{r['train_rel_l2']:.4f} | {r['params']:,} | {format_duration(r['train_seconds'])} | "
                f"{r['inference_ms_per_sample']:.2f} | {r['epochs']}/{r['epochs_recipe']} | {protocol(r)} | "
                f"{r['hardware'].get('summary', '')} | {r['seed']} | {str(r['date'])[:10]} | [json]({link})"
                + (f" · {figs}" if figs else "") + " |")
        if t is not None and t.published:
            lines += ["", "Published test relative L2 for this task:", ""]
            for p in t.published:
                lines.append(f"- {p.name}: **{p.value:.4f}** — {p.source}; {p.setting}.")
        if t is not None and t.not_listed:
            lines += ["", "Published elsewhere, not listed:", ""]
            lines += [f"- {note}." for note in t.not_listed]
        lines.append("")
    return "\n".join(lines)


def table(results_dir, out=None) -> str:
    """Markdown leaderboard of ``results_dir``.

    Parameters
    ----------
    results_dir : str or Path
        Folder of results JSON files (see :func:`load_results`).
    out : str or Path, optional
        Markdown file to write; the figures of :func:`figure_paths` are written beside it and
        linked from it. The markdown depends only on the results: regenerating gives the same text.

    Returns
    -------
    str
        The markdown.
    """
    results_dir = Path(results_dir)
    rows = load_results(results_dir)
    if not rows:
        raise ValueError(f"no sciml bench results (*.json, schema {SCHEMA}) in {results_dir}")
    if out is not None:
        out = Path(out)
        if not out.parent.exists():
            raise FileNotFoundError(f"directory of --out does not exist: {out.parent}")
    text = _markdown(rows, results_dir, out)
    if out is not None:
        figs = figure_paths(out, rows)
        plot(rows, figs[0])
        plot_scatter(rows, figs[1], x="params")
        plot_scatter(rows, figs[2], x="train_seconds")
        plot_curves(rows, figs[3])
        if len(figs) > 4:
            plot_rollout(rows, figs[4])
        write_text(out, text)
    return text


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def _save(fig, out) -> Path:
    out = Path(out)
    with atomic_path(out, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=110, format="png", metadata={"Software": None})
    _pyplot().close(fig)
    return out


def _reference_lines(ax, task):
    t = TASKS.get(task)
    # black, one dash pattern each: the colours belong to the models
    dashes = ((0, (6, 3)), (0, (1, 2)), (0, (6, 2, 1, 2)), (0, (10, 2, 1, 2, 1, 2)), (0, (3, 1)))
    for j, p in enumerate(t.published if t else ()):
        ax.axhline(p.value, ls=dashes[j % len(dashes)], lw=1, color="k", alpha=0.75,
                   label=f"published {p.name}: {p.value:g}")


def _panels(plt, n: int, width: float, height: float):
    """A figure with ``n`` task panels, two per row (one row of four was too wide to read), and
    the panels as a flat list; the unused last cell of an odd count is switched off."""
    ncols = min(2, n)
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(width * ncols, height * nrows), squeeze=False)
    flat = list(axes.ravel())
    for ax in flat[n:]:
        ax.set_axis_off()
    return fig, flat[:n]


def plot(rows: list[dict], out) -> Path:
    """Test relative L2 per run (log scale, bars), one panel per task, published figures dashed."""
    plt = _pyplot()
    tasks = sorted({r["task"] for r in rows})
    fig, axes = _panels(plt, len(tasks), 5.5, 4.2)
    for ax, task in zip(axes, tasks):
        rs = [r for r in rows if r["task"] == task]
        names = [f"{r['model']}\n{r['label']}" for r in rs]
        colors = ["C0" if follows_recipe(r) else "C1" for r in rs]
        ax.bar(range(len(rs)), [r["test_rel_l2"] for r in rs], color=colors)
        ax.set_xticks(range(len(rs)))
        ax.set_xticklabels(names, fontsize=7, rotation=30, ha="right")
        ax.set_yscale("log")
        ax.set_ylabel("test relative L2")
        ax.set_title(task)
        _reference_lines(ax, task)
        ax.plot([], [], "s", color="C0", label="full recipe")
        ax.plot([], [], "s", color="C1", label="reduced or trained otherwise")
        ax.legend(fontsize=7)
        ax.grid(True, axis="y", which="both", alpha=0.3)
    fig.tight_layout()
    return _save(fig, out)


def plot_scatter(rows: list[dict], out, x: str = "params") -> Path:
    """Test error against ``x`` (``"params"`` or ``"train_seconds"``), log axes, one panel per task.

    One marker shape and colour per model (one scatter collection per model, its points in
    the order of ``rows``); filled markers follow the full recipe (:func:`follows_recipe`),
    hollow ones a reduced protocol or other training settings, and a model with several runs in
    a panel has each point labelled with its run. Published figures of the task are dashed
    horizontal lines.
    """
    if x not in ("params", "train_seconds"):
        raise ValueError(f"x must be 'params' or 'train_seconds', got {x!r}")
    plt = _pyplot()
    tasks = sorted({r["task"] for r in rows})
    models = sorted({r["model"] for r in rows})
    style = {m: (f"C{i % 10}", _MARKERS[i % len(_MARKERS)]) for i, m in enumerate(models)}
    fig, axes = _panels(plt, len(tasks), 8.5, 4.4)
    for ax, task in zip(axes, tasks):
        for m in models:
            rs = [r for r in rows if r["task"] == task and r["model"] == m]
            if not rs:
                continue
            color, marker = style[m]
            xs, ys = [max(r[x], 1e-3) for r in rs], [r["test_rel_l2"] for r in rs]
            ax.scatter(xs, ys, s=60, marker=marker, edgecolors=color, linewidths=1.5,
                       facecolors=[color if follows_recipe(r) else "none" for r in rs], gid=f"{task}/{m}")
            # the legend's key shows the model, not the fill of whichever of its runs came first
            ax.plot([], [], ls="none", marker=marker, color=color, markersize=7, label=m)
            if len(rs) > 1:  # which point is which run of the model
                for xv, yv, r in zip(xs, ys, rs):
                    ax.annotate(r["label"], (xv, yv), xytext=(6, -3), textcoords="offset points",
                                fontsize=6, color=color)
        ax.plot([], [], ls="none", marker="o", color="0.3", markersize=7, label="full recipe")
        ax.plot([], [], ls="none", marker="o", markerfacecolor="none", color="0.3", markersize=7,
                label="reduced or trained otherwise")
        _reference_lines(ax, task)
        ax.set_xscale("log")
        ax.set_yscale("log")
        if ax.texts:  # room on the right for the run labels of the rightmost points
            lo, hi = ax.get_xlim()
            ax.set_xlim(lo, hi * (hi / lo) ** 0.18)
        ax.set_xlabel("parameters" if x == "params" else "training time (s)")
        ax.set_ylabel("test relative L2")
        ax.set_title(task)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    return _save(fig, out)


def plot_curves(rows: list[dict], out) -> Path:
    """Test relative L2 after each epoch (log scale), one line per run, one panel per task.

    Read from each result's ``history`` (a run that recorded no per-epoch test error is left
    out); runs of one model share a colour, each run its own line style, so a reader sees where
    two protocols (optimisers, budgets) part. Published figures of the task are dashed.
    """
    plt = _pyplot()
    tasks = sorted({r["task"] for r in rows})
    models = sorted({r["model"] for r in rows})
    colors = {m: f"C{i % 10}" for i, m in enumerate(models)}
    fig, axes = _panels(plt, len(tasks), 8.5, 4.4)
    for ax, task in zip(axes, tasks):
        seen = {}
        for r in (r for r in rows if r["task"] == task):
            pts = [(h["epoch"], h["val_rel_l2"]) for h in r.get("history") or []
                   if isinstance(h, dict) and h.get("val_rel_l2") is not None and h.get("epoch") is not None]
            if not pts:
                continue
            k = seen[r["model"]] = seen.get(r["model"], -1) + 1
            ax.plot(*zip(*pts), color=colors[r["model"]], ls=_STYLES[k % len(_STYLES)], lw=1.2,
                    label=f"{r['model']} ({r['label']}): {r['test_rel_l2']:.4f}",
                    gid=f"{task}/{r['model']}/{r['label']}")
        _line_panel(ax, task, "epoch", "test relative L2", f"{task}: test error per epoch")
    fig.tight_layout()
    return _save(fig, out)


_STYLES = ("-", "--", ":", "-.")


def _line_panel(ax, task, xlabel, ylabel, title):
    """Finish a panel of lines: the task's published figures, log errors, labels, legend outside."""
    _reference_lines(ax, task)
    ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))


def plot_rollout(rows: list[dict], out) -> Path:
    """Per-step rollout relative L2 (log scale) of every result carrying ``rollout_rel_l2_per_step``."""
    rs = [r for r in rows if r.get("rollout_rel_l2_per_step")]
    if not rs:
        raise ValueError("no result carries rollout_rel_l2_per_step")
    plt = _pyplot()
    tasks = sorted({r["task"] for r in rs})
    fig, axes = _panels(plt, len(tasks), 9, 4.2)
    for ax, task in zip(axes, tasks):
        t = TASKS.get(task)
        t0 = (t.t_in or 0) if t else 0
        for r in (r for r in rs if r["task"] == task):
            e = r["rollout_rel_l2_per_step"]
            ax.plot(range(t0 + 1, t0 + 1 + len(e)), e, marker=".", label=f"{r['model']} ({r['label']})",
                    gid=f"{task}/{r['model']}/{r['label']}")
        _line_panel(ax, task, "predicted frame", "relative L2 per step",
                    f"{task}: rollout error (published: mean over the rollout)")
    fig.tight_layout()
    return _save(fig, out)
