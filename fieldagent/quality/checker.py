"""One camera's quality checks: metrics, its own baseline, its moved-reference, its last frame.

The checker is the only stateful part of ``fieldagent.quality``; the pipeline
owns one per camera and can persist it with :meth:`QualityChecker.state`.
"""

from __future__ import annotations

import base64
import dataclasses
import math
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from fieldagent.errors import ImageRejected
from fieldagent.quality import metrics, rules
from fieldagent.quality.baseline import Baseline
from fieldagent.quality.config import QualityConfig
from fieldagent.quality.exposure import HourlyLuminance
from fieldagent.quality.registration import block_mean
from fieldagent.quality.report import FLAG_NAMES, QualityFlag, QualityReport

# Metrics whose recent good values form the baseline.
BASELINE_METRICS = (
    "mean_luminance", "clipped_low", "clipped_high", "blur_effect", "detail",
    "relative_contrast", "dark_channel",
)  # fmt: skip
_STATE_VERSION = 1
# A refreshed reference inherits the measured shift only if it is at least this
# large (analysis px), so registration noise does not random-walk the offset.
_OFFSET_DEADBAND_PX = 0.5
# Background masks covering less than this share are too small to register on.
_MIN_BACKGROUND_SHARE = 0.05
_UPSAMPLE = 20
# Brightness floor for normalised metrics (a dark frame is flagged before they matter).
_MIN_LUMINANCE = 0.01
# Plant pixels below this share of the frame are too few to judge their exposure.
_MIN_PLANT_SHARE = 0.005
_SAMPLE_STEP = 4
_SHIFT_KEYS = ("shift_x_px", "shift_y_px", "shift_px", "shift_fraction")


@dataclass
class _Reference:
    """The frame shifts are measured against, at registration scale.

    ``offset`` (dy, dx, analysis px) is this reference's own shift from the
    camera's original view, so shifts accumulate across refreshes.
    """

    gray: np.ndarray
    mask: np.ndarray
    factor: int
    offset: tuple[float, float]
    age: int = 0
    # gray and mask compressed for state(), made once per reference: the state is saved
    # with every image (the agent's per-image checkpoint), the reference changes rarely
    packed: dict[str, str] | None = field(default=None, init=False, repr=False, compare=False)


