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
    y = 0.5 * x + 0.25 * (x.roll(1, -1) + x.roll(-1, -1) + x.roll(1, -2) + x.roll(-1, -2))
    return TensorDataset(x, y)
