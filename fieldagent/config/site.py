"""The site config: one YAML file per site, one typed section per concern."""

from __future__ import annotations

import difflib
import os
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator

from fieldagent.alerts.config import AlertsConfig
from fieldagent.alerts.names import unknown
from fieldagent.colour.config import ColourConfig
from fieldagent.config.base import Section
from fieldagent.config.loader import (
    YamlIndex,
    format_problem,
    parse_yaml,
    read_text,
    validate,
)
from fieldagent.errors import ConfigError
from fieldagent.inference.config import ModelConfig
from fieldagent.modelupdate.config import ModelUpdateConfig
from fieldagent.quality.config import QualityConfig
from fieldagent.roi.config import GridZone, SegmentationConfig, Zone, whole_frame_zone
from fieldagent.roi.grid import expand_zones
from fieldagent.service.config import LoggingConfig, ServiceConfig
from fieldagent.signals.config import SignalsConfig
from fieldagent.sources.config import SourcesConfig
from fieldagent.telemetry.config import TelemetryConfig
from fieldcontract.keys import check_name


def _check_id(kind: str, value: str) -> str:
    """Ids become part of object keys; refuse at start what the uplink would refuse later."""
    return check_name(f"{kind} id", value)


class SiteInfo(Section):
    """Who this site is."""

    id: str = Field("site-1", description="site id, unique in the fleet; part of every object key")
    name: str = Field("", max_length=200, description="human name shown in alerts and reports")
    timezone: str = Field("UTC", description="IANA time zone for quiet hours and daily windows")
    device: str = Field(
        "agent-1", description="this device's id at the site (heartbeats, staged model rollout)"
    )

    @model_validator(mode="after")
    def _valid_id(self) -> SiteInfo:
        _check_id("site", self.id)
        _check_id("device", self.device)
        return self


class InboxSource(Section):
    """A folder the camera drops files into (FTP/SFTP upload or a capture script).

    Only files directly in the folder are taken (sub-folders are ignored), once their size
    and modification time have not changed for ``settle_seconds`` across scans: see
    ``fieldagent.sources.inbox`` for why that rule, and not "is it still open", is the contract.
    """

    kind: Literal["inbox"] = "inbox"
    path: str = Field(..., min_length=1, description="folder the camera writes into")
    settle_seconds: float = Field(
        2.0, ge=0.0, le=600.0, description="a file must be unchanged this long to be taken"
    )
    extensions: tuple[str, ...] = Field(
        ("jpg", "jpeg", "png", "tif", "tiff"),
        max_length=50,
        description="file name endings taken, without the dot, any case; empty takes every file",
    )
    after: Literal["delete", "move"] = Field(
        "delete", description="what happens to an analysed file: delete it or move it away"
    )
    processed_dir: str = Field(
        "processed",
        min_length=1,
        description="where `after: move` puts files (in one folder per UTC day); "
        "a relative path is inside the inbox folder",
    )
    keep_processed_days: int = Field(
        7, ge=1, le=3650, description="day folders in processed_dir older than this are deleted"
    )
    notify: bool = Field(
        True,
        description="on Linux, take a file as soon as it is closed after writing or renamed "
        "into the folder (inotify events) instead of waiting settle_seconds; without "
        "inotify (other systems, writes from other machines on a network mount) the "
        "settle rule alone applies",
    )

    @field_validator("extensions")
    @classmethod
    def _normalise_extensions(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        out = tuple(e.strip().lstrip(".").lower() for e in value)
        bad = [e for e in out if not e or "/" in e]
        if bad:
            raise ValueError("extensions are name endings such as jpg or tiff, without a dot")
        return out

    @model_validator(mode="after")
    def _processed_dir_outside_inbox(self) -> InboxSource:
        if os.path.normpath(os.path.join(self.path, self.processed_dir)) == os.path.normpath(
            self.path
        ):
            raise ValueError(
                "processed_dir is the inbox itself: moved files would be analysed again; "
                "use a sub-folder such as 'processed' or another folder"
            )
        return self


class HttpSource(Section):
    """A camera polled over HTTP(S) for a snapshot.

    Credentials never go in the URL or this file: ``secret`` names an entry of the secrets
    file (``username``/``password`` for basic and digest, ``token`` for bearer).
    """

    kind: Literal["http"] = "http"
    url: str = Field(..., pattern=r"^https?://", description="snapshot URL")
    interval_seconds: float = Field(300.0, ge=5.0, le=86_400.0, description="poll interval")
    timeout_seconds: float = Field(10.0, ge=0.5, le=300.0, description="request timeout")
    secret: str | None = Field(
        None, description="name of the credentials entry in the secrets file"
    )
    auth: Literal["none", "basic", "digest", "bearer"] | None = Field(
        None,
        description="how credentials are sent: basic, digest, bearer or none; "
        "unset means basic when `secret` is set, else none",
    )
    verify_tls: bool = Field(
        True, description="check the camera's HTTPS certificate (false accepts any certificate)"
    )
    ca_bundle: str | None = Field(
        None, description="PEM file of the CA or self-signed certificate the camera uses"
    )
    max_bytes: int = Field(
        50_000_000, ge=10_000, le=2_000_000_000, description="refuse snapshots larger than this"
    )
    down_after_seconds: float = Field(
        900.0,
        ge=10.0,
        le=604_800.0,
        description="a camera that has not answered for this long is reported down",
    )

    @property
    def auth_method(self) -> Literal["none", "basic", "digest", "bearer"]:
        """The effective ``auth``: unset means basic with a secret, none without."""
        if self.auth is not None:
            return self.auth
        return "basic" if self.secret else "none"

    @model_validator(mode="after")
    def _no_credentials_in_url(self) -> HttpSource:
        if "@" in urlsplit(self.url).netloc:
            raise ValueError(
                "the URL holds credentials (user:password@): put them in the secrets file "
                "and name the entry with `secret:`"
            )
        return self

    @model_validator(mode="after")
    def _auth_matches_secret(self) -> HttpSource:
        if self.auth not in (None, "none") and not self.secret:
            raise ValueError(f"auth is {self.auth} but no `secret` names the credentials entry")
        if self.auth == "none" and self.secret:
            raise ValueError("auth is none but a `secret` is set: remove one of them")
        return self

    @model_validator(mode="after")
    def _ca_bundle_needs_verification(self) -> HttpSource:
        if self.ca_bundle and not self.verify_tls:
            raise ValueError(
                "ca_bundle is set but verify_tls is false, so it would be ignored: remove one"
            )
        return self


class FilesSource(Section):
    """Images handed to the agent on the command line (``fieldagent process``)."""

    kind: Literal["files"] = "files"


Source = Annotated[InboxSource | HttpSource | FilesSource, Field(discriminator="kind")]


def _default_zones() -> list[Zone]:
    return [whole_frame_zone()]


class CameraConfig(Section):
    """One camera: where its images come from and which zones to measure."""

    id: str = Field(..., description="camera id, unique at the site")
    source: Source = Field(default_factory=FilesSource, description="where images come from")
    zones: list[Zone] = Field(
        default_factory=_default_zones,
        description="regions of interest, as fractions of the frame",
    )
    colour: ColourConfig = Field(
        default_factory=ColourConfig,
        description="colour correction: this camera's colour card, or white balance",
    )
    mm_per_px: float | None = Field(
        None, gt=0.0, le=1000.0, description="ground size of one full-resolution pixel, if known"
    )
    crop: str = Field("", max_length=100, description="crop grown under this camera (for reports)")
    silent_after_minutes: float = Field(
        20.0, ge=1.0, le=10_080.0,
        description="no image for this long raises a 'camera silent' alert (service only)",
    )

    @model_validator(mode="after")
    def _valid(self) -> CameraConfig:
        _check_id("camera", self.id)
        if not self.zones:
            raise ValueError("a camera needs at least one zone (omit 'zones' for the whole frame)")
        ids = [z.id for z in expand_zones(self.zones)]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"zone ids are used twice: {', '.join(dupes)}")
        return self


