"""neuraloperator 2.0 checkpoints: load an FNO/TFNO ``state_dict`` file into sciml, export sciml's.

neuraloperator's ``BaseModel.state_dict()`` adds a ``_metadata`` entry holding the constructor
arguments, some of them Python objects (the activation function, the ``SpectralConv`` class), so a
plain ``torch.load(weights_only=True)`` refuses the file, and an unrestricted unpickling load would
run whatever the pickle names. Here the file is read with ``weights_only=True`` and a short list of
stand-ins for exactly those names (the activations and neuraloperator's ``SpectralConv``); any
other global in the file is refused with an error naming it, and neuraloperator need not be
installed.

The weights map one to one (the two FNOs have the same block ordering and mode convention):

* 1x1 convolutions ``(out, in, 1)`` (``Conv1d`` on flattened points) are sciml's ``(out, in)``
  matrices; their biases ``(out,)`` are sciml's ``(out, 1)``;
* complex spectral weights (dense, Tucker core/factors, CP weights/factors) are stored by sciml
  as real tensors with a trailing (real, imag) axis;
* neuraloperator ``fftshift``-s every spatial Fourier axis but the last, so along those axes its
  weights run from the most negative kept frequency up; sciml keeps FFT order (0, 1, ..., -1), so
  those axes (or the matching Tucker/CP factor rows) are ``ifftshift``-ed on import and
  ``fftshift``-ed on export;
* neuraloperator's grid embedding (``linspace(0, 1, n + 1)[:-1]``) is sciml's
  ``positional_embedding="neuralop-grid"``.

Outputs agree to float32 round-off on grids whose spatial axes but the last have even size.
On an odd-sized such axis neuraloperator 2.0.0 differs: after the mode product it applies
``fftshift`` again where ``ifftshift`` undoes the first shift (the same for even sizes), so
every output frequency along that axis receives the product meant for its neighbour (checked by
patching that call to ``ifftshift``, which then agrees with sciml to 1.7e-7). sciml computes the
convolution as written in the FNO paper and does not reproduce this.

Options without a sciml equivalent (domain padding, which neuraloperator applies symmetrically
with ``round(p n)`` points at each end; complex data; separable or pre-activation blocks; TT
factorisation; ...) are refused with an error naming the option.
"""
from __future__ import annotations

import pickle
import re
import zipfile
from collections import OrderedDict
from pathlib import Path

import torch

from .fno import FNO, TFNO

__all__ = ["load_neuraloperator", "from_neuraloperator_state_dict", "to_neuraloperator_state_dict",
           "save_neuraloperator", "read_neuraloperator_state_dict", "NEURALOP_VERSION"]

#: The neuraloperator release whose checkpoint layout this module reads and writes.
NEURALOP_VERSION = "2.0.0"

#: Constructor defaults of neuraloperator 2.0.0's ``FNO`` (``TFNO`` adds factorization/rank).
_FNO_DEFAULTS = {
    "n_layers": 4, "lifting_channel_ratio": 2, "projection_channel_ratio": 2, "positional_embedding": "grid",
    "non_linearity": "torch._C._nn.gelu", "norm": None, "complex_data": False, "use_channel_mlp": True,
    "channel_mlp_dropout": 0, "channel_mlp_expansion": 0.5, "channel_mlp_skip": "soft-gating", "fno_skip": "linear",
    "resolution_scaling_factor": None, "domain_padding": None, "fno_block_precision": "full", "stabilizer": None,
    "max_n_modes": None, "factorization": None, "rank": 1.0, "fixed_rank_modes": False,
    "implementation": "factorized", "decomposition_kwargs": None, "separable": False, "preactivation": False,
    "conv_module": "neuralop.layers.spectral_convolution.SpectralConv",
}
_POSITIONAL = ("n_modes", "in_channels", "out_channels", "hidden_channels", "n_layers")
_ACTIVATIONS = {"torch._C._nn.gelu": "gelu", "torch.nn.functional.gelu": "gelu", "torch.nn.functional.relu": "relu",
                "torch.nn.functional.tanh": "tanh", "torch.nn.functional.silu": "silu"}
_CLASSES = ("neuralop.layers.spectral_convolution.SpectralConv",)


class _Reference:
    """Stand-in for a global a checkpoint names (never called, never imported)."""

    qualname = ""

    def __init__(self, *args, **kwargs):  # pragma: no cover - a reduce call on a stand-in
        raise pickle.UnpicklingError(f"{self.qualname} may only be referenced, not called")


