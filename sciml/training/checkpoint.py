"""The one checkpoint format, for every model kind: operators, emulators, PINNs, PINN-PM.

A checkpoint is a directory holding

* ``config.json``: format tag, sciml version, ``kind``, the model *spec* (what rebuilds the
  model: registry name and constructor config, wrappers such as normalisers or a rollout, an
  emulator's options and statistics, an MLP's or PINN-PM's constructor config), and the
  trainer's plain data (epoch, history, hyper-parameters);
* ``model.pt``: ``{"format", "config_sha256", "state_dict"}`` (``torch.save``; read only with
  ``weights_only=True``, so nothing in it can run code). ``config_sha256`` is the digest of
  ``config.json``'s content: a config edited after the weights were written (an activation,
  a normaliser's ``eps``, a statistic) is refused, not silently used;
* ``state.pt`` (optional): optimiser / scheduler / RNG state, also read with ``weights_only=True``.

Every file is written atomically (:mod:`sciml._util.io`); :func:`save_checkpoint` writes the
directory under a temporary name and renames it into place. :func:`load_checkpoint` /
:func:`load_model` read every kind, check the weights against the config (every key, every
shape, the digest) and raise :class:`CheckpointError` naming the file and the problem. They
also read the layouts written before this format (``sciml-checkpoint/1`` operator
directories, ``save_emulator``'s ``weights.pt`` + ``config.json``, ``PINNTrainer.save``'s
single ``.pt`` file, a bare PINN-PM ``state_dict``), still with ``weights_only=True``.
"""
from __future__ import annotations

import hashlib
import inspect
import io
import json
import os
import pickle
import zipfile
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from .. import __version__
from .._util.io import atomic_dir, write_bytes
from ..datasets.loaders import UnitGaussianNormalizer
from .wrappers import NormalizedModel

__all__ = ["FORMAT", "CheckpointError", "model_spec", "model_from_spec", "save_checkpoint", "load_checkpoint",
           "load_model"]

FORMAT = "sciml-checkpoint/2"
_V1 = "sciml-checkpoint/1"
KINDS = ("operator", "emulator", "pinn", "pinn_pm")


class CheckpointError(ValueError):
    """A checkpoint that cannot be used: corrupt, edited, or not matching its model."""


# -- specs ----------------------------------------------------------------------------------
def _operator_name(model: nn.Module) -> str:
    for attr in ("model_name", "name"):
        name = getattr(model, attr, None)
        if isinstance(name, str) and name:
            return name
    from .. import operators

    for k, v in operators.MODELS.items():
        if v is type(model):
            return k
    return type(model).__name__.lower()


