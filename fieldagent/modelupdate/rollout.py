"""Staged rollout: which devices take a release at a given percent.

Each device falls in a fixed bucket in ``[0, 100)`` derived from a salted SHA-256 of its
site and device id; it takes the release when its bucket is below the percent. So:

* the choice needs no coordination and no server: every device decides for itself;
* it is monotone: a device in at 10 % is still in at 20 % (its bucket does not move), so
  widening a rollout only adds devices, and halting (0 %) stops every new install;
* the salt is per release, so the same devices are not always the first to get a model.
"""

from __future__ import annotations

import hashlib

_SCALE = 100.0 / 2**64


def bucket(site: str, device: str, salt: str) -> float:
    """The device's position in ``[0, 100)`` for this salt, uniform over devices."""
    digest = hashlib.sha256(f"{salt}\x00{site}\x00{device}".encode()).digest()
    return int.from_bytes(digest[:8], "big") * _SCALE


def in_rollout(site: str, device: str, salt: str, percent: float) -> bool:
    """True when this device takes a release rolled out to ``percent`` (0-100)."""
    return bucket(site, device, salt) < percent
