"""The stress classifier network: a small CNN meant for a Raspberry-Pi-class CPU.

A stride-2 stem conv and two max-pools bring 64 px down to 8 px early (where most of the
cost would be), then 3x3 conv blocks (conv, BatchNorm, ReLU) widen 16 -> 32 -> 64 -> 64
channels, followed by global average pooling and one linear layer: about 61k parameters and
5 M multiply-adds per crop. Every op has an INT8 kernel in ONNX Runtime (BatchNorm folds into
the conv at export), so the quantized model runs end to end in integer arithmetic.
"""

from __future__ import annotations

import torch
from torch import nn

# (out channels, stride) per conv block; "pool" is a 2x2 max-pool.
LAYOUT: tuple[tuple[int, int] | str, ...] = ((16, 2), "pool", (32, 1), "pool", (64, 1), (64, 1))


def _block(c_in: int, c_out: int, stride: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, kernel_size=3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    )


class StressNet(nn.Module):
    """RGB (N, 3, 64, 64) in [0, 1] -> logits (N, n_classes)."""

    def __init__(self, n_classes: int = 4,
                 layout: tuple[tuple[int, int] | str, ...] = LAYOUT) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c_in = 3
        for item in layout:
            if isinstance(item, str):
                layers.append(nn.MaxPool2d(2))
            else:
                layers.append(_block(c_in, item[0], item[1]))
                c_in = item[0]
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Linear(c_in, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits; softmax is left to the runtime (the model contract)."""
        return self.head(self.embed(x))

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """The penultimate features (N, C): what the abstention measures distances on."""
        return torch.flatten(self.pool(self.features(x)), 1)


class WithFeatures(nn.Module):
    """The network with a second output, its penultimate features, for export.

    The agent reads ``features`` to tell an input unlike the training data
    (``fieldagent.inference.abstain``); ``logits`` stays the first output.
    """

    def __init__(self, net: StressNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(logits, features)."""
        f = self.net.embed(x)
        return self.net.head(f), f


def count_parameters(model: nn.Module) -> int:
    """Trainable parameters, reported in the manifest."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