def _json_config(model) -> dict:
    config = getattr(model, "config", None)
    if not isinstance(config, dict):
        raise TypeError(f"{type(model).__name__} has no `config` dict of constructor arguments; "
                        "checkpoints store models as (name, config) + weights")
    try:
        json.dumps(config, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{type(model).__name__}.config is not JSON-serialisable: {exc}") from None
    return config


def model_spec(model: nn.Module, name: str | None = None) -> dict:
    """A JSON-serialisable description from which :func:`model_from_spec` rebuilds ``model``.

    Plain models must expose ``model.config`` (a dict of constructor arguments); ``name``
    is their registry name (default: ``model.model_name``, else looked up in the operators
    registry, else the lower-cased class name). Emulators, :class:`~sciml.pinns.networks.MLP`
    and :class:`~sciml.pinns.landau.LandauPINNPM` have their own kinds.
    """
    from ..conservation.emulator import ConservativeEmulator
    from ..pinns.landau import LandauPINNPM
    from ..pinns.networks import MLP
    from .rollout import RolloutModel, SpaceTimeModel  # local: rollout imports nothing from here

    if isinstance(model, nn.parallel.DistributedDataParallel):
        model = model.module
    if isinstance(model, NormalizedModel):
        return {"kind": "normalized", "model": model_spec(model.model, name),
                "input_normalizer": model.input_normalizer.config if model.input_normalizer is not None else None,
                "output_normalizer": model.output_normalizer.config if model.output_normalizer is not None else None}
    if isinstance(model, RolloutModel):
        return {"kind": "rollout", "model": model_spec(model.model, name), **model.config}
    if isinstance(model, SpaceTimeModel):
        return {"kind": "space-time", "model": model_spec(model.model, name), **model.config}
    if isinstance(model, ConservativeEmulator):
        try:
            backbone = model_spec(model.backbone, name)
        except TypeError:  # a backbone only its own code builds: loaded with model=
            backbone = {"kind": "custom", "class": type(model.backbone).__name__}
        return {"kind": "emulator", "backbone": backbone, "options": model.config,
                "stats": model.stats.to_dict()}
    if isinstance(model, MLP):
        return {"kind": "mlp", "config": _json_config(model)}
    if isinstance(model, LandauPINNPM):
        return {"kind": "pinn_pm", "config": _json_config(model)}
    return {"kind": "operator", "name": name or _operator_name(model), "config": _json_config(model)}


#: spec kinds that wrap one inner model (its operator is ``spec["model"]``, recursively)
WRAPPER_KINDS = ("normalized", "rollout", "space-time")


def _default_builder(name: str, **config) -> nn.Module:
    from ..operators import build_model

    return build_model(name, **config)


def model_from_spec(spec: dict, builder: Callable[..., nn.Module] | None = None) -> nn.Module:
    """Rebuild an (untrained) model from :func:`model_spec`'s dict.

    builder: ``builder(name, **config) -> nn.Module`` for the innermost operator; default
    :func:`sciml.operators.build_model`.
    """
    from .rollout import RolloutModel, SpaceTimeModel

    if not isinstance(spec, dict) or "kind" not in spec:
        raise ValueError(f"not a model spec: {spec!r}")
    kind = spec["kind"]
    if kind == "normalized":
        inner = model_from_spec(spec["model"], builder)
        fin = UnitGaussianNormalizer.from_config(spec["input_normalizer"]) if spec.get("input_normalizer") else None
        fout = UnitGaussianNormalizer.from_config(spec["output_normalizer"]) if spec.get("output_normalizer") else None
        return NormalizedModel(inner, fin, fout)
    if kind in ("rollout", "space-time"):
        inner = model_from_spec(spec["model"], builder)
        cfg = {k: v for k, v in spec.items() if k not in ("kind", "model")}
        return (RolloutModel if kind == "rollout" else SpaceTimeModel)(inner, **cfg)
    if kind == "emulator":
        from ..conservation.emulator import ConservativeEmulator
        from ..conservation.increments import EmulatorStats

        return ConservativeEmulator(model_from_spec(spec["backbone"], builder),
                                    stats=EmulatorStats.from_dict(spec["stats"]), **spec["options"])
    if kind == "mlp":
        from ..pinns.networks import MLP

        return MLP(**spec["config"])
    if kind == "pinn_pm":
        from ..pinns.landau import LandauPINNPM

        return LandauPINNPM(**spec["config"])
    if kind == "operator":
        return (builder or _default_builder)(spec["name"], **spec["config"])
    if kind == "custom":
        raise ValueError(f"a {spec.get('class', 'custom')} model is rebuilt by its own code: pass model= "
                         "(an instance to load the weights into)")
    raise ValueError(f"unknown model spec kind {kind!r}")


def _kind_of(spec: dict | None) -> str:
    while spec and spec.get("kind") in WRAPPER_KINDS:
        spec = spec["model"]
    kind = (spec or {}).get("kind", "custom")
    return {"mlp": "pinn", "operator": "operator"}.get(kind, kind)


# -- writing --------------------------------------------------------------------------------
def _digest(config_text: str) -> str:
    return hashlib.sha256(config_text.encode("utf-8")).hexdigest()


def _tensor_bytes(obj) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def _files(model: nn.Module | None, state_dict: dict, config: dict, state: dict | None) -> dict[str, bytes]:
    text = json.dumps(config, indent=1, sort_keys=True, allow_nan=False) + "\n"
    files = {"model.pt": _tensor_bytes({"format": FORMAT, "config_sha256": _digest(text), "state_dict": state_dict})}
    if state is not None:
        files["state.pt"] = _tensor_bytes(state)
    files["config.json"] = text.encode("utf-8")  # last: a directory with a config has its weights
    return files


def save_checkpoint(path, model: nn.Module, *, name: str | None = None, trainer: dict | None = None,
                    state: dict | None = None, extra: dict | None = None, spec: dict | None = None,
                    in_place: bool = False, kind: str | None = None) -> Path:
    """Write a checkpoint directory ``path``; return its path.

    Parameters
    ----------
    model : nn.Module
        Any model :func:`model_spec` describes (or give ``spec``; ``{"kind": "custom", ...}``
        for a model only its own code can rebuild: it is then loaded with ``model=``).
    trainer : dict
        Plain JSON data (epoch, history, hyper-parameters), stored in ``config.json``.
    state : dict
        Tensors / state dicts (optimizer, scheduler, RNG), stored in ``state.pt``.
    extra : dict
        More JSON data stored under ``"extra"``.
    in_place : bool
        Write the files (each atomically, ``config.json`` last) into an existing directory that
        holds other files too (an experiment folder), instead of replacing the directory as a whole.

    Examples
    --------
    >>> import tempfile, torch
    >>> from sciml.pinns.networks import MLP
    >>> net = MLP(2, 1, width=8, depth=2, seed=0)
    >>> path = save_checkpoint(tempfile.mkdtemp() + "/ck", net)
    >>> again = load_model(path)
    >>> x = torch.rand(4, 2)
    >>> bool(torch.equal(net(x), again(x)))
    True
    """
    path = Path(path)
    if isinstance(model, nn.parallel.DistributedDataParallel):
        model = model.module
    spec = model_spec(model, name) if spec is None else spec
    config = {"format": FORMAT, "sciml_version": __version__, "kind": kind or _kind_of(spec), "model": spec,
              "trainer": trainer or {}, "extra": extra or {}}
    files = _files(model, model.state_dict(), config, state)
    if in_place:
        path.mkdir(parents=True, exist_ok=True)
        (path / "config.json").unlink(missing_ok=True)  # never a new config beside old weights
        for fname, data in files.items():
            write_bytes(path / fname, data)
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    aside = None
    if path.is_file():  # a single-file checkpoint of the earlier layout (PINNTrainer .pt): keep it until done
        aside = path.with_name(f".{path.name}.previous")
        os.replace(path, aside)
    try:
        with atomic_dir(path, replace=True) as tmp:
            for fname, data in files.items():
                (tmp / fname).write_bytes(data)
    except BaseException:
        if aside is not None and not path.exists():
            os.replace(aside, path)
        raise
    if aside is not None:
        aside.unlink(missing_ok=True)
    return path


# -- reading --------------------------------------------------------------------------------
def _torch_load(file: Path, map_location):
    """``torch.load(weights_only=True)`` with one clear error for a corrupt or unsafe file."""
    try:
        return torch.load(file, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"{file}: refused: it holds objects other than tensors and plain data "
                              f"(loading it would run code from the file): {first}") from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError, ValueError, AttributeError) as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"{file}: not a readable weights file (corrupt or truncated?): {first}") from None


