"""Overlay images a grower or installer would rather look at than read.

Per image: a JPEG with the zones, the plant-mask outline, quality flags and the
stress state of each zone, a legend of the colours, and the plant mask itself as a PNG.

A zone's colour says only what the validated path says: the alert rules (red while an
alert is open for it), its signals against its own baseline (amber when they moved
away from it), whether the image could be measured at all (grey) and whether the
baseline is still being learnt (blue); grey also covers a zone not compared with its
baseline because the light was unlike the camera's usual light. The stress model's label
is printed with its confidence (or ``unknown``) but never colours a zone: on real photos
it has not been shown to beat the colour signals.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from skimage.segmentation import find_boundaries

from fieldagent.pipeline import ImageResult, RoiResult

_OK = (60, 220, 90)
_WARN = (255, 170, 0)
_BAD = (240, 50, 50)
_UNTRUSTED = (170, 170, 170)
_LEARNING = (90, 170, 255)
_MASK = (255, 0, 255)
_ZONE = (255, 255, 255)
_CHANGED = 2.5
"""stress_score above which a zone is drawn amber: the default stress rule's clear value."""

MODEL_ONLY_NOTE = ("* the stress model's view only: it has not beaten the colour signals on "
                   "real photos, so it never raises an alert or colours a zone")

LEGEND: tuple[tuple[tuple[int, int, int], str], ...] = (
    (_BAD, "alert open for this zone"),
    (_WARN, "changed from its own baseline, no alert"),
    (_OK, "as usual"),
    (_LEARNING, "learning its baseline"),
    (_UNTRUSTED, "not compared: image failed quality or light unlike usual"),
    (_MASK, "plant outline"),
)

def write_annotations(result: ImageResult, out_dir: str | Path) -> tuple[Path, Path] | None:
    """Write ``<stem>.annotated.jpg`` and ``<stem>.mask.png``; None for a rejected image."""
    if result.status != "ok" or result.frame is None or result.plant_mask is None:
        return None
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    stem = Path(result.image).stem
    mask_path = out / f"{stem}.mask.png"
    Image.fromarray(result.plant_mask.astype(np.uint8) * 255).save(mask_path)
    overlay_path = out / f"{stem}.annotated.jpg"
    render_overlay(result).save(overlay_path, quality=85)
    return overlay_path, mask_path


