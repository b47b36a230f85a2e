"""The ``colour`` section of a camera: its colour card (if any) and the white balance."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from fieldagent.config.base import Section


class CardConfig(Section):
    """Where the colour card sits in this camera's view and how its patches are laid out.

    The patches are sampled at the centres of a ``rows`` x ``cols`` grid inside
    ``box``; patch colours are listed row by row from the top-left (an X-Rite
    ColorChecker Classic seen the right way up is 4 x 6, brown first).
    """

    box: tuple[float, float, float, float] = Field(
        ..., description="x0, y0, x1, y1 of the card's patch area, fractions of the frame"
    )
    rows: int = Field(4, ge=1, le=20, description="patch rows on the card")
    cols: int = Field(6, ge=1, le=20, description="patch columns on the card")
    reference: tuple[tuple[int, int, int], ...] | None = Field(
        None,
        description="sRGB 0-255 of each patch, row by row; default: the ColorChecker Classic",
    )

    @field_validator("box")
    @classmethod
    def _box_inside(cls, box: tuple[float, float, float, float]) -> tuple[float, ...]:
        x0, y0, x1, y1 = box
        if not (0.0 <= x0 < x1 <= 1.0 and 0.0 <= y0 < y1 <= 1.0):
            raise ValueError(
                f"card box {list(box)} must be x0 < x1 and y0 < y1, all within 0..1 (fractions "
                "of the frame)"
            )
        return box


    @model_validator(mode="after")
    def _reference_matches_layout(self) -> CardConfig:
        patches = self.rows * self.cols
        listed = len(self.reference) if self.reference else 24
        if listed != patches:
            what = "reference lists" if self.reference else "the default ColorChecker has"
            raise ValueError(
                f"the card is laid out as {self.rows} x {self.cols} = {patches} patches but "
                f"{what} {listed} colours; give one reference colour per patch"
            )
        return self


class ColourConfig(Section):
    """How a camera's frames are colour-corrected before anything is measured.

    With a ``card`` each frame is fitted to the card's reference colours; a fit
    whose residual is too large (card covered, blown out, moved) is rejected
    with the flag ``colour_card_unreadable`` and the white balance is used instead.
    """

    card: CardConfig | None = Field(None, description="the colour card in view, if there is one")
    white_balance: Literal["auto", "off"] = Field(
        "auto",
        description="without a (readable) card: 'auto' balances the background to this camera's "
        "usual light; 'off' measures the frame as it is",
    )
    max_card_residual: float = Field(
        0.05,
        gt=0.0,
        le=1.0,
        description="RMS error (0-1 sRGB) of the card fit above which the card is not trusted",
    )
    min_card_patches: int = Field(
        8, ge=4, le=400, description="usable (unclipped, uniform) patches a card fit needs"
    )
    max_patch_spread: float = Field(
        0.06,
        gt=0.0,
        le=1.0,
        description="a patch whose pixels spread more than this (std, 0-1) is covered: left out",
    )
    reference_frames: int = Field(
        48,
        ge=1,
        le=10_000,
        description="recent frames whose background colour defines this camera's usual light",
    )
    min_tint: float = Field(
        1.05,
        ge=1.0,
        le=3.0,
        description="white balance: a light this close to the usual one (largest / smallest "
        "gain) is left alone; its measured tint is mostly noise",
    )
    full_tint: float = Field(
        1.15,
        ge=1.0,
        le=5.0,
        description="white balance: from this tint on the full correction applies (eased in "
        "between min_tint and this)",
    )
    max_gain: float = Field(
        2.5,
        ge=1.0,
        le=10.0,
        description="largest white-balance gain of one channel (beyond: light too odd to fix)",
    )

    @model_validator(mode="after")
    def _tints_ordered(self) -> ColourConfig:
        if self.full_tint <= self.min_tint:
            raise ValueError(
                f"full_tint ({self.full_tint}) must be above min_tint ({self.min_tint}): the "
                "white balance eases in between them"
            )
        return self