def _read_json(file: Path) -> tuple[dict, str]:
    try:
        text = file.read_text(encoding="utf-8")
        config = json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{file}: not valid JSON (corrupt or truncated?): {exc}") from None
    if not isinstance(config, dict):
        raise CheckpointError(f"{file}: expected a JSON object, got {type(config).__name__}")
    return config, text


def _check_state_dict(weights, model: nn.Module, where: Path):
    if not isinstance(weights, dict) or not all(isinstance(v, torch.Tensor) for v in weights.values()):
        raise CheckpointError(f"{where}: the weights are not a state_dict of tensors")
    expected = model.state_dict()
    missing = sorted(set(expected) - set(weights))
    unexpected = sorted(set(weights) - set(expected))
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"missing {len(missing)} ({', '.join(missing[:4])}{' ...' if len(missing) > 4 else ''})")
        if unexpected:
            parts.append(f"unexpected {len(unexpected)} ({', '.join(unexpected[:4])}"
                         f"{' ...' if len(unexpected) > 4 else ''})")
        raise CheckpointError(f"{where}: the weights do not match the model described by the config: "
                              + "; ".join(parts))
    for k, v in expected.items():
        if tuple(weights[k].shape) != tuple(v.shape):
            raise CheckpointError(f"{where}: weight {k!r} has shape {tuple(weights[k].shape)} but the model "
                                  f"described by the config needs {tuple(v.shape)}")
        if weights[k].is_complex() != v.is_complex() or weights[k].is_floating_point() != v.is_floating_point():
            raise CheckpointError(f"{where}: weight {k!r} is {weights[k].dtype}, the model needs {v.dtype}")


