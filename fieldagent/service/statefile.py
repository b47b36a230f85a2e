"""A small JSON state file that survives power cuts: written to a temporary name, fsynced,
renamed over the old one, and the folder fsynced, so a reader sees the old or the new state,
never half of one. An unreadable file is moved aside (never deleted) and the agent starts
fresh: relearning baselines beats a crash loop."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from fieldagent.fsutil import write_atomic

log = logging.getLogger(__name__)


class StateFile:
    """``load()`` / ``save(state)`` of one JSON document at ``path``."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> dict[str, Any]:
        """The saved state, or ``{}`` when there is none or it is unreadable (moved aside)."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        try:
            data = json.loads(text)
            if not isinstance(data, dict):
                raise ValueError(f"expected a JSON object, got {type(data).__name__}")
            return data
        except ValueError as exc:
            aside = self.path.with_name(f"{self.path.name}.corrupt")
            os.replace(self.path, aside)
            log.warning("%s is unreadable (%s); moved to %s and starting with fresh "
                        "baselines and alert state", self.path, exc, aside)
            return {}

    def save(self, state: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = json.dumps(state, sort_keys=True, default=str, separators=(",", ":"))
        write_atomic(self.path, data.encode("utf-8"))