class AnalysisConfig(Section):
    """How images are decoded and analysed."""

    max_side: int = Field(
        1024, ge=256, le=4096, description="long side of the analysis image in pixels"
    )
    max_pixels: int = Field(
        120_000_000,
        ge=1_000_000,
        le=1_000_000_000,
        description="refuse images with more pixels (decompression-bomb guard)",
    )
    max_file_bytes: int = Field(
        200_000_000, ge=1_000_000, le=2_000_000_000, description="refuse larger files"
    )
    quality: QualityConfig = Field(default_factory=QualityConfig, description="quality checks")
    segmentation: SegmentationConfig = Field(
        default_factory=SegmentationConfig, description="plant segmentation"
    )
    signals: SignalsConfig = Field(default_factory=SignalsConfig, description="signals, baselines")


class UplinkConfig(Section):
    """Where the outbox uploads to."""

    target: str = Field(
        "file://./cloud",
        pattern=r"^(file|s3)://",
        description="file://FOLDER or s3://BUCKET/PREFIX",
    )
    endpoint_url: str | None = Field(None, description="S3 endpoint (for non-AWS S3)")
    region: str | None = Field(None, description="S3 region")
    secret: str | None = Field(
        None, description="secrets entry with access_key_id and secret_access_key (S3 only)"
    )


