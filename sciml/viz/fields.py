"""Matplotlib figures of stored fields: one sample, every field, with colour bars."""
from __future__ import annotations

from pathlib import Path
from typing import Mapping

import numpy as np

__all__ = ["plot_sample", "plot_panels", "save_figure"]


def save_figure(fig, out) -> Path:
    """Save ``fig`` to ``out`` (format from the suffix) under a temporary name, then rename."""
    import matplotlib.pyplot as plt

    from ..datasets.store import atomic_path

    out = Path(out)
    if not out.parent.exists():
        raise FileNotFoundError(f"output directory {out.parent} does not exist")
    suffix = out.suffix or ".png"
    with atomic_path(out, suffix) as tmp:
        fig.savefig(tmp, dpi=120, bbox_inches="tight", format=suffix.lstrip("."))
    plt.close(fig)
    return out


def plot_panels(panels: Mapping[str, np.ndarray], *, extent=None, cmap="viridis", suptitle: str | None = None,
                ncols: int | None = None, symmetric: Mapping[str, bool] | None = None):
    """A figure with one panel per entry: 2D arrays as images, 1D arrays as curves.

    panels: ``title -> array (H, W)`` or ``(L,)``. ``symmetric[title]=True`` centres the colour
    scale on zero with a diverging map (for error maps). Returns the matplotlib Figure.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    n = len(panels)
    if n == 0:
        raise ValueError("panels must not be empty")
    ncols = ncols or min(n, 4)
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.6 * ncols, 3.2 * nrows), squeeze=False)
    for ax, (title, arr) in zip(axes.ravel(), panels.items()):
        arr = np.asarray(arr, dtype=float)
        if arr.ndim == 1:
            ax.plot(np.linspace(0, 1, arr.size) if extent is None else np.linspace(extent[0], extent[1], arr.size), arr)
            ax.grid(alpha=0.3)
        elif arr.ndim == 2:
            sym = bool(symmetric and symmetric.get(title))
            kw = {}
            if sym:
                m = float(np.nanmax(np.abs(arr))) or 1.0
                kw = dict(vmin=-m, vmax=m, cmap="RdBu_r")
            else:
                kw = dict(cmap=cmap)
            im = ax.imshow(arr, origin="lower", extent=extent, **kw)
            fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
        else:
            raise ValueError(f"panel {title!r} must be 1D or 2D, got shape {arr.shape}")
        ax.set_title(title, fontsize=9)
    for ax in axes.ravel()[n:]:
        ax.set_visible(False)
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig


def plot_sample(path, sample: int = 0, out="sample.png", time_index: int | None = None, max_frames: int = 4) -> Path:
    """Plot every field of one sample of a store file and save the figure to ``out``.

    Fields ``(C, H, W)`` give one panel per channel, ``(T, C, H, W)`` a few frames (or the
    frame ``time_index``), ``(C, L)`` and ``(T, C, L)`` curves.
    """
    from ..datasets.store import open_dataset

    with open_dataset(path) as ds:
        if isinstance(sample, bool) or not isinstance(sample, (int, np.integer)) or not 0 <= sample < ds.n:
            raise ValueError(f"sample must be an integer in [0, {ds.n}), got {sample!r}")
        panels = {}
        coords = ds.coords
        for name in ds.fields:
            dims = ds.field_info(name)["dims"][1:]
            arr = ds[name][sample]
            if "time" in dims:
                T = arr.shape[0]
                if time_index is not None:
                    if not -T <= time_index < T:
                        raise ValueError(f"time index {time_index} out of range for {T} frames of {name!r}")
                    frames = [time_index % T]
                else:
                    frames = sorted(set(np.linspace(0, T - 1, min(max_frames, T)).round().astype(int)))
                t = coords.get("time")
                for k in frames:
                    for c in range(arr.shape[1]):
                        label = f"t={t[k]:.3g}" if t is not None and t.size == T else f"frame {k}"
                        panels[f"{name}[{c}] {label}" if arr.shape[1] > 1 else f"{name} {label}"] = arr[k, c]
            else:
                for c in range(arr.shape[0]):
                    panels[f"{name}[{c}]" if arr.shape[0] > 1 else name] = arr[c]
        title = f"{ds.attrs.get('recipe')} sample {sample}"
        extent = None
        if "x" in coords and "y" in coords:
            x, y = coords["x"], coords["y"]
            extent = (float(x[0]), float(x[-1]), float(y[0]), float(y[-1]))
        if any(np.ndim(v) == 1 for v in panels.values()):
            extent = None
    fig = plot_panels(panels, extent=extent, suptitle=title)
    return save_figure(fig, out)
