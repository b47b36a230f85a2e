"""The base of every typed config section.

Each section is a pydantic model with unknown keys refused and every field
declaring its default, range and a one-line description in one place::

    class BlurConfig(Section):
        max_blur_effect: float = Field(0.55, ge=0.0, le=1.0,
                                       description="blur_effect above this flags 'blur'")

Cross-field checks are small ``model_validator(mode="after")`` functions that
*raise* ``ValueError`` with a sentence the site technician can act on.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Section(BaseModel):
    """A config section: frozen, unknown keys refused, defaults validated."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)
