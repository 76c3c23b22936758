"""The one progress-bar helper.

``progress(total, description)`` returns a context manager with ``advance(n=1, **fields)``
and ``update(completed=None, **fields)``; extra ``fields`` are shown after the bar
(a loss, samples/s, ...). The default policy: shown when standard error is a terminal,
hidden otherwise (CI, pipes, files); ``enabled=True/False`` overrides it. In a Jupyter
kernel the bar is rendered as plain text through rich's own console, so no ipywidgets
warning appears.
"""
from __future__ import annotations

import sys
import time

__all__ = ["progress", "default_enabled", "format_duration"]


def default_enabled() -> bool:
    """True when standard error is an interactive terminal."""
    stream = sys.stderr
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


class _Null:
    def __init__(self):
        self.completed = 0

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def advance(self, n: int = 1, **fields):
        self.completed += n

    def update(self, completed=None, **fields):
        if completed is not None:
            self.completed = completed


class _Rich(_Null):
    def __init__(self, total, description, done, unit, fields):
        super().__init__()
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            ProgressColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )
        from rich.text import Text

        start = time.perf_counter()

        class Rate(ProgressColumn):
            def render(self, task):
                elapsed = time.perf_counter() - start
                new = task.completed - done
                return Text(f"{new / elapsed:.2f} {unit}/s" if elapsed > 0 and new > 0 else f"- {unit}/s")

        columns = [TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), Rate(),
                   TimeElapsedColumn(), TimeRemainingColumn()]
        columns += [TextColumn(f"{{task.fields[{f}]}}") for f in fields]
        self._fields = tuple(fields)
        # force_jupyter=False: in a notebook rich would otherwise want ipywidgets (and warn without it)
        self._p = Progress(*columns, console=Console(stderr=True, force_jupyter=False), transient=False)
        self._task = self._p.add_task(description, total=total, completed=done,
                                      **{f: "" for f in self._fields})
        self.completed = done

    def __enter__(self):
        self._p.__enter__()
        return self

    def __exit__(self, *exc):
        return self._p.__exit__(*exc)

    def _fmt(self, fields):
        return {k: (f"{k}={v:.3e}" if isinstance(v, float) else f"{k}={v}") for k, v in fields.items()
                if k in self._fields}

    def advance(self, n: int = 1, **fields):
        self.completed += n
        self._p.update(self._task, advance=n, **self._fmt(fields))

    def update(self, completed=None, **fields):
        if completed is not None:
            self.completed = completed
        self._p.update(self._task, completed=completed, **self._fmt(fields))


def progress(total, description: str = "", *, enabled=None, done: int = 0, unit: str = "it",
             fields=()):
    """A progress bar over ``total`` steps (``done`` already finished, e.g. on resume).

    Parameters
    ----------
    total : int or None
        Number of steps; ``None`` for an open-ended bar.
    description : str
        Label at the left.
    enabled : bool or None
        ``None`` (default): shown only when standard error is a terminal.
    done : int
        Steps finished before this run (a resumed run starts the bar there; the rate counts
        only the new steps).
    unit : str
        Unit of the rate column (``"samples"``, ``"epochs"``, ...).
    fields : sequence of str
        Names of extra values shown after the bar (pass them to ``advance``/``update``).

    Examples
    --------
    >>> with progress(3, "demo", enabled=False) as bar:
    ...     for _ in range(3):
    ...         bar.advance(loss=0.5)
    >>> bar.completed
    3
    """
    if enabled is None:
        enabled = default_enabled()
    if not enabled:
        bar = _Null()
        bar.completed = done
        return bar
    return _Rich(total, description, done, unit, fields)


def format_duration(seconds: float) -> str:
    """``"42 s"``, ``"3.5 min"`` or ``"7.8 h"``: a duration as the board and the plan list show it."""
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    if seconds >= 60:
        return f"{seconds / 60:.1f} min"
    return f"{seconds:.0f} s"
