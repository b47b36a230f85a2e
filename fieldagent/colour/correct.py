"""One camera's colour correction: card fit or white balance, and what was applied.

The pipeline owns one :class:`ColourCorrector` per camera; it remembers the
camera's usual background colour (see :mod:`fieldagent.colour.balance`) and can
be saved with :meth:`ColourCorrector.state`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from fieldagent.colour import balance
from fieldagent.colour.card import (
    CARD_REFERENCE,
    CardFit,
    apply_affine,
    fit_card,
    sample_patches,
)
from fieldagent.colour.config import ColourConfig

FLAG_CARD = "colour_card_unreadable"
_STATE_VERSION = 1
# Frames darker than this say little about the light's colour (noise dominates).
_MIN_LEARN_LUMINANCE = 0.08


@dataclass(frozen=True)
class ColourReport:
    """What was done to one frame's colours, for the JSON output and the light gate.

    ``method``: ``card``, ``white_balance`` or ``none``. ``tint`` is how far the
    light's colour was from the camera's usual light (largest / smallest
    background gain, 1.0 = usual; NaN while unknown). ``flags`` holds
    ``colour_card_unreadable`` when a configured card could not be used.
    ``usual_frames`` is how many frames the usual light was learned from.
    """

    method: str
    tint: float
    usual_frames: int = 0
    gains: tuple[float, float, float] | None = None
    residual: float | None = None
    flags: tuple[str, ...] = ()
    message: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, numbers to 4 significant digits."""
        return {
            "method": self.method,
            "tint": _round(self.tint),
            "usual_frames": self.usual_frames,
            "gains": None if self.gains is None else [_round(g) for g in self.gains],
            "card_residual": None if self.residual is None else _round(self.residual),
            "flags": list(self.flags),
            "message": self.message,
        }


class ColourCorrector:
    """Corrects one camera's frames to its card, or to its usual light."""

    def __init__(self, config: ColourConfig) -> None:
        self.config = config
        self._history: deque[tuple[np.ndarray, float]] = deque(maxlen=config.reference_frames)
        ref = config.card.reference if config.card and config.card.reference else CARD_REFERENCE
        self._reference = np.asarray(ref, dtype=np.float64) / 255.0

    def correct(self, rgb: np.ndarray) -> tuple[np.ndarray, ColourReport]:
        """The frame in corrected colour (float32 [0, 1]) and what was applied."""
        measured = balance.background_colour(rgb)
        usual = balance.usual_colour(list(self._history))
        known = len(self._history)
        gains = None
        if measured is not None and usual is not None:
            gains = balance.balance_gains(measured[0], usual, max_gain=self.config.max_gain)
            if balance.tint(gains) > self.config.min_tint:
                # second pass: choose the background pixels as they look under the usual light
                measured = balance.background_colour(rgb, gains=gains) or measured
                gains = balance.balance_gains(measured[0], usual, max_gain=self.config.max_gain)
        tint = balance.tint(gains) if gains is not None else float("nan")
        if gains is not None:
            cfg = self.config
            gains = balance.soften(gains, start=cfg.min_tint, full=cfg.full_tint)
        if measured is not None and measured[1] >= _MIN_LEARN_LUMINANCE:
            self._history.append(measured)
        flags: tuple[str, ...] = ()
        message = ""
        if self.config.card is not None:
            card = self._card_fit(rgb)
            if card[1].ok:
                return card[0], ColourReport("card", tint, known,
                                               residual=card[1].residual)
            flags, message = (FLAG_CARD,), card[1].reason + "; colours were white-balanced instead"
        if self.config.white_balance == "off" or gains is None:
            return np.asarray(rgb, dtype=np.float32), ColourReport("none", tint, known, None, None,
                                                                   flags, message)
        g = (float(gains[0]), float(gains[1]), float(gains[2]))
        if g == (1.0, 1.0, 1.0):  # the usual light: nothing to undo, nothing to pay
            return np.asarray(rgb, dtype=np.float32), ColourReport(
                "white_balance", tint, known, g, None, flags, message)
        return balance.apply_gains(rgb, gains), ColourReport("white_balance", tint, known, g, None,
                                                             flags, message)

    def _card_fit(self, rgb: np.ndarray) -> tuple[np.ndarray, CardFit]:
        card, cfg = self.config.card, self.config
        assert card is not None
        samples = sample_patches(rgb, card.box, card.rows, card.cols)
        fit = fit_card(samples, self._reference, max_residual=cfg.max_card_residual,
                       min_patches=cfg.min_card_patches, max_spread=cfg.max_patch_spread)
        return (apply_affine(rgb, fit.matrix) if fit.ok else rgb), fit

    def state(self) -> dict[str, Any]:
        """JSON-ready: the recent background colours that define the usual light."""
        return {"version": _STATE_VERSION,
                "history": [[*map(float, c), lum] for c, lum in self._history]}

    @classmethod
    def from_state(cls, config: ColourConfig, state: Mapping[str, Any]) -> ColourCorrector:
        """Rebuild from :meth:`state`; raises ValueError when it is unreadable."""
        if state.get("version") != _STATE_VERSION:
            raise ValueError(f"colour state version {state.get('version')!r} is not supported")
        out = cls(config)
        try:
            for row in state.get("history", []):
                out._history.append((np.array(row[:3], dtype=np.float64), float(row[3])))
        except (TypeError, IndexError, ValueError) as exc:
            raise ValueError(f"colour state is unreadable ({exc}); relearning the usual light") \
                from exc
        return out


def _round(value: float) -> float | None:
    v = float(value)
    if not np.isfinite(v):
        return None
    return float(f"{v:.4g}")
