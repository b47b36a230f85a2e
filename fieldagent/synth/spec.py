"""The data types of the synthetic scene generator: what to draw and what was drawn."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

CONDITIONS: tuple[str, ...] = ("healthy", "chlorosis", "necrosis", "wilting", "stunted")
MODEL_CLASSES: tuple[str, ...] = ("healthy", "chlorosis", "necrosis", "wilting")
LAYOUTS: tuple[str, ...] = ("pots", "rows")

RGBImage = npt.NDArray[np.uint8]
FloatImage = npt.NDArray[np.floating[Any]]  # float32 in practice
BoolMask = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class SceneSpec:
    """What to draw. Same spec -> identical pixels; every random choice derives from `seed`.

    `stress` maps a plant index (row-major: ``row * cols + col``) to ``(condition, severity)``.
    `frame_seed` varies only the sensor noise, so consecutive captures of an unchanged
    scene differ the way real frames do (a frozen camera repeats bytes; a live one never does).
    `tint` multiplies the red, green and blue exposure (the colour of the light, see
    `synth.light`). `card_box` (fractions of the frame) draws a ColorChecker-like card under
    the same light; `card_cover` hides that share of it (from the right) behind a leaf.
    """

    width: int = 1600
    height: int = 1200
    layout: str = "pots"
    rows: int = 3
    cols: int = 4
    seed: int = 0
    growth: float = 1.0
    stress: Mapping[int, tuple[str, float]] = field(default_factory=dict)
    light: float = 1.0
    warmth: float = 0.0
    frame_seed: int = 0
    tint: tuple[float, float, float] = (1.0, 1.0, 1.0)
    card_box: tuple[float, float, float, float] | None = None
    card_cover: float = 0.0

    def __post_init__(self) -> None:
        """Refuse specs that cannot be drawn, with a sentence saying what to change."""
        if self.width < 16 or self.height < 16:
            raise ValueError(f"scene size {self.width}x{self.height} is too small; use >= 16 px")
        if self.layout not in LAYOUTS:
            raise ValueError(f"layout {self.layout!r} is unknown; use one of {LAYOUTS}")
        if self.rows < 1 or self.cols < 1:
            raise ValueError(f"grid {self.rows}x{self.cols} is empty; rows and cols must be >= 1")
        if not 0.05 <= self.growth <= 3.0:
            raise ValueError(f"growth {self.growth} is outside 0.05..3.0")
        if not 0.0 <= self.light <= 5.0 or not -1.0 <= self.warmth <= 1.0:
            raise ValueError("light must be in 0..5 and warmth in -1..1")
        if not all(0.0 <= t <= 5.0 for t in self.tint):
            raise ValueError(f"tint {self.tint} must be three gains in 0..5")
        if not 0.0 <= self.card_cover <= 1.0:
            raise ValueError(f"card_cover {self.card_cover} is outside 0..1")
        for index, (condition, severity) in self.stress.items():
            if condition not in CONDITIONS:
                raise ValueError(f"plant {index}: condition {condition!r} not in {CONDITIONS}")
            if not 0.0 <= severity <= 1.0:
                raise ValueError(f"plant {index}: severity {severity} is outside 0..1")
            count = self.rows * self.cols
            if not 0 <= index < count:
                raise ValueError(f"stress names plant {index} but the grid has {count} plants "
                                 f"(indices 0..{count - 1})")


@dataclass(frozen=True)
class PlantTruth:
    """Ground truth of one plant: where it is and what it suffers from."""

    index: int
    row: int
    col: int
    center_xy: tuple[float, float]
    pot_box: tuple[int, int, int, int]
    condition: str
    severity: float


@dataclass(frozen=True)
class Scene:
    """A rendered scene: the image and its exact ground truth."""

    spec: SceneSpec
    image: RGBImage
    plant_mask: BoolMask
    plants: tuple[PlantTruth, ...]
    grid_box: tuple[float, float, float, float]
