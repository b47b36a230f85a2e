"""``cloudjobs release``: publish a signed model release, widen its rollout, or halt it.

    cloudjobs release --model DIR --channel URL --key release-key.pem --percent 10 --expires 30d
    cloudjobs release --advance 50 --channel URL --key release-key.pem
    cloudjobs release --halt --channel URL --key release-key.pem

Publishing uploads every file the model folder's manifest lists (plus the manifest) under
``models/<name>/<version>/`` create-only, computes golden vectors by running the model on
deterministic crops, then writes ``manifest.json`` and signs it. ``--advance`` and
``--halt`` sign a new manifest for the same release with another percent; the salt stays,
so every device that had the release keeps it when the percent grows.

S3 credentials come from boto3's usual chain (environment, ~/.aws, instance role).
"""

from __future__ import annotations

import argparse
import re
import secrets
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from cloudjobs.release.channel import ChannelWriter, ReleaseError
from cloudjobs.release.keys import read_private_key
from fieldagent.errors import FieldAgentError
from fieldagent.inference.manifest import read_manifest, verified_bytes
from fieldagent.modelupdate.golden import DEFAULT_TOLERANCE, make_golden
from fieldagent.modelupdate.signing import sign
from fieldcontract.manifest import (
    GOLDEN_FILE,
    MANIFEST_KEY,
    MODEL_MANIFEST,
    SIGNATURE_KEY,
    Artifact,
    Golden,
    HealthSettings,
    ManifestInvalid,
    ReleaseManifest,
    Rollout,
    parse_manifest,
    parse_version,
    release_prefix,
    sha256_of,
)

_DURATION = re.compile(r"(\d+(?:\.\d+)?)([smhd])")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class ReleaseOptions:
    """How a release is rolled out and judged."""

    percent: float = 10.0
    expires_in: timedelta = timedelta(days=30)
    min_agent_version: str | None = None
    latency_budget_ms: float = 100.0
    tolerance: float = DEFAULT_TOLERANCE
    health: HealthSettings = field(default_factory=HealthSettings)


def parse_duration(text: str) -> timedelta:
    """``90s``, ``15m``, ``12h``, ``30d`` as a timedelta."""
    match = _DURATION.fullmatch(text.strip())
    if not match or float(match.group(1)) <= 0:
        raise ValueError(f"duration {text!r} is not like 90s, 15m, 12h or 30d")
    return timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2)])


def read_latest(channel: ChannelWriter) -> ReleaseManifest | None:
    """The channel's current manifest (not verified: the publisher holds the key)."""
    raw = channel.get(MANIFEST_KEY)
    return None if raw is None else parse_manifest(raw)


def write_manifest(channel: ChannelWriter, manifest: ReleaseManifest,
                   key: Ed25519PrivateKey) -> None:
    """Write the manifest, then its signature (devices re-read once if they race this)."""
    payload = manifest.to_bytes()
    channel.put_latest(MANIFEST_KEY, payload)
    channel.put_latest(SIGNATURE_KEY, sign(payload, key).to_bytes())


def publish_release(channel: ChannelWriter, key: Ed25519PrivateKey, model_dir: Path,
                    options: ReleaseOptions, now: datetime,
                    golden: bytes | None = None) -> ReleaseManifest:
    """Upload the model folder and golden vectors, then sign the manifest; return it.

    ``golden`` replaces the computed golden vectors (e.g. reference outputs kept from the
    training run). Raises ``ReleaseError`` when the channel already carries a newer version.
    """
    model = read_manifest(model_dir)
    version = str(parse_version(model.version))
    latest = read_latest(channel)
    if latest is not None and latest.parsed_version > parse_version(version):
        raise ReleaseError(f"{channel.name} already carries {latest.name} {latest.version}, "
                           f"newer than {version}: devices would refuse it as older")
    prefix = release_prefix(model.name, version)
    files = {MODEL_MANIFEST: (model_dir / MODEL_MANIFEST).read_bytes()}
    for entry in model.files.values():
        files[entry.file] = verified_bytes(model_dir / entry.file, entry.sha256)
    artifacts = [_upload(channel, f"{prefix}/{name}", data, name) for name, data in files.items()]
    golden_bytes = golden if golden is not None else make_golden(model_dir,
                                                                 tolerance=options.tolerance)
    golden_ref = _upload(channel, f"{prefix}/{GOLDEN_FILE}", golden_bytes, GOLDEN_FILE)
    same = latest is not None and latest.version == version
    manifest = ReleaseManifest(
        name=model.name, version=version, created_at=now, expires_at=now + options.expires_in,
        artifacts=artifacts,
        golden=Golden(key=golden_ref.key, size=golden_ref.size, sha256=golden_ref.sha256),
        rollout=Rollout(percent=options.percent,
                        salt=latest.rollout.salt if same and latest else secrets.token_hex(8)),
        min_agent_version=options.min_agent_version,
        latency_budget_ms=options.latency_budget_ms, health=options.health,
    )
    write_manifest(channel, manifest, key)
    return manifest


