"""Human units in policy files: sizes ("50MB"), rates ("20KB/s"), durations ("30d"), clock
times ("22:00") and time-of-day windows ("22:00-06:00").

A fleet admin writes units, the agent works in bytes and seconds. Each parser is a small
callable carrying its allowed range so the error names the range in the admin's units
("must be between 1 MB and 10 TB"), not as a bare byte count.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

_SIZE_UNITS = {
    "B": 1,
    "KB": 1000, "kB": 1000, "MB": 1000**2, "GB": 1000**3, "TB": 1000**4,
    "KiB": 1024, "MiB": 1024**2, "GiB": 1024**3, "TiB": 1024**4,
}
_BIT_UNITS = {"bit": 1 / 8, "kbit": 1000 / 8, "Mbit": 1000**2 / 8, "Gbit": 1000**3 / 8}
_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}
_NUMBER_UNIT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*$")
_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})$")

SIZE_HELP = "write a number and a unit: B, KB, MB, GB, TB (1000s) or KiB, MiB, GiB, TiB (1024s)"
RATE_HELP = "write a size per second, e.g. 20KB/s, 1.5MB/s or 2Mbit/s"
DURATION_HELP = "write a number and a unit: 90s, 15m, 12h, 30d or 2w"


class Seconds(float):
    """A duration already in seconds (code defaults); a bare number in a file is refused."""


class BytesPerSecond(float):
    """A rate already in bytes per second (code defaults)."""


def duration(text: str) -> Seconds:
    """'30d' -> Seconds(2592000.0), for defaults written in code the way an admin writes them."""
    return Seconds(parse_duration(text))


def size(text: str) -> int:
    """'50MB' -> 50_000_000, for defaults written in code."""
    return parse_size(text)


def rate(text: str) -> BytesPerSecond:
    """'20KB/s' -> BytesPerSecond(20000.0), for defaults written in code."""
    return BytesPerSecond(parse_rate(text))


def parse_size(value: Any) -> int:
    """'50MB' -> 50_000_000 bytes. A bare integer is a byte count; units are case-sensitive
    because a lowercase 'b' conventionally means bits."""
    if isinstance(value, bool):
        raise ValueError(f"expected a size; {SIZE_HELP}")
    if isinstance(value, int):
        if value < 0:
            raise ValueError("a size cannot be negative")
        return value
    m = _NUMBER_UNIT.match(value) if isinstance(value, str) else None
    if not m:
        raise ValueError(f"not a size; {SIZE_HELP}")
    number, unit = m.groups()
    if not unit:
        raise ValueError(f"a size needs a unit; {SIZE_HELP}")
    if unit not in _SIZE_UNITS:
        hint = " ('b' means bits here; write B for bytes)" if unit.lower().endswith("b") else ""
        raise ValueError(f"unknown size unit {unit!r}{hint}; {SIZE_HELP}")
    return round(float(number) * _SIZE_UNITS[unit])


def parse_rate(value: Any) -> float:
    """'20KB/s' -> 20_000.0 bytes per second; '2Mbit/s' -> 250_000.0 (links are sold in bits)."""
    if isinstance(value, BytesPerSecond):
        return float(value)
    text = value.strip() if isinstance(value, str) else ""
    if not text.endswith("/s"):
        raise ValueError(f"not a rate; {RATE_HELP}")
    m = _NUMBER_UNIT.match(text[:-2])
    if m and m.group(2) in _BIT_UNITS:
        return float(m.group(1)) * _BIT_UNITS[m.group(2)]
    try:
        return float(parse_size(text[:-2]))
    except ValueError:
        raise ValueError(f"not a rate; {RATE_HELP}") from None


def parse_duration(value: Any) -> float:
    """'12h' -> 43200.0 seconds. A unit is required: a bare '30' could be seconds or days."""
    if isinstance(value, Seconds):
        return float(value)
    m = _NUMBER_UNIT.match(value) if isinstance(value, str) else None
    if not m or m.group(2) not in _DURATION_UNITS:
        raise ValueError(f"not a duration; {DURATION_HELP}")
    return float(m.group(1)) * _DURATION_UNITS[m.group(2)]


def parse_clock(value: str) -> int:
    """'22:30' -> minutes after midnight (1350). '24:00' is allowed as the end of a day."""
    m = _CLOCK.match(value.strip()) if isinstance(value, str) else None
    if not m:
        raise ValueError(f"time {value!r} must be HH:MM in 24-hour local time, e.g. 22:00")
    hours, minutes = int(m.group(1)), int(m.group(2))
    if hours > 24 or minutes > 59 or (hours == 24 and minutes):
        raise ValueError(f"time {value!r} is not a time of day (00:00 to 23:59, or 24:00)")
    return hours * 60 + minutes


def parse_window(value: str) -> tuple[int, int]:
    """'22:00-06:00' -> (1320, 360) minutes; an end before the start wraps past midnight."""
    parts = value.split("-") if isinstance(value, str) else []
    if len(parts) != 2:
        raise ValueError("a window is 'HH:MM-HH:MM' in local time, e.g. '22:00-06:00'")
    start, end = parse_clock(parts[0]), parse_clock(parts[1])
    if start == 1440:
        raise ValueError("a window cannot start at 24:00; write 00:00")
    if start == end:
        raise ValueError("the window is empty (start equals end); leave 'windows' empty for always")
    return start, end


def in_spans(spans: Sequence[tuple[int, int]], minute: float) -> bool:
    """Whether a minute of the local day (0 to 1440) falls in one of the parsed windows."""
    return any((s <= minute < e) if s < e else (minute >= s or minute < e) for s, e in spans)


def open_share(spans: Sequence[tuple[int, int]]) -> float:
    """Share of the day the parsed windows cover (overlaps counted once; none: always open).

    A fact about the policy text, not about any clock: both the uploader's windows and the
    degrade planner's drain estimate use it."""
    if not spans:
        return 1.0
    return sum(in_spans(spans, m) for m in range(1440)) / 1440


