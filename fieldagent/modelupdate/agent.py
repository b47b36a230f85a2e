"""Build the model updater from the site config, for the agent (``fieldagent.service``).

The agent hands itself in; this module only reads what it needs (``AgentParts``), so it
does not import the service. Model reports go into the outbox as ``model_report`` items
through the agent's offloader. A report made before the agent has its offloader (a trial
rolled back at start because the agent kept crashing on it) waits in memory and goes out
with the next report. (Building the updater after the offloader avoids the wait.)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from fieldagent import __version__
from fieldagent.config.secrets import SecretStore
from fieldagent.config.site import SiteConfig
from fieldagent.modelupdate.config import (
    ModelUpdateConfig,
    device_id,
    device_limits,
    load_trusted_keys,
    open_channel_from_config,
)
from fieldagent.modelupdate.store import ModelStore
from fieldagent.modelupdate.updater import ModelUpdater, model_loader

REPORT_KIND = "model_report"


class Outlet(Protocol):
    """Where model reports go (the agent's ``Offloader``)."""

    def put_json(self, kind: str, body: Mapping[str, Any], camera: str | None = None,
                 when: datetime | None = None) -> str: ...


class DataPaths(Protocol):
    """Where the agent keeps its state (``fieldagent.datadir.DataDir``)."""

    @property
    def models(self) -> Path: ...


class AgentParts(Protocol):
    """What ``build_updater`` reads from the agent."""

    @property
    def site(self) -> SiteConfig: ...
    @property
    def base(self) -> Path: ...
    @property
    def secrets(self) -> SecretStore: ...
    @property
    def paths(self) -> DataPaths: ...
    @property
    def clock(self) -> Callable[[], datetime]: ...


class ModelReports:
    """Sends model reports to the agent's outbox, holding early ones until it exists."""

    def __init__(self, agent: object) -> None:
        self._agent = agent
        self.pending: list[dict[str, Any]] = []

    def __call__(self, report: dict[str, Any]) -> None:
        self.pending.append(report)
        outlet: Outlet | None = getattr(self._agent, "offloader", None)
        while outlet is not None and self.pending:
            report = self.pending[0]
            outlet.put_json(REPORT_KIND, report, when=datetime.fromisoformat(report["at"]))
            self.pending.pop(0)


def build_updater(config: ModelUpdateConfig, agent: AgentParts) -> ModelUpdater:
    """The agent's updater: store under ``<data_dir>/models``, channel, keys, reports."""
    store = ModelStore.open(agent.paths.models, keep_slots=config.keep_slots)
    return ModelUpdater(
        open_channel_from_config(config, agent.secrets, agent.base),
        load_trusted_keys(config, relative_to=agent.base),
        store,
        site=agent.site.site.id,
        device=device_id(config, agent.site.site.device),
        agent_version=__version__,
        clock=agent.clock,
        report=ModelReports(agent),
        load=model_loader(agent.site.model),
        limits=device_limits(config),
    )
