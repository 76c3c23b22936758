"""``quick_train``: the demo's short FNO run on a small Darcy set."""
from __future__ import annotations

from pathlib import Path

__all__ = ["quick_train"]


def quick_train(data_path, out_dir, *, model: str = "fno", epochs: int | None = None, seconds: float | None = 60.0,
                seed: int = 0, progress: bool | None = None, overwrite: bool = True) -> dict:
    """Train ``model`` on the store file ``data_path`` for ``epochs``, or for ``seconds`` of wall clock.

    Uses 80 % of the samples to train and 20 % to test (seeded), a small FNO (modes 8 per
    sign, width 16, 4 layers, grid embedding, >= 10 % domain padding to an FFT-friendly size), AdamW with a cosine
    schedule, pointwise input/output normalisation.

    Parameters
    ----------
    epochs : int or None
        Fixed number of epochs (a reproducible figure: same seed, same error on any machine
        that finishes them); ``seconds`` is then a cap (``result["stopped"]`` says if it bit).
    seconds : float or None
        Wall-clock budget, read from the clock after every batch; alone (``epochs=None``), the run
        trains until it is spent, the cosine schedule following the fraction used.
    progress : bool or None
        Progress bar; ``None``: when standard error is a terminal.
    overwrite : bool
        Replace a run already in ``out_dir`` (the demo's folder is rerun in place); ``False``
        refuses it.

    Returns
    -------
    dict
        :func:`sciml.training.pipeline.train_operator`'s result (``test_rel_l2``, ``epochs``,
        ``train_seconds``, ``stopped``, ``predictions_figure``, ``loss_curves_figure``, ...);
        ``predictions.png``, ``loss_curves.png``, ``results.json`` and ``checkpoints/last``
        are written into ``out_dir``.

    Examples
    --------
    >>> from sciml.datasets import generate                      # doctest: +SKIP
    >>> data = generate("darcy", 40, seed=0, out="d.h5", resolution=16)   # doctest: +SKIP
    >>> quick_train(data, "run", epochs=5, seconds=60)["test_rel_l2"]     # doctest: +SKIP
    0.1...
    """
    from .pipeline import default_model_config, train_operator

    if epochs is None and seconds is None:
        raise ValueError("give epochs or seconds (a training budget)")
    if seconds is not None and (isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not seconds > 0):
        raise ValueError(f"seconds must be a positive number, got {seconds!r}")
    if epochs is not None and (isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1):
        raise ValueError(f"epochs must be a positive integer, got {epochs!r}")
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    config = None
    if model in ("fno", "tfno"):
        config = default_model_config(model, 1, 1, 2, modes=8, width=16, layers=4, domain_padding="auto")
        config.pop("in_channels")
        config.pop("out_channels")
    return train_operator(data_path, out_dir, model=model, model_config=config, epochs=epochs,
                          seconds=None if seconds is None else float(seconds), seed=seed,
                          batch_size=8, lr=3e-3, weight_decay=1e-4, scheduler="cosine", progress=progress,
                          overwrite=overwrite)
