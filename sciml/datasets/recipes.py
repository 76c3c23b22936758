"""Registry of dataset recipes: ``name -> Recipe``.

A recipe says how to make sample ``i`` of a dataset from ``(params, seed, i)``
alone, what fields a sample holds (shapes, units) and which grid coordinates
go with them. :func:`sciml.datasets.generate` runs a recipe; the store writes
what it returns.

Samples are produced in *chunks* of consecutive indices of a fixed size
(``Recipe.chunk_size(params)``), independent of the number of workers, so a
recipe may solve a chunk together (batched GPU solves, Krylov recycling over a
sorted sequence) and the result is still bit-identical whatever the executor.
The random inputs of sample ``i`` depend only on ``(recipe, params, seed, i)``
(see :func:`sample_rng`); a solution computed by an iterative solver inside a
chunk agrees with a standalone solve to the solver's tolerance.
"""
from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["Param", "FieldSpec", "Layout", "Recipe", "register_recipe", "get_recipe", "list_recipes", "sample_rng",
           "canonical_params"]


@dataclass(frozen=True)
class FieldSpec:
    """One stored field of a sample.

    shape: per-sample shape, channel-first: ``(C, *spatial)`` or ``(T, C, *spatial)``.
    dims: names of those axes in the store's one order (``[time,] channel, [z,] [y,] x``, see
        :mod:`sciml.datasets.store`), e.g. ``("channel", "y", "x")``.
    """

    shape: tuple[int, ...]
    dims: tuple[str, ...]
    units: str = "1"
    long_name: str = ""
    standard_name: str | None = None
    dtype: str = "float64"

    def __post_init__(self):
        if len(self.shape) != len(self.dims):
            raise ValueError(f"FieldSpec shape {self.shape} and dims {self.dims} differ in length")


