"""Colour that means the same at dawn and at noon.

Each frame is corrected before segmentation and signals, either to a colour
card in view (:mod:`fieldagent.colour.card`: an affine least-squares fit to
known reference patches, as PlantCV does) or, without a card, by a white
balance on the background relative to the camera's own usual light
(:mod:`fieldagent.colour.balance`). :class:`ColourCorrector` holds the
per-camera state; :mod:`fieldagent.colour.config` is the ``colour`` section of
a camera's config.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fieldagent.lazy import lazy_attributes

if TYPE_CHECKING:
    from fieldagent.colour.card import CARD_REFERENCE, CardFit, fit_card, sample_patches
    from fieldagent.colour.config import CardConfig, ColourConfig
    from fieldagent.colour.correct import ColourCorrector, ColourReport

_LAZY = {
    "CARD_REFERENCE": "card", "CardFit": "card", "fit_card": "card", "sample_patches":
    "card", "CardConfig": "config", "ColourConfig": "config", "ColourCorrector": "correct",
    "ColourReport": "correct",
}


__getattr__ = lazy_attributes(__name__, _LAZY)


__all__ = [
    "CARD_REFERENCE",
    "CardConfig",
    "CardFit",
    "ColourConfig",
    "ColourCorrector",
    "ColourReport",
    "fit_card",
    "sample_patches",
]
