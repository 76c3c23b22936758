"""The one training-loop core: step accounting, time budget, progress, NaN guard, callbacks.

Every training loop in sciml (operator :class:`~sciml.training.Trainer`, CarbonBench
:func:`~sciml.training.emulator.train_emulator`, :func:`~sciml.pinns.landau.train_pinn_pm`
and the Adam / L-BFGS / BFGS phases of :class:`~sciml.pinns.training.PINNTrainer`) drives a
:class:`Loop`::

    with Loop(total, "train", seconds=budget, progress=True) as loop:
        for step in ...:
            loss = ...
            loop.check_finite(loss, f"step {step}")   # NonFiniteLossError on NaN/inf
            ...
            if loop.advance(loss=float(loss)):        # True once the budget is spent
                break

The loop owns what they share: the progress bar (:mod:`sciml._util.progress`), the wall-clock
budget read from :func:`clock` as the run goes (a resumed run starts with the seconds already
spent), the NaN guard and the ``callback`` contract (return ``True`` to stop). The first loop of
a process also keeps freed memory in the heap (:func:`sciml._util.malloc.retain_freed_memory`,
``SCIML_MALLOC_TUNE=0`` to opt out), which spares a CPU step its page faults. What a loop
optimises, and how it checkpoints its own state, stays with the loop; the checkpoint files all
go through :mod:`sciml.training.checkpoint`.
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable

from .._util.malloc import retain_freed_memory
from .._util.progress import progress as _progress

__all__ = ["Loop", "NonFiniteLossError", "NonFiniteMetricError", "clock"]


class NonFiniteLossError(FloatingPointError):
    """Training stopped because the loss became NaN or infinite."""


def clock() -> float:
    """Seconds on the monotonic clock every training budget is measured with.

    Tests replace it (``monkeypatch.setattr(sciml.training.loop, "clock", fake)``) to make
    budgeted runs independent of the machine's load.
    """
    return time.perf_counter()


def _now() -> float:
    return clock()  # a global looked up at call time: a patched ``clock`` is seen everywhere


class Loop:
    """Shared bookkeeping of one training loop.

    Parameters
    ----------
    total : int or None
        Steps the loop intends to run (for the bar; ``None``: open-ended, e.g. a pure time budget).
    description : str
        Bar label.
    seconds : float or None
        Wall-clock budget in seconds; :attr:`out_of_time` turns true once :attr:`elapsed` reaches it.
    spent : float
        Seconds already spent before this loop (a resumed run); they count against ``seconds``.
    done : int
        Steps finished before this loop (a resumed run).
    progress : bool or None
        Show the bar; ``None``: when standard error is a terminal.
    fields : sequence of str
        Values shown after the bar (pass them to :meth:`advance`).
    callback : callable or None
        ``callback(*args) -> bool``, called by :meth:`notify`; ``True`` asks the loop to stop.

    Examples
    --------
    >>> with Loop(3, "demo", progress=False) as loop:
    ...     for k in range(3):
    ...         _ = loop.check_finite(0.5, f"step {k}")
    ...         stop = loop.advance()
    >>> loop.steps, loop.stopped
    (3, '')
    """

    def __init__(self, total: int | None, description: str = "train", *, seconds: float | None = None,
                 spent: float = 0.0, done: int = 0, progress: bool | None = False, fields=(), unit: str = "it",
                 callback: Callable | None = None):
        if seconds is not None and not (isinstance(seconds, (int, float)) and not isinstance(seconds, bool)
                                        and seconds > 0 and math.isfinite(seconds)):
            raise ValueError(f"seconds must be a positive number, got {seconds!r}")
        if callback is not None and not callable(callback):
            raise TypeError(f"callback must be callable, got {type(callback).__name__}")
        self.total, self.description = total, description
        self.seconds = None if seconds is None else float(seconds)
        self.spent = float(spent)
        self.steps = int(done)
        self.callback = callback
        self.stopped = ""
        self._bar = _progress(total, description, enabled=progress, done=int(done), unit=unit, fields=fields)
        self._t0 = None
        retain_freed_memory()  # once per process: no page faults on each step's fresh tensors (glibc)

    # -- context ---------------------------------------------------------------------------
    def __enter__(self):
        self._t0 = _now()
        self._bar.__enter__()
        return self

    def __exit__(self, *exc):
        if self._t0 is not None:
            self.spent += _now() - self._t0
            self._t0 = None
        return self._bar.__exit__(*exc)

    # -- time ------------------------------------------------------------------------------
    @property
    def elapsed(self) -> float:
        """Seconds spent so far (including ``spent`` from before a resume)."""
        return self.spent + (0.0 if self._t0 is None else _now() - self._t0)

    @property
    def out_of_time(self) -> bool:
        """Whether the budget (if any) is spent, read from the clock now."""
        return self.seconds is not None and self.elapsed >= self.seconds

    @property
    def fraction(self) -> float:
        """Part of the budget spent, in ``[0, 1]`` (0 without a budget)."""
        return 0.0 if self.seconds is None else min(1.0, self.elapsed / self.seconds)

    # -- steps -----------------------------------------------------------------------------
    def check_finite(self, loss, where: str, advice: str = "") -> float:
        """Return ``float(loss)``; raise :class:`NonFiniteLossError` naming ``where`` if it is NaN/inf."""
        value = float(loss.detach()) if hasattr(loss, "detach") else float(loss)
        if not math.isfinite(value):
            self.stopped = f"non-finite loss at {where}"
            raise NonFiniteLossError(f"non-finite training loss ({value}) at {where}; training stopped"
                                     + (f", {advice}" if advice else ""))
        return value

    def advance(self, n: int = 1, **fields) -> bool:
        """Count ``n`` finished steps (and show ``fields``); ``True`` once the budget is spent."""
        self.steps += n
        self._bar.advance(n, **fields)
        return self.should_stop()

    def update(self, completed: int | None = None, description: str | None = None, **fields) -> bool:
        """Set the step count (quasi-Newton chunks); ``True`` once the budget is spent."""
        if completed is not None:
            self.steps = int(completed)
        self._bar.update(completed, **fields)
        return self.should_stop()

    def should_stop(self) -> bool:
        """``True`` (and :attr:`stopped` set) once the budget is spent, read from the clock now."""
        if self.out_of_time:
            self.stopped = self.stopped or f"time budget of {self.seconds:g} s reached after {self.steps} steps"
            return True
        return False

    def notify(self, *args) -> bool:
        """Call the callback with ``args``; ``True`` (and :attr:`stopped` set) if it asks to stop."""
        if self.callback is not None and self.callback(*args):
            self.stopped = self.stopped or "callback stop"
            return True
        return False


class NonFiniteMetricError(NonFiniteLossError):
    """An evaluation metric came out NaN or infinite (NaN in a sample or in a prediction)."""
