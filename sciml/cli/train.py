"""``sciml train``: train a neural operator on a store file, print its test error, write figures."""
from __future__ import annotations

import ast
import sys
from pathlib import Path

from .._util.validation import nonnegative_float, nonnegative_int, positive_float, positive_int
from ._core import options_named

__all__ = ["add_parser", "add_common_training_args", "parse_model_args", "model_config_from_args"]


def parse_model_args(items) -> dict:
    """``["key=value", ...]`` -> dict (values as Python literals when they parse, else strings)."""
    out = {}
    for item in items or []:
        if "=" not in item:
            raise ValueError(f"--model-arg expects KEY=VALUE, got {item!r}")
        key, value = item.split("=", 1)
        try:
            out[key.strip().replace("-", "_")] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            out[key.strip().replace("-", "_")] = value
    return out


def add_common_training_args(p, model_help: str = "registry model name (fno, tfno, ...)"):
    """Model and optimiser flags shared by ``sciml train`` and ``sciml bench run``."""
    p.add_argument("--model", default="fno", help=model_help)
    p.add_argument("--epochs", type=positive_int, default=None, help="training epochs")
    p.add_argument("--seconds", type=positive_float, default=None,
                   help="wall-clock training budget instead of/with epochs")
    p.add_argument("--modes", type=positive_int, default=None,
                   help="FNO Fourier modes per axis per sign (paper's 'modes')")
    p.add_argument("--width", type=positive_int, default=None, help="FNO hidden channels")
    p.add_argument("--layers", type=positive_int, default=None, help="FNO blocks")
    p.add_argument("--model-arg", action="append", default=[], metavar="KEY=VALUE",
                   help="any other model constructor argument (repeatable), e.g. --model-arg domain_padding=0.1")
    p.add_argument("--batch-size", type=positive_int, default=None)
    p.add_argument("--optimizer", choices=["adamw", "adam", "sgd"], default=None,
                   help="adamw (decoupled weight decay), adam (weight decay as an L2 term in the gradient, as "
                        "the FNO code's Adam) or sgd (momentum 0.9); default: adamw for `sciml train`, the "
                        "task's recipe for `sciml bench run` (adam)")
    p.add_argument("--lr", type=positive_float, default=None)
    p.add_argument("--weight-decay", type=nonnegative_float, default=None,
                   help="weight decay (default: 1e-4 for `sciml train`, the task's recipe for `sciml bench run`, "
                        "5e-6; with --optimizer adam an L2 term on the mean loss: the FNO code's 1e-4 on a loss "
                        "summed over a batch of 20 is 5e-6 here)")
    p.add_argument("--n-train", type=positive_int, default=None, help="first N samples train")
    p.add_argument("--n-test", type=positive_int, default=None, help="last N samples test")
    p.add_argument("--inputs", nargs="+", default=None, help="input field name(s)")
    p.add_argument("--outputs", nargs="+", default=None, help="output field name(s)")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1 (default: CUDA when available)")
    p.add_argument("--amp", choices=["bf16", "fp16"], default=None,
                   help="mixed precision of training: bf16 (CUDA, or a CPU with bf16 units) or fp16 (CUDA); the "
                        "test and validation errors are the float32 model's unless --amp-eval")
    p.add_argument("--amp-eval", action="store_true",
                   help="with --amp: evaluate (validation, test) under the same autocast too")
    p.add_argument("--micro-batch", type=positive_int, default=None, metavar="M",
                   help="forward and backward each batch in chunks of M samples, one optimiser step per batch "
                        "(gradient accumulation: the same step up to rounding, with the activation memory of M "
                        "samples)")
    p.add_argument("--train-frames", type=positive_int, default=None, metavar="K",
                   help="trajectories with a rollout model: train on windows of K true frames ahead (1: teacher "
                        "forcing) instead of through the whole rollout; the test error stays the full rollout's")
    p.add_argument("--seed", type=nonnegative_int, default=0)
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def add_parser(subparsers, argv=()):
    p = subparsers.add_parser(
        "train", help="train a neural operator on a dataset file",
        description="Train a model on a store file (default: Darcy a -> u), print the test relative L2 error "
                    "and write checkpoints, results.json and figures into --out.")
    p.add_argument("--data", required=True, help="store file (.h5) written by `sciml generate`")
    p.add_argument("--out", required=True, help="run directory (created; its parent must exist)")
    add_common_training_args(p)
    p.add_argument("--scheduler", choices=["cosine", "step", "onecycle", "none"], default="cosine")
    p.add_argument("--grad-clip", type=positive_float, default=None)
    p.add_argument("--t-in", type=positive_int, default=None, help="trajectories: frames in (e.g. 10)")
    p.add_argument("--t-out", type=positive_int, default=None, help="trajectories: frames out (default: the rest)")
    p.add_argument("--space-time", action="store_true",
                   help="trajectories: one operator over space and time (FNO-3D) instead of a rollout")
    p.add_argument("--no-normalize", action="store_true", help="no input/output normalisation")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--resume", action="store_true", help="continue the run in --out (from its checkpoints/last)")
    g.add_argument("--overwrite", action="store_true", help="replace an existing run directory --out")
    p.set_defaults(func=run)
    return p


