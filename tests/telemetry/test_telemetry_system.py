"""SystemProbe: every figure read where possible, None where not, never an exception."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from fieldagent.telemetry import SystemProbe, read_cpu_temperature
from tests.support.clock import SimClock


class Reading(NamedTuple):
    """The shape of one psutil ``shwtemp`` reading."""

    label: str
    current: float
    high: float | None = None
    critical: float | None = None


def zone(root: Path, n: int, kind: str, millideg: str) -> None:
    d = root / f"thermal_zone{n}"
    d.mkdir(parents=True)
    (d / "type").write_text(kind + "\n")
    (d / "temp").write_text(millideg + "\n")


def test_cpu_temperature_is_none_when_nothing_is_readable(tmp_path: Path) -> None:
    assert read_cpu_temperature(sensors=None, thermal_dir=tmp_path) is None
    assert read_cpu_temperature(sensors=None, thermal_dir=tmp_path / "missing") is None


def test_cpu_zone_is_preferred_over_other_zones(tmp_path: Path) -> None:
    zone(tmp_path, 0, "acpitz", "40000")
    zone(tmp_path, 1, "iwlwifi_1", "90000")
    zone(tmp_path, 2, "x86_pkg_temp", "61500")
    zone(tmp_path, 10, "cpu-thermal", "63000")
    assert read_cpu_temperature(sensors=None, thermal_dir=tmp_path) == pytest.approx(63.0)


def test_zone0_is_the_fallback_and_garbage_is_ignored(tmp_path: Path) -> None:
    zone(tmp_path, 0, "board", "47250")
    zone(tmp_path, 1, "iwlwifi_1", "90000")
    assert read_cpu_temperature(sensors=None, thermal_dir=tmp_path) == pytest.approx(47.25)
    broken = tmp_path / "broken"
    zone(broken, 0, "cpu-thermal", "not a number")
    zone(broken, 1, "soc-thermal", "999999999")  # a broken sensor, not a molten CPU
    assert read_cpu_temperature(sensors=None, thermal_dir=broken) is None


def test_psutil_cpu_chip_is_read_first_and_other_chips_are_not_the_cpu(tmp_path: Path) -> None:
    zone(tmp_path, 0, "cpu-thermal", "50000")

    def chips() -> Mapping[str, Sequence[Any]]:
        return {"nvme": [Reading("Composite", 70.0)],
                "coretemp": [Reading("Package id 0", 58.0), Reading("Core 0", 61.0)]}

    def only_nvme() -> Mapping[str, Sequence[Any]]:
        return {"nvme": [Reading("Composite", 70.0)]}

    def broken() -> Mapping[str, Sequence[Any]]:
        raise OSError("sensor driver fell over")

    assert read_cpu_temperature(sensors=chips, thermal_dir=tmp_path) == pytest.approx(61.0)
    assert read_cpu_temperature(sensors=only_nvme, thermal_dir=tmp_path) == pytest.approx(50.0)
    assert read_cpu_temperature(sensors=broken, thermal_dir=tmp_path) == pytest.approx(50.0)


def test_probe_reads_disk_through_the_injected_reader(tmp_path: Path) -> None:
    asked: list[Path] = []

    def nearly_full(path: Path) -> tuple[int, int, int]:
        asked.append(path)
        return 1000, 950, 50

    clock = SimClock()
    snap = SystemProbe(tmp_path, clock=clock, disk_usage=nearly_full, sensors=None,
                       thermal_dir=tmp_path).read()
    assert asked == [tmp_path]
    assert (snap.disk_total_bytes, snap.disk_free_bytes) == (1000, 50)
    assert snap.disk_free_fraction == pytest.approx(0.05)
    assert snap.cpu_temp_c is None and snap.at == clock.now


def test_probe_reads_the_real_system_and_survives_a_missing_data_dir(tmp_path: Path) -> None:
    before = datetime.now(UTC)
    snap = SystemProbe(tmp_path / "not-mounted-yet").read()  # the default clock is real time
    assert before <= snap.at <= datetime.now(UTC)
    assert snap.disk_total_bytes is None and snap.disk_free_fraction is None
    assert snap.rss_bytes is not None and snap.rss_bytes > 10_000_000
    assert snap.system_uptime_s is not None and snap.system_uptime_s > 0
    if hasattr(os, "getloadavg"):
        assert snap.load_1m is not None and snap.load_1m >= 0
    real = SystemProbe(tmp_path, clock=lambda: datetime.now(UTC)).read()
    assert real.disk_total_bytes and real.disk_free_bytes is not None
    assert 0.0 <= (real.disk_free_fraction or 0.0) <= 1.0
