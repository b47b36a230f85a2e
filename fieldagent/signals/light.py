"""Is this frame's light comparable with the light the zone's baseline was learned under?

Colour correction undoes most of what daylight does to colour, but not all of
it: grow lamps have spiky spectra no gain can undo, and at dawn the noise of a
dim frame moves every fraction. A zone is therefore compared with its own past
only under comparable light; other frames are measured and reported but are
neither scored against the baseline nor learned from, and no alert counts them.
All of it is explicit in ``analysis.signals.light`` (:class:`LightGate`).
"""

from __future__ import annotations

import math

from fieldagent.colour.correct import ColourReport
from fieldagent.signals.config import LightGate

FLAG_LIGHT = "light_not_comparable"


def light_gate(colour: ColourReport, hour: float, cfg: LightGate) -> str | None:
    """Why this frame's light is not comparable (a sentence), or None when it is.

    ``hour`` is the local hour of the capture (0-24). Reasons: the camera's
    usual light is not known yet, the light is coloured far from it (``tint``),
    or the frame falls outside the configured hours.
    """
    if not cfg.enabled:
        return None
    if colour.usual_frames < cfg.min_usual_frames:
        return (f"the camera's usual light is still being learned ({colour.usual_frames} of "
                f"{cfg.min_usual_frames} frames)")
    if math.isfinite(colour.tint) and colour.tint > cfg.max_tint:
        return (f"the light's colour is far from this camera's usual light (tint "
                f"{colour.tint:.2f} > {cfg.max_tint:.2f}: dawn, dusk or grow lamps)")
    start, end = cfg.hours
    inside = start <= hour < end if start <= end else (hour >= start or hour < end)
    if not inside:
        return f"captured at {hour:04.1f} h, outside the compared hours {start:g}-{end:g} h"
    return None
