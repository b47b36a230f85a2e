"""How a record's JSON values are read: one rule per value type, shared by every record.

The rules are the ones the cloud has always applied, so a document that was valid before the
contract existed is valid now: times are ISO 8601 (a time without a zone is UTC), optional
text may be any scalar (it is read as its text), numbers are JSON numbers (not booleans) and
a non-finite number reads as unknown (``None``). Each reader raises ``ContractError`` naming
the field and what it should be.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from fieldcontract.errors import ContractError, UnsupportedVersion
from fieldcontract.version import READABLE_MAJORS

Number = int | float


def time(doc: Mapping[str, Any], key: str) -> datetime:
    """A required ISO 8601 time, in UTC."""
    value = doc.get(key)
    if not isinstance(value, str):
        raise ContractError(f"{key!r} is {value!r}, not an ISO 8601 time")
    try:
        when = datetime.fromisoformat(value)
    except ValueError as exc:
        raise ContractError(f"{key!r} is {value!r}, not an ISO 8601 time") from exc
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).astimezone(UTC)


def opt_time(doc: Mapping[str, Any], key: str) -> datetime | None:
    """An optional ISO 8601 time (absent or null: ``None``)."""
    return None if doc.get(key) is None else time(doc, key)


def text(doc: Mapping[str, Any], key: str) -> str:
    """A required, non-empty string."""
    value = doc.get(key)
    if not isinstance(value, str) or not value:
        raise ContractError(f"{key!r} is {value!r}, not a non-empty string")
    return value


def opt_text(value: Any) -> str | None:
    """Optional text: ``None`` stays ``None``, anything else is read as its text."""
    return None if value is None else str(value)


def opt_bool(value: Any) -> bool | None:
    """``true``, ``false`` or unknown."""
    if value is None or isinstance(value, bool):
        return value
    raise ContractError(f"{value!r} is not true or false")


def names(value: Any, what: str) -> tuple[str, ...]:
    """A list of names (flags, rules); absent is empty."""
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ContractError(f"{what} {value!r} is not a list of names")
    return tuple(value)


def number(value: Any, what: str) -> Number | None:
    """A JSON number as it was sent (an int stays an int); non-finite or absent is ``None``."""
    kind = type(value)  # exact types first: the lake reads millions of these
    if kind is float:
        return value if math.isfinite(value) else None
    if kind is int or value is None:
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ContractError(f"{what} value {value!r} is not a number")
    return value if math.isfinite(value) else None


def numbers(value: Any, what: str) -> dict[str, Number | None]:
    """An object of ``name: number`` (signals, metrics, probabilities); absent is empty."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ContractError(f"{what!r} is not an object of name: number")
    out: dict[str, Number | None] = {}
    for name, v in value.items():
        kind = type(v)
        plain = kind is int or v is None or (kind is float and math.isfinite(v))
        out[name] = v if plain else number(v, f"{what}.{name}")  # JSON names are str
    return out


def pair(value: Any, what: str) -> tuple[Number | None, Number | None] | None:
    """Two numbers (``[x, y]``, ``[width, height]``); absent is ``None``."""
    if value is None:
        return None
    if not isinstance(value, list) or len(value) != 2:
        raise ContractError(f"{what!r} is {value!r}, not a list of two numbers")
    return number(value[0], what), number(value[1], what)


def obj(value: Any, what: str) -> dict[str, Any]:
    """A JSON object kept as it is (a nested map whose inside the contract leaves open)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ContractError(f"{what!r} is not an object")
    return value


def major(doc: Mapping[str, Any], key: str, what: str) -> int:
    """The contract major a document says it follows (absent: 1, written before versions)."""
    version = doc.get(key, 1)
    if version not in READABLE_MAJORS:
        raise UnsupportedVersion(what, version, READABLE_MAJORS)
    return int(version)


def extra(doc: Mapping[str, Any], known: frozenset[str]) -> dict[str, Any]:
    """The fields a newer minor added that this reader does not know: kept, not dropped."""
    if known.issuperset(doc):  # the usual case, checked in C
        return {}
    return {k: v for k, v in doc.items() if k not in known}


def iso(when: datetime | None) -> str | None:
    """A time as it goes over the wire."""
    return None if when is None else when.isoformat()
