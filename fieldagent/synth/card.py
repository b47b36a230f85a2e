"""A ColorChecker-like colour card lying on the bench, drawn before the light is applied."""

from __future__ import annotations

import numpy as np

from fieldagent.colour.card import CARD_REFERENCE
from fieldagent.synth.spec import FloatImage

F = np.float32
# The renderer's exposure maps a reflectance of 1/1.2 to 255 at light 1.0.
_TO_SCENE = F(1.0 / (1.2 * 255.0))
_LEAF = np.array([0.18, 0.34, 0.10], F)  # the colour of the leaf covering part of the card
ROWS, COLS = 4, 6


def draw_card(rgb: FloatImage, box: tuple[float, float, float, float], cover: float) -> None:
    """Paint the 4 x 6 card into planar float RGB (3, H, W) in place.

    Patches fill the box with thin black gaps between them, as on the real
    card; ``cover`` hides that share of the box's width, from the right, under
    a leaf (an occluded card).
    """
    _, h, w = rgb.shape
    x0, y0, x1, y1 = (round(box[0] * w), round(box[1] * h), round(box[2] * w), round(box[3] * h))
    rgb[:, y0:y1, x0:x1] = F(0.05)
    xs = np.linspace(x0, x1, COLS + 1)
    ys = np.linspace(y0, y1, ROWS + 1)
    gap_x, gap_y = 0.08 * (xs[1] - xs[0]), 0.08 * (ys[1] - ys[0])
    for i, colour in enumerate(CARD_REFERENCE):
        r, c = divmod(i, COLS)
        px0, px1 = round(xs[c] + gap_x), round(xs[c + 1] - gap_x)
        py0, py1 = round(ys[r] + gap_y), round(ys[r + 1] - gap_y)
        rgb[:, py0:py1, px0:px1] = (np.asarray(colour, F) * _TO_SCENE)[:, None, None]
    if cover > 0:
        cx = round(x1 - cover * (x1 - x0))
        rgb[:, y0:y1, cx:x1] = _LEAF[:, None, None]
