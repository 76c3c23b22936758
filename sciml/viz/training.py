"""Figures for trained models: input / truth / prediction / error maps and loss curves.

Every function writes an image file (format from the suffix: .png, .pdf, .svg) with the
non-interactive Agg backend and returns its path.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

__all__ = ["plot_predictions", "plot_loss_curves", "plot_rollout_errors"]


def _figure(*args, **kwargs):
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt, plt.subplots(*args, **kwargs)


def _to_numpy(a) -> np.ndarray:
    if hasattr(a, "detach"):
        a = a.detach().cpu().numpy()
    return np.asarray(a, dtype=np.float64)


def _field(a: np.ndarray) -> np.ndarray:
    """One sample -> a 2D map or a 1D profile (first channel; last frame of a trajectory)."""
    while a.ndim > 2:
        a = a[-1] if a.ndim > 3 else a[0]
    if a.ndim == 2 and a.shape[0] == 1:
        a = a[0]
    return a


def plot_predictions(x, y_true, y_pred, out, *, n: int = 3, titles: Sequence[str] = ("input", "truth", "prediction"),
                     extent=(0.0, 1.0, 0.0, 1.0)) -> Path:
    """Rows of input, truth, prediction and absolute error for the first ``n`` samples.

    x, y_true, y_pred: arrays or tensors ``(N, C, *spatial)`` (2D maps or 1D profiles;
    the first channel is shown, the last frame of ``(N, T, C, ...)`` trajectories).
    Each row's title carries that sample's relative L2 error.
    """
    x, yt, yp = _to_numpy(x), _to_numpy(y_true), _to_numpy(y_pred)
    if yt.shape != yp.shape:
        raise ValueError(f"y_true and y_pred must have the same shape, got {yt.shape} and {yp.shape}")
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    n = min(n, yt.shape[0])
    out = Path(out)
    plt, (fig, axes) = _figure(n, 4, figsize=(13, 3.1 * n), squeeze=False)
    for i in range(n):
        fx, ft, fp = _field(x[i]), _field(yt[i]), _field(yp[i])
        err = np.abs(fp - ft)
        rel = np.linalg.norm(yp[i] - yt[i]) / max(np.linalg.norm(yt[i]), 1e-300)
        if ft.ndim == 2:
            lo, hi = min(ft.min(), fp.min()), max(ft.max(), fp.max())
            for ax, f, title, kw in (
                (axes[i, 0], fx, titles[0], {}),
                (axes[i, 1], ft, titles[1], dict(vmin=lo, vmax=hi)),
                (axes[i, 2], fp, titles[2], dict(vmin=lo, vmax=hi)),
                (axes[i, 3], err, f"|error| (rel. L2 {rel:.2e})", dict(cmap="magma")),
            ):
                im = ax.imshow(f, origin="lower", extent=extent, **({"cmap": "viridis"} | kw))
                ax.set_title(f"sample {i}: {title}", fontsize=9)
                ax.set_xticks([])
                ax.set_yticks([])
                fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
        else:
            grid = np.linspace(extent[0], extent[1], ft.shape[-1])
            axes[i, 0].plot(np.linspace(extent[0], extent[1], fx.shape[-1]), fx)
            axes[i, 0].set_title(f"sample {i}: {titles[0]}", fontsize=9)
            axes[i, 1].plot(grid, ft, label="truth")
            axes[i, 1].set_title(f"sample {i}: {titles[1]}", fontsize=9)
            axes[i, 2].plot(grid, ft, "k--", lw=1, label="truth")
            axes[i, 2].plot(grid, fp, label="prediction")
            axes[i, 2].legend(fontsize=7)
            axes[i, 2].set_title(f"sample {i}: {titles[2]}", fontsize=9)
            axes[i, 3].plot(grid, err, color="C3")
            axes[i, 3].set_title(f"|error| (rel. L2 {rel:.2e})", fontsize=9)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def plot_loss_curves(history: Sequence[dict], out, *, title: str = "training") -> Path:
    """Training loss and (when present) validation relative L2 per epoch, log scale.

    history: the list :meth:`sciml.training.Trainer.fit` returns.
    """
    if not history:
        raise ValueError("history is empty: nothing to plot")
    out = Path(out)
    epochs = [h["epoch"] for h in history]
    plt, (fig, ax) = _figure(figsize=(6, 4))
    ax.semilogy(epochs, [h["train_loss"] for h in history], label="train loss")
    if any("val_rel_l2" in h for h in history):
        ax.semilogy([h["epoch"] for h in history if "val_rel_l2" in h],
                    [h["val_rel_l2"] for h in history if "val_rel_l2" in h], label="validation rel. L2")
    ax.set_xlabel("epoch")
    ax.set_ylabel("relative L2")
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def plot_rollout_errors(errors, out, *, label: str = "model", t0: int = 0) -> Path:
    """Relative L2 error per predicted frame (from :func:`sciml.training.rollout_errors`)."""
    errors = _to_numpy(errors).reshape(-1)
    out = Path(out)
    plt, (fig, ax) = _figure(figsize=(6, 4))
    ax.plot(np.arange(t0 + 1, t0 + 1 + errors.size), errors, marker="o", ms=3, label=label)
    ax.set_xlabel("frame")
    ax.set_ylabel("relative L2")
    ax.set_title("rollout error per step")
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out
