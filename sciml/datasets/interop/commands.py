"""``sciml export`` and ``sciml import``: the converters on the command line.

::

    sciml export STORE --format well --out DIR [--splits 0.8,0.1,0.1 | train] [--outputs u] [--boundary wall]
    sciml export STORE --format pdebench --out FILE.hdf5 [--layout darcy|tensor|groups] [--input a] [--output u]
    sciml export CHECKPOINT --format neuralop --out fno_state_dict.pt
    sciml import PATH [--format well|pdebench|neuralop] --out OUT [--split train]

``import`` detects the format from the content when ``--format`` is not given. Every output is
checked before any work (never an input; an existing one needs ``--overwrite``) and written
atomically. Library functions: :mod:`sciml.datasets.interop`, :mod:`sciml.operators.neuraloperator`.
"""
from __future__ import annotations

import argparse
import zipfile
from pathlib import Path

FORMATS = ("well", "pdebench", "neuralop")


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
    fmt, src, out = args.format, Path(args.source), Path(args.out)
    if fmt == "well":
        _only(args, fmt, ["layout", "input", "output"])
        from .well import export_well

        outputs = args.outputs.split(",") if args.outputs else None
        files = export_well(src, out, dataset_name=args.dataset_name, splits=args.splits, outputs=outputs,
                            boundary=args.boundary, overwrite=args.overwrite)
        print(f"wrote {out} ({', '.join(f'{s}: {p.name}' for s, p in files.items())})")
    elif fmt == "pdebench":
        _only(args, fmt, ["dataset_name", "splits", "outputs", "boundary"])
        from .pdebench import export_pdebench

        path = export_pdebench(src, out, layout=args.layout, input=args.input, output=args.output,
                               overwrite=args.overwrite)
        print(f"wrote {path}")
    else:
        _only(args, fmt, ["dataset_name", "splits", "outputs", "boundary", "layout", "input", "output"])
        from ...operators import FNO
        from ...operators.neuraloperator import save_neuraloperator
        from ...training.checkpoint import load_model

        if not src.is_dir():
            raise FileNotFoundError(f"no sciml checkpoint folder at {src}")
        model = load_model(src)
        if not isinstance(model, FNO):
            raise ValueError(f"{src} holds a {type(model).__name__}; only an FNO/TFNO (without normalisers or "
                             f"other wrappers) has a neuraloperator equivalent")
        save_neuraloperator(model, out, overwrite=args.overwrite)
        print(f"wrote {out}")
    return 0


def detect_format(path: Path) -> str:
    """``well``, ``pdebench`` or ``neuralop`` from the content of ``path``."""
    if path.is_dir():
        return "well"
    if not path.exists():
        raise FileNotFoundError(f"no file or folder at {path}")
    if zipfile.is_zipfile(path):
        return "neuralop"
    import h5py

    try:
        with h5py.File(path, "r") as f:
            if "dimensions" in f and "n_trajectories" in f.attrs:
                return "well"
            if "tensor" in f or "density" in f or (len(f) and all(isinstance(g, h5py.Group) and "data" in g
                                                                  for g in f.values())):
                return "pdebench"
            if f.attrs.get("format") is not None:
                raise ValueError(f"{path} is a {f.attrs['format']!r} file, not a Well, PDEBench or neuraloperator file")
    except OSError:
        pass
    raise ValueError(f"{path}: not a Well, PDEBench or neuraloperator file (pass --format to see what is missing)")


def import_command(args) -> int:
    """Run ``sciml import`` (``args`` from :func:`configure_import`)."""
    src, out = Path(args.source), Path(args.out)
    fmt = args.format or detect_format(src)
    if args.split is not None and fmt != "well":
        raise ValueError(f"--split applies only to --format well (this is {fmt})")
    if fmt == "well":
        from .well import import_well

        import_well(src, out, split=args.split, overwrite=args.overwrite)
    elif fmt == "pdebench":
        from .pdebench import import_pdebench

        import_pdebench(src, out, overwrite=args.overwrite)
    else:
        from ...operators.neuraloperator import load_neuraloperator
        from ...training.checkpoint import save_checkpoint
        from ._layout import check_output

        check_output(out, [src], args.overwrite)
        model = load_neuraloperator(src)
        from ..._util.io import OutputLock

        with OutputLock(out):  # save_checkpoint writes a temporary folder and renames it over out
            save_checkpoint(out, model, extra={"imported_from": f"neuraloperator state_dict {src.name}"})
    print(f"wrote {out} (from {fmt})")
    return 0
