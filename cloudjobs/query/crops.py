"""Which crop grows in which zone: the optional mapping that makes zones peers across sites.

The raw data carries no crop. Saved queries that compare a zone with its peers group zones
by ``crop`` when this mapping names one, and otherwise by *zone type*: the zone id without
a trailing number (``bench-3`` -> ``bench``, ``lettuce_12`` -> ``lettuce``). A YAML file::

    north:                 # site id
      bench-1: lettuce     # zone id (on any camera of the site)
      cam-2/bench-1: basil # camera/zone: this camera's zone only (wins over the line above)

becomes the ``zone_crops`` view (``site``, ``camera`` (null: any), ``zone``, ``crop``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import yaml

from fieldagent.errors import FieldAgentError

CROPS_SCHEMA = pa.schema([("site", pa.string()), ("camera", pa.string()),
                          ("zone", pa.string()), ("crop", pa.string())])


class CropsError(FieldAgentError):
    """The crops file cannot be used; the message names the file and the entry."""


def load_crops(path: Path) -> list[dict[str, Any]]:
    """The rows of the ``zone_crops`` view from ``path`` (module docstring)."""
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise CropsError(f"{path}: cannot read the crops file: {exc}") from exc
    if not isinstance(doc, dict):
        raise CropsError(f"{path}: expected 'site: {{zone: crop}}' mappings at the top")
    rows = []
    for site, zones in doc.items():
        if not isinstance(zones, dict):
            raise CropsError(f"{path}: {site}: expected 'zone: crop' lines under the site")
        for name, crop in zones.items():
            camera, _, zone = str(name).rpartition("/")
            if not zone or not isinstance(crop, str) or not crop:
                raise CropsError(f"{path}: {site}.{name}: {crop!r}: expected "
                                 "'zone: crop' or 'camera/zone: crop' with a crop name")
            rows.append({"site": str(site), "camera": camera or None, "zone": zone,
                         "crop": crop})
    return rows
