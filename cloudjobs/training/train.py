"""Training loop: deterministic, CPU-only, a handful of epochs on generated crops.

The same seed, data and thread count give the same weights bit for bit (seeded generator,
deterministic algorithms, fixed threads), so ``train-bootstrap`` reproduces the shipped model.
The epoch with the best validation accuracy is kept; the held-out test set is never seen here.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import torch
from torch import nn

from cloudjobs.training.data import Split
from cloudjobs.training.model import StressNet


@dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters; the defaults are what the shipped model was trained with."""

    epochs: int = 12
    batch_size: int = 64
    lr: float = 4e-3
    weight_decay: float = 1e-4
    seed: int = 0
    threads: int = 1
    outlier_weight: float = 0.0  # weight of the outlier-exposure loss (0 = none)


@dataclass
class TrainResult:
    """The trained model (best validation epoch) and its learning curve."""

    model: StressNet
    best_epoch: int
    best_val_accuracy: float
    history: list[dict[str, float]] = field(default_factory=list)


def seed_everything(seed: int, threads: int) -> torch.Generator:
    """Fix every source of randomness and the thread count; return the data generator."""
    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)
    return torch.Generator().manual_seed(seed)


def augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Flips, 90° rotations, brightness and a mild colour cast, per batch.

    Top-down plants have no up or left, so flips and rotations are free data. The colour
    cast stays small (±6 % per channel) so healthy green never drifts towards chlorotic yellow.
    """
    k = int(torch.randint(0, 4, (1,), generator=gen))
    x = torch.rot90(x, k, dims=(2, 3))
    if bool(torch.randint(0, 2, (1,), generator=gen)):
        x = torch.flip(x, dims=(3,))
    n = x.shape[0]
    brightness = 0.8 + 0.4 * torch.rand((n, 1, 1, 1), generator=gen)
    cast = 0.94 + 0.12 * torch.rand((n, 3, 1, 1), generator=gen)
    return (x * brightness * cast).clamp_(0.0, 1.0)


def train(train_set: Split, val_set: Split, cfg: TrainConfig, n_classes: int,
          log: Callable[[str], None] = print,
          outliers: npt.NDArray[np.float32] | None = None) -> TrainResult:
    """Train from scratch with AdamW and a one-cycle schedule; keep the best validation epoch.

    Channels-last memory format makes the CPU convolutions about 1.5x faster. With
    ``outliers`` and ``cfg.outlier_weight`` > 0, each batch also pulls the softmax of half a
    batch of outlier images towards uniform (outlier exposure).
    """
    gen = seed_everything(cfg.seed, cfg.threads)
    model = StressNet(n_classes)
    model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]  # stubs lack it
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    steps = cfg.epochs * math.ceil(len(train_set.y) / cfg.batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=steps)
    x, y = torch.from_numpy(train_set.x), torch.from_numpy(train_set.y)
    oe = None if outliers is None or cfg.outlier_weight <= 0 else torch.from_numpy(outliers)
    result, best_state = TrainResult(model, -1, -1.0), _snapshot(model)
    for epoch in range(cfg.epochs):
        start = time.perf_counter()
        loss = _epoch(model, opt, sched, (x, y, oe), cfg, gen)
        val_acc = accuracy(model, val_set)
        log(f"epoch {epoch}: loss {loss:.4f}, validation accuracy {val_acc:.4f}, "
            f"{time.perf_counter() - start:.0f} s")
        result.history.append({"epoch": epoch, "loss": round(loss, 4), "val_accuracy": val_acc})
        if val_acc > result.best_val_accuracy:
            result.best_epoch, result.best_val_accuracy = epoch, val_acc
            best_state = _snapshot(model)
    model.load_state_dict(best_state)
    model.to(memory_format=torch.contiguous_format)  # type: ignore[call-overload]
    result.model = model.eval()
    return result


def _snapshot(model: nn.Module) -> dict[str, torch.Tensor]:
    """A copy of the weights that later training steps do not change."""
    return {k: v.clone() for k, v in model.state_dict().items()}


def _epoch(model: nn.Module, opt: torch.optim.Optimizer,
           sched: torch.optim.lr_scheduler.LRScheduler,
           data: tuple[torch.Tensor, torch.Tensor, torch.Tensor | None],
           cfg: TrainConfig, gen: torch.Generator) -> float:
    """One pass over the shuffled training set; returns the mean loss."""
    model.train()
    x, y, oe = data
    batch_size = cfg.batch_size
    order = torch.randperm(len(y), generator=gen)
    total, loss_fn = 0.0, nn.CrossEntropyLoss(label_smoothing=0.05)
    for start in range(0, len(y), batch_size):
        idx = order[start:start + batch_size]
        opt.zero_grad(set_to_none=True)
        batch = augment(x[idx], gen).contiguous(memory_format=torch.channels_last)
        loss = loss_fn(model(batch), y[idx])
        if oe is not None:
            pick = torch.randint(0, len(oe), (max(batch_size // 2, 1),), generator=gen)
            out = augment(oe[pick], gen).contiguous(memory_format=torch.channels_last)
            # cross-entropy to the uniform distribution: -mean log p over classes
            loss = loss - cfg.outlier_weight * torch.log_softmax(model(out), 1).mean()
        loss.backward()
        opt.step()
        sched.step()
        total += float(loss.detach()) * len(idx)
    return total / len(y)


@torch.no_grad()
def accuracy(model: nn.Module, split: Split, batch_size: int = 256) -> float:
    """Share of correct top-1 predictions (model put in eval mode)."""
    model.eval()
    correct = 0
    for start in range(0, len(split.y), batch_size):
        logits = model(torch.from_numpy(split.x[start:start + batch_size]))
        correct += int((logits.argmax(1).numpy() == split.y[start:start + batch_size]).sum())
    return round(correct / max(len(split.y), 1), 4)