class QualityChecker:
    """One camera's quality checks with its own baseline (rolling medians of good frames)."""

    def __init__(self, config: QualityConfig) -> None:
        self.config = config
        self._baseline = Baseline(
            BASELINE_METRICS, window=config.baseline_window, warmup=config.warmup_frames
        )
        self._hourly = HourlyLuminance(
            per_hour=config.exposure_frames_per_hour, min_samples=config.exposure_min_samples
        )
        self._reference: _Reference | None = None
        self._fingerprint: bytes | None = None
        self._sample: np.ndarray | None = None

    def check(
        self, rgb: np.ndarray, *, background: np.ndarray | None = None, hour: float | None = None
    ) -> QualityReport:
        """Judge one analysis frame; learn from it only if it is good.

        ``background`` marks pixels that are not plant (True); plants grow,
        the background does not, so camera motion is measured on it alone.
        ``hour`` is the local hour of the capture (0-24): brightness is also
        compared with this camera's usual brightness at that hour.
        """
        image = _validated(rgb)
        mask = _validated_mask(background, image.shape[:2])
        gray = metrics.luminance(image)
        values = self._measure(image, gray, mask)
        base = self._baseline.medians()
        flags, shift = self._judge(image, gray, mask, values, base)
        if hour is not None:
            flags = self._hourly_flags(flags, values, hour)
        values.update({f"baseline_{k}": v for k, v in base.items()})
        report = _report(flags, values, shift)
        self._learn(report, gray, mask, shift)
        if report.ok and hour is not None:
            self._hourly.update(hour, values["mean_luminance"])
        return report

    def _hourly_flags(
        self, flags: list[QualityFlag], values: dict[str, float], hour: float
    ) -> list[QualityFlag]:
        """Add under/overexposed against this hour's usual brightness, unless the camera is
        dark at night by design and it is night, or an exposure flag is already raised."""
        usual = self._hourly.usual(hour)
        if usual is not None:
            values["usual_mean_luminance_this_hour"] = usual
        night = self.config.night
        if night.dark and night.is_night(hour):
            return [_expected_at_night(f) if f.name == "dark" else f for f in flags]
        if any(f.name in ("dark", "underexposed", "overexposed") for f in flags):
            return flags
        flag = rules.relative_exposure_flag(values["mean_luminance"], usual, self.config)
        return flags if flag is None else [flag, *flags]

    def state(self) -> dict[str, Any]:
        """JSON-serialisable: baseline history, last fingerprint, moved-reference."""
        ref = self._reference
        return {
            "version": _STATE_VERSION,
            "baseline": self._baseline.state(),
            "exposure": self._hourly.state(),
            "fingerprint": self._fingerprint.hex() if self._fingerprint else None,
            "reference": None if ref is None else _reference_state(ref),
        }

    @classmethod
    def from_state(cls, config: QualityConfig, state: Mapping[str, Any]) -> QualityChecker:
        """Rebuild a checker saved by :meth:`state`; raises ValueError if it is unreadable."""
        if state.get("version") != _STATE_VERSION:
            raise ValueError(f"quality state version {state.get('version')!r} is not supported")
        checker = cls(config)
        try:
            checker._baseline.load(state.get("baseline") or {})
            checker._hourly.load(state.get("exposure") or {})
            fp = state.get("fingerprint")
            checker._fingerprint = bytes.fromhex(fp) if fp else None
            ref = state.get("reference")
            checker._reference = _reference_from_state(ref) if ref else None
        except (KeyError, TypeError, ValueError, zlib.error) as exc:
            raise ValueError(
                f"quality state is unreadable ({exc}); start the camera fresh"
            ) from exc
        return checker

    def reset_reference(self) -> None:
        """Forget the moved-reference, e.g. after a technician re-aimed the camera on purpose."""
        self._reference = None

    def reset_baseline(self) -> None:
        """Forget the camera's usual metrics, e.g. after the scene was rebuilt."""
        self._baseline.clear()

    def _measure(
        self, image: np.ndarray, gray: np.ndarray, mask: np.ndarray | None
    ) -> dict[str, float]:
        cfg = self.config
        low, high = metrics.clipped_fractions(
            gray, low=cfg.clip_low_level, high=cfg.clip_high_level
        )
        lum = metrics.mean_luminance(gray)
        rms, lap = metrics.rms_contrast(gray), metrics.laplacian_variance(gray)
        brightness = max(lum, _MIN_LUMINANCE)
        values = {
            "mean_luminance": lum,
            "clipped_low": low,
            "clipped_high": high,
            "blur_effect": metrics.blur_score(gray),
            "laplacian_var": lap,
            "detail": lap / brightness**2,
            "rms_contrast": rms,
            "relative_contrast": rms / brightness,
            "dark_channel": metrics.dark_channel_mean(image),
        }
        if mask is not None and np.count_nonzero(~mask) >= _MIN_PLANT_SHARE * mask.size:
            values["saturated_plant"] = metrics.saturated_fraction(
                image, mask=~mask, high=cfg.clip_high_level
            )
        return values

    def _judge(
        self,
        image: np.ndarray,
        gray: np.ndarray,
        mask: np.ndarray | None,
        values: dict[str, float],
        base: dict[str, float],
    ) -> tuple[list[QualityFlag], tuple[float, float] | None]:
        """Flags and the measured shift.

        At night nothing else can be judged; a resent frame's other defects are old news.
        """
        flags = rules.exposure_flags(values, base, self.config)
        if any(f.name == "dark" for f in flags):
            return flags, None
        frozen = self._frozen_flag(image, values)
        if frozen is not None:
            return [*flags, frozen], None
        flags.extend(self._sharpness_flags(values, base, flags))
        shift = self._measure_shift(gray, mask, values)
        if (
            shift is not None
            and flags
            and values["registration_error"] > (self.config.shift_trust_max_error)
        ):
            # fog or blur spoilt the registration: keep the zones where they were
            for key in _SHIFT_KEYS:
                values.pop(key, None)
            return flags, None
        if shift is not None:
            moved = rules.moved_flag(values, gray.shape, self.config, view_check=not flags)
            flags.extend([moved] if moved else [])
        return flags, shift

    def _frozen_flag(self, image: np.ndarray, values: dict[str, float]) -> QualityFlag | None:
        """Exact repeat (fingerprint) or no sampled pixel changed by more than the epsilon."""
        if not self.config.enabled("frozen"):
            return None
        fingerprint = metrics.frame_fingerprint(image, step=_SAMPLE_STEP)
        sample = image[::_SAMPLE_STEP, ::_SAMPLE_STEP].copy()  # the caller may reuse its buffer
        prev, prev_fp = self._sample, self._fingerprint
        self._fingerprint, self._sample = fingerprint, sample
        diff = math.inf
        if prev is not None and prev.shape == sample.shape:
            diff = float(np.max(np.abs(sample - prev)))
            values["max_pixel_change"] = diff
        if fingerprint == prev_fp or diff <= self.config.frozen_max_diff:
            return rules.frozen_flag(0.0 if fingerprint == prev_fp else diff, self.config)
        return None

    def _sharpness_flags(
        self, values: dict[str, float], base: dict[str, float], found: list[QualityFlag]
    ) -> list[QualityFlag]:
        """Blur and fog; fog is not judged on a blown-out frame (clipping lifts the darks)."""
        flags = [rules.blur_flag(values, base, self.config)]
        if all(f.name != "overexposed" for f in found):
            flags.append(rules.fog_flag(values, base, self.config))
        return [f for f in flags if f is not None]

    def _measure_shift(
        self, gray: np.ndarray, mask: np.ndarray | None, values: dict[str, float]
    ) -> tuple[float, float] | None:
        """Registration against the reference: measured (dy, dx) in analysis px, or None."""
        ref = self._reference
        if ref is None or not self.config.enabled("moved"):
            return None
        small, small_mask = _registration_inputs(gray, mask, ref.factor)
        if small.shape != ref.gray.shape:
            self._reference = None  # the camera's resolution changed: start over
            return None
        dy, dx, error = metrics.displacement(
            ref.gray, small, mask=small_mask, reference_mask=ref.mask, upsample=_UPSAMPLE
        )
        measured = (dy * ref.factor, dx * ref.factor)
        total_y, total_x = ref.offset[0] + measured[0], ref.offset[1] + measured[1]
        h, w = gray.shape
        values.update({
            "shift_x_px": total_x,
            "shift_y_px": total_y,
            "shift_px": math.hypot(total_x, total_y),
            "shift_fraction": max(abs(total_x) / w, abs(total_y) / h),
            "registration_error": error,
        })  # fmt: skip
        return measured

    def _learn(
        self,
        report: QualityReport,
        gray: np.ndarray,
        mask: np.ndarray | None,
        shift: tuple[float, float] | None,
    ) -> None:
        """Baseline and reference learn only from good frames; never while the camera is moved."""
        if not report.ok:
            return
        self._baseline.update(report.metrics)
        if "moved" in report.flag_names or not self.config.enabled("moved"):
            return
        ref = self._reference
        if ref is None:
            self._reference = _new_reference(gray, mask, self.config, (0.0, 0.0))
            return
        ref.age += 1
        if ref.age >= self.config.reference_refresh_frames and shift is not None:
            keep = math.hypot(*shift) < _OFFSET_DEADBAND_PX
            offset = ref.offset if keep else (ref.offset[0] + shift[0], ref.offset[1] + shift[1])
            self._reference = _new_reference(gray, mask, self.config, offset)


