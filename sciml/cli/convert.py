"""``sciml export`` / ``sciml import``: sciml stores and checkpoints to and from other projects' formats.

::

    sciml export STORE --format well --out DIR [--splits 0.8,0.1,0.1 | train] [--outputs u] [--boundary wall]
    sciml export STORE --format pdebench --out FILE.hdf5 [--layout darcy|tensor|groups] [--input a] [--output u]
    sciml export CHECKPOINT --format neuralop --out fno_state_dict.pt
    sciml import PATH [--format well|pdebench|neuralop] --out OUT [--split train]

``import`` detects the format from the content when ``--format`` is not given. Every output is
checked before any work (never an input; an existing one needs ``--overwrite``), locked while
written and written atomically. The library functions: :mod:`sciml.datasets.interop`,
:mod:`sciml.operators.neuraloperator`.
"""
from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["add_parser", "FORMATS"]

FORMATS = ("well", "pdebench", "neuralop")
SUMMARIES = {"export": "write a store (or an FNO checkpoint) for The Well, PDEBench or neuraloperator",
             "import": "read a Well / PDEBench file or a neuraloperator checkpoint into sciml"}


def add_parser(subparsers, argv=()):
    """The parser of ``export`` or ``import`` (whichever ``argv`` names)."""
    command = next((a for a in argv if not a.startswith("-")), "export")
    if command == "import":
        p = subparsers.add_parser("import", help=SUMMARIES["import"],
                                  description="Convert a Well file or dataset folder or a PDEBench file into a sciml "
                                              "store, or a neuraloperator 2.0 FNO/TFNO state_dict into a sciml "
                                              "checkpoint folder. The format is detected when --format is not given.")
        configure_import(p)
        p.set_defaults(func=import_command)
    else:
        p = subparsers.add_parser("export", help=SUMMARIES["export"],
                                  description="Write a sciml store as a Well dataset folder or a PDEBench file, or "
                                              "a sciml FNO/TFNO checkpoint folder as a neuraloperator 2.0 state_dict.")
        configure_export(p)
        p.set_defaults(func=export_command)
    return p


def _fractions(text: str):
    if text in ("train", "valid", "test"):
        return text
    try:
        parts = [float(p) if "." in p else int(p) for p in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected three fractions or counts like 0.8,0.1,0.1, or a split name; "
                                         f"got {text!r}") from None
    if len(parts) != 3:
        raise argparse.ArgumentTypeError(f"expected three comma-separated values (train,valid,test), got {text!r}")
    return tuple(parts)


def _boundary(text: str):
    if "=" not in text:
        return text
    out = {}
    for item in text.split(","):
        k, _, v = item.partition("=")
        out[k.strip()] = v.strip()
    return out


def configure_export(p: argparse.ArgumentParser) -> None:
    """Arguments of ``sciml export``."""
    p.add_argument("source", help="sciml store (.h5) for well/pdebench; a sciml checkpoint folder for neuralop")
    p.add_argument("--format", required=True, choices=FORMATS, help="target format")
    p.add_argument("--out", required=True, help="well: dataset folder; pdebench: .hdf5/.h5 file; neuralop: .pt file")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output")
    p.add_argument("--dataset-name", default=None, help="well: the dataset_name attribute (default: the recipe)")
    p.add_argument("--splits", type=_fractions, default=(0.8, 0.1, 0.1),
                   help="well: train,valid,test fractions or counts, or one split name (default 0.8,0.1,0.1)")
    p.add_argument("--outputs", default=None,
                   help="well, stores without time axis: comma-separated fields written as one time step (default u)")
    p.add_argument("--boundary", type=_boundary, default=None,
                   help="well: periodic|wall|open, or per axis x=periodic,y=wall (default: from the recipe)")
    p.add_argument("--layout", default=None, choices=("darcy", "tensor", "groups"),
                   help="pdebench layout (default: darcy for static stores, tensor for 1D, groups otherwise)")
    p.add_argument("--input", default=None, help="pdebench darcy: the coefficient field (default a)")
    p.add_argument("--output", default=None, help="pdebench: the solution / trajectory field")


