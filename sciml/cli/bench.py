"""``sciml bench run``, ``sciml bench table`` and ``sciml bench plan``."""
from __future__ import annotations

import sys
from pathlib import Path

from .._util.validation import positive_int
from .train import add_common_training_args, parse_model_args

__all__ = ["add_parser"]


def add_parser(subparsers, argv=()):
    p = subparsers.add_parser("bench", help="leaderboard: run a task, render the table",
                              description="Run leaderboard tasks and render the leaderboard.")
    sub = p.add_subparsers(dest="bench_command", metavar="{run,table,plan}", parser_class=type(p))
    sub.required = True
    r = sub.add_parser("run", help="train and evaluate one model on one task; write a results JSON",
                       description="Train MODEL on TASK with the task's recipe (override with flags) and write "
                                   "OUT/<task>__<model>__<label>.json. Missing task data is generated.")
    r.add_argument("--task", required=True, help="a leaderboard task (darcy85, ...; an unknown name lists them)")
    r.add_argument("--out", default="results", help="results directory (default: results)")
    r.add_argument("--data", default=None, help="existing store file for the task (default: generated)")
    r.add_argument("--data-dir", default=None, help="where task data is kept (default: $SCIML_DATA or .bench/data)")
    r.add_argument("--workers", type=positive_int, default=1, help="processes for data generation")
    r.add_argument("--label", default=None, help="run label in the file name and table")
    add_common_training_args(r, model_help="registry model name (fno, tfno, ...) or a variant the task names "
                                            "(fno3d on the NS tasks)")
    r.add_argument("--resume", action="store_true",
                   help="continue this label's run from its last checkpoint (same result as an uninterrupted run)")
    r.add_argument("--data-only", action="store_true",
                   help="generate (or complete) the task's data file and stop; --model and training flags are unused")
    r.set_defaults(func=run_task)
    t = sub.add_parser("table", help="render the leaderboard (markdown + png) from results JSON files")
    t.add_argument("results", help="results directory")
    t.add_argument("--out", default=None, help="markdown file to write (.md); its figures are written beside it")
    t.add_argument("--overwrite", action="store_true", help="replace existing table files (regenerating the board)")
    t.add_argument("--quiet", action="store_true", help="do not print the markdown")
    t.set_defaults(func=run_table)
    q = sub.add_parser("plan", help="train the board's rows as one resumable queue (cpu or gpu protocols)",
                       description="Generate the data and train every row of a plan that OUT does not hold yet, "
                                   "each as 'sciml bench run ... --resume'. Rows written are skipped; interrupted "
                                   "rows continue from their last checkpoint. Rerun the same command to continue.")
    q.add_argument("plan", help="cpu (the board's CPU protocols) or gpu (every full recipe, label gpu-full)")
    q.add_argument("--out", default="results", help="results directory (default: results)")
    q.add_argument("--data-dir", default=None, help="where task data is kept (default: $SCIML_DATA or .bench/data)")
    q.add_argument("--device", default=None, help="cpu, cuda, cuda:1 (default: CUDA when available)")
    q.add_argument("--minutes", type=float, default=None,
                   help="deadline: interrupt the running rows (checkpoints kept) and start no other after this")
    q.add_argument("--jobs", type=positive_int, default=1, help="rows trained at once")
    q.add_argument("--threads", type=positive_int, default=None, help="torch threads per row (default: cores/jobs)")
    q.add_argument("--workers", type=positive_int, default=None, help="processes for data generation (default: cores)")
    q.add_argument("--only", nargs="+", default=None, metavar="TASK[/MODEL[/LABEL]]",
                   help="keep the rows these name (whole parts: darcy85/fno/cpu-full is that row, not cpu-full-adam)")
    q.add_argument("--list", action="store_true", help="print the plan's rows and their state, train nothing")
    q.set_defaults(func=run_plan)
    return p


