"""Colour that means the same at dawn and at noon.

Each frame is corrected before segmentation and signals, either to a colour
card in view (:mod:`fieldagent.colour.card`: an affine least-squares fit to
known reference patches, as PlantCV does) or, without a card, by a white
balance on the background relative to the camera's own usual light
(:mod:`fieldagent.colour.balance`). :class:`ColourCorrector` holds the
per-camera state; :mod:`fieldagent.colour.config` is the ``colour`` section of
a camera's config.
"""

from fieldagent.colour.card import CARD_REFERENCE, CardFit, fit_card, sample_patches
from fieldagent.colour.config import CardConfig, ColourConfig
from fieldagent.colour.correct import ColourCorrector, ColourReport

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