@dataclass(frozen=True)
class Layout:
    """What a dataset made with given parameters holds.

    fields: name -> FieldSpec.
    coords: name -> (dims, values, units) for grid coordinates (``x``, ``y``, ``time`` ...).
    """

    fields: Mapping[str, FieldSpec]
    coords: Mapping[str, tuple[tuple[str, ...], np.ndarray, str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Param:
    """Declaration of one recipe parameter: the one source of its default, type, bounds and help.

    ``Recipe.resolve`` checks every value against its declaration (``TypeError`` for a wrong
    type, ``ValueError`` for a value out of bounds, both naming the parameter) before the
    recipe's own ``validate`` checks what involves several parameters; ``sciml generate
    RECIPE --help`` lists the declarations and parses the options with the same checks.

    Parameters
    ----------
    default : object
        JSON-serialisable default; ``None`` with ``optional=True`` means "chosen by the recipe".
    type : {int, float, str, bool}
        Python type of the value (ints are accepted where floats are declared).
    help : str
        One line for ``--help``.
    min, max : float, optional
        Inclusive bounds (``min_open=True``: strictly above ``min``).
    choices : tuple, optional
        Allowed values.
    optional : bool
        ``None`` is an allowed value.

    Examples
    --------
    >>> Param(8, int, "grid points per side", min=4).check(16, "resolution")
    16
    >>> Param(8, int, "grid points per side", min=4).check(2, "resolution")
    Traceback (most recent call last):
    ...
    ValueError: resolution must be an integer >= 4, got 2
    """

    default: Any
    type: type = float
    help: str = ""
    min: float | None = None
    max: float | None = None
    min_open: bool = False
    choices: tuple | None = None
    optional: bool = False

    def check(self, value, name: str):
        """``value`` converted to the declared type and checked; raises naming ``name``."""
        from .._util.validation import check_bool, check_choice, check_float, check_int

        if value is None and (self.optional or self.default is None):
            return None
        if self.type is bool:
            value = check_bool(value, name)
        elif self.type is int:
            value = check_int(value, name, min=self.min, max=self.max)
        elif self.type is float:
            value = check_float(value, name, min=self.min, max=self.max, min_open=self.min_open)
        elif self.type is str:
            if not isinstance(value, str):
                raise TypeError(f"{name} must be a string, got {value!r}")
        if self.choices is not None:
            value = check_choice(value, name, self.choices)
        return value

    def describe(self) -> str:
        """``type, bounds; default`` text for ``--help``."""
        kind = {int: "int", float: "float", str: "str", bool: "bool"}.get(self.type, self.type.__name__)
        bits = []
        if self.choices is not None:
            kind = "one of " + ", ".join(map(str, self.choices))
        lo = None if self.min is None else ("> " if self.min_open else ">= ") + f"{self.min:g}"
        hi = None if self.max is None else f"<= {self.max:g}"
        bits += [b for b in (lo, hi) if b]
        default = "automatic" if self.default is None else (f"{self.default:g}" if isinstance(self.default, float)
                                                            else str(self.default))
        return f"{kind}{' ' + ', '.join(bits) if bits else ''}; default {default}"


@dataclass(frozen=True, kw_only=True)
class Recipe:
    """A dataset recipe.

    name: registry key (``sciml generate NAME``).
    defaults: JSON-serialisable default parameters; every accepted parameter has one. Derived
        from ``params`` when those are declared.
    validate: ``params -> params``; raises ValueError/TypeError naming the bad parameter.
        Receives the defaults merged with the user's values, each already checked against its
        :class:`Param` declaration; checks what involves several parameters.
    layout: ``params -> Layout``.
    solve_chunk: ``(params, seed, indices) -> {field: array (len(indices), *FieldSpec.shape)}``.
    chunk: default number of samples solved together (a parameter ``chunk`` overrides it).
    description: one line for ``sciml info`` / ``--help``.
    params: ``name -> Param`` declarations (the one source of defaults, types, bounds, help).
    work_bytes: ``params -> bytes`` of working memory the solver needs per sample of a chunk
        (a rough upper estimate; :meth:`check_resources` refuses requests far beyond the machine).
    """

    name: str
    defaults: Mapping[str, Any] | None = None
    validate: Callable[[dict], dict]
    layout: Callable[[dict], Layout]
    solve_chunk: Callable[[dict, int, Sequence[int]], dict[str, np.ndarray]]
    chunk: int = 1
    description: str = ""
    params: Mapping[str, Param] | None = None
    work_bytes: Callable[[dict], float] | None = None

    def __post_init__(self):
        if self.params is not None:
            declared = {k: p.default for k, p in self.params.items()}
            if self.defaults is not None and dict(self.defaults) != declared:
                raise ValueError(f"recipe {self.name!r}: defaults and params declare different defaults")
            object.__setattr__(self, "defaults", declared)
        elif self.defaults is None:
            raise ValueError(f"recipe {self.name!r} needs params (or defaults)")

    def declarations(self) -> dict[str, Param]:
        """``name -> Param`` for every parameter (inferred from ``defaults`` when not declared)."""
        if self.params is not None:
            return dict(self.params)
        return {k: Param(v, type(v) if isinstance(v, (bool, int, float, str)) else str, optional=v is None)
                for k, v in self.defaults.items()}

    def resolve(self, **params) -> dict:
        """Defaults merged with ``params``, validated. Unknown names raise ValueError."""
        unknown = sorted(set(params) - set(self.defaults) - {"chunk"})
        if unknown:
            raise ValueError(
                f"recipe {self.name!r} has no parameter(s) {unknown}; allowed: {sorted(self.defaults)}"
            )
        merged = {**self.defaults, **{k: v for k, v in params.items() if v is not None}}
        chunk = merged.pop("chunk", self.chunk)
        if not isinstance(chunk, (int, np.integer)) or isinstance(chunk, bool) or chunk < 1:
            raise ValueError(f"chunk must be a positive integer, got {chunk!r}")
        if self.params is not None:
            merged = {k: self.params[k].check(v, k) for k, v in merged.items()}
        if self.work_bytes is not None:  # before validate: it may build the solver
            from .._util.resources import check_memory

            sizes = ", ".join(f"{k}={v}" for k, v in merged.items() if isinstance(v, int) and not isinstance(v, bool))
            check_memory(int(chunk) * float(self.work_bytes(dict(merged))),
                         f"recipe {self.name!r} with {sizes} (a chunk of {int(chunk)} samples)")
        out = self.validate(dict(merged))
        out["chunk"] = int(chunk)
        return canonical_params(out)

    def sample_bytes(self, params: Mapping[str, Any]) -> int:
        """Bytes one stored sample takes (every field, uncompressed)."""
        total = 0
        for spec in self.layout(dict(params)).fields.values():
            total += int(np.prod(spec.shape, dtype=np.float64)) * np.dtype(spec.dtype).itemsize
        return total

    def check_resources(self, params: Mapping[str, Any], n: int, out=None) -> None:
        """Refuse, before any work, ``n`` samples that cannot fit in memory (one chunk being
        solved) or on the disk holding ``out`` (at the run's peak: the shards and the assembled
        file, twice the stored size); ``ValueError`` naming the sizes. :func:`sciml.datasets.generate`
        calls it before it locks or writes anything."""
        from .._util.resources import check_disk, check_memory

        per = float(self.sample_bytes(params))
        chunk = min(self.chunk_size(params), int(n))
        work = float(self.work_bytes(dict(params))) if self.work_bytes is not None else 0.0
        what = f"recipe {self.name!r} with n={n:,}"
        check_memory(chunk * (3 * per + work), f"{what} (a chunk of {chunk} samples being solved)")
        check_memory(n * 8.0 + 4 * per, what)  # per-sample bookkeeping and the assembly buffers
        if out is not None:
            check_disk(2.0 * n * per, out, f"{what} (shards + final file)")

    def chunk_size(self, params: Mapping[str, Any]) -> int:
        return int(params.get("chunk", self.chunk))


_REGISTRY: dict[str, Recipe] = {}


def register_recipe(recipe: Recipe) -> Recipe:
    """Add ``recipe`` to the registry (replacing one of the same name)."""
    if not isinstance(recipe, Recipe):
        raise TypeError(f"recipe must be a Recipe, got {type(recipe).__name__}")
    _REGISTRY[recipe.name] = recipe
    return recipe


def _load_builtin() -> None:
    # Recipe definitions live next to the code they use; importing registers them.
    from . import builtin_recipes  # noqa: F401


def get_recipe(name: str) -> Recipe:
    """The recipe called ``name``; ValueError listing the known names otherwise."""
    _load_builtin()
    if not isinstance(name, str):
        raise TypeError(f"recipe name must be a string, got {type(name).__name__}")
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown recipe {name!r}; known recipes: {', '.join(sorted(_REGISTRY))}") from None


def list_recipes() -> list[str]:
    _load_builtin()
    return sorted(_REGISTRY)


def sample_rng(seed: int, index: int, stream: int = 0) -> np.random.Generator:
    """The generator for sample ``index`` of a dataset with ``seed``.

    Independent of every other sample (SeedSequence with entropy ``(seed, index, stream)``),
    so any worker can draw sample ``index`` without drawing the others.
    """
    return np.random.default_rng(np.random.SeedSequence([int(seed), int(index), int(stream)]))


def canonical_params(params: Mapping[str, Any]) -> dict:
    """Parameters as plain JSON types with sorted keys (what the store records and compares)."""
    return json.loads(json.dumps(dict(params), sort_keys=True, default=_jsonable))


def _jsonable(x):
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, tuple):
        return list(x)
    raise TypeError(f"parameter value {x!r} is not JSON-serialisable")
