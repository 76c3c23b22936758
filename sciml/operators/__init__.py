"""Neural operators: ``torch.nn.Module`` s whose constructor arguments say everything.

Every model maps channel-first fields ``(batch, in_channels, *spatial)`` to
``(batch, out_channels, *spatial)`` and carries ``model.config``, a JSON-serialisable dict of its
constructor arguments, so a checkpoint is weights plus that dict::

    model = build_model("fno", in_channels=1, out_channels=1, n_modes=[16, 16])
    clone = build_model("fno", **model.config)
    clone.load_state_dict(model.state_dict())

``MODELS`` maps registry names to classes; ``build_model(name, **kwargs)`` builds one.
"""
from __future__ import annotations

from .deeponet import DeepONet, PODDeepONet
from .fno import FNO, TFNO, FNOBlock
from .graphcast import GraphCast
from .mg_tfno import MGTFNO
from .mgno import MgNO
from .patching import MultigridPatching2d
from .sfno import SFNO
from .spectral import SpectralConv
from .swin import SwinTransformer2d
from .unet import UNet

__all__ = [
    "SpectralConv",
    "FNOBlock",
    "FNO",
    "TFNO",
    "MGTFNO",
    "MgNO",
    "DeepONet",
    "PODDeepONet",
    "UNet",
    "GraphCast",
    "MultigridPatching2d",
    "MODELS",
    "build_model",
]

MODELS = {
    "fno": FNO,
    "tfno": TFNO,
    "mg-tfno": MGTFNO,
    "mgno": MgNO,
    "deeponet": DeepONet,
    "pod-deeponet": PODDeepONet,
    "unet": UNet,
    "sfno": SFNO,
    "swin": SwinTransformer2d,
    "graphcast": GraphCast,
}


def build_model(name: str, **kwargs):
    """Build the registered model ``name`` (see ``MODELS``) with constructor ``kwargs``.

    Raises ValueError for an unknown name (listing the known ones) or bad arguments.
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a string, got {type(name).__name__}")
    key = name.lower()
    if key not in MODELS:
        raise ValueError(f"name must be one of {', '.join(sorted(MODELS))}; got {name!r}")
    return MODELS[key](**kwargs)