def format_size(nbytes: float) -> str:
    """30_000_000 -> '30.0 MB' (decimal units, as link contracts are written)."""
    for unit, factor in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if abs(nbytes) >= factor:
            return f"{nbytes / factor:.1f} {unit}"
    return f"{nbytes:.0f} B"


def format_duration(seconds: float) -> str:
    """43200 -> '12h'; picks the largest unit that divides evenly, else a decimal hour count."""
    for unit, factor in (("w", 604_800), ("d", 86_400), ("h", 3600), ("m", 60)):
        if seconds >= factor and seconds % factor == 0:
            return f"{seconds / factor:.0f}{unit}"
    return f"{seconds / 3600:.1f}h" if seconds >= 3600 else f"{seconds:.0f}s"


@dataclass(frozen=True)
class SizeIn:
    """Validator: a size between ``lo`` and ``hi`` (both human strings, shown in errors)."""

    lo: str
    hi: str

    def __call__(self, value: Any) -> int:
        n = parse_size(value)
        if not parse_size(self.lo) <= n <= parse_size(self.hi):
            raise ValueError(f"must be between {self.lo} and {self.hi}")
        return n


@dataclass(frozen=True)
class RateIn:
    """Validator: a byte rate between ``lo`` and ``hi`` (human strings)."""

    lo: str
    hi: str

    def __call__(self, value: Any) -> float:
        r = parse_rate(value)
        if not parse_rate(self.lo) <= r <= parse_rate(self.hi):
            raise ValueError(f"must be between {self.lo} and {self.hi}")
        return r


@dataclass(frozen=True)
class DurationIn:
    """Validator: a duration between ``lo`` and ``hi`` (human strings)."""

    lo: str
    hi: str

    def __call__(self, value: Any) -> float:
        s = parse_duration(value)
        if not parse_duration(self.lo) <= s <= parse_duration(self.hi):
            raise ValueError(f"must be between {self.lo} and {self.hi}")
        return s


def check_window(value: str) -> str:
    """Field validator: keep the window text, refuse it if it does not parse."""
    parse_window(value)
    return value


def check_clock(value: str) -> str:
    """Field validator: keep the clock text, refuse it if it does not parse or is 24:00."""
    if parse_clock(value) >= 1440:
        raise ValueError("use 00:00 rather than 24:00 for midnight")
    return value
