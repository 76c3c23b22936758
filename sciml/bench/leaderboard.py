"""The leaderboard: results JSON files -> a markdown table and a plot.

``table(results_dir)`` reads every ``*.json`` with schema ``sciml-bench-result/1`` in
``results_dir`` and returns a markdown table per task, best test error first, with the
task's published reference figures underneath. ``table(results_dir, out="leaderboard.md")``
also writes the markdown and ``leaderboard.png`` (test error per run, one panel per task,
dashed lines at the published figures).
"""
from __future__ import annotations

import json
from pathlib import Path

from .runner import RESULT_KEYS, SCHEMA
from .tasks import TASKS

__all__ = ["load_results", "table", "plot"]


def load_results(results_dir) -> list[dict]:
    """All valid result dicts in ``results_dir`` (sorted by task, then test error)."""
    results_dir = Path(results_dir)
    if not results_dir.is_dir():
        raise NotADirectoryError(f"results directory does not exist: {results_dir}")
    rows = []
    for f in sorted(results_dir.glob("*.json")):
        try:
            r = json.loads(f.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        if not isinstance(r, dict) or r.get("schema") != SCHEMA:
            continue
        missing = [k for k in RESULT_KEYS if k not in r]
        if missing:
            raise ValueError(f"{f.name} is missing result fields {missing}")
        r["_file"] = f.name
        rows.append(r)
    rows.sort(key=lambda r: (r["task"], r["test_rel_l2"]))
    return rows


def _fmt_seconds(s: float) -> str:
    if s >= 3600:
        return f"{s / 3600:.1f} h"
    if s >= 60:
        return f"{s / 60:.1f} min"
    return f"{s:.0f} s"


def table(results_dir, out=None) -> str:
    """Markdown leaderboard of ``results_dir``; with ``out`` also write it and a PNG beside it."""
    rows = load_results(results_dir)
    if not rows:
        raise ValueError(f"no sciml bench results (*.json, schema {SCHEMA}) in {results_dir}")
    lines = ["# sciml leaderboard", ""]
    for task in sorted({r["task"] for r in rows}):
        t = TASKS.get(task)
        lines.append(f"## {task}")
        if t is not None:
            lines.append(f"{t.description}.")
        lines += ["", "| rank | model | run | test rel. L2 | train rel. L2 | params | epochs | train time | "
                      "inference ms/sample | full recipe | hardware | seed | sciml | date |",
                  "|---:|---|---|---:|---:|---:|---:|---:|---:|:---:|---|---:|---|---|"]
        for i, r in enumerate((r for r in rows if r["task"] == task), 1):
            lines.append(
                f"| {i} | {r['model']} | {r['label']} | {r['test_rel_l2']:.4f} | {r['train_rel_l2']:.4f} | "
                f"{r['params']:,} | {r['epochs']}/{r['epochs_recipe']} | {_fmt_seconds(r['train_seconds'])} | "
                f"{r['inference_ms_per_sample']:.2f} | {'yes' if r['full_recipe'] else 'no'} | "
                f"{r['hardware'].get('summary', '')} | {r['seed']} | {r['sciml_version']} | {r['date'][:10]} |")
        if t is not None and t.reference:
            refs = "; ".join(f"{k} {v:.4f}" for k, v in t.reference.items())
            lines += ["", f"Published test relative L2: {refs}."]
        lines.append("")
    text = "\n".join(lines)
    if out is not None:
        out = Path(out)
        if not out.parent.exists():
            raise FileNotFoundError(f"directory of --out does not exist: {out.parent}")
        out.write_text(text)
        plot(rows, out.with_suffix(".png"))
    return text


def plot(rows: list[dict], out) -> Path:
    """Test relative L2 per run (log scale), one panel per task, published figures dashed."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    tasks = sorted({r["task"] for r in rows})
    fig, axes = plt.subplots(1, len(tasks), figsize=(5.5 * len(tasks), 4.2), squeeze=False)
    for ax, task in zip(axes[0], tasks):
        rs = [r for r in rows if r["task"] == task]
        names = [f"{r['model']}\n{r['label']}" for r in rs]
        colors = ["C0" if r["full_recipe"] else "C1" for r in rs]
        ax.bar(range(len(rs)), [r["test_rel_l2"] for r in rs], color=colors)
        ax.set_xticks(range(len(rs)))
        ax.set_xticklabels(names, fontsize=7, rotation=30, ha="right")
        ax.set_yscale("log")
        ax.set_ylabel("test relative L2")
        ax.set_title(task)
        t = TASKS.get(task)
        for j, (name, v) in enumerate((t.reference if t else {}).items()):
            ax.axhline(v, ls="--", lw=1, color=f"C{j + 2}", label=f"{name}: {v:g}")
        ax.plot([], [], "s", color="C0", label="full recipe")
        ax.plot([], [], "s", color="C1", label="shorter run")
        ax.legend(fontsize=7)
        ax.grid(True, axis="y", which="both", alpha=0.3)
    fig.tight_layout()
    out = Path(out)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out
