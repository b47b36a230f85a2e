"""The fleet view: one row per device from what the devices uploaded, worst first."""

from cloudjobs.fleet.config import FleetConfig
from cloudjobs.fleet.table import fleet_table

__all__ = ["FleetConfig", "fleet_table"]
