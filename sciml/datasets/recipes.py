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
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import numpy as np

__all__ = ["FieldSpec", "Layout", "Recipe", "register_recipe", "get_recipe", "list_recipes", "sample_rng", "canonical_params"]


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
class Recipe:
    """A dataset recipe.

    name: registry key (``sciml generate NAME``).
    defaults: JSON-serialisable default parameters; every accepted parameter has one.
    validate: ``params -> params``; raises ValueError/TypeError naming the bad parameter.
        Receives the defaults merged with the user's values.
    layout: ``params -> Layout``.
    solve_chunk: ``(params, seed, indices) -> {field: array (len(indices), *FieldSpec.shape)}``.
    chunk: default number of samples solved together (a parameter ``chunk`` overrides it).
    description: one line for ``sciml info`` / ``--help``.
    """

    name: str
    defaults: Mapping[str, Any]
    validate: Callable[[dict], dict]
    layout: Callable[[dict], Layout]
    solve_chunk: Callable[[dict, int, Sequence[int]], dict[str, np.ndarray]]
    chunk: int = 1
    description: str = ""

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
        out = self.validate(dict(merged))
        out["chunk"] = int(chunk)
        return canonical_params(out)

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