def _legacy_emulator_spec(config: dict, where: Path) -> dict:
    keys = ("mode", "fixer", "center", "predict_increment", "mass_unit", "bound_radius")
    if "backbone" not in config or "backbone_config" not in config:
        raise CheckpointError(f"{where}: an emulator written before {FORMAT} without 'backbone'/'backbone_config' "
                              "in its config: pass model= (the emulator to load the weights into)")
    options = {k: config[k] for k in keys if k in config}
    return {"kind": "emulator", "backbone": {"kind": "operator", "name": config["backbone"],
                                             "config": config["backbone_config"]},
            "options": options, "stats": config["stats"]}


def _read(path: Path, map_location) -> dict:
    """Read any layout into ``{"config", "spec", "weights", "state", "legacy"}`` (spec may be None)."""
    if not path.exists():
        raise FileNotFoundError(f"no checkpoint at {path}")
    if path.is_file():  # PINNTrainer.save before the single format, or a bare state_dict
        obj = _torch_load(path, map_location)
        if isinstance(obj, dict) and isinstance(obj.get("model"), dict) and "iterations" in obj:
            return {"config": {"kind": "pinn", "trainer": {k: obj.get(k) for k in
                                                           ("weights", "iterations", "history", "timings")}},
                    "spec": None, "weights": obj["model"], "state": None, "legacy": "PINNTrainer .pt file",
                    "where": path}
        if isinstance(obj, dict) and obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
            return {"config": {"kind": "custom", "trainer": {}}, "spec": None, "weights": obj, "state": None,
                    "legacy": "bare state_dict", "where": path}
        raise CheckpointError(f"{path}: not a sciml checkpoint (a file that is neither a PINNTrainer checkpoint "
                              "nor a state_dict)")
    cfg_file = path / "config.json"
    if not cfg_file.exists():
        raise CheckpointError(f"{path} is not a sciml checkpoint: no config.json")
    config, text = _read_json(cfg_file)
    fmt = config.get("format")
    if fmt == FORMAT:
        wfile = path / "model.pt"
        if not wfile.exists():
            raise CheckpointError(f"{path}: config.json without model.pt")
        blob = _torch_load(wfile, map_location)
        if not isinstance(blob, dict) or blob.get("format") != FORMAT or "state_dict" not in blob:
            raise CheckpointError(f"{wfile}: not a {FORMAT} weights file")
        if blob.get("config_sha256") != _digest(text):
            raise CheckpointError(f"{cfg_file}: does not match the weights in {wfile.name} (the config was edited, "
                                  "or the two files come from different saves); refusing to load a model that "
                                  "would predict differently from the one trained")
        state = _torch_load(path / "state.pt", map_location) if (path / "state.pt").exists() else None
        return {"config": config, "spec": config.get("model"), "weights": blob["state_dict"], "state": state,
                "legacy": None, "where": wfile}
    if fmt == _V1:
        wfile = path / "model.pt"
        if not wfile.exists():
            raise CheckpointError(f"{path}: config.json without model.pt")
        state = _torch_load(path / "state.pt", map_location) if (path / "state.pt").exists() else None
        config = dict(config, kind=_kind_of(config.get("model")))
        return {"config": config, "spec": config.get("model"), "weights": _torch_load(wfile, map_location),
                "state": state, "legacy": _V1, "where": wfile}
    if fmt is None and (path / "weights.pt").exists() and "stats" in config:
        wfile = path / "weights.pt"
        return {"config": {"kind": "emulator", "trainer": {}, "extra": config}, "spec":
                _legacy_emulator_spec(config, cfg_file) if "backbone" in config else None,
                "weights": _torch_load(wfile, map_location), "state": None, "legacy": "save_emulator",
                "where": wfile}
    raise CheckpointError(f"{cfg_file}: unknown checkpoint format {fmt!r}, expected {FORMAT!r}")


def _prepare(model: nn.Module, weights: dict):
    hook = getattr(model, "prepare_state_dict", None)
    if callable(hook):
        hook(weights)


def _differences(a, b, where="") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for k in sorted(set(a) | set(b)):
            out += _differences(a.get(k), b.get(k), f"{where}.{k}" if where else str(k))
        return out
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in _differences(x, y, f"{where}[{i}]")]
    return [] if a == b else [f"{where}: {a!r} here, {b!r} in the checkpoint"]