class SiteConfig(Section):
    """Everything one site needs; every field has a default."""

    version: Literal[1] = Field(1, description="config schema version")
    site: SiteInfo = Field(default_factory=SiteInfo, description="site identity")
    cameras: list[CameraConfig] = Field(
        default_factory=lambda: [CameraConfig(id="cam1")], description="the site's cameras"
    )
    analysis: AnalysisConfig = Field(default_factory=AnalysisConfig, description="analysis")
    model: ModelConfig = Field(default_factory=ModelConfig, description="on-device stress model")
    alerts: AlertsConfig = Field(default_factory=AlertsConfig, description="grower alerts")
    uplink: UplinkConfig = Field(default_factory=UplinkConfig, description="upload target")
    policy: str = Field(
        "default", min_length=1, description="offload policy: a name in policies/ or a YAML path"
    )
    data_dir: str = Field("./fieldagent-data", description="where the agent keeps its state")
    sources: SourcesConfig = Field(
        default_factory=SourcesConfig, description="frame queue, quarantine and snapshot folders"
    )
    telemetry: TelemetryConfig = Field(
        default_factory=TelemetryConfig, description="heartbeats, /metrics, self-alerts"
    )
    model_updates: ModelUpdateConfig = Field(
        default_factory=ModelUpdateConfig, description="signed model updates from a channel"
    )
    service: ServiceConfig = Field(
        default_factory=ServiceConfig, description="intervals of the service's jobs"
    )
    logging: LoggingConfig = Field(
        default_factory=LoggingConfig, description="where `fieldagent run` sends its logs"
    )
    secrets_file: str | None = Field(
        None, description="YAML file of credentials (mode 0600); entries are named by `secret:`"
    )

    @model_validator(mode="after")
    def _unique_cameras(self) -> SiteConfig:
        ids = [c.id for c in self.cameras]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"camera ids are used twice: {', '.join(dupes)}")
        if not self.cameras:
            raise ValueError("the site needs at least one camera")
        return self

    def camera(self, camera_id: str | None) -> CameraConfig:
        """The camera with this id, or the first one when ``camera_id`` is None."""
        if camera_id is None:
            return self.cameras[0]
        for cam in self.cameras:
            if cam.id == camera_id:
                return cam
        known = ", ".join(c.id for c in self.cameras)
        raise KeyError(f"no camera {camera_id!r} in the config (cameras: {known})")


def zone_ids(camera: CameraConfig) -> list[str]:
    """The camera's zone ids as rules and records name them (a grid's cells:
    ``<id>-r<row>c<col>``, as ``roi.zones.grid_cells`` names them)."""
    out: list[str] = []
    for z in camera.zones:
        if isinstance(z, GridZone):
            out += [f"{z.id}-r{r}c{c}" for r in range(1, z.rows + 1)
                    for c in range(1, z.cols + 1)]
        else:
            out.append(z.id)
    return out


def rule_target_problems(cfg: SiteConfig) -> list[tuple[tuple[str | int, ...], str, str]]:
    """(key path, value, what is wrong) for each rule camera or zone pattern that matches
    nothing: such a rule would never fire, silently."""
    cams = {c.id: zone_ids(c) for c in cfg.cameras}
    out: list[tuple[tuple[str | int, ...], str, str]] = []
    for i, rule in enumerate(cfg.alerts.rules):
        matched = [c for c in cams if any(fnmatchcase(c, p) for p in rule.cameras)]
        for j, pattern in enumerate(rule.cameras):
            if not any(fnmatchcase(c, pattern) for c in cams):
                out.append((("alerts", "rules", i, "cameras", j), pattern,
                            unknown(pattern, cams, "camera") or ""))
        zones = [z for c in matched for z in cams[c]]
        for j, pattern in enumerate(rule.zones):
            if not any(fnmatchcase(z, pattern) for z in [*zones, "-"]):
                out.append((("alerts", "rules", i, "zones", j), pattern,
                            f"no zone of camera(s) {', '.join(matched) or '(none)'} matches it"
                            + _suggest(pattern, zones) + f"; rule {rule.id!r} would never fire"))
    return out


def _suggest(pattern: str, names: list[str]) -> str:
    close = difflib.get_close_matches(pattern, names, n=1, cutoff=0.6)
    shown = ", ".join(names[:12]) + (" ..." if len(names) > 12 else "")
    return f"; did you mean {close[0]!r}?" if close else f" (zones: {shown})"


def load_site_config(path: str | os.PathLike[str]) -> SiteConfig:
    """Read, validate and cross-check a site config file and the policy it names.

    A bad policy is refused here too, so the agent never starts on one.
    """
    from fieldagent.policy import load_policy  # the policy package imports config.base

    source = str(path)
    text = read_text(path)
    data = parse_yaml(text, source)
    lines = YamlIndex.of_text(text)
    problems: list[str] = []
    cfg: SiteConfig | None = None
    try:
        cfg = validate(SiteConfig, data, source, lines)
    except ConfigError as exc:
        problems += exc.problems
    if cfg is not None:
        problems += [format_problem(source, loc, value, why, lines)
                     for loc, value, why in rule_target_problems(cfg)]
    # the policy is checked in the same pass, even when the rest of the file has problems
    policy = cfg.policy if cfg is not None else _raw_policy(data)
    if policy is not None:
        try:
            load_policy(policy, relative_to=Path(path).resolve().parent)
        except ConfigError as exc:
            problems += [format_problem(source, ("policy",), policy,
                                        "the policy has problems:"), *exc.problems]
    if problems or cfg is None:
        raise ConfigError(problems)
    return cfg


def _raw_policy(data: object) -> str | None:
    """The policy a file names, read from the raw YAML (the file may be invalid)."""
    if not isinstance(data, dict):
        return "default"
    value = data.get("policy", "default")
    return value if isinstance(value, str) and value else None


def default_site_config() -> SiteConfig:
    """The embedded default: one camera, the whole frame as one zone."""
    return SiteConfig()
