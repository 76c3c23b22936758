"""Figures for the Landau equation: density slices against BKW and moment / entropy histories."""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np

__all__ = ["plot_landau"]


def _slice(f: np.ndarray) -> np.ndarray:
    """2D density as is; 3D density: the slice ``v_z = 0`` (middle index)."""
    f = np.asarray(f, dtype=float)
    if f.ndim == 3:
        return f[:, :, f.shape[2] // 2]
    if f.ndim != 2:
        raise ValueError(f"density must be a 2D or 3D grid, got shape {f.shape}")
    return f


def plot_landau(result: Mapping, out, *, title: str | None = None):
    """Save a figure of a Landau run to ``out`` (.png/.pdf/.svg); returns the path.

    result keys: ``axis`` (n,) grid coordinates; ``density`` (n, n[, n]) numerical density at the final
    time; optional ``exact`` (same shape) and ``initial``; ``history``: dict with ``t`` (K,) and any of
    ``mass``, ``energy`` (K,), ``momentum`` (K, d), ``entropy`` (K,); ``t_final`` (float); ``method`` (str).
    Panels: density slices (initial, numerical, exact, error) and relative drift of mass/energy,
    momentum and entropy histories.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from .fields import save_figure

    if "density" not in result or "axis" not in result:
        raise ValueError("result must hold 'density' and 'axis'")
    axis = np.asarray(result["axis"], dtype=float)
    ext = (axis[0], axis[-1], axis[0], axis[-1])
    panels = []
    if result.get("initial") is not None:
        panels.append(("initial f", _slice(result["initial"]), False))
    tf = result.get("t_final", float("nan"))
    panels.append((f"{result.get('method', 'numerical')} f(t={tf:g})", _slice(result["density"]), False))
    if result.get("exact") is not None:
        panels.append((f"BKW f(t={tf:g})", _slice(result["exact"]), False))
        panels.append(("error", _slice(result["density"]) - _slice(result["exact"]), True))
    hist = result.get("history") or {}
    n_hist = 2 if hist else 0
    ncols = len(panels) + n_hist
    fig, axes = plt.subplots(1, ncols, figsize=(3.8 * ncols, 3.4), squeeze=False)
    axes = axes[0]
    for ax, (name, img, sym) in zip(axes, panels):
        kw = dict(cmap="viridis")
        if sym:
            m = float(np.abs(img).max()) or 1.0
            kw = dict(cmap="RdBu_r", vmin=-m, vmax=m)
        im = ax.imshow(img.T, origin="lower", extent=ext, **kw)
        ax.set_xlabel("v_x")
        ax.set_ylabel("v_y")
        ax.set_title(name + (" (v_z=0)" if np.ndim(result["density"]) == 3 else ""), fontsize=9)
        fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    if hist:
        t = np.asarray(hist["t"], dtype=float)
        ax = axes[len(panels)]
        for key in ("mass", "energy"):
            if key in hist:
                q = np.asarray(hist[key], dtype=float)
                ax.semilogy(t, np.abs(q - q[0]) / abs(q[0]) + 1e-17, label=f"{key} rel. drift")
        if "momentum" in hist:
            p = np.asarray(hist["momentum"], dtype=float).reshape(len(t), -1)
            ax.semilogy(t, np.abs(p - p[0]).max(-1) + 1e-17, label="momentum drift")
        ax.set_xlabel("t")
        ax.set_title("conservation", fontsize=9)
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
        ax = axes[len(panels) + 1]
        if "entropy" in hist:
            ax.plot(t, np.asarray(hist["entropy"], dtype=float), "o-", ms=2)
            ax.set_title(hist.get("entropy_label", "entropy"), fontsize=9)
        ax.set_xlabel("t")
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return save_figure(fig, out)
