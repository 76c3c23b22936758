"""A tiny conv model and data for trainer tests (importable by torchrun subprocesses)."""
import torch
from torch import nn
from torch.utils.data import TensorDataset


class Tiny(nn.Module):
    model_name = "tiny"

    def __init__(self, channels: int = 1, width: int = 6, dropout: float = 0.0):
        super().__init__()
        self.config = {"channels": channels, "width": width, "dropout": dropout}
        self.net = nn.Sequential(nn.Conv2d(channels, width, 3, padding=1, padding_mode="circular"), nn.GELU(),
                                 nn.Dropout(dropout), nn.Conv2d(width, channels, 3, padding=1, padding_mode="circular"))

    def forward(self, x):
        return self.net(x)


def builder(name, **config):
    assert name == "tiny", name
    return Tiny(**config)


def smoothing_data(n=64, s=8, seed=0, dtype=torch.float32):
    """y = 4-neighbour average of x + 0.5 x (a linear operator a 3x3 conv net can learn)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 1, s, s, generator=g, dtype=dtype)
    return TensorDataset(x, _smooth(x))


def _smooth(x):
    """Half the field plus a quarter of each of its 4 periodic neighbours."""
    return 0.5 * x + 0.25 * (x.roll(1, -1) + x.roll(-1, -1) + x.roll(1, -2) + x.roll(-1, -2))


def band_limited_smoothing_data(n=64, s=16, seed=0):
    """The same smoothing operator on band-limited inputs (|k| <= 3), which an FNO with 8 modes resolves."""
    g = torch.Generator().manual_seed(seed)
    c = torch.randn(n, 1, 7, 4, 2, generator=g)
    spec = torch.zeros(n, 1, s, s // 2 + 1, dtype=torch.complex64)
    spec[:, :, list(range(4)) + list(range(-3, 0)), :4] = torch.complex(c[..., 0], c[..., 1])
    x = torch.fft.irfft2(spec, s=(s, s)) * s
    return TensorDataset(x, _smooth(x))