def _expected_at_night(flag: QualityFlag) -> QualityFlag:
    """The dark flag of a camera that is dark at night by design: still blocking (nothing
    can be measured), but its sentence says this is expected rather than asking for a fix."""
    msg = (
        f"night: too dark to analyse (mean brightness {flag.value:.3f}), as expected for this "
        "site's cameras at night (quality.night)"
    )
    return dataclasses.replace(flag, message=msg)


def _report(
    flags: list[QualityFlag], values: dict[str, float], shift: tuple[float, float] | None
) -> QualityReport:
    flags.sort(key=lambda f: FLAG_NAMES.index(f.name))
    shift_xy = (0.0, 0.0)
    if shift is not None:
        shift_xy = (values["shift_x_px"], values["shift_y_px"])
    ok = not any(f.blocking for f in flags)
    return QualityReport(ok=ok, flags=tuple(flags), metrics=values, shift_xy=shift_xy)


def _validated(rgb: np.ndarray) -> np.ndarray:
    arr = np.asarray(rgb)
    if arr.ndim != 3 or arr.shape[2] != 3 or min(arr.shape[:2]) < 32:
        raise ImageRejected(
            "bad_array",
            f"quality checks need an RGB image of at least 32x32 px as (H, W, 3), got {arr.shape}",
        )
    if arr.dtype.kind != "f":
        raise ImageRejected(
            "bad_array", f"quality checks need float RGB in [0, 1], got dtype {arr.dtype}"
        )
    return arr.astype(np.float32, copy=False)


