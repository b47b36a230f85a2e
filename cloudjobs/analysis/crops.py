"""Which crop grows in which zone: peers of a zone are the zones of the same crop elsewhere.

A tomato bench yellowing is judged against tomato benches at other sites, not against
lettuce. Without a mapping every zone is a peer of every other. The YAML file maps a site
to one crop, or to a mapping whose keys are ``camera/zone``, ``zone`` or ``*`` (the rest of
the site)::

    north: tomato
    south:
      "*": tomato
      cam2/bench-b: cucumber

A zone the file does not name has no crop; such zones are peers of each other.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from cloudjobs.analysis.errors import AnalysisInputError


@dataclass(frozen=True)
class CropMap:
    """Site -> crop, or site -> {``camera/zone`` | ``zone`` | ``*``: crop}."""

    sites: Mapping[str, str | Mapping[str, str]] = field(default_factory=dict)

    @property
    def given(self) -> bool:
        """Whether a mapping was given at all (otherwise every zone is everyone's peer)."""
        return bool(self.sites)

    def crop_of(self, site: str, camera: str, zone: str) -> str | None:
        """The crop of one zone, or None when the mapping does not say."""
        entry = self.sites.get(site)
        if entry is None or isinstance(entry, str):
            return entry
        for key in (f"{camera}/{zone}", zone, "*"):
            if key in entry:
                return entry[key]
        return None


def load_crop_map(path: Path) -> CropMap:
    """Read and check a crop mapping file; every problem names the file and the key."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise AnalysisInputError(f"{path}: cannot read the crop mapping: {exc}") from exc
    if not isinstance(data, dict):
        raise AnalysisInputError(
            f"{path}: expected a mapping of site to crop (or site to {{zone: crop}}), "
            f"got {type(data).__name__}"
        )
    sites: dict[str, str | Mapping[str, str]] = {}
    for site, entry in data.items():
        if isinstance(entry, str):
            sites[str(site)] = entry
        elif isinstance(entry, dict) and all(isinstance(v, str) for v in entry.values()):
            sites[str(site)] = {str(k): v for k, v in entry.items()}
        else:
            raise AnalysisInputError(
                f"{path}: {site}: {entry!r}: give a crop name or a mapping of "
                "'camera/zone', 'zone' or '*' to a crop name"
            )
    return CropMap(sites)
