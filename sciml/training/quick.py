"""``quick_train``: the demo's one-minute FNO run on a small Darcy set."""
from __future__ import annotations

from pathlib import Path

__all__ = ["quick_train"]


def quick_train(data_path, out_dir, *, model: str = "fno", seconds: float = 60.0, seed: int = 0,
                progress: bool | None = None) -> dict:
    """Train ``model`` on the store file ``data_path`` for about ``seconds`` of wall clock.

    Uses 80 % of the samples to train and 20 % to test (seeded), a small FNO (modes 8 per
    sign, width 16, 4 layers, grid embedding, >= 10 % domain padding to an FFT-friendly size), AdamW with a cosine
    schedule, pointwise input/output normalisation. Writes ``predictions.png``,
    ``loss_curves.png``, ``results.json`` and ``checkpoints/last`` into ``out_dir`` and
    returns :func:`sciml.training.pipeline.train_operator`'s dict (``test_rel_l2``,
    ``train_seconds``, ``predictions_figure``, ``loss_curves_figure``, ...).
    """
    import sys

    from .pipeline import default_model_config, train_operator

    if not (isinstance(seconds, (int, float)) and seconds > 0):
        raise ValueError(f"seconds must be a positive number, got {seconds!r}")
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    config = None
    if model in ("fno", "tfno"):
        config = default_model_config(model, 1, 1, 2, modes=8, width=16, layers=4, domain_padding="auto")
        config.pop("in_channels")
        config.pop("out_channels")
    return train_operator(data_path, out_dir, model=model, model_config=config, seconds=float(seconds), seed=seed,
                          batch_size=8, lr=3e-3, weight_decay=1e-4, scheduler="cosine",
                          progress=sys.stderr.isatty() if progress is None else progress)