def set_percent(channel: ChannelWriter, key: Ed25519PrivateKey, percent: float, now: datetime,
                expires_in: timedelta) -> ReleaseManifest:
    """Re-sign the channel's release with another percent (0 halts it)."""
    latest = read_latest(channel)
    if latest is None:
        raise ReleaseError(f"{channel.name} has no release yet: publish one with --model DIR")
    manifest = latest.model_copy(update={
        "rollout": latest.rollout.model_copy(update={"percent": percent}),
        "created_at": now, "expires_at": now + expires_in,
    })
    manifest = ReleaseManifest.model_validate(manifest.model_dump())  # re-check the ranges
    write_manifest(channel, manifest, key)
    return manifest


def _upload(channel: ChannelWriter, key: str, data: bytes, name: str) -> Artifact:
    channel.put_immutable(key, data)
    return Artifact(file=name, key=key, size=len(data), sha256=sha256_of(data))


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="cloudjobs release",
                                description="Publish, widen or halt a signed model release.")
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--model", type=Path, help="model folder to publish (manifest.json + ONNX)")
    what.add_argument("--advance", type=float, metavar="PERCENT",
                      help="roll the channel's release out to PERCENT of devices")
    what.add_argument("--halt", action="store_true", help="stop new installs (percent 0)")
    p.add_argument("--channel", required=True, help="file:///DIR or s3://BUCKET/PREFIX")
    p.add_argument("--key", required=True, type=Path, help="private key PEM (or its folder)")
    p.add_argument("--percent", type=float, default=10.0, help="initial rollout percent")
    p.add_argument("--expires", default="30d", help="manifest lifetime (e.g. 30d, 12h)")
    p.add_argument("--min-agent-version", help="oldest agent version that may install it")
    p.add_argument("--latency-budget-ms", type=float, default=100.0,
                   help="median single-crop run time a device may measure at install")
    p.add_argument("--tolerance", type=float, default=DEFAULT_TOLERANCE,
                   help="largest probability difference on the golden vectors")
    p.add_argument("--golden", type=Path, help="golden vectors .npz computed elsewhere")
    p.add_argument("--health-window", default="1h", help="trial length on each device")
    p.add_argument("--max-error-rate", type=float, default=0.05, help="trial error rate limit")
    p.add_argument("--max-p95-ms", type=float, default=250.0, help="trial p95 run time limit")
    p.add_argument("--min-samples", type=int, default=20, help="runs before a trial is judged")
    p.add_argument("--endpoint-url", help="S3 endpoint (non-AWS S3)")
    p.add_argument("--region", help="S3 region")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``cloudjobs release``; 0 done, 1 publishing failed, 2 bad input."""
    args = _parser().parse_args(argv)
    now = datetime.now(UTC)
    try:
        key = read_private_key(args.key)
        expires_in = parse_duration(args.expires)
        channel = ChannelWriter.open(args.channel, endpoint_url=args.endpoint_url,
                                     region=args.region)
        if args.model is not None:
            options = ReleaseOptions(
                percent=args.percent, expires_in=expires_in,
                min_agent_version=args.min_agent_version,
                latency_budget_ms=args.latency_budget_ms, tolerance=args.tolerance,
                health=HealthSettings(
                    window_seconds=parse_duration(args.health_window).total_seconds(),
                    max_error_rate=args.max_error_rate, max_p95_latency_ms=args.max_p95_ms,
                    min_samples=args.min_samples),
            )
            golden = args.golden.read_bytes() if args.golden else None
            manifest = publish_release(channel, key, args.model, options, now, golden)
        else:
            percent = 0.0 if args.halt else args.advance
            manifest = set_percent(channel, key, percent, now, expires_in)
    except (ReleaseError, FieldAgentError, ManifestInvalid) as exc:  # before ValueError:
        print(f"error: {exc}", file=sys.stderr)  # a bad channel manifest is a ValueError too
        return 1
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{channel.name}: {manifest.name} {manifest.version} at "
          f"{manifest.rollout.percent:g}% until {manifest.expires_at.isoformat()}")
    return 0
