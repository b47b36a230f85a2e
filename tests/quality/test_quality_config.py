"""The quality config section and the report's JSON form."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from fieldagent.quality import QualityConfig, QualityFlag, QualityReport
from fieldagent.quality.config import ALL_CHECKS
from fieldagent.quality.report import round_metric


def test_defaults_are_valid_and_enable_every_check() -> None:
    cfg = QualityConfig()
    assert cfg.enabled_checks == ALL_CHECKS
    assert all(cfg.enabled(name) for name in ALL_CHECKS)
    assert 0 < cfg.dark_max_luminance < cfg.clip_high_level


def test_unknown_key_is_refused() -> None:
    with pytest.raises(ValidationError, match="blur_treshold"):
        QualityConfig(blur_treshold=0.5)  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("blur_max_effect", 1.5),
        ("dark_max_luminance", -0.1),
        ("baseline_window", 1),
        ("moved_max_fraction", 0.9),
        ("reference_refresh_frames", 0),
        ("frozen_max_diff", 0.5),
    ],
)
def test_out_of_range_is_refused(key: str, value: float) -> None:
    with pytest.raises(ValidationError, match=key):
        QualityConfig(**{key: value})


def test_inconsistent_settings_are_refused_with_a_reason() -> None:
    with pytest.raises(ValidationError, match="never warm up"):
        QualityConfig(baseline_window=5, warmup_frames=10)
    with pytest.raises(ValidationError, match="clip_low_level"):
        QualityConfig(clip_low_level=0.5, clip_high_level=0.5)
    with pytest.raises(ValidationError, match="twice"):
        QualityConfig(enabled_checks=("blur", "blur"))
    with pytest.raises(ValidationError, match="enabled_checks"):
        QualityConfig(enabled_checks=("blurry",))


def test_config_is_frozen() -> None:
    cfg = QualityConfig()
    with pytest.raises(ValidationError):
        cfg.blur_max_effect = 0.9  # type: ignore[misc]


def test_report_to_dict() -> None:
    flag = QualityFlag("moved", "shift_px", 4.123456, 3.0, False, "the camera's view shifted")
    report = QualityReport(
        ok=True,
        flags=(flag,),
        metrics={"laplacian_var": 0.000123456, "shift_px": 4.123456},
        shift_xy=(3.9876, -1.2345),
    )
    data = json.loads(json.dumps(report.to_dict()))
    assert data == {
        "ok": True,
        "flags": [
            {
                "name": "moved",
                "metric": "shift_px",
                "value": 4.123,
                "threshold": 3.0,
                "blocking": False,
                "message": "the camera's view shifted",
            }
        ],
        "metrics": {"laplacian_var": 0.0001235, "shift_px": 4.123},
        "shift_px": [3.99, -1.23],
    }
    assert report.flag_names == ("moved",)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(0.0, 0.0), (123.456789, 123.5), (-0.000987654, -0.0009877), (1.0, 1.0)],
)
def test_round_metric_keeps_four_significant_figures(value: float, expected: float) -> None:
    assert round_metric(value) == expected
