"""``sciml plot FILE --out IMAGE``: plot one sample of a dataset file."""
from __future__ import annotations

__all__ = ["add_parser"]

IMAGE_SUFFIXES = (".png", ".pdf", ".svg", ".jpg")


def add_parser(subparsers, argv=()):
    p = subparsers.add_parser("plot", help="plot one sample of a dataset file",
                              description="Plot the fields of one sample (a few frames of a trajectory).")
    p.add_argument("file")
    p.add_argument("--sample", type=int, default=0)
    p.add_argument("--time", type=int, default=None, help="time index for trajectories (default: a few frames)")
    p.add_argument("--out", required=True, help="output image (.png, .pdf, .svg, .jpg)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing image")
    p.set_defaults(func=run)
    return p


def run(args) -> int:
    import os

    from .._util.io import check_output, lock_outputs

    if os.path.splitext(args.out)[1].lower() not in IMAGE_SUFFIXES:
        raise ValueError(f"--out must end in {', '.join(IMAGE_SUFFIXES)}, got {args.out!r}")
    out = check_output(args.out, name="--out", inputs=[args.file], overwrite=args.overwrite)
    from ..viz.fields import plot_sample

    with lock_outputs(out):
        path = plot_sample(args.file, sample=args.sample, out=out, time_index=args.time)
    print(f"wrote {path}")
    return 0
