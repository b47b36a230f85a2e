"""The annotated image shows what the validated path says, and explains its colours.

A zone is red only while an alert is open for it; the model's label is printed with its
confidence (or ``unknown``) but never colours a zone.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from fieldagent.annotate import LEGEND, model_text, render_overlay, stress_text, zone_colour
from fieldagent.config.site import load_site_config
from fieldagent.inference.session import StressModel
from fieldagent.pipeline import CameraPipeline, ImageResult
from tests.support.photos import REAL

_RED = LEGEND[0][0]


@pytest.fixture(scope="module")
def tray(tmp_path_factory: pytest.TempPathFactory) -> ImageResult:
    """A real tray of healthy rosettes, one zone per pot, through the real pipeline."""
    config = tmp_path_factory.mktemp("cfg") / "site.yaml"
    config.write_text(
        "site: {id: s1}\n"
        "cameras:\n"
        "  - id: c1\n"
        "    zones:\n"
        "      - {kind: grid, id: pots, box: [0.02, 0.03, 0.98, 0.97], rows: 4, cols: 5}\n"
    )
    site = load_site_config(config)
    camera = site.camera(None)
    pipeline = CameraPipeline(site, camera, StressModel.load(site.model))
    result = pipeline.process(REAL / "arabidopsis_tray.jpg")
    assert result.status == "ok" and len(result.results) == 20
    return result


def _bottom_edge(img: np.ndarray, bbox: tuple[int, int, int, int]) -> tuple[int, ...]:
    x0, _, x1, y1 = bbox
    return tuple(int(v) for v in img[y1 - 1, (x0 + x1) // 2])


def test_no_zone_is_red_without_an_open_alert_whatever_the_model_says(
    tray: ImageResult,
) -> None:
    assert tray.open_alerts == ()
    sure = [r if r.model is None else dataclasses.replace(r, model=dataclasses.replace(
        r.model, label="necrosis", confidence=0.99)) for r in tray.results]
    assert sum(r.model is not None for r in sure) >= 15
    loud = dataclasses.replace(tray, results=tuple(sure))
    img = np.asarray(render_overlay(loud))
    for roi in loud.rois:
        assert _bottom_edge(img, roi.bbox) != _RED, roi.id
    for r in sure:
        assert zone_colour(r, alerted=False) != _RED


def test_a_zone_with_an_open_alert_is_red_and_only_that_zone(tray: ImageResult) -> None:
    alerted = dataclasses.replace(tray, open_alerts=(("zone-yellowing", "pots-r2c3"),))
    img = np.asarray(render_overlay(alerted))
    for roi in alerted.rois:
        red = _bottom_edge(img, roi.bbox) == _RED
        assert red == (roi.id == "pots-r2c3"), roi.id


def test_the_legend_shows_every_colour_below_the_frame(tray: ImageResult) -> None:
    assert tray.frame is not None
    img = np.asarray(render_overlay(tray))
    height = tray.frame.rgb.shape[0]
    assert img.shape[0] > height and img.shape[1] == tray.frame.rgb.shape[1]
    band = img[height:].reshape(-1, 3)
    for colour, text in LEGEND:
        assert (band == colour).all(axis=1).any(), f"legend entry {text!r} not drawn"


def test_labels_are_plain_text_and_the_model_shows_confidence_or_unknown(
    tray: ImageResult,
) -> None:
    first = tray.results[0]
    assert stress_text(first).isascii() and "learning" in stress_text(first)
    assert first.model is not None
    shown = model_text(first)
    assert shown.startswith("model: ") and ("%" in shown or shown == "model: unknown")
    unknown = dataclasses.replace(first, model=dataclasses.replace(first.model, label="unknown"))
    assert model_text(unknown) == "model: unknown"
    named = dataclasses.replace(first.model, label="necrosis", confidence=0.9)
    barred = dataclasses.replace(first, model=dataclasses.replace(named, may_override=False))
    allowed = dataclasses.replace(first, model=dataclasses.replace(named, may_override=True))
    assert model_text(barred) == "model: necrosis 90%*" and model_text(allowed).endswith("90%")


def test_a_result_written_to_disk_has_both_files(tray: ImageResult, tmp_path: Path) -> None:
    from fieldagent.annotate import write_annotations

    written = write_annotations(tray, tmp_path)
    assert written is not None
    overlay, mask = written
    assert overlay.stat().st_size > 10_000 and mask.stat().st_size > 100


def test_a_small_photo_gets_a_band_wide_enough_for_its_text(tmp_path: Path) -> None:
    """A 256 px leaf: the legend and the model note are not cut off at the frame's edge."""
    from fieldagent.annotate import MODEL_ONLY_NOTE, _font
    from fieldagent.config.site import default_site_config

    leaf = sorted((REAL / "leaves-pv" / "grape___grape_black_rot").iterdir())[0]
    site = default_site_config()
    result = CameraPipeline(site, site.camera(None), StressModel.load(site.model)).process(leaf)
    assert result.frame is not None and result.frame.rgb.shape[1] == 256
    img = render_overlay(result)
    font = _font(12)
    assert img.width >= font.getlength(MODEL_ONLY_NOTE) > 256
    assert img.height > 256