def render_overlay(result: ImageResult) -> Image.Image:
    """The annotated picture: plants outlined, zones boxed and labelled; below the frame a
    band with the camera, time, quality flags and alerts, and the legend of colours."""
    assert result.frame is not None and result.plant_mask is not None
    rgb = (result.frame.rgb * 255).astype(np.uint8)
    edge = find_boundaries(result.plant_mask, mode="inner")
    rgb[edge] = _MASK
    frame = Image.fromarray(rgb)
    font = _font(max(12, frame.height // 50))
    line = _line_height(font) + 8
    note = MODEL_ONLY_NOTE if any(
        r.model is not None and r.model.label != "unknown" and not r.model.may_override
        for r in result.results) else None
    # a small frame (a 256 px leaf) gets a band wider than itself: no text is cut off
    width = max(frame.width, _band_width(font, note))
    legend_rows = _legend_rows(font, width)
    rows = 1 + len(legend_rows) + (note is not None)
    img = Image.new("RGB", (width, frame.height + line * rows + 6))
    img.paste(frame)
    draw = ImageDraw.Draw(img)
    open_zones = {zone for _, zone in result.open_alerts}
    for roi, res in zip(result.rois, result.results, strict=True):
        _draw_zone(draw, roi.bbox, roi.zone_mask, res, res.id in open_zones, font)
    _draw_header(draw, result, font, frame.height + 4)
    for i, row in enumerate(legend_rows):
        _draw_legend_row(draw, row, font, frame.height + 4 + line * (i + 1))
    if note is not None:
        draw.text((4, frame.height + 4 + line * (rows - 1)), note, fill=(255, 255, 255),
                  font=font)
    return img

def _draw_zone(
    draw: ImageDraw.ImageDraw,
    bbox: tuple[int, int, int, int],
    zone_mask: np.ndarray,
    res: RoiResult,
    alerted: bool,
    font: ImageFont.ImageFont | ImageFont.FreeTypeFont,
) -> None:
    colour = zone_colour(res, alerted)
    x0, y0, x1, y1 = bbox
    if x1 <= x0 or y1 <= y0:  # the camera moved the zone out of the frame
        return
    ys, xs = np.nonzero(find_boundaries(np.pad(zone_mask, 1), mode="inner")[1:-1, 1:-1])
    draw.point(list(zip((xs + x0).tolist(), (ys + y0).tolist(), strict=True)), fill=_ZONE)
    draw.rectangle((x0, y0, x1 - 1, y1 - 1), outline=colour, width=2)
    lines = [res.id, stress_text(res)]
    if res.model is not None:
        lines.append(model_text(res))
    _label(draw, (x0 + 3, y0 + 3), "\n".join(lines), colour, font)


def zone_colour(res: RoiResult, alerted: bool) -> tuple[int, int, int]:
    """The zone's box colour from its alert state and validated signals (see LEGEND)."""
    if alerted:
        return _BAD
    if not res.trusted:
        return _UNTRUSTED
    score = res.signals.get("stress_score", float("nan"))
    if not math.isfinite(score):
        return _LEARNING
    return _WARN if score > _CHANGED else _OK


def stress_text(res: RoiResult) -> str:
    """'stress 1.2  cover 35%', or 'stress: learning' before the baseline exists.

    Plain ASCII: the bundled font has no glyph for typographic dashes.
    """
    score = res.signals.get("stress_score", float("nan"))
    cover = res.signals.get("canopy_cover", float("nan"))
    s = "stress: learning" if not math.isfinite(score) else f"stress {score:.1f}"
    return s + ("" if not math.isfinite(cover) else f"  cover {cover:.0%}")


def model_text(res: RoiResult) -> str:
    """The model's word on the zone, always with its confidence, or 'unknown'."""
    assert res.model is not None
    label = res.model.label
    if label == "unknown":
        return "model: unknown"
    # a model that may not override the colour signals is shown, marked as such
    trust = "" if res.model.may_override else "*"
    return f"model: {label} {res.model.confidence:.0%}{trust}"


def _draw_header(
    draw: ImageDraw.ImageDraw,
    result: ImageResult,
    font: ImageFont.ImageFont | ImageFont.FreeTypeFont,
    y: int,
) -> None:
    assert result.quality is not None
    when = result.captured_at.strftime("%Y-%m-%d %H:%M") if result.captured_at else ""
    flags = ", ".join(f.name for f in result.quality.flags) or "quality ok"
    alerts = "; ".join(f"{a.state} {a.rule} ({a.zone})" for a in result.alerts)
    text = f"{result.camera}  {when}  {flags}" + (f"  ALERT: {alerts}" if alerts else "")
    colour = _OK if result.quality.ok else _BAD
    draw.text((4, y), text[:200], fill=colour, font=font)


def _band_width(font: ImageFont.ImageFont | ImageFont.FreeTypeFont, note: str | None) -> int:
    """The narrowest band that holds the note and the widest legend entry on one line."""
    size = _line_height(font)
    widest = max(size + 6 + int(font.getlength(text)) + 18 for _, text in LEGEND)
    return max(widest, int(font.getlength(note)) if note else 0) + 8


def _legend_rows(
    font: ImageFont.ImageFont | ImageFont.FreeTypeFont, width: int
) -> list[list[tuple[tuple[int, int, int], str]]]:
    """The legend's entries laid out in rows that fit ``width``."""
    size = _line_height(font)
    rows: list[list[tuple[tuple[int, int, int], str]]] = [[]]
    x = 4
    for colour, text in LEGEND:
        w = size + 6 + int(font.getlength(text)) + 18
        if rows[-1] and x + w > width:
            rows.append([])
            x = 4
        rows[-1].append((colour, text))
        x += w
    return rows


def _draw_legend_row(
    draw: ImageDraw.ImageDraw,
    row: list[tuple[tuple[int, int, int], str]],
    font: ImageFont.ImageFont | ImageFont.FreeTypeFont,
    y: int,
) -> None:
    size = _line_height(font)
    x = 4
    for colour, text in row:
        draw.rectangle((x, y + 2, x + size, y + 2 + size), fill=colour)
        draw.text((x + size + 6, y), text, fill=(255, 255, 255), font=font)
        x += size + 6 + int(font.getlength(text)) + 18

def _label(
    draw: ImageDraw.ImageDraw,
    xy: tuple[int, int],
    text: str,
    colour: tuple[int, int, int],
    font: ImageFont.ImageFont | ImageFont.FreeTypeFont,
) -> None:
    box = draw.multiline_textbbox(xy, text, font=font)
    draw.rectangle((box[0] - 2, box[1] - 2, box[2] + 2, box[3] + 2), fill=(0, 0, 0))
    draw.multiline_text(xy, text, fill=colour, font=font)


def _line_height(font: ImageFont.ImageFont | ImageFont.FreeTypeFont) -> int:
    box = font.getbbox("Ag")
    return int(box[3] - box[1])


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    """Pillow's bundled scalable font (no system fonts needed on the device)."""
    return ImageFont.load_default(size=size)