def run_task(args):
    from .._util.io import check_output, remove_empty_tree
    from ..bench.runner import run
    from ..bench.tasks import get_task
    from ._core import options_named

    task = get_task(args.task)
    if args.data_only:
        from ..bench.runner import ensure_data

        path = ensure_data(task, args.data, args.data_dir, workers=args.workers,
                           progress=not args.no_progress and sys.stderr.isatty())
        print(f"data for {task.name}: {path}")
        return 0
    out = check_output(args.out, name="--out", inputs=[args.data], directory=True, exist_ok=True)
    cfg = parse_model_args(args.model_arg)
    for key in ("modes", "width", "layers"):
        if getattr(args, key) is not None:
            cfg[key] = getattr(args, key)
    existed = out.exists()
    try:
        with options_named(["modes"]):  # run() locks this run's own outputs, not the folder
            res = run(task, args.model, out=out, data=args.data, data_dir=args.data_dir, epochs=args.epochs,
                      seconds=args.seconds, n_train=args.n_train, n_test=args.n_test, seed=args.seed,
                      device=args.device, amp=args.amp, amp_eval=args.amp_eval, micro_batch=args.micro_batch,
                      batch_size=args.batch_size,
                      optimizer=args.optimizer,
                      weight_decay=args.weight_decay,
                      lr=args.lr, model_config=cfg,
                      inputs=args.inputs, outputs=args.outputs, label=args.label,
                      train_frames=args.train_frames, workers=args.workers,
                      resume=args.resume,
                      progress=not args.no_progress and sys.stderr.isatty())
    except BaseException:
        if not existed:
            remove_empty_tree(out)  # no empty results folder the user did not have
        raise
    print(f"{res['task']} / {res['model']} ({res['label']}): test relative L2 = {res['test_rel_l2']:.4f}, "
          f"{res['params']:,} params, {res['epochs']} epochs in {res['train_seconds']:.0f} s, "
          f"{res['inference_ms_per_sample']:.2f} ms/sample inference on {res['hardware']['summary']}")
    print(f"wrote {res['results_file']}")
    return 0


def run_table(args):
    from .._util.io import check_output, lock_outputs
    from ..bench.leaderboard import figure_paths, load_results, table

    results = Path(args.results)
    if not results.is_dir():
        raise FileNotFoundError(f"results directory does not exist: {results}")
    outputs = []
    if args.out is not None:
        if Path(args.out).suffix.lower() not in (".md", ".markdown"):
            raise ValueError(f"--out must be a markdown file (.md), got {args.out!r}")
        inputs = sorted(results.glob("*.json"))
        md = check_output(args.out, name="--out", inputs=inputs, overwrite=args.overwrite, kinds=("text",))
        outputs = [md] + [check_output(p, name=f"--out (its {p.name})", inputs=inputs, overwrite=args.overwrite)
                          for p in figure_paths(md, load_results(results))]
    with lock_outputs(*outputs):
        text = table(results, out=Path(args.out) if outputs else None)  # as given: the board names it
    if not args.quiet:
        print(text)
    if outputs:
        print(f"wrote {args.out} and {', '.join(p.name for p in outputs[1:])}")
    return 0


def run_plan(args):
    from collections import Counter

    from ..bench.plans import get_plan, select
    from ..bench.plans import run_plan as run

    rows = select(get_plan(args.plan), args.only)
    if args.list:
        for r in rows:
            epochs = r.epochs if r.epochs is not None else "recipe"
            print(f"{r.name:40s} epochs {epochs!s:>6}  {r.status(args.out)}")
        return 0
    status = run(rows, out=args.out, data_dir=args.data_dir, device=args.device, minutes=args.minutes,
                 jobs=args.jobs, threads=args.threads, workers=args.workers, log=lambda m: print(m, flush=True))
    counts = Counter(status.values())
    print("plan " + args.plan + ": " + ", ".join(f"{n} {s}" for s, n in counts.items()))
    failed = [k for k, s in status.items() if s.startswith("failed")]
    if failed:  # a fault of the run (its own error line is above), not of this command line
        print(f"sciml: error: rows failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0
