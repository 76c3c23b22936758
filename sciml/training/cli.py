"""``sciml train``: train a neural operator on a store file, print its test error, write figures."""
from __future__ import annotations

import ast
import sys
from pathlib import Path

from .._argtypes import positive_float as _pos_float
from .._argtypes import positive_int as _pos_int

__all__ = ["add_parser", "parse_model_args"]


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


def add_common_training_args(p):
    """Model and optimiser flags shared by ``sciml train`` and ``sciml bench run``."""
    p.add_argument("--model", default="fno", help="registry model name (fno, tfno, ...)")
    p.add_argument("--epochs", type=_pos_int, default=None, help="training epochs")
    p.add_argument("--seconds", type=_pos_float, default=None, help="wall-clock training budget instead of/with epochs")
    p.add_argument("--modes", type=_pos_int, default=None, help="FNO Fourier modes per axis per sign (paper's 'modes')")
    p.add_argument("--width", type=_pos_int, default=None, help="FNO hidden channels")
    p.add_argument("--layers", type=_pos_int, default=None, help="FNO blocks")
    p.add_argument("--model-arg", action="append", default=[], metavar="KEY=VALUE",
                   help="any other model constructor argument (repeatable), e.g. --model-arg domain_padding=0.1")
    p.add_argument("--batch-size", type=_pos_int, default=None)
    p.add_argument("--lr", type=_pos_float, default=None)
    p.add_argument("--n-train", type=_pos_int, default=None, help="first N samples train")
    p.add_argument("--n-test", type=_pos_int, default=None, help="last N samples test")
    p.add_argument("--inputs", nargs="+", default=None, help="input field name(s)")
    p.add_argument("--outputs", nargs="+", default=None, help="output field name(s)")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1 (default: CUDA when available)")
    p.add_argument("--amp", choices=["bf16", "fp16"], default=None, help="mixed precision (CUDA only)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def add_parser(subparsers):
    p = subparsers.add_parser(
        "train", help="train a neural operator on a dataset file",
        description="Train a model on a store file (default: Darcy a -> u), print the test relative L2 error "
                    "and write checkpoints, results.json and figures into --out.")
    p.add_argument("--data", required=True, help="store file (.h5) written by `sciml generate`")
    p.add_argument("--out", required=True, help="run directory (created; its parent must exist)")
    add_common_training_args(p)
    p.add_argument("--weight-decay", type=float, default=1e-4)
    p.add_argument("--scheduler", choices=["cosine", "step", "onecycle", "none"], default="cosine")
    p.add_argument("--grad-clip", type=_pos_float, default=None)
    p.add_argument("--t-in", type=_pos_int, default=None, help="trajectories: frames in (e.g. 10)")
    p.add_argument("--t-out", type=_pos_int, default=None, help="trajectories: frames out (default: the rest)")
    p.add_argument("--no-normalize", action="store_true", help="no input/output normalisation")
    p.add_argument("--resume", action="store_true", help="continue from --out/checkpoints/last")
    p.set_defaults(func=_cmd_train)
    return p


def model_config_from_args(args, ndim: int) -> dict:
    from .pipeline import default_model_config

    cfg = default_model_config(args.model, 1, 1, ndim, modes=args.modes, width=args.width, layers=args.layers,
                               **parse_model_args(args.model_arg))
    cfg.pop("in_channels")
    cfg.pop("out_channels")
    return cfg


def _cmd_train(args):
    from ..datasets import open_dataset
    from ..operators import MODELS
    from .pipeline import train_operator

    data = Path(args.data)
    if not data.exists():
        raise FileNotFoundError(f"--data file does not exist: {data}")
    out = Path(args.out)
    if not out.parent.exists():
        raise FileNotFoundError(f"parent directory of --out does not exist: {out.parent}")
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"--out must be a directory, got the file {out}")
    if args.model.lower() not in MODELS:
        raise ValueError(f"--model must be one of {', '.join(sorted(MODELS))}; got {args.model!r}")
    if args.epochs is None and args.seconds is None:
        raise ValueError("give --epochs N or --seconds S")
    if args.resume and not (out / "checkpoints" / "last").exists():
        raise FileNotFoundError(f"--resume: no checkpoint at {out / 'checkpoints' / 'last'}")
    inputs = args.inputs or ["a"]
    outputs = args.outputs or ["u"]
    with open_dataset(data) as ds:
        for name in inputs + outputs:
            if name not in ds:
                raise ValueError(f"field {name!r} not in {data.name} (fields: {', '.join(ds.fields)}); "
                                 f"choose with --inputs/--outputs")
        ndim = ds[outputs[0]].ndim - (3 if args.t_in else 2)
    res = train_operator(
        data, out, model=args.model, model_config=model_config_from_args(args, ndim), inputs=inputs, outputs=outputs,
        n_train=args.n_train, n_test=args.n_test, t_in=args.t_in, t_out=args.t_out,
        normalize=not args.no_normalize, epochs=args.epochs, seconds=args.seconds,
        batch_size=args.batch_size or 20, lr=args.lr or 1e-3, weight_decay=args.weight_decay,
        scheduler=None if args.scheduler == "none" else args.scheduler, grad_clip=args.grad_clip, amp=args.amp,
        device=args.device, seed=args.seed, progress=not args.no_progress and sys.stderr.isatty(),
        resume=args.resume)
    print(f"{res['model']}: {res['params']:,} parameters, {res['epochs']} epochs in {res['train_seconds']:.1f} s "
          f"on {res['device']} ({res['n_train']} train / {res['n_test']} test at {'x'.join(map(str, res['resolution']))})")
    print(f"train relative L2 = {res['train_rel_l2']:.4f}")
    print(f"test relative L2 = {res['test_rel_l2']:.4f}")
    for key in ("predictions_figure", "loss_curves_figure", "rollout_figure", "results_file", "checkpoint"):
        if key in res:
            print(f"wrote {res[key]}")
    return 0
