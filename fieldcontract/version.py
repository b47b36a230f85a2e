"""The contract's version and the rule for changing it.

``CONTRACT_VERSION`` is ``major.minor``. Only the major travels: it is the batch header's
``schema_version``, a signal record's ``v`` and a heartbeat's ``schema_version`` (alerts and
model reports carry none: absent means major 1). A minor never needs a reader's decision, so
it stays out of the bytes, and today's objects keep their exact bytes and keys.

Evolving the contract
---------------------
* **Minor (compatible):** a new *optional* field on a record, or a new record or key kind.
  Writers add it; readers of the same major that do not know it keep it in the record's
  ``extra`` (nothing is lost on a round trip) and the lake ignores it or adds an open
  column. Never rename a field, change its type or unit, or make an optional field required
  within a major.
* **Major (breaking):** anything else. Bump ``CONTRACT_VERSION.major``, write the new
  reader next to the old one (a module per major) and add the major to ``READABLE_MAJORS``:
  the cloud reads every major it ever accepted side by side, because ``raw/`` keeps every
  object a site ever sent. Ship the cloud reader first, the agents after.

The version is not a setting: a policy cannot choose it (``batching.schema_version`` was
removed for that reason; an agent always writes the contract it was built with).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class ContractVersion:
    """A contract version: ``major`` decides which reader applies, ``minor`` is informative."""

    major: int
    minor: int

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}"


CONTRACT_VERSION = ContractVersion(1, 0)
"""The contract this code writes (and the newest it reads)."""

READABLE_MAJORS = frozenset({1})
"""Every major this code has a reader for; an object of another major is refused, not guessed."""