def _stand_ins():
    return [(type(f"_Ref_{i}", (_Reference,), {"qualname": name}), name)
            for i, name in enumerate((*_ACTIVATIONS, *_CLASSES))]


def _plain(v):
    """Metadata value with stand-ins replaced by their qualified names."""
    if isinstance(v, type) and issubclass(v, _Reference):
        return v.qualname
    if isinstance(v, (list, tuple)):
        return type(v)(_plain(x) for x in v)
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    return v


def read_neuraloperator_state_dict(path) -> tuple[dict, dict]:
    """Tensors and ``_metadata`` of a neuraloperator ``state_dict`` file, without unpickling code.

    Returns ``(tensors, metadata)``: ``tensors`` maps keys to CPU tensors, ``metadata`` holds the
    constructor arguments with code references replaced by their names (e.g. ``non_linearity``
    is ``"torch._C._nn.gelu"``); ``{}`` when the file has none.

    Raises
    ------
    FileNotFoundError
        No file at ``path``.
    ValueError
        The file is not a ``torch.save`` file, does not hold a dict of tensors, or names a global
        other than neuraloperator's activations and ``SpectralConv`` (the message names it).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint file at {path}")
    if not zipfile.is_zipfile(path):
        raise ValueError(f"{path} is not a torch.save checkpoint (not a zip archive; torch.save writes one)")
    try:
        with torch.serialization.safe_globals(_stand_ins()):
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        m = re.search(r"GLOBAL ([\w.]+)", str(exc))
        if m is None:
            lines = [ln for ln in str(exc).splitlines() if ln.strip() and "error" not in ln.lower()[:12]]
            raise ValueError(f"{path}: not readable as a state_dict with weights_only=True "
                             f"({lines[-2] if len(lines) > 1 else 'unpickling failed'})") from None
        raise ValueError(f"{path}: refused to load: the file refers to {m.group(1)}, which is not a tensor, a "
                         f"neuraloperator activation or SpectralConv (nothing from it was executed)") from None
    except Exception as exc:  # zip members missing or corrupt
        raise ValueError(f"{path} is not a readable torch.save checkpoint ({type(exc).__name__}: "
                         f"{str(exc).strip()[:200] or 'unreadable'})") from None
    if not isinstance(obj, dict):
        raise ValueError(f"{path} holds a {type(obj).__name__}, not a state_dict (a dict of tensors)")
    meta = obj.get("_metadata", {})
    tensors = {k: v for k, v in obj.items() if k != "_metadata"}
    bad = [k for k, v in tensors.items() if not isinstance(v, torch.Tensor)]
    if bad:
        raise ValueError(f"{path}: entries {bad[:5]} are not tensors; a state_dict holds only tensors and _metadata")
    if not isinstance(meta, dict):
        raise ValueError(f"{path}: _metadata is a {type(meta).__name__}, expected a dict of constructor arguments")
    return tensors, _plain(dict(meta))


# ------------------------------------------------------------------------------------ config
def _sciml_config(meta: dict, source: str) -> tuple[type, dict]:
    name = meta.get("_name")
    if name is None:
        raise ValueError(f"{source}: no _metadata with the model's constructor arguments (neuraloperator's "
                         f"BaseModel.state_dict() writes it); cannot tell the configuration")
    if name not in ("FNO", "TFNO"):
        raise ValueError(f"{source}: _metadata names model {name!r}; only neuraloperator FNO and TFNO load into sciml")
    given = {k: v for k, v in meta.items() if not k.startswith("_") and k != "args"}
    args = tuple(meta.get("args") or ())
    if len(args) > len(_POSITIONAL):
        raise ValueError(f"{source}: {len(args)} positional constructor arguments, expected at most {len(_POSITIONAL)}")
    given.update(zip(_POSITIONAL, args))
    cfg = {**_FNO_DEFAULTS, **({"factorization": "Tucker", "rank": 0.1} if name == "TFNO" else {}), **given}
    missing = [k for k in ("n_modes", "in_channels", "out_channels", "hidden_channels") if k not in cfg]
    if missing:
        raise ValueError(f"{source}: _metadata lacks {missing}")

    def refuse(key, why):
        raise ValueError(f"{source}: neuraloperator option {key}={cfg[key]!r} has no sciml equivalent ({why})")

    n_modes = [int(m) for m in (cfg["n_modes"] if isinstance(cfg["n_modes"], (list, tuple)) else [cfg["n_modes"]])]
    for key, ok, why in (
        ("complex_data", not cfg["complex_data"], "complex-valued fields"),
        ("separable", not cfg["separable"], "separable spectral weights"),
        ("preactivation", not cfg["preactivation"], "sciml's blocks are post-activation"),
        ("stabilizer", cfg["stabilizer"] is None, "tanh stabiliser"),
        ("resolution_scaling_factor", cfg["resolution_scaling_factor"] is None, "resampling blocks"),
        ("fno_block_precision", cfg["fno_block_precision"] == "full", "half-precision spectral blocks"),
        ("domain_padding", not cfg["domain_padding"] or not any(
            cfg["domain_padding"] if isinstance(cfg["domain_padding"], (list, tuple)) else [cfg["domain_padding"]]),
         "neuraloperator pads round(p*n) points at both ends; sciml's modes differ"),
        ("max_n_modes", cfg["max_n_modes"] is None or [int(m) for m in cfg["max_n_modes"]] == n_modes,
         "weights larger than the kept modes"),
        ("conv_module", cfg["conv_module"] == _CLASSES[0], "only neuraloperator's SpectralConv"),
        ("positional_embedding", cfg["positional_embedding"] in ("grid", None), "only the default grid embedding"),
        ("norm", cfg["norm"] in (None, "group_norm", "instance_norm"), "only group_norm and instance_norm"),
        ("fno_skip", cfg["fno_skip"] in ("linear", "soft-gating", "identity"), "a skip is required"),
        ("non_linearity", _ACTIVATIONS.get(cfg["non_linearity"]) == "gelu",
         "neuraloperator 2.0's in-block channel MLPs always use gelu, whatever non_linearity says; sciml uses "
         "one activation throughout, so only gelu models match"),
        ("decomposition_kwargs", not cfg["decomposition_kwargs"], "custom decompositions"),
    ):
        if not ok:
            refuse(key, why)
    if cfg["use_channel_mlp"]:
        if cfg["channel_mlp_skip"] not in ("linear", "soft-gating", "identity"):
            refuse("channel_mlp_skip", "a channel-MLP skip is required")
    elif cfg["norm"] is not None:
        refuse("norm", "neuraloperator normalises twice per block when use_channel_mlp=False")
    fact = cfg["factorization"]
    fact = None if fact is None or str(fact).lower() == "dense" else str(fact).lower()
    if fact not in (None, "tucker", "cp"):
        refuse("factorization", "sciml factorises spectral weights as dense, CP or Tucker")
    hidden = int(cfg["hidden_channels"])
    out = dict(
        in_channels=int(cfg["in_channels"]), out_channels=int(cfg["out_channels"]), n_modes=n_modes,
        hidden_channels=hidden, n_layers=int(cfg["n_layers"]),
        lifting_channels=int(cfg["lifting_channel_ratio"] * hidden),
        projection_channels=int(cfg["projection_channel_ratio"] * hidden),
        positional_embedding="neuralop-grid" if cfg["positional_embedding"] == "grid" else None,
        non_linearity=_ACTIVATIONS[cfg["non_linearity"]],
        norm={None: None, "group_norm": "group", "instance_norm": "instance"}[cfg["norm"]],
        skip=cfg["fno_skip"],
        channel_mlp_expansion=float(cfg["channel_mlp_expansion"]) if cfg["use_channel_mlp"] else None,
        channel_mlp_skip=cfg["channel_mlp_skip"] if cfg["use_channel_mlp"] else "soft-gating",
        factorization=fact,
    )
    return (TFNO if name == "TFNO" else FNO), out


# ------------------------------------------------------------------------------------ keys
def _key_map(model: FNO) -> list[tuple[str, str, str, int]]:
    """``(sciml key, neuraloperator key, kind, shifted axis)`` for every tensor of ``model``.

    kind: ``same``, ``conv`` (1x1 conv weight), ``bias`` (pointwise bias), ``complex`` (real
    pair <-> complex), ``shifted`` (complex, fftshift along the given axes).
    """
    cfg, ndim = model.config, model.ndim
    rows = []
    for key in model.state_dict():
        parts = key.split(".")
        if parts[0] in ("lifting", "projection"):  # lifting.layers.i.weight
            nk = f"{parts[0]}.fcs.{parts[2]}.{parts[3]}"
            rows.append((key, nk, "conv" if parts[3] == "weight" else "bias", -1))
            continue
        layer, mod, rest = parts[1], parts[2], parts[3:]
        if mod == "conv":
            base = f"fno_blocks.convs.{layer}"
            if rest == ["bias"]:
                rows.append((key, f"{base}.bias", "same", -1))
            elif rest == ["weight", "weight"]:
                rows.append((key, f"{base}.weight.tensor", "shifted", -1))
            elif rest[:2] == ["weight", "factors"]:
                k = int(rest[2])
                # factor k spans weight axis k: 0 in, 1 out, 2.. the spatial modes (last: rfft half, no shift)
                rows.append((key, f"{base}.weight.factors.factor_{k}", "factor", k if 2 <= k < ndim + 1 else -1))
            else:  # weight.core (Tucker) or weight.weights (CP lambdas)
                rows.append((key, f"{base}.weight.{rest[1]}", "complex", -1))
        elif mod == "skip":
            nk = f"fno_blocks.fno_skips.{layer}." + ("conv.weight" if cfg["skip"] == "linear" else "weight")
            rows.append((key, nk, "conv" if cfg["skip"] == "linear" else "same", -1))
        elif mod == "mlp":
            nk = f"fno_blocks.channel_mlp.{layer}.fcs.{rest[1]}.{rest[2]}"
            rows.append((key, nk, "conv" if rest[2] == "weight" else "bias", -1))
        elif mod == "mlp_skip":
            lin = cfg["channel_mlp_skip"] == "linear"
            nk = f"fno_blocks.channel_mlp_skips.{layer}." + ("conv.weight" if lin else "weight")
            rows.append((key, nk, "conv" if lin else "same", -1))
        elif mod in ("norm", "mlp_norm"):
            if cfg["norm"] == "group":
                idx = 2 * int(layer) + (mod == "mlp_norm")
                rows.append((key, f"fno_blocks.norm.{idx}.{rest[0]}", "same", -1))
            else:  # instance norm: parameter-free in neuraloperator, identity affine in sciml
                rows.append((key, "", "identity-affine", -1))
        else:  # pragma: no cover - a new sciml submodule
            raise ValueError(f"sciml key {key!r} has no neuraloperator counterpart")
    return rows


def _to_sciml(t: torch.Tensor, kind: str, axis: int, ndim: int) -> torch.Tensor:
    if kind == "conv":
        return t.reshape(t.shape[0], t.shape[1])
    if kind == "bias":
        return t.reshape(-1, 1)
    if kind == "shifted":
        t = torch.fft.ifftshift(t, dim=tuple(range(2, ndim + 1))) if ndim > 1 else t
    elif kind == "factor" and axis >= 0:
        t = torch.fft.ifftshift(t, dim=0)
    if kind in ("shifted", "factor", "complex"):
        return torch.view_as_real(t.to(torch.complex64) if not t.is_complex() else t).clone()
    return t.clone()


def _from_sciml(t: torch.Tensor, kind: str, axis: int, ndim: int) -> torch.Tensor:
    if kind == "conv":
        return t.reshape(*t.shape, 1).clone()
    if kind == "bias":
        return t.reshape(-1).clone()
    if kind in ("shifted", "factor", "complex"):
        c = torch.view_as_complex(t.contiguous())
        if kind == "shifted" and ndim > 1:
            c = torch.fft.fftshift(c, dim=tuple(range(2, ndim + 1)))
        elif kind == "factor" and axis >= 0:
            c = torch.fft.fftshift(c, dim=0)
        return c.clone()
    return t.clone()


def from_neuraloperator_state_dict(tensors: dict, metadata: dict, *, source: str = "state_dict") -> FNO:
    """A sciml ``FNO``/``TFNO`` holding the weights of a neuraloperator 2.0 state_dict.

    Parameters
    ----------
    tensors : dict of str to Tensor
        The state_dict without ``_metadata``.
    metadata : dict
        Its ``_metadata`` (constructor arguments; code references as qualified names, as
        :func:`read_neuraloperator_state_dict` returns them).
    source : str
        Named in error messages (the file).

    Returns
    -------
    FNO or TFNO
        In eval mode; ``model.config`` is the matching sciml configuration.

    Raises
    ------
    ValueError
        An option without a sciml equivalent, a missing, unknown or mis-shaped key (the message
        names the key and both shapes).
    """
    cls, cfg = _sciml_config(metadata, source)
    if cfg["factorization"] in ("tucker", "cp"):
        base = "fno_blocks.convs.0.weight."
        key = base + ("core" if cfg["factorization"] == "tucker" else "weights")
        if key not in tensors:
            raise ValueError(f"{source}: factorization {cfg['factorization']!r} but no key {key!r}")
        shape = tuple(tensors[key].shape)
        if cfg["factorization"] == "tucker" and len(shape) != len(cfg["n_modes"]) + 2:
            raise ValueError(f"{source}: {key} has shape {shape}, expected {len(cfg['n_modes']) + 2} Tucker ranks")
        cfg["rank"] = list(shape) if cfg["factorization"] == "tucker" else int(shape[0])
    if isinstance(cfg.get("rank"), list):
        cfg["rank"] = tuple(cfg["rank"])
    model = cls(**cfg)
    ndim = model.ndim
    target = model.state_dict()
    new, used = {}, set()
    for skey, nkey, kind, axis in _key_map(model):
        if kind == "identity-affine":
            new[skey] = torch.ones_like(target[skey]) if skey.endswith("weight") else torch.zeros_like(target[skey])
            continue
        if nkey not in tensors:
            raise ValueError(f"{source}: missing key {nkey!r} (needed for sciml {skey!r}, shape "
                             f"{_nop_shape(target[skey], kind)})")
        t = tensors[nkey]
        want = _nop_shape(target[skey], kind)
        if tuple(t.shape) != want:
            raise ValueError(f"{source}: key {nkey!r} has shape {tuple(t.shape)}, the configuration in _metadata "
                             f"needs {want}")
        new[skey] = _to_sciml(t, kind, axis, ndim).to(target[skey].dtype)
        used.add(nkey)
    unknown = sorted(set(tensors) - used)
    if unknown:
        raise ValueError(f"{source}: unknown key(s) {unknown[:5]}{' ...' if len(unknown) > 5 else ''} for a "
                         f"{metadata.get('_name')} with this configuration")
    model.load_state_dict(new, strict=True)
    return model.eval()


def _nop_shape(t: torch.Tensor, kind: str) -> tuple:
    if kind == "conv":
        return (*t.shape, 1)
    if kind == "bias":
        return (t.shape[0],)
    if kind in ("shifted", "factor", "complex"):
        return tuple(t.shape[:-1])
    return tuple(t.shape)


def load_neuraloperator(path) -> FNO:
    """Load a neuraloperator 2.0 FNO/TFNO ``state_dict`` file into sciml's matching model.

    The file is what ``torch.save(model.state_dict(), path)`` writes for a neuraloperator
    ``FNO``/``TFNO`` (with its ``_metadata``); neuraloperator need not be installed and no code
    from the file is run.

    Returns
    -------
    FNO or TFNO
        In eval mode, ``positional_embedding="neuralop-grid"`` where neuraloperator embeds its
        grid; the same input gives the same output as the neuraloperator model (float32
        round-off).

    Raises
    ------
    FileNotFoundError, ValueError
        See :func:`read_neuraloperator_state_dict` and :func:`from_neuraloperator_state_dict`.

    Examples
    --------
    >>> import torch
    >>> from sciml.operators import FNO
    >>> from sciml.operators.neuraloperator import save_neuraloperator, load_neuraloperator
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "fno_state_dict.pt"
    >>> m = FNO(1, 1, (8, 8), hidden_channels=8, n_layers=2, positional_embedding="neuralop-grid")
    >>> _ = save_neuraloperator(m, path)
    >>> back = load_neuraloperator(path)
    >>> x = torch.randn(2, 1, 16, 16)
    >>> bool(torch.equal(back(x), m.eval()(x)))
    True
    """
    tensors, meta = read_neuraloperator_state_dict(path)
    return from_neuraloperator_state_dict(tensors, meta, source=str(path))


# ------------------------------------------------------------------------------------ export
def to_neuraloperator_state_dict(model: FNO) -> OrderedDict[str, object]:
    """neuraloperator 2.0 ``FNO``/``TFNO`` state_dict (float32, with ``_metadata``) of a sciml FNO.

    ``neuralop.models.FNO(**kwargs).load_state_dict(sd)`` accepts it, with ``kwargs`` the
    ``_metadata`` entries not starting with ``_`` (except ``args``); the two models then give the
    same outputs. Only what neuraloperator can express is exported: ``positional_embedding``
    ``"neuralop-grid"`` or None (``"periodic-grid"`` is accepted: its points differ by one float32
    rounding), no domain padding, instance norm only with its identity affine.

    Raises
    ------
    TypeError
        ``model`` is not a sciml FNO/TFNO.
    ValueError
        A setting neuraloperator cannot express (named).
    """
    # by the registry name, not isinstance: a module imported twice (doctest collection) has two FNO classes
    if getattr(model, "model_name", None) not in ("fno", "tfno") or not hasattr(model, "config"):
        raise TypeError(f"model must be a sciml FNO or TFNO, got {type(model).__name__}")
    cfg = model.config

    def refuse(key, why):
        raise ValueError(f"model: {key}={cfg[key]!r} cannot be exported to neuraloperator ({why})")

    if cfg["non_linearity"] != "gelu":
        refuse("non_linearity", "neuraloperator 2.0's in-block channel MLPs always use gelu")
    if cfg["positional_embedding"] == "grid":
        refuse("positional_embedding", "neuraloperator embeds linspace(0, 1, n + 1)[:-1]; build the model with "
                                       "positional_embedding='neuralop-grid'")
    pads = cfg["domain_padding"] if isinstance(cfg["domain_padding"], list) else [cfg["domain_padding"]]
    if any(p > 0 for p in pads):
        refuse("domain_padding", "neuraloperator pads symmetrically by round(p*n) at each end")
    hidden = cfg["hidden_channels"]
    lift = 2 * hidden if cfg["lifting_channels"] is None else cfg["lifting_channels"]
    proj = 2 * hidden if cfg["projection_channels"] is None else cfg["projection_channels"]
    if int((lift / hidden) * hidden) != lift or int((proj / hidden) * hidden) != proj:
        refuse("lifting_channels", "not an exact ratio of hidden_channels")
    sd = model.state_dict()
    rows = _key_map(model)
    out = OrderedDict()
    for skey, nkey, kind, axis in rows:
        t = sd[skey].detach().cpu()
        if kind == "identity-affine":
            want = torch.ones_like(t) if skey.endswith("weight") else torch.zeros_like(t)
            if not torch.equal(t, want):
                refuse("norm", "neuraloperator's instance norm has no affine weights; these were trained")
            continue
        out[nkey] = _from_sciml(t.to(torch.float32), kind, axis, model.ndim)
    fact = cfg["factorization"]
    rank = cfg["rank"]
    meta = {
        "n_modes": tuple(cfg["n_modes"]), "in_channels": cfg["in_channels"], "out_channels": cfg["out_channels"],
        "hidden_channels": hidden, "n_layers": cfg["n_layers"],
        "lifting_channel_ratio": lift / hidden if lift % hidden else lift // hidden,
        "projection_channel_ratio": proj / hidden if proj % hidden else proj // hidden,
        "positional_embedding": "grid" if cfg["positional_embedding"] else None,
        "non_linearity": torch.nn.functional.gelu,
        "norm": {None: None, "group": "group_norm", "instance": "instance_norm"}[cfg["norm"]],
        "complex_data": False, "use_channel_mlp": cfg["channel_mlp_expansion"] is not None,
        "channel_mlp_dropout": 0, "channel_mlp_expansion": cfg["channel_mlp_expansion"] or 0.5,
        "channel_mlp_skip": cfg["channel_mlp_skip"], "fno_skip": cfg["skip"], "resolution_scaling_factor": None,
        "domain_padding": None, "fno_block_precision": "full", "stabilizer": None, "max_n_modes": None,
        "factorization": {None: None, "dense": None, "tucker": "Tucker", "cp": "CP"}[fact],
        "rank": (list(rank) if isinstance(rank, (list, tuple)) else rank) if fact in ("tucker", "cp") else 1.0,
        "fixed_rank_modes": False, "implementation": "factorized", "decomposition_kwargs": {}, "separable": False,
        "preactivation": False, "_version": "0.1.0", "args": (),
        "_name": "TFNO" if model.model_name == "tfno" else "FNO",
    }
    if cfg["channel_mlp_expansion"] is None and cfg["norm"] is not None:
        refuse("norm", "neuraloperator normalises twice per block without a channel MLP")
    out["_metadata"] = meta
    return out


def save_neuraloperator(model: FNO, path, *, overwrite: bool = False) -> Path:
    """Write :func:`to_neuraloperator_state_dict` of ``model`` with ``torch.save`` (atomically).

    An existing ``path`` is refused unless ``overwrite=True``. Returns ``path``.
    """
    from .._util.io import OutputLock, atomic_path, check_output

    sd = to_neuraloperator_state_dict(model)
    path = check_output(path, name="path", overwrite=overwrite, kinds=("zip",))
    with OutputLock(path), atomic_path(path, ".pt") as tmp:
        torch.save(sd, tmp)
    return path