def model_config_from_args(args, ndim: int) -> dict:
    from ..training.pipeline import default_model_config

    cfg = default_model_config(args.model, 1, 1, ndim, modes=args.modes, width=args.width, layers=args.layers,
                               **parse_model_args(args.model_arg))
    cfg.pop("in_channels")
    cfg.pop("out_channels")
    return cfg


def _operator_spec(spec: dict) -> dict:
    from ..training.checkpoint import WRAPPER_KINDS

    while spec.get("kind") in WRAPPER_KINDS:
        spec = spec["model"]
    return spec


def check_resume(out: Path, model: str, cfg: dict) -> None:
    """``--resume`` with options that differ from the run's own: ValueError naming them."""
    import json

    last = out / "checkpoints" / "last"
    if not (last / "config.json").exists():
        raise FileNotFoundError(f"--resume: no checkpoint at {last}")
    try:
        stored = json.loads((last / "config.json").read_text())
    except (OSError, ValueError) as exc:
        raise ValueError(f"--resume: cannot read {last / 'config.json'}: {exc}") from None
    spec = _operator_spec(stored.get("model", {}))
    name, have = spec.get("name"), spec.get("config", {})
    if name is not None and str(name).lower() != model.lower():
        raise ValueError(f"--resume: the run in {out} trained --model {name}, not {model}")
    for key, value in cfg.items():
        if key in have and have[key] != value:
            raise ValueError(f"--resume: the run in {out} has {key}={have[key]!r}, this command asks for "
                             f"{key}={value!r} (repeat the run's options, or give a new --out)")


def run(args) -> int:
    import shutil

    from .._util.io import check_output, lock_outputs, remove_empty_tree

    data = Path(args.data)
    if not data.exists():
        raise FileNotFoundError(f"--data file does not exist: {data}")
    out = check_output(args.out, name="--out", inputs=[data], directory=True,
                       exist_ok=args.resume, overwrite=args.overwrite)
    if args.epochs is None and args.seconds is None:
        raise ValueError("give --epochs N or --seconds S")
    existed = out.exists()
    with lock_outputs(out):
        from ..datasets import open_dataset
        from ..operators import MODELS
        from ..training.pipeline import check_modes, operator_grid, train_operator

        if args.model.lower() not in MODELS:
            raise ValueError(f"--model must be one of {', '.join(sorted(MODELS))}; got {args.model!r}")
        inputs = args.inputs or ["a"]
        outputs = args.outputs or ["u"]
        with open_dataset(data) as ds:
            for name in inputs + outputs:
                if name not in ds:
                    raise ValueError(f"field {name!r} not in {data.name} (fields: {', '.join(ds.fields)}); "
                                     f"choose with --inputs/--outputs")
            if args.space_time and not args.t_in:
                raise ValueError("--space-time needs --t-in (trajectories)")
            if args.train_frames and (not args.t_in or args.space_time):
                raise ValueError("--train-frames needs --t-in and a rollout (not --space-time)")
            ndim, grid = operator_grid(ds[outputs[0]].shape, args.t_in, args.t_out, args.space_time)
        cfg = model_config_from_args(args, ndim)
        with options_named(["modes"]):
            check_modes(cfg, grid)  # before any work (train_operator checks again, after loading)
        if args.resume:
            check_resume(out, args.model, cfg)
        elif existed and args.overwrite:
            shutil.rmtree(out)
        try:
            res = train_operator(
                data, out, model=args.model, model_config=cfg, inputs=inputs, outputs=outputs,
                n_train=args.n_train, n_test=args.n_test, t_in=args.t_in, t_out=args.t_out,
                space_time=args.space_time, train_frames=args.train_frames, normalize=not args.no_normalize,
                epochs=args.epochs, seconds=args.seconds,
                batch_size=args.batch_size or 20, optimizer=args.optimizer or "adamw", lr=args.lr or 1e-3,
                weight_decay=1e-4 if args.weight_decay is None else args.weight_decay,
                scheduler=None if args.scheduler == "none" else args.scheduler, grad_clip=args.grad_clip,
                amp=args.amp, amp_eval=args.amp_eval, micro_batch=args.micro_batch, device=args.device,
                seed=args.seed,
                progress=not args.no_progress and sys.stderr.isatty(), resume=args.resume)
        except BaseException:
            if not existed:
                remove_empty_tree(out)
            raise
    print(f"{res['model']}: {res['params']:,} parameters, {res['epochs']} epochs in {res['train_seconds']:.1f} s "
          f"on {res['device']} ({res['n_train']} train / {res['n_test']} test at "
          f"{'x'.join(map(str, res['resolution']))})")
    print(f"train relative L2 = {res['train_rel_l2']:.4f}")
    print(f"test relative L2 = {res['test_rel_l2']:.4f}")
    for key in ("predictions_figure", "loss_curves_figure", "rollout_figure", "results_file", "checkpoint"):
        if key in res:
            print(f"wrote {res[key]}")
    return 0
