"""What an alert rule may name: signals, flags, and (checked by the site config) cameras and
zones. A rule naming something that does not exist would never fire, silently; so every
name is checked when the config loads, with a "did you mean" for a typo.

Only light modules are imported here (the signal table, the quality check names): loading a
config must not pull in the image stack.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable
from functools import cache
from importlib import resources

from fieldagent.quality.config import ALL_CHECKS
from fieldagent.signals.table import signal_names

REGION_FLAGS: tuple[str, ...] = (
    "empty", "touches_border", "clipped", "baseline_learning", "segmentation_suspect",
    "light_not_comparable",
)
"""Per-zone flags (``roi.extract``, ``signals.baseline`` and ``signals.light`` define them; a
test keeps the lists equal)."""

CAMERA_FLAGS: tuple[str, ...] = ("colour_card_unreadable",)
"""Camera-level flags beside the quality checks (``colour.correct``)."""


def camera_flag_names() -> tuple[str, ...]:
    """Flags that concern the whole camera: the quality checks and the colour card."""
    return (*ALL_CHECKS, *CAMERA_FLAGS)


def flag_names() -> tuple[str, ...]:
    """Every flag a rule may watch: the camera's flags, then the zones' flags."""
    return (*camera_flag_names(), *REGION_FLAGS)


@cache
def model_signals() -> tuple[str, ...]:
    """``p_<class>`` for each class of the packaged stress model (empty if unreadable)."""
    try:
        text = resources.files("fieldagent").joinpath(
            "models", "stress", "manifest.json").read_text(encoding="utf-8")
        classes = json.loads(text).get("classes") or []
    except (OSError, ValueError):
        return ()
    return tuple(f"p_{c}" for c in classes if isinstance(c, str))


def rule_signal_names() -> tuple[str, ...]:
    """Every signal a rule may compare: the signal table and the model's probabilities."""
    return (*signal_names(), *model_signals())


def unknown(name: str, known: Iterable[str], what: str) -> str | None:
    """None when ``name`` is one of ``known``, else a sentence with a suggestion."""
    names = list(known)
    if name in names:
        return None
    close = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]!r}?" if close else f" (known: {', '.join(names)})"
    return f"unknown {what} {name!r}{hint}"
