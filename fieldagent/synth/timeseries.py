"""A time series of captures from one camera: plants grow, stress develops, faults happen.

Frame i is `render` of the spec with growth, stress severity and daylight set for its
timestamp, then the planned fault. Sensor noise differs per frame (as on a live camera), so
only a "frozen" frame repeats its predecessor's bytes.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from fieldagent.synth import faults
from fieldagent.synth.light import GreenhouseLight, Light, light_at
from fieldagent.synth.scene import render
from fieldagent.synth.spec import CONDITIONS, RGBImage, Scene, SceneSpec

FAULTS = ("blur", "fog", "dark", "overexposed", "moved", "frozen")
EMPTY_STRESS: Mapping[int, tuple[str, int]] = {}
EMPTY_FAULTS: Mapping[int, tuple[str, float]] = {}


@dataclass(frozen=True)
class SeriesFrame:
    """One capture: the image as the camera delivered it, and the truth behind it."""

    index: int
    timestamp: datetime
    image: RGBImage
    scene: Scene
    faults: tuple[str, ...]
    shift_xy: tuple[float, float]
    light: Light | None = None


def series(spec: SceneSpec, *, frames: int, start: datetime, interval: timedelta,
           stress_plan: Mapping[int, tuple[str, int]] = EMPTY_STRESS,
           fault_plan: Mapping[int, tuple[str, float]] = EMPTY_FAULTS,
           growth_per_frame: float = 0.002, daylight: bool = True,
           ramp_frames: int = 10,
           lighting: GreenhouseLight | None = None) -> Iterator[SeriesFrame]:
    """Yield `frames` captures starting at `start` (timezone-aware), `interval` apart.

    `stress_plan` maps a plant to (condition, first frame): severity then ramps linearly
    to 0.9 over `ramp_frames` frames. `fault_plan` maps a frame to (fault, strength):
    blur (sigma px), fog (0..1), dark (factor), overexposed (gain), moved (pixels, down
    and right, and the camera stays moved), frozen (repeat the previous frame's bytes).
    A frame's `faults` holds its own planned fault, plus "moved" on every frame displaced
    from the original view (`shift_xy` is the total displacement); `scene` is always the
    truth of that moment, also for a frozen frame.

    `lighting` replaces the simple `daylight` model by the realistic greenhouse light of
    `synth.light` (sun elevation, colour temperature, clouds seeded by `spec.seed`, shade
    screens, grow lamps); each frame then carries its `light`.
    """
    _check_plans(spec, frames, start, stress_plan, fault_plan)
    moved = (0.0, 0.0)
    previous: RGBImage | None = None
    for i in range(frames):
        when = start + i * interval
        frame_spec = _frame_spec(spec, i, when, stress_plan, growth_per_frame,
                                 daylight and lighting is None, ramp_frames)
        light = light_at(when, lighting, seed=spec.seed) if lighting is not None else None
        if light is not None:
            frame_spec = dataclasses.replace(frame_spec, light=spec.light * light.light,
                                             tint=light.tint)
        scene = render(frame_spec)
        name, strength = fault_plan.get(i, ("", 0.0))
        if name == "moved":
            moved = (moved[0] + strength, moved[1] + strength)
        image = faults.shift(scene.image, *moved) if moved != (0.0, 0.0) else scene.image
        if name == "frozen" and previous is not None:
            image = previous
        elif name not in ("", "moved"):
            image = _apply(name, strength, image, seed=spec.seed * 1000 + i)
        names = tuple(n for n in (name, "moved" if moved != (0.0, 0.0) else "") if n)
        yield SeriesFrame(i, when, image, scene, tuple(dict.fromkeys(names)), moved, light)
        previous = image


def _frame_spec(spec: SceneSpec, i: int, when: datetime, stress_plan: Mapping[int, tuple[str, int]],
                growth_per_frame: float, daylight: bool, ramp_frames: int) -> SceneSpec:
    """The spec of frame i: grown plants, ramped stress, light of the hour, fresh noise."""
    stress = dict(spec.stress)
    for plant, (condition, first) in stress_plan.items():
        if i >= first:
            stress[plant] = (condition, round(0.9 * min(1.0, (i - first + 1) / ramp_frames), 4))
    light, warmth = spec.light, spec.warmth
    if daylight:
        sun = _sun(when)
        light *= 0.72 + 0.33 * sun
        warmth = float(np.clip(warmth + 0.25 * (1 - sun) * (sun > 0), -1.0, 1.0))
    growth = min(3.0, spec.growth + growth_per_frame * i)
    return dataclasses.replace(spec, growth=growth, stress=stress, light=light, warmth=warmth,
                               frame_seed=spec.frame_seed + i)


def _sun(when: datetime) -> float:
    """0 at night, rising to 1 at noon (the timestamp's own clock is taken as solar time)."""
    hour = when.hour + when.minute / 60 + when.second / 3600
    return max(0.0, math.sin(math.pi * (hour - 6.0) / 12.0))


def _apply(name: str, strength: float, image: RGBImage, *, seed: int) -> RGBImage:
    """Apply one named fault with its strength."""
    if name == "blur":
        return faults.blur(image, strength)
    if name == "fog":
        return faults.haze(image, strength, seed=seed)
    if name == "dark":
        return faults.darken(image, strength, seed=seed)
    return faults.overexpose(image, strength)


def _check_plans(spec: SceneSpec, frames: int, start: datetime,
                 stress_plan: Mapping[int, tuple[str, int]],
                 fault_plan: Mapping[int, tuple[str, float]]) -> None:
    """Refuse plans that cannot be followed, naming the entry at fault."""
    if start.tzinfo is None:
        raise ValueError("start must be timezone-aware (UTC), e.g. datetime(..., tzinfo=UTC)")
    if frames < 0:
        raise ValueError(f"frames must be >= 0, got {frames}")
    for plant, (condition, _first) in stress_plan.items():
        if condition not in CONDITIONS or not 0 <= plant < spec.rows * spec.cols:
            raise ValueError(f"stress_plan entry {plant}: {condition!r} is not a known "
                             f"condition for a plant of this {spec.rows}x{spec.cols} grid")
    for i, (name, _strength) in fault_plan.items():
        if name not in FAULTS:
            raise ValueError(f"fault_plan frame {i}: fault {name!r} is not one of {FAULTS}")
        if name == "frozen" and i == 0:
            raise ValueError("fault_plan: frame 0 cannot be 'frozen' (there is no earlier frame)")