def configure_import(p: argparse.ArgumentParser) -> None:
    """Arguments of ``sciml import``."""
    p.add_argument("source", help="a Well file or dataset folder, a PDEBench file, or a neuraloperator state_dict")
    p.add_argument("--format", default=None, choices=FORMATS, help="source format (default: detected)")
    p.add_argument("--out", required=True, help="sciml store (.h5) for data; a checkpoint folder for neuralop")
    p.add_argument("--split", default=None, choices=("train", "valid", "test"), help="well: only this split")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output")


def _only(args, fmt, names):
    given = [n for n in names if getattr(args, n) not in (None, False, (0.8, 0.1, 0.1))]
    if given:
        flags = ", ".join("--" + n.replace("_", "-") for n in given)
        raise ValueError(f"{flags} {'does' if len(given) == 1 else 'do'} not apply to --format {fmt}")


def export_command(args) -> int:
    """Run ``sciml export`` (``args`` from :func:`configure_export`)."""
    from .._util.io import check_output

    fmt, src, out = args.format, Path(args.source), Path(args.out)
    if not src.exists():
        raise FileNotFoundError(f"no {'checkpoint folder' if fmt == 'neuralop' else 'store'} at {src}")
    check_output(out, name="--out", inputs=[src], overwrite=args.overwrite, directory=fmt == "well",
                 kinds=("hdf5",) if fmt == "pdebench" else ("zip",) if fmt == "neuralop" else None)
    if fmt == "well":
        _only(args, fmt, ["layout", "input", "output"])
        from ..datasets.interop import export_well

        outputs = args.outputs.split(",") if args.outputs else None
        files = export_well(src, out, dataset_name=args.dataset_name, splits=args.splits, outputs=outputs,
                            boundary=args.boundary, overwrite=args.overwrite)
        print(f"wrote {out} ({', '.join(f'{s}: {p.name}' for s, p in files.items())})")
    elif fmt == "pdebench":
        _only(args, fmt, ["dataset_name", "splits", "outputs", "boundary"])
        from ..datasets.interop import export_pdebench

        path = export_pdebench(src, out, layout=args.layout, input=args.input, output=args.output,
                               overwrite=args.overwrite)
        print(f"wrote {path}")
    else:
        _only(args, fmt, ["dataset_name", "splits", "outputs", "boundary", "layout", "input", "output"])
        from ..operators.neuraloperator import save_neuraloperator
        from ..training.checkpoint import load_model

        if not src.is_dir():
            raise FileNotFoundError(f"no sciml checkpoint folder at {src}")
        model = load_model(src)
        if getattr(model, "model_name", None) not in ("fno", "tfno"):
            raise ValueError(f"{src} holds a {type(model).__name__}; only an FNO/TFNO (without normalisers or "
                             f"other wrappers) has a neuraloperator equivalent")
        save_neuraloperator(model, out, overwrite=args.overwrite)
        print(f"wrote {out}")
    return 0


def import_command(args) -> int:
    """Run ``sciml import`` (``args`` from :func:`configure_import`)."""
    from .._util.io import check_output, lock_outputs
    from ..datasets.interop import detect_format

    src, out = Path(args.source), Path(args.out)
    fmt = args.format or detect_format(src)
    if args.split is not None and fmt != "well":
        raise ValueError(f"--split applies only to --format well (this is {fmt})")
    check_output(out, name="--out", inputs=[src], overwrite=args.overwrite, directory=fmt == "neuralop",
                 kinds=None if fmt == "neuralop" else ("hdf5",))
    if fmt == "well":
        from ..datasets.interop import import_well

        import_well(src, out, split=args.split, overwrite=args.overwrite)
    elif fmt == "pdebench":
        from ..datasets.interop import import_pdebench

        import_pdebench(src, out, overwrite=args.overwrite)
    else:
        from ..operators.neuraloperator import load_neuraloperator
        from ..training.checkpoint import save_checkpoint

        model = load_neuraloperator(src)
        with lock_outputs(out):  # save_checkpoint writes a temporary folder and renames it over out
            save_checkpoint(out, model, extra={"imported_from": f"neuraloperator state_dict {src.name}"})
    print(f"wrote {out} (from {fmt})")
    return 0
