"""Overlay images a grower or installer would rather look at than read.

Per image: a JPEG with the zones, the plant-mask outline, quality flags and the
stress state of each zone, and the plant mask itself as a PNG.
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
_MASK = (255, 0, 255)
_ZONE = (255, 255, 255)


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
    """The annotated picture: plants outlined, zones boxed and labelled, flags on top."""
    assert result.frame is not None and result.plant_mask is not None
    rgb = (result.frame.rgb * 255).astype(np.uint8)
    edge = find_boundaries(result.plant_mask, mode="inner")
    rgb[edge] = _MASK
    img = Image.fromarray(rgb)
    draw = ImageDraw.Draw(img)
    font = _font(max(12, img.height // 50))
    for roi, res in zip(result.rois, result.results, strict=True):
        _draw_zone(draw, roi.bbox, roi.zone_mask, res, font)
    _draw_header(draw, result, font, img.height)
    return img


def _draw_zone(
    draw: ImageDraw.ImageDraw,
    bbox: tuple[int, int, int, int],
    zone_mask: np.ndarray,
    res: RoiResult,
    font: ImageFont.ImageFont | ImageFont.FreeTypeFont,
) -> None:
    colour = _zone_colour(res)
    x0, y0, x1, y1 = bbox
    if x1 <= x0 or y1 <= y0:  # the camera moved the zone out of the frame
        return
    ys, xs = np.nonzero(find_boundaries(np.pad(zone_mask, 1), mode="inner")[1:-1, 1:-1])
    draw.point(list(zip((xs + x0).tolist(), (ys + y0).tolist(), strict=True)), fill=_ZONE)
    draw.rectangle((x0, y0, x1 - 1, y1 - 1), outline=colour, width=2)
    lines = [res.id, _stress_text(res)]
    if res.model is not None:
        # A model that may not override the colour signals is shown, but marked as such.
        trust = "" if res.model.may_override else " (model only)"
        lines.append(f"{res.model.label} {res.model.confidence:.0%}{trust}")
    _label(draw, (x0 + 3, y0 + 3), "\n".join(lines), colour, font)


def _zone_colour(res: RoiResult) -> tuple[int, int, int]:
    if not res.trusted:
        return _WARN
    score = res.signals.get("stress_score", float("nan"))
    # The model paints a zone red on its own only if it may override the colour signals.
    sick = res.model is not None and res.model.says_stressed(0.6)
    if (math.isfinite(score) and score > 4.0) or sick:
        return _BAD
    if math.isfinite(score) and score > 2.5:
        return _WARN
    return _OK


def _stress_text(res: RoiResult) -> str:
    score = res.signals.get("stress_score", float("nan"))
    cover = res.signals.get("canopy_cover", float("nan"))
    s = "stress —" if not math.isfinite(score) else f"stress {score:.1f}"
    return s + ("" if not math.isfinite(cover) else f"  cover {cover:.0%}")


def _draw_header(
    draw: ImageDraw.ImageDraw,
    result: ImageResult,
    font: ImageFont.ImageFont | ImageFont.FreeTypeFont,
    height: int,
) -> None:
    assert result.quality is not None
    when = result.captured_at.strftime("%Y-%m-%d %H:%M") if result.captured_at else ""
    flags = ", ".join(f.name for f in result.quality.flags) or "quality ok"
    alerts = "; ".join(f"{a.state} {a.rule} ({a.zone})" for a in result.alerts)
    text = f"{result.camera}  {when}  {flags}" + (f"  ALERT: {alerts}" if alerts else "")
    colour = _OK if result.quality.ok else _BAD
    _label(draw, (4, height - _line_height(font) - 6), text[:200], colour, font)


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
