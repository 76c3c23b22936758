"""The one validator set: checks whose messages name the argument and what is allowed.

Library code calls ``check_*`` (``TypeError`` for a wrong type, ``ValueError`` for a wrong
value, raised before any work starts). The command line uses the same checks through
:func:`argtype`, which turns a check into an argparse ``type=`` converter, so a bad option
gives one line naming the option.
"""
from __future__ import annotations

import argparse
import math
import numbers
from collections.abc import Sequence

import numpy as np

__all__ = ["check_int", "check_int_tuple", "check_float", "check_choice", "check_finite", "check_bool", "argtype",
           "positive_int", "nonnegative_int", "positive_float", "nonnegative_float"]


def _range_text(lo, hi, lo_open=False) -> str:
    if lo is not None and hi is not None:
        return f"in [{lo}, {hi}]" if not lo_open else f"in ({lo}, {hi}]"
    if lo is not None:
        if lo == 0:
            return "positive" if lo_open else "non-negative"
        if lo == 1 and not lo_open:
            return "positive"
        return f"> {lo}" if lo_open else f">= {lo}"
    if hi is not None:
        return f"<= {hi}"
    return ""


def check_int(value, name: str, *, min=None, max=None) -> int:
    """``value`` as an int within ``[min, max]``; bools and non-integral numbers are refused.

    Examples
    --------
    >>> check_int(3, "n", min=1)
    3
    >>> check_int(0, "n", min=1)
    Traceback (most recent call last):
    ...
    ValueError: n must be a positive integer, got 0
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        if isinstance(value, numbers.Real) and not isinstance(value, bool) and float(value).is_integer():
            value = int(value)
        else:
            raise TypeError(f"{name} must be an integer, got {value!r}")
    value = int(value)
    if (min is not None and value < min) or (max is not None and value > max):
        rng = _range_text(min, max)
        what = "an integer " + rng if rng.startswith(("in", "<", ">")) else "a " + rng + " integer"
        raise ValueError(f"{name} must be {what}, got {value}")
    return value


def check_int_tuple(value, name: str, *, min=None, length: int | None = None) -> tuple[int, ...]:
    """``value`` (a sequence of ints, or one int repeated ``length`` times) as a tuple of ints.

    Each entry is checked by :func:`check_int` under the name ``name[i]``; the tuple must not be
    empty and, when ``length`` is given, must have that many entries. A lone int is refused when
    ``length`` is None (there is no count to repeat it to).

    Examples
    --------
    >>> check_int_tuple((16, 8), "n_modes", min=1)
    (16, 8)
    >>> check_int_tuple(2, "pre_smooth", min=1, length=3)
    (2, 2, 2)
    >>> check_int_tuple((16, 0), "n_modes", min=1)
    Traceback (most recent call last):
    ...
    ValueError: n_modes[1] must be a positive integer, got 0
    """
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        if length is None:
            raise TypeError(f"{name} must be a tuple of integers (one per spatial dimension), got {value!r}")
        value = (value,) * length
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise TypeError(f"{name} must be a tuple of integers, got {type(value).__name__}")
    out = tuple(value)
    if not out:
        raise ValueError(f"{name} must not be empty")
    if length is not None and len(out) != length:
        raise ValueError(f"{name} must have {length} entries, got {len(out)}")
    return tuple(check_int(v, f"{name}[{i}]", min=min) for i, v in enumerate(out))


def check_float(value, name: str, *, min=None, max=None, min_open: bool = False, finite: bool = True) -> float:
    """``value`` as a finite float within the bounds (``min_open``: strictly above ``min``).

    Examples
    --------
    >>> check_float(0.5, "dt", min=0, min_open=True)
    0.5
    >>> check_float(float("nan"), "dt")
    Traceback (most recent call last):
    ...
    ValueError: dt must be a finite number, got nan
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {value!r}")
    value = float(value)
    if finite and not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value}")
    bad = (min is not None and (value <= min if min_open else value < min)) or (max is not None and value > max)
    if bad:
        rng = _range_text(min, max, min_open)
        what = "a number " + rng if rng.startswith(("in", "<", ">")) else "a " + rng + " number"
        raise ValueError(f"{name} must be {what}, got {value}")
    return value


