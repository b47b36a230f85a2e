"""From one camera image to quality flags, regions, signals, model output and alerts.

``CameraPipeline.process`` reads top to bottom in the order the data flows:
decode -> colour -> segment -> quality -> regions -> signals -> model -> alerts.
Everything a camera must remember between images (usual light, quality
baseline, zone histories, alert streaks) lives in its ``CameraPipeline``.
Colour is corrected first (card or white balance), so segmentation, signals
and the model see the same colours at dawn and at noon; quality judges the
frame as the camera delivered it.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from fieldagent.alerts import CAMERA_LEVEL, Alert, AlertEngine, Observation
from fieldagent.colour import ColourCorrector, ColourReport
from fieldagent.config.site import CameraConfig, SiteConfig
from fieldagent.decode import Frame, decode
from fieldagent.errors import ImageRejected
from fieldagent.inference.session import ModelOutput, StressModel
from fieldagent.quality.checker import QualityChecker
from fieldagent.quality.report import QualityReport
from fieldagent.roi.extract import Roi, crop, extract_rois
from fieldagent.roi.segment import segment_plants
from fieldagent.signals.baseline import ZoneHistory
from fieldagent.signals.compute import compute_signals
from fieldagent.signals.light import FLAG_LIGHT, light_gate
from fieldcontract.records import ZoneRecord

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RoiResult:
    """One region of one image: where it is, what was measured, what the model said."""

    id: str
    bbox: tuple[int, int, int, int]
    trusted: bool
    flags: tuple[str, ...]
    signals: dict[str, float]
    model: ModelOutput | None

    def to_dict(self, frame_size: tuple[int, int]) -> dict[str, Any]:
        """The zone as ``fieldagent process`` prints it (the zone record's own fields)."""
        return {
            "id": self.id,
            "bbox": list(self._relative_bbox(frame_size)),
            "trusted": self.trusted,
            "flags": list(self.flags),
            "signals": self._compact_signals(),
            "model": self.model.to_dict() if self.model else None,
        }

    def to_record(self, frame_size: tuple[int, int], *, ts: datetime, camera: str,
                  image_sha256: str | None = None, file: str | None = None) -> ZoneRecord:
        """The zone record that crosses to the cloud: box as fractions of the frame,
        signals at 4 significant digits, the model's output, the image it came from."""
        return ZoneRecord(
            ts=ts, camera=camera, id=self.id, bbox=self._relative_bbox(frame_size),
            trusted=self.trusted, flags=tuple(self.flags), signals=self._compact_signals(),
            model=self.model.to_record() if self.model else None,
            image_sha256=image_sha256, file=file,
        )

    def _relative_bbox(self, frame_size: tuple[int, int]) -> tuple[float, ...]:
        w, h = frame_size
        x0, y0, x1, y1 = self.bbox
        return (round(x0 / w, 4), round(y0 / h, 4), round(x1 / w, 4), round(y1 / h, 4))

    def _compact_signals(self) -> dict[str, float | None]:
        return {k: _compact(v) for k, v in self.signals.items()}


@dataclass(frozen=True)
class ImageResult:
    """Everything the agent learned from one image (or why it could not).

    ``frame`` is the image as the camera delivered it (quality is judged on it,
    offloaded crops come from it); ``corrected_rgb`` is the same frame in
    corrected colour, what segmentation, signals and the model saw. ``colour``
    says what correction was applied; ``light_gate`` why the zones were not
    compared with their baselines (None when they were).
    """

    image: str
    camera: str
    status: str
    reason: str | None = None
    message: str | None = None
    captured_at: datetime | None = None
    frame: Frame | None = None
    quality: QualityReport | None = None
    colour: ColourReport | None = None
    light_gate: str | None = None
    corrected_rgb: np.ndarray | None = None
    plant_mask: np.ndarray | None = None
    rois: tuple[Roi, ...] = ()
    results: tuple[RoiResult, ...] = ()
    alerts: tuple[Alert, ...] = ()
    timings_ms: dict[str, float] = field(default_factory=dict)
    open_alerts: tuple[tuple[str, str], ...] = ()
    """(rule, zone) of every alert open after this image, raised now or earlier."""

    def to_dict(self) -> dict[str, Any]:
        """The JSON line ``fieldagent process`` prints."""
        d: dict[str, Any] = {"image": self.image, "camera": self.camera, "status": self.status}
        if self.status != "ok":
            d.update(reason=self.reason, message=self.message, timings_ms=self.timings_ms)
            return d
        assert self.frame is not None and self.quality is not None
        d["captured_at"] = self.captured_at.isoformat() if self.captured_at else None
        d["size"] = {"full": list(self.frame.full_size), "analysis": list(self.frame.size)}
        d["quality"] = self.quality.to_dict()
        if self.colour is not None:
            d["colour"] = {**self.colour.to_dict(), "not_compared_because": self.light_gate}
        d["rois"] = [r.to_dict(self.frame.size) for r in self.results]
        d["alerts"] = [a.to_dict() for a in self.alerts]
        d["timings_ms"] = self.timings_ms
        return d


class CameraPipeline:
    """Analyses one camera's images in order, remembering its baselines."""

    def __init__(self, site: SiteConfig, camera: CameraConfig, model: StressModel | None) -> None:
        self.site, self.camera, self.model = site, camera, model
        self.colour = ColourCorrector(camera.colour)
        self.quality = QualityChecker(site.analysis.quality)
        self.histories: dict[str, ZoneHistory] = {}
        self.alerts = AlertEngine(site.alerts.active_rules, site=site.site.id, camera=camera.id)

    def state(self) -> dict[str, Any]:
        """What a restart must not forget: quality baselines and the moved-reference, each
        zone's signal history, open alerts. JSON-ready; see :meth:`restore`."""
        return {
            "colour": self.colour.state(),
            "quality": self.quality.state(),
            "zones": {z: h.state() for z, h in self.histories.items()},
            "alerts": self.alerts.state(),
        }

    def restore(self, state: Mapping[str, Any]) -> None:
        """Continue from :meth:`state`. An unreadable part is logged and started fresh: a
        camera that relearns its baseline is better than an agent that will not start."""
        cfg = self.site.analysis
        try:
            self.colour = ColourCorrector.from_state(self.camera.colour, state.get("colour") or {})
        except ValueError as exc:
            log.warning("camera %s: %s", self.camera.id, exc)
        try:
            self.quality = QualityChecker.from_state(cfg.quality, state.get("quality") or {})
        except ValueError as exc:
            log.warning("camera %s: %s", self.camera.id, exc)
        for zone, s in (state.get("zones") or {}).items():
            try:
                self.histories[zone] = ZoneHistory.from_state(cfg.signals, s)
            except (ValueError, KeyError, TypeError) as exc:
                log.warning("camera %s zone %s: signal history unreadable (%s); relearning",
                            self.camera.id, zone, exc)
        try:
            self.alerts.restore(state.get("alerts") or {})
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("camera %s: alert state unreadable (%s); open alerts may be raised "
                        "again", self.camera.id, exc)

    def process(
        self,
        path: str | os.PathLike[str],
        *,
        nir_path: str | os.PathLike[str] | None = None,
        captured_at: datetime | None = None,
    ) -> ImageResult:
        """Analyse one image file. Bad input gives ``status='rejected'``, never an exception."""
        timings: dict[str, float] = {}
        try:
            with _timed(timings, "decode"):
                frame = self._decode(path)
                nir = self._decode_nir(nir_path, frame) if nir_path else None
        except ImageRejected as exc:
            return ImageResult(
                str(path), self.camera.id, "rejected", exc.reason, str(exc), timings_ms=timings
            )
        when = captured_at or frame.captured_at or _file_time(path)
        try:
            return self.analyze(frame, image=str(path), captured_at=when, nir=nir, timings=timings)
        except Exception as exc:  # a bug on one image must not stop the camera's sequence
            log.exception("analysis of %s failed; the image is skipped", path)
            message = (
                f"{path}: analysis failed ({type(exc).__name__}: {exc}); the image was skipped. "
                "Please report this with the image attached."
            )
            return ImageResult(
                str(path),
                self.camera.id,
                "rejected",
                "analysis_failed",
                message,
                timings_ms=timings,
            )

    def analyze(
        self,
        frame: Frame,
        *,
        image: str,
        captured_at: datetime,
        nir: np.ndarray | None = None,
        timings: dict[str, float] | None = None,
    ) -> ImageResult:
        """The analysis proper, on an already decoded frame."""
        t = timings if timings is not None else {}
        cfg = self.site.analysis
        start = time.perf_counter()
        raw, hour = frame, self._hour(captured_at)
        with _timed(t, "colour"):
            rgb, colour = self.colour.correct(raw.rgb)
            frame = dataclasses.replace(raw, rgb=rgb)
        with _timed(t, "segment"):
            plant = segment_plants(frame.rgb, config=cfg.segmentation)
        with _timed(t, "quality"):
            quality = self.quality.check(raw.rgb, background=~plant, hour=hour)
        with _timed(t, "rois"):
            rois = extract_rois(
                frame.rgb,
                self.camera.zones,
                shift_xy=quality.shift_xy,
                config=cfg.segmentation,
                plant_mask=plant,
            )
        with _timed(t, "signals"):
            unlike = light_gate(colour, hour, cfg.signals.light)
            comparable = quality.ok and unlike is None
            measured = [self._measure(frame, roi, nir, captured_at, comparable) for roi in rois]
        with _timed(t, "model"):
            outputs = self._infer(frame, rois)
        light_flags = () if unlike is None or not quality.ok else (FLAG_LIGHT,)
        results = tuple(
            RoiResult(roi.id, roi.bbox, comparable, flags + light_flags, signals, out)
            for roi, (signals, flags), out in zip(rois, measured, outputs, strict=True)
        )
        with _timed(t, "alerts"):
            alerts = self.alerts.evaluate(captured_at, _observations(quality, colour, results))
        t["analysis"] = round((time.perf_counter() - start) * 1000, 2)
        t["total"] = round(sum(v for k, v in t.items() if k in ("decode", "analysis")), 2)
        return ImageResult(
            image,
            self.camera.id,
            "ok",
            captured_at=captured_at,
            frame=raw,
            quality=quality,
            colour=colour,
            light_gate=unlike,
            corrected_rgb=frame.rgb,
            plant_mask=plant,
            rois=tuple(rois),
            results=results,
            alerts=tuple(alerts),
            timings_ms=t,
            open_alerts=tuple(self.alerts.active()),
        )

    def _hour(self, at: datetime) -> float:
        """Local hour of day (0-24) at the site, for the light gate."""
        local = at.astimezone(ZoneInfo(self.site.site.timezone))
        return local.hour + local.minute / 60 + local.second / 3600

    def _decode(self, path: str | os.PathLike[str]) -> Frame:
        cfg = self.site.analysis
        return decode(
            path,
            max_side=cfg.max_side,
            max_pixels=cfg.max_pixels,
            max_file_bytes=cfg.max_file_bytes,
        )

    def _decode_nir(self, path: str | os.PathLike[str], frame: Frame) -> np.ndarray:
        cfg = self.site.analysis
        nir = decode(path, max_side=cfg.max_side, max_pixels=cfg.max_pixels, gray=True)
        if nir.size != frame.size:
            raise ImageRejected(
                "nir_mismatch",
                f"{path}: NIR image is {nir.full_size[0]}x{nir.full_size[1]} but the RGB image is "
                f"{frame.full_size[0]}x{frame.full_size[1]}; a registered NIR image must match",
            )
        return nir.rgb[:, :, 0]

    def _measure(
        self, frame: Frame, roi: Roi, nir: np.ndarray | None, at: datetime, trusted: bool
    ) -> tuple[dict[str, float], tuple[str, ...]]:
        x0, y0, x1, y1 = roi.bbox
        signals = compute_signals(
            crop(frame.rgb, roi),
            roi.plant_mask,
            zone_mask=roi.zone_mask,
            nir_crop=None if nir is None else nir[y0:y1, x0:x1],
            px_scale=frame.px_scale,
            mm_per_px=self.camera.mm_per_px,
            bins=self.site.analysis.signals.hue_bins,
        )
        history = self.histories.get(roi.id)
        if history is None:
            history = self.histories[roi.id] = ZoneHistory(self.site.analysis.signals)
        update = history.update(at, signals, trusted=trusted)
        return {**signals, **update.derived}, tuple(roi.flags) + tuple(update.flags)

    def _infer(self, frame: Frame, rois: list[Roi]) -> list[ModelOutput | None]:
        wanted = [i for i, r in enumerate(rois) if "empty" not in r.flags]
        if self.model is None or not wanted:
            return [None] * len(rois)
        preds = self.model.predict([crop(frame.rgb, rois[i]) for i in wanted])
        out: list[ModelOutput | None] = [None] * len(rois)
        for i, p in zip(wanted, preds, strict=True):
            out[i] = p
        return out


def _observations(
    quality: QualityReport, colour: ColourReport, results: tuple[RoiResult, ...]
) -> Iterator[Observation]:
    """What the alert rules see: the camera's quality and colour flags, then each zone's
    signals.

    The model's ``p_*`` probabilities join only when its manifest lets it override the
    colour signals (it beat them on held-out real photos); otherwise no rule can fire on them.
    """
    camera_flags = frozenset(f.name for f in quality.flags) | frozenset(colour.flags)
    yield Observation(CAMERA_LEVEL, {}, camera_flags, quality.ok)
    for r in results:
        signals: Mapping[str, float] = dict(r.signals)
        if r.model is not None and r.model.may_override:
            signals = {**signals, **{f"p_{k}": v for k, v in r.model.probabilities.items()}}
        yield Observation(r.id, signals, frozenset(r.flags), r.trusted)


@contextmanager
def _timed(timings: dict[str, float], name: str) -> Iterator[None]:
    start = time.perf_counter()
    try:
        yield
    finally:
        timings[name] = round((time.perf_counter() - start) * 1000, 2)


def _file_time(path: str | os.PathLike[str]) -> datetime:
    return datetime.fromtimestamp(Path(path).stat().st_mtime, tz=UTC)


def _compact(value: float) -> float | None:
    """4 significant digits: the signal's precision, not float noise; NaN becomes null."""
    if value is None or not math.isfinite(value):
        return None
    return float(f"{value:.4g}")
