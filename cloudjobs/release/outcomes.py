"""``cloudjobs release-outcomes``: how a release is doing across the fleet, and the brake.

The agents send ``model_report`` items (see ``fieldagent.modelupdate.updater``). Per
version, each device counts once, by what happened to it last:

* ``failed``: rolled back (any reason), or refused for a reason that is the model's
  fault on that device (``FAILURE_REASONS``: golden mismatch, does not load, too slow,
  damaged or inconsistent artifacts);
* ``committed``: passed its trial; ``on_trial``: installed, not judged yet.

Refusals that say nothing about the model (not in the rollout yet, agent too old, older,
expired) are counted by reason but are not failures. The failure share is failed /
(failed + committed); when it passes the threshold with at least ``min_devices`` judged
devices, the release is halted: the channel's manifest is re-signed with percent 0.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from cloudjobs.release.channel import ChannelWriter, ReleaseError
from cloudjobs.release.keys import read_private_key
from cloudjobs.release.publish import parse_duration, read_latest, set_percent
from fieldagent.errors import FieldAgentError

FAILURE_REASONS = frozenset({"golden_mismatch", "load_failed", "too_slow", "inconsistent",
                             "artifact_corrupt"})


@dataclass
class VersionOutcome:
    """What the fleet reported about one version."""

    version: str
    events: Counter[str] = field(default_factory=Counter)
    refused: Counter[str] = field(default_factory=Counter)
    rolled_back: Counter[str] = field(default_factory=Counter)
    devices: dict[str, str] = field(default_factory=dict)  # "site/device" -> state

    def count(self, state: str) -> int:
        return sum(1 for s in self.devices.values() if s == state)

    @property
    def judged(self) -> int:
        return self.count("failed") + self.count("committed")

    @property
    def failure_share(self) -> float | None:
        return self.count("failed") / self.judged if self.judged else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version, "events": dict(self.events), "refused": dict(self.refused),
            "rolled_back": dict(self.rolled_back), "devices": dict(self.devices),
            "failed": self.count("failed"), "committed": self.count("committed"),
            "on_trial": self.count("on_trial"), "failure_share": self.failure_share,
        }


@dataclass(frozen=True)
class HaltDecision:
    """Whether the channel's release was halted, and why (or why not)."""

    version: str | None
    halted: bool
    message: str


def summarise(reports: Iterable[Mapping[str, Any]]) -> dict[str, VersionOutcome]:
    """Per version, the fleet's outcomes; reports are taken in their ``at`` order."""
    out: dict[str, VersionOutcome] = {}
    items = [r for r in reports if r.get("kind", "model_report") == "model_report"
             and r.get("version")]
    for r in sorted(items, key=lambda r: str(r.get("at", ""))):
        version, event, reason = str(r["version"]), str(r.get("event")), r.get("reason")
        outcome = out.setdefault(version, VersionOutcome(version))
        outcome.events[event] += 1
        device = f"{r.get('site')}/{r.get('device')}"
        if event == "refused":
            outcome.refused[str(reason)] += 1
            if reason in FAILURE_REASONS:
                outcome.devices[device] = "failed"
        elif event == "rolled_back":
            outcome.rolled_back[str(reason)] += 1
            outcome.devices[device] = "failed"
        elif event in ("installed", "committed"):
            outcome.devices[device] = "on_trial" if event == "installed" else "committed"
    return out


def halt_if_failing(channel: ChannelWriter, key: Ed25519PrivateKey,
                    outcomes: Mapping[str, VersionOutcome], *, max_failure_share: float,
                    min_devices: int, now: datetime,
                    expires_in: timedelta = timedelta(days=30)) -> HaltDecision:
    """Halt the channel's current release when too many devices failed with it."""
    latest = read_latest(channel)
    if latest is None:
        return HaltDecision(None, False, f"{channel.name} has no release")
    outcome = outcomes.get(latest.version)
    share = outcome.failure_share if outcome else None
    if outcome is None or share is None or outcome.judged < min_devices:
        judged = outcome.judged if outcome else 0
        return HaltDecision(latest.version, False, f"{latest.version}: {judged} device(s) "
                            f"judged, fewer than {min_devices}: not deciding yet")
    if share <= max_failure_share:
        return HaltDecision(latest.version, False, f"{latest.version}: failure share "
                            f"{share:.0%} is within {max_failure_share:.0%}")
    if latest.rollout.percent == 0:
        return HaltDecision(latest.version, False, f"{latest.version}: already halted")
    set_percent(channel, key, 0.0, now, expires_in)
    return HaltDecision(latest.version, True, f"{latest.version}: failure share {share:.0%} "
                        f"over {max_failure_share:.0%} on {outcome.judged} devices: halted")


def read_reports(paths: Sequence[Path]) -> list[dict[str, Any]]:
    """Reports from JSON-lines files (one object per line) or JSON files (a list)."""
    reports: list[dict[str, Any]] = []
    for path in paths:
        text = path.read_text(encoding="utf-8")
        if text.lstrip().startswith("["):
            reports.extend(json.loads(text))
        else:
            reports.extend(json.loads(line) for line in text.splitlines() if line.strip())
    return reports


def outcome_text(outcomes: Mapping[str, VersionOutcome]) -> str:
    """One block per version, for people."""
    lines = []
    for version, o in sorted(outcomes.items()):
        share = "-" if o.failure_share is None else f"{o.failure_share:.0%}"
        lines.append(f"{version}: {o.count('committed')} committed, {o.count('failed')} failed,"
                     f" {o.count('on_trial')} on trial, failure share {share}")
        for label, counts in (("rolled back", o.rolled_back), ("refused", o.refused)):
            if counts:
                lines.append(f"  {label}: " + ", ".join(f"{k} {v}" for k, v in
                                                         sorted(counts.items())))
    return "\n".join(lines) or "no model reports"


def main(argv: Sequence[str] | None = None) -> int:
    """``cloudjobs release-outcomes``; 0 done, 1 channel failure, 2 bad input."""
    p = argparse.ArgumentParser(prog="cloudjobs release-outcomes",
                                description="Summarise model reports; halt a failing release.")
    p.add_argument("reports", nargs="+", type=Path, help="JSON-lines or JSON files of reports")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--channel", help="halt this channel's release if it is failing")
    p.add_argument("--key", type=Path, help="private key PEM to sign the halt")
    p.add_argument("--max-failure-share", type=float, default=0.2,
                   help="halt above this share of failed devices")
    p.add_argument("--min-devices", type=int, default=3, help="judged devices needed to halt")
    p.add_argument("--endpoint-url", help="S3 endpoint (non-AWS S3)")
    p.add_argument("--expires", default="30d", help="lifetime of the halting manifest")
    args = p.parse_args(argv)
    if args.channel and not args.key:
        p.error("--channel needs --key to sign the halt")
    try:
        outcomes = summarise(read_reports(args.reports))
        decision = None
        if args.channel:
            channel = ChannelWriter.open(args.channel, endpoint_url=args.endpoint_url)
            decision = halt_if_failing(
                channel, read_private_key(args.key), outcomes,
                max_failure_share=args.max_failure_share, min_devices=args.min_devices,
                now=datetime.now(UTC), expires_in=parse_duration(args.expires))
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (ReleaseError, FieldAgentError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps({"versions": {v: o.to_dict() for v, o in outcomes.items()},
                          "halt": asdict(decision) if decision else None}, indent=2))
    else:
        print(outcome_text(outcomes))
        if decision:
            print(decision.message)
    return 0
