"""Checkpoints as plain files: no pickled modules, loadable by a later sciml.

A checkpoint is a directory holding

* ``config.json``: format tag, sciml version, the model *spec* (registry name and the
  constructor config, plus any wrappers: normalisers, rollout), and the trainer state
  that is plain data (epoch, history, seed, hyper-parameters);
* ``model.pt``: the model's ``state_dict()`` (``torch.save``; read with ``weights_only=True``);
* ``state.pt`` (optional): optimizer / scheduler / grad-scaler state dicts and RNG states,
  also plain tensors and numbers, read with ``weights_only=True``.

A directory is written under a temporary name and renamed into place, so a crash never
leaves a half-written checkpoint under the final name.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable

import torch
from torch import nn

from .. import __version__
from ..datasets.loaders import UnitGaussianNormalizer
from .wrappers import NormalizedModel

__all__ = ["FORMAT", "model_spec", "model_from_spec", "save_checkpoint", "load_checkpoint", "load_model"]

FORMAT = "sciml-checkpoint/1"


def _operator_name(model: nn.Module) -> str:
    for attr in ("model_name", "name"):
        name = getattr(model, attr, None)
        if isinstance(name, str) and name:
            return name
    try:  # reverse lookup in the operators registry when it has one
        from .. import operators

        for attr in ("MODELS", "REGISTRY", "_REGISTRY", "MODEL_REGISTRY"):
            reg = getattr(operators, attr, None)
            if isinstance(reg, dict):
                for k, v in reg.items():
                    if v is type(model) or getattr(v, "__name__", None) == type(model).__name__:
                        return k
    except ImportError:
        pass
    return type(model).__name__.lower()


def model_spec(model: nn.Module, name: str | None = None) -> dict:
    """A JSON-serialisable description from which :func:`model_from_spec` rebuilds ``model``.

    Plain models must expose ``model.config`` (a dict of constructor arguments); ``name``
    is their registry name (default: ``model.model_name``, else looked up in the operators
    registry, else the lower-cased class name).
    """
    from .rollout import RolloutModel  # local: rollout imports nothing from here

    if isinstance(model, nn.parallel.DistributedDataParallel):
        model = model.module
    if isinstance(model, NormalizedModel):
        return {"kind": "normalized", "model": model_spec(model.model, name),
                "input_normalizer": model.input_normalizer.config if model.input_normalizer is not None else None,
                "output_normalizer": model.output_normalizer.config if model.output_normalizer is not None else None}
    if isinstance(model, RolloutModel):
        return {"kind": "rollout", "model": model_spec(model.model, name), **model.config}
    config = getattr(model, "config", None)
    if not isinstance(config, dict):
        raise TypeError(f"{type(model).__name__} has no `config` dict of constructor arguments; "
                        "checkpoints store models as (name, config) + weights")
    try:
        json.dumps(config)
    except TypeError as exc:
        raise TypeError(f"{type(model).__name__}.config is not JSON-serialisable: {exc}") from None
    return {"kind": "operator", "name": name or _operator_name(model), "config": config}


def _default_builder(name: str, **config) -> nn.Module:
    from ..operators import build_model

    return build_model(name, **config)


def model_from_spec(spec: dict, builder: Callable[..., nn.Module] | None = None) -> nn.Module:
    """Rebuild an (untrained) model from :func:`model_spec`'s dict.

    builder: ``builder(name, **config) -> nn.Module`` for the innermost model; default
    :func:`sciml.operators.build_model`.
    """
    from .rollout import RolloutModel

    if not isinstance(spec, dict) or "kind" not in spec:
        raise ValueError(f"not a model spec: {spec!r}")
    kind = spec["kind"]
    if kind == "normalized":
        inner = model_from_spec(spec["model"], builder)
        fin = UnitGaussianNormalizer.from_config(spec["input_normalizer"]) if spec.get("input_normalizer") else None
        fout = UnitGaussianNormalizer.from_config(spec["output_normalizer"]) if spec.get("output_normalizer") else None
        return NormalizedModel(inner, fin, fout)
    if kind == "rollout":
        inner = model_from_spec(spec["model"], builder)
        cfg = {k: v for k, v in spec.items() if k not in ("kind", "model")}
        return RolloutModel(inner, **cfg)
    if kind == "operator":
        return (builder or _default_builder)(spec["name"], **spec["config"])
    raise ValueError(f"unknown model spec kind {kind!r}")


def _atomic_dir(final: Path):
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent))


def _replace_dir(tmp: Path, final: Path):
    old = None
    if final.exists():
        old = final.with_name(f".{final.name}.old-{os.getpid()}")
        if old.exists():
            shutil.rmtree(old)
        os.replace(final, old)
    os.replace(tmp, final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def save_checkpoint(path, model: nn.Module, *, name: str | None = None, trainer: dict | None = None,
                    state: dict | None = None, extra: dict | None = None) -> Path:
    """Write a checkpoint directory ``path`` (atomically); return its path.

    trainer: plain JSON data (epoch, history, hyper-parameters) stored in ``config.json``.
    state: tensors / state dicts (optimizer, scheduler, RNG) stored in ``state.pt``.
    extra: more JSON data stored under ``"extra"``.
    """
    path = Path(path)
    spec = model_spec(model, name)
    if isinstance(model, nn.parallel.DistributedDataParallel):
        model = model.module
    config = {"format": FORMAT, "sciml_version": __version__, "model": spec, "trainer": trainer or {},
              "extra": extra or {}}
    text = json.dumps(config, indent=1, sort_keys=True, allow_nan=True)
    tmp = _atomic_dir(path)
    try:
        torch.save(model.state_dict(), tmp / "model.pt")
        if state is not None:
            torch.save(state, tmp / "state.pt")
        (tmp / "config.json").write_text(text)
        _replace_dir(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return path


def _read_config(path: Path) -> dict:
    path = Path(path)
    if not path.is_dir():
        raise FileNotFoundError(f"no checkpoint directory at {path}")
    cfg_file = path / "config.json"
    if not cfg_file.exists() or not (path / "model.pt").exists():
        raise ValueError(f"{path} is not a sciml checkpoint (needs config.json and model.pt)")
    config = json.loads(cfg_file.read_text())
    if config.get("format") != FORMAT:
        raise ValueError(f"{path}: unknown checkpoint format {config.get('format')!r}, expected {FORMAT!r}")
    return config


def load_checkpoint(path, map_location="cpu") -> dict:
    """Read a checkpoint: ``{"config": dict, "weights": state_dict, "state": dict | None}``."""
    path = Path(path)
    config = _read_config(path)
    weights = torch.load(path / "model.pt", map_location=map_location, weights_only=True)
    state = None
    if (path / "state.pt").exists():
        state = torch.load(path / "state.pt", map_location=map_location, weights_only=True)
    return {"config": config, "weights": weights, "state": state}


def load_model(path, map_location="cpu", builder: Callable[..., nn.Module] | None = None) -> nn.Module:
    """Rebuild the model of a checkpoint and load its weights (in eval mode)."""
    path = Path(path)
    config = _read_config(path)
    model = model_from_spec(config["model"], builder)
    weights = torch.load(path / "model.pt", map_location=map_location, weights_only=True)
    model.load_state_dict(weights)
    return model.to(map_location).eval()