def check_bool(value, name: str) -> bool:
    """``value`` if it is a bool (numpy bools included)."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    raise TypeError(f"{name} must be True or False, got {value!r}")


def check_choice(value, name: str, choices):
    """``value`` if it is one of ``choices`` (message lists them)."""
    choices = tuple(choices)
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}, got {value!r}")
    return value


def check_finite(array, name: str):
    """Raise ``ValueError`` when ``array`` (numpy, torch or scalar) holds NaN or inf.

    Examples
    --------
    >>> check_finite(np.array([1.0, np.inf]), "b")
    Traceback (most recent call last):
    ...
    ValueError: b holds 1 non-finite value (NaN or inf)
    """
    try:
        import torch
        if isinstance(array, torch.Tensor):
            bad = int((~torch.isfinite(array)).sum())
            if bad:
                raise ValueError(f"{name} holds {bad} non-finite value{'s' if bad > 1 else ''} (NaN or inf)")
            return array
    except ImportError:  # pragma: no cover
        pass
    arr = np.asarray(array)
    if arr.dtype.kind in "fc":
        bad = int(np.count_nonzero(~np.isfinite(arr)))
        if bad:
            raise ValueError(f"{name} holds {bad} non-finite value{'s' if bad > 1 else ''} (NaN or inf)")
    return array


def argtype(check, **bounds):
    """An argparse ``type=`` converter from a check: parses the text, then applies ``check``.

    The option name is filled in by argparse's message ("argument --n: ...").
    """
    def convert(text):
        try:
            if check is check_int:
                try:
                    value = int(text)
                except ValueError:
                    value = float(text)  # "1e3" is accepted when integral
                    if not value.is_integer():
                        raise ValueError from None
            elif check is check_float:
                value = float(text)
            else:
                value = text
        except (TypeError, ValueError, OverflowError):
            kind = "an integer" if check is check_int else "a number"
            raise argparse.ArgumentTypeError(f"expected {kind}, got {text!r}") from None
        try:
            return check(value, "value", **bounds)
        except (TypeError, ValueError) as exc:
            raise argparse.ArgumentTypeError(
                str(exc).replace("value must be", "expected").replace(", got", ", got")
            ) from None

    convert.__name__ = getattr(check, "__name__", "value")
    return convert


positive_int = argtype(check_int, min=1)
nonnegative_int = argtype(check_int, min=0)
positive_float = argtype(check_float, min=0, min_open=True)
nonnegative_float = argtype(check_float, min=0)


# -- command-line converters from any check (used by sciml.cli for declared recipe parameters) --
def parse_text(text, kind):
    """``text`` parsed as ``kind`` (int accepts integral floats such as ``1e3``; float, str as is)."""
    if kind is int:
        try:
            return int(text)
        except ValueError:
            value = float(text)
            if not value.is_integer():
                raise ValueError(f"expected an integer, got {text!r}") from None
            return int(value)
    if kind is float:
        return float(text)
    return text


def converter(kind, check):
    """argparse ``type=``: parse the text as ``kind``, then ``check(value, "value")``.

    ``check`` raises ``TypeError``/``ValueError`` with a message naming ``"value"``; the
    message is reworded to follow argparse's "argument --NAME:" prefix.
    """
    def convert(text):
        try:
            value = parse_text(text, kind)
        except (TypeError, ValueError, OverflowError):
            what = {int: "an integer", float: "a number"}.get(kind, "a value")
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        try:
            return check(value, "value")
        except (TypeError, ValueError) as exc:
            raise argparse.ArgumentTypeError(str(exc).replace("value must be", "expected")) from None

    convert.__name__ = getattr(kind, "__name__", "value")
    return convert


# --------------------------------------------------------------------------- time-step budgets
def check_step_count(span, dt, *, max_steps: int, name: str = "dt", span_name: str = "t_end") -> int:
    """Number of steps ``ceil(span / dt)`` a solve will take, refused above ``max_steps``.

    Raises ``ValueError`` naming ``name`` (the step) when the count is not finite or exceeds
    ``max_steps``, so a mistyped ``dt`` (``1e-300``) or horizon (``1e308``) fails at once instead
    of running for ever. ``span`` and ``dt`` must be positive finite numbers (checked).

    Examples
    --------
    >>> check_step_count(1.0, 0.25, max_steps=10)
    4
    >>> check_step_count(1.0, 1e-300, max_steps=10_000_000)
    Traceback (most recent call last):
    ...
    ValueError: dt=1e-300 over t_end=1 needs 1e+300 steps, more than the maximum 10000000; use a larger dt
    """
    span = check_float(span, span_name, min=0, min_open=True)
    dt = check_float(dt, name, min=0, min_open=True)
    with np.errstate(over="ignore"):
        steps = span / dt
    if not math.isfinite(steps) or steps > max_steps * (1 + 1e-12):
        raise ValueError(f"{name}={dt:g} over {span_name}={span:g} needs {steps:.3g} steps, more than the maximum "
                         f"{max_steps}; use a larger {name}")
    return max(1, math.ceil(steps - 1e-9 * max(1.0, steps)))
