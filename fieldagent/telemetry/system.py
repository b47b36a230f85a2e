"""The device's own figures: data disk, CPU temperature, load, memory, uptime.

Every reading may be impossible on some device (no thermal sensor in a VM, no load
average on some kernels, a data folder not mounted yet): such a figure is ``None`` and
the reason is logged at debug level. Reading the system never raises, because telemetry
must keep working exactly when the device is in trouble.

CPU temperature comes from ``psutil.sensors_temperatures`` (hwmon chips such as
``coretemp``, ``k10temp``, ``cpu_thermal``) and, when psutil knows no CPU chip, from
``/sys/class/thermal/thermal_zone*/``: the hottest zone whose ``type`` names the CPU or
SoC, else ``thermal_zone0`` (the SoC on the single-board computers the agent runs on).
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil

log = logging.getLogger(__name__)

THERMAL_DIR = Path("/sys/class/thermal")
CPU_CHIPS = ("coretemp", "k10temp", "zenpower", "cpu_thermal", "cpu-thermal", "soc_thermal")
_CPU_ZONE = re.compile(r"cpu|x86_pkg|soc|core|package", re.IGNORECASE)
_PLAUSIBLE_C = (-40.0, 150.0)  # outside this a sensor is broken, not the CPU

DiskUsage = Callable[[Path], tuple[int, int, int]]
"""``shutil.disk_usage``-like: (total, used, free) bytes of the file system holding a path."""
Sensors = Callable[[], Mapping[str, Sequence[Any]]]
"""``psutil.sensors_temperatures``-like: chip name -> readings with a ``current`` in deg C."""
PSUTIL_SENSORS: Sensors | None = getattr(psutil, "sensors_temperatures", None)
"""psutil's reader where this platform has one (Linux, FreeBSD), else None."""


@dataclass(frozen=True)
class SystemSnapshot:
    """The device at one moment; any figure is None when it could not be read."""

    at: datetime
    data_dir: str
    disk_total_bytes: int | None
    disk_free_bytes: int | None
    cpu_temp_c: float | None
    load_1m: float | None
    load_5m: float | None
    load_15m: float | None
    rss_bytes: int | None
    system_uptime_s: float | None

    @property
    def disk_free_fraction(self) -> float | None:
        if self.disk_total_bytes is None or self.disk_free_bytes is None:
            return None
        return self.disk_free_bytes / self.disk_total_bytes if self.disk_total_bytes else 0.0


class SystemProbe:
    """Reads ``SystemSnapshot``s of this device.

    Parameters
    ----------
    data_dir
        The folder the agent keeps its data in (outbox, spool); its file system is the disk
        that matters.
    clock
        The current aware UTC time (snapshot time and uptime); the system clock by default,
        since the figures it goes with are the real system's.
    disk_usage, sensors, thermal_dir
        Where the figures come from; tests point them at their own folders and callables.
        ``sensors=None`` skips psutil's sensors.
    """

    def __init__(
        self,
        data_dir: Path,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        disk_usage: DiskUsage = shutil.disk_usage,
        sensors: Sensors | None = PSUTIL_SENSORS,
        thermal_dir: Path = THERMAL_DIR,
    ) -> None:
        self.data_dir, self._clock = Path(data_dir), clock
        self._disk_usage, self._sensors, self._thermal_dir = disk_usage, sensors, thermal_dir
        self._process = psutil.Process()

    def read(self) -> SystemSnapshot:
        """Every figure now; None for what cannot be read."""
        now = self._clock()
        total, free = self._disk()
        load = _load_average()
        return SystemSnapshot(
            at=now,
            data_dir=str(self.data_dir),
            disk_total_bytes=total,
            disk_free_bytes=free,
            cpu_temp_c=read_cpu_temperature(sensors=self._sensors, thermal_dir=self._thermal_dir),
            load_1m=load[0],
            load_5m=load[1],
            load_15m=load[2],
            rss_bytes=self._rss(),
            system_uptime_s=_uptime(now),
        )

    def _disk(self) -> tuple[int | None, int | None]:
        try:
            total, _used, free = self._disk_usage(self.data_dir)
        except OSError as exc:
            log.debug("disk usage of %s unreadable: %s", self.data_dir, exc)
            return None, None
        return int(total), int(free)

    def _rss(self) -> int | None:
        try:
            return int(self._process.memory_info().rss)
        except (psutil.Error, OSError) as exc:
            log.debug("process memory unreadable: %s", exc)
            return None


def read_cpu_temperature(
    *,
    sensors: Sensors | None = PSUTIL_SENSORS,
    thermal_dir: Path = THERMAL_DIR,
) -> float | None:
    """The CPU temperature in deg C, or None when no sensor can be read (module docstring)."""
    if sensors is not None:
        temp = _from_sensors(sensors)
        if temp is not None:
            return temp
    return _from_thermal_zones(thermal_dir)


def _from_sensors(sensors: Sensors) -> float | None:
    try:
        chips = sensors()
    except Exception as exc:  # psutil raises assorted errors on odd kernels; none may escape
        log.debug("psutil sensors unreadable: %s", exc)
        return None
    for chip in CPU_CHIPS:
        values = [_plausible(getattr(r, "current", None)) for r in chips.get(chip, ())]
        found = [v for v in values if v is not None]
        if found:
            return max(found)
    return None


def _from_thermal_zones(thermal_dir: Path) -> float | None:
    try:
        zones = sorted(thermal_dir.glob("thermal_zone*"), key=lambda p: _zone_number(p.name))
    except OSError as exc:
        log.debug("%s unreadable: %s", thermal_dir, exc)
        return None
    readings = [(_read_text(z / "type") or "", _zone_temp(z)) for z in zones]
    cpu = [t for kind, t in readings if t is not None and _CPU_ZONE.search(kind)]
    if cpu:
        return max(cpu)
    return readings[0][1] if readings else None


def _zone_temp(zone: Path) -> float | None:
    text = _read_text(zone / "temp")
    try:
        return _plausible(int(text) / 1000.0) if text else None
    except ValueError:
        log.debug("%s/temp holds %r, not millidegrees", zone, text)
        return None


def _zone_number(name: str) -> int:
    digits = name.removeprefix("thermal_zone")
    return int(digits) if digits.isdigit() else 1 << 30


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="ascii", errors="replace").strip()
    except OSError:
        return None


def _plausible(value: Any) -> float | None:
    if not isinstance(value, int | float):
        return None
    low, high = _PLAUSIBLE_C
    return float(value) if low <= value <= high else None


def _load_average() -> tuple[float | None, float | None, float | None]:
    try:
        one, five, fifteen = os.getloadavg()
    except (OSError, AttributeError) as exc:
        log.debug("load average unreadable: %s", exc)
        return None, None, None
    return one, five, fifteen


def _uptime(now: datetime) -> float | None:
    try:
        return max(0.0, now.timestamp() - psutil.boot_time())
    except (psutil.Error, OSError) as exc:
        log.debug("boot time unreadable: %s", exc)
        return None
