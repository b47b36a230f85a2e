"""The colour, light-gate and night settings refuse what cannot work, with a sentence."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from fieldagent.colour import CardConfig, ColourConfig
from fieldagent.quality.config import NightConfig
from fieldagent.signals.config import LightGate


@pytest.mark.parametrize(("model", "data", "words"), [
    (CardConfig, {"box": [0.5, 0.1, 0.2, 0.3]}, "x0 < x1"),
    (CardConfig, {"box": [0.0, 0.0, 0.2, 1.3]}, "within 0..1"),
    (CardConfig, {"box": [0.0, 0.0, 0.2, 0.1], "rows": 2, "cols": 6}, "one reference colour"),
    (CardConfig, {"box": [0.0, 0.0, 0.2, 0.1], "rows": 1, "cols": 2,
                  "reference": [[1, 2, 3]]}, "one reference colour"),
    (ColourConfig, {"min_tint": 1.2, "full_tint": 1.1}, "eases in"),
    (ColourConfig, {"white_balance": "grey"}, "auto"),
    (LightGate, {"hours": [6, 25]}, "within 0..24"),
    (NightConfig, {"hours": [-1, 5]}, "within 0..24"),
])
def test_impossible_settings_are_refused(model: type, data: dict[str, object],
                                         words: str) -> None:
    with pytest.raises(ValidationError) as err:
        model.model_validate(data)
    assert words in str(err.value)


def test_a_custom_card_with_one_colour_per_patch_is_accepted() -> None:
    card = CardConfig.model_validate({"box": [0.0, 0.0, 0.2, 0.1], "rows": 1, "cols": 2,
                                      "reference": [[250, 250, 250], [20, 20, 20]]})
    assert card.reference == ((250, 250, 250), (20, 20, 20))


def test_night_and_hours_windows_wrap_past_midnight() -> None:
    night = NightConfig(dark=True, hours=(21.0, 5.0))
    assert night.is_night(23.5) and night.is_night(2.0) and not night.is_night(12.0)
    assert NightConfig(hours=(1.0, 4.0)).is_night(2.0)