def _constructor_defaults(cls) -> dict:
    """Keyword defaults of ``cls`` and of the classes it forwards ``**kwargs`` to (its MRO)."""
    out = {}
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        for p in inspect.signature(init).parameters.values():
            if p.default is not inspect.Parameter.empty and p.kind is not inspect.Parameter.VAR_KEYWORD:
                out.setdefault(p.name, p.default)
    return out


def _with_new_defaults(spec, mine):
    """The stored ``spec``, each registry operator's config completed by its constructor's defaults.

    A checkpoint written before an option existed has no key for it; it was trained with what the
    option's default now does, so a resumed run at the default is the same model (the config reads
    the same once completed), while any other value is still a difference. Only keys that ``mine``
    (this process's spec of the model) has are completed.
    """
    from .. import operators

    if not isinstance(spec, dict) or not isinstance(mine, dict):
        return spec
    spec = {k: _with_new_defaults(v, mine.get(k)) if k in ("model", "backbone") else v for k, v in spec.items()}
    cls = operators.MODELS.get(spec.get("name")) if spec.get("kind") == "operator" else None
    config, here = spec.get("config"), mine.get("config")
    if cls is not None and isinstance(config, dict) and isinstance(here, dict):
        config = dict(config)
        for k, v in _constructor_defaults(cls).items():
            if k in here and k not in config:
                try:
                    config[k] = json.loads(json.dumps(v))
                except (TypeError, ValueError):
                    continue
        spec["config"] = config
    return spec


_UNSET = object()


def load_checkpoint(path, map_location="cpu", *, model: nn.Module | None = None,
                    builder: Callable[..., nn.Module] | None = None, same_as=_UNSET, need_model: bool = False) -> dict:
    """Read and check a checkpoint of any kind (and the layouts before :data:`FORMAT`).

    Returns ``{"config", "kind", "weights", "state", "model", "legacy"}``: ``weights`` is the
    state_dict, checked key by key and shape by shape against ``model`` (default: the model
    rebuilt from the config; give ``model=`` for a kind its config cannot rebuild, e.g. a PINN
    of a custom class or a pre-format PINN-PM file); ``model`` has the weights loaded.
    ``legacy`` names the old layout read, or is None. ``same_as``: with ``model``, also require
    that ``model`` is the one the config describes (its spec, with ``same_as`` as its registry
    name; e.g. a resumed run with another width or model is refused).

    Raises
    ------
    FileNotFoundError
        Nothing at ``path``.
    CheckpointError
        A corrupt, truncated, edited or mismatched checkpoint, or a weights file holding
        anything other than tensors and plain data; the message names the file and the problem.
    """
    path = Path(path)
    r = _read(path, map_location)
    if model is None:
        if r["spec"] is None or r["spec"].get("kind") == "custom":
            if need_model:
                raise CheckpointError(f"{path}: its config cannot rebuild the model ({r['legacy'] or 'custom model'}); "
                                      "pass model= (an instance to load the weights into)")
            return _result(r, None)
        try:
            model = model_from_spec(r["spec"], builder)
        except (TypeError, ValueError, KeyError) as exc:
            if need_model or builder is not None:
                raise CheckpointError(f"{path / 'config.json'}: the model spec does not build a model: {exc}") from None
            # a model of a registry this process does not know (its builder was not given): the
            # digest has tied config and weights together; keys and shapes are checked on loading
            return _result(r, None)
    if same_as is not _UNSET and r["spec"] is not None:
        mine = json.loads(json.dumps(model_spec(model, same_as)))
        stored = _with_new_defaults(r["spec"], mine)
        diff = _differences(mine, stored)
        if diff:
            raise CheckpointError(f"{path}: written for another model: " + "; ".join(diff[:3])
                                  + (" ..." if len(diff) > 3 else ""))
    _prepare(model, r["weights"])
    _check_state_dict(r["weights"], model, r["where"])
    model.load_state_dict(r["weights"])
    return _result(r, model)


def _result(r: dict, model) -> dict:
    config = r["config"]
    return {"config": config, "kind": config.get("kind", "custom"), "weights": r["weights"], "state": r["state"],
            "model": model, "legacy": r["legacy"]}


def load_model(path, map_location="cpu", builder: Callable[..., nn.Module] | None = None, *,
               model: nn.Module | None = None) -> nn.Module:
    """The model of a checkpoint with its weights loaded, in eval mode (see :func:`load_checkpoint`)."""
    ck = load_checkpoint(path, map_location, model=model, builder=builder, need_model=True)
    return ck["model"].to(map_location).eval()