def _validated_mask(mask: np.ndarray | None, shape: tuple[int, ...]) -> np.ndarray | None:
    if mask is None:
        return None
    arr = np.asarray(mask, dtype=bool)
    if arr.shape != shape:
        raise ValueError(f"background mask has shape {arr.shape}, the image {shape}")
    return arr


def _registration_inputs(
    gray: np.ndarray, mask: np.ndarray | None, factor: int
) -> tuple[np.ndarray, np.ndarray]:
    """Gray copy and mask at registration scale.

    Always a mask: the masked NCC + Lucas-Kanade path measured more robust than
    plain phase correlation (growth rims, plain backgrounds, large shifts).
    Without a usable background mask every pixel counts.
    """
    small = block_mean(gray, factor)
    if mask is not None:
        small_mask = block_mean(mask, factor) >= 0.75
        if small_mask.mean() >= _MIN_BACKGROUND_SHARE:
            return small, small_mask
    return small, np.ones(small.shape, dtype=bool)


def _new_reference(
    gray: np.ndarray, mask: np.ndarray | None, cfg: QualityConfig, offset: tuple[float, float]
) -> _Reference:
    factor = max(1, round(max(gray.shape) / cfg.registration_side))
    small, small_mask = _registration_inputs(gray, mask, factor)
    return _Reference(small, small_mask, factor, offset)


def _reference_state(ref: _Reference) -> dict[str, Any]:
    if ref.packed is None:
        gray8 = np.clip(np.rint(ref.gray * 255.0), 0, 255).astype(np.uint8)
        ref.packed = {"gray": _pack(gray8.tobytes()),
                      "mask": _pack(np.packbits(ref.mask).tobytes())}
    return {
        "shape": list(ref.gray.shape),
        "factor": ref.factor,
        **ref.packed,
        "offset": list(ref.offset),
        "age": ref.age,
    }


def _reference_from_state(state: Mapping[str, Any]) -> _Reference:
    h, w = (int(v) for v in state["shape"])
    gray = np.frombuffer(_unpack(state["gray"]), dtype=np.uint8).reshape(h, w)
    bits = np.frombuffer(_unpack(state["mask"]), dtype=np.uint8)
    mask = np.unpackbits(bits)[: h * w].reshape(h, w).astype(bool)
    dy, dx = (float(v) for v in state["offset"])
    gray_f = gray.astype(np.float32) / 255.0
    return _Reference(gray_f, mask, int(state["factor"]), (dy, dx), int(state.get("age", 0)))


def _pack(raw: bytes) -> str:
    return base64.b64encode(zlib.compress(raw, 6)).decode("ascii")


def _unpack(text: str) -> bytes:
    return zlib.decompress(base64.b64decode(text))
