"""Snapshots polled from IP cameras over HTTP(S).

``fetch`` downloads one snapshot with ``requests`` and writes it atomically into the spool
folder (a hidden ``.part`` file, synced, renamed), named by the UTC time the camera
answered. Every failure, from a refused connection to an HTML login page served with
status 200, becomes ``CameraUnreachable`` naming the camera, the URL without credentials
and the cause, and counts in ``health()``; ``is_down(now)`` says when the camera has not
answered for ``down_after_seconds`` so the service can raise an alert.

Credentials come from the secrets store, never the URL (the config refuses ``user:pw@``).
The session ignores the environment (proxy variables, ``.netrc``): cameras sit on the site
LAN, and a proxy set for the uplink must not capture camera traffic or leak passwords.
"""

from __future__ import annotations

import itertools
import logging
import os
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import requests
import urllib3
from requests.auth import AuthBase, HTTPBasicAuth, HTTPDigestAuth

from fieldagent.config.secrets import SecretStore
from fieldagent.errors import ConfigError
from fieldagent.sources.body import describe, image_extension
from fieldagent.sources.clock import Clock, utc
from fieldagent.sources.errors import CameraUnreachable, SourceError
from fieldagent.sources.files import free_name, fsync_dir
from fieldagent.sources.quarantine import Quarantine
from fieldagent.sources.queue import WorkItem

if TYPE_CHECKING:  # the config and the pipeline import this package: no cycle at run time
    from fieldagent.config.site import HttpSource

log = logging.getLogger(__name__)

CHUNK = 64 * 1024
_STAMP = "%Y%m%dT%H%M%S_%fZ"
_SPOOLED = re.compile(r"^(?P<camera>[^.]+)\.(?P<stamp>\d{8}T\d{6}_\d{6}Z)(?:-(?P<n>\d+))?\.\w+$")


@dataclass(frozen=True)
class PollHealth:
    """How a polled camera has been answering."""

    camera: str
    consecutive_failures: int
    last_success: datetime | None
    last_error: str | None
    last_error_at: datetime | None
    failing_since: datetime | None


class _Bearer(AuthBase):
    """``Authorization: Bearer <token>``; requests has no built-in for it."""

    def __init__(self, token: str) -> None:
        self._token = token

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        r.headers["Authorization"] = f"Bearer {self._token}"
        return r


class SnapshotPoller:
    """Fetches snapshots from one camera and keeps its health."""

    def __init__(
        self,
        camera_id: str,
        cfg: HttpSource,
        secrets: SecretStore,
        spool_dir: Path,
        clock: Clock,
        *,
        quarantine: Quarantine,
    ) -> None:
        self.camera_id = camera_id
        self.cfg = cfg
        self.url = redact(cfg.url)
        self.spool_dir = Path(spool_dir)
        self.clock = clock
        self._quarantine = quarantine
        self._auth = _make_auth(cfg, secrets)
        self._verify = _tls_verify(camera_id, cfg)
        self._session = requests.Session()
        self._session.trust_env = False
        self._lock = threading.Lock()
        self._health = PollHealth(camera_id, 0, None, None, None, None)
        self.spool_dir.mkdir(parents=True, exist_ok=True)
        for stale in self.spool_dir.glob(f".{camera_id}.*.part"):
            stale.unlink(missing_ok=True)  # a fetch cut short by a crash

    def fetch(self) -> Path:
        """Download one snapshot into the spool folder and return its path."""
        return self._fetch().path

    def poll(self) -> list[WorkItem]:
        """One snapshot as a queue item, its capture time the moment the camera answered."""
        return [self._fetch()]

    def leftovers(self) -> list[WorkItem]:
        """Snapshots fetched before a stop and never finished, oldest first, to queue again."""
        found = []
        for path in self.spool_dir.iterdir():
            m = _SPOOLED.match(path.name)
            if m and m["camera"] == self.camera_id:
                at = datetime.strptime(m["stamp"], _STAMP).replace(tzinfo=UTC)
                found.append((at, int(m["n"] or 0), WorkItem(self.camera_id, path, at)))
        return [item for _, _, item in sorted(found, key=lambda f: f[:2])]

    def finish(self, path: Path, outcome: Literal["ok", "shed"] = "ok") -> None:
        """Delete an analysed (or shed) snapshot: the pipeline's record is what is kept."""
        if outcome not in ("ok", "shed"):
            raise ValueError(f"outcome must be 'ok' or 'shed', got {outcome!r}")
        if outcome == "shed":
            log.warning("camera %s: snapshot %s was not analysed (the analysis queue is full)",
                        self.camera_id, path.name)
        path.unlink(missing_ok=True)

    def quarantine(self, path: Path, reason: str, message: str) -> Path | None:
        """Move a rejected snapshot to the quarantine with its reason; None if it vanished."""
        return self._quarantine.put(self.camera_id, path, reason, message)

    def health(self) -> PollHealth:
        """Consecutive failures, last success and last error (safe from any thread)."""
        with self._lock:
            return self._health

    def is_down(self, now: datetime) -> bool:
        """True when the camera is failing and has not answered for ``down_after_seconds``.

        Measured from the last success, or from the first failure if it never answered.
        """
        h = self.health()
        since = h.last_success or h.failing_since
        if h.consecutive_failures == 0 or since is None:
            return False
        return (now - since).total_seconds() >= self.cfg.down_after_seconds

    def close(self) -> None:
        """Close the HTTP session's connections."""
        self._session.close()

    def _fetch(self) -> WorkItem:
        try:
            item = self._download(time.monotonic())
        except CameraUnreachable as exc:
            self._failed(exc)
            raise
        with self._lock:
            self._health = PollHealth(self.camera_id, 0, item.captured_at, self._health.last_error,
                                      self._health.last_error_at, None)
        return item

    def _failed(self, exc: CameraUnreachable) -> None:
        now = utc(self.clock)
        log.warning("%s", exc)
        with self._lock:
            h = self._health
            self._health = PollHealth(self.camera_id, h.consecutive_failures + 1, h.last_success,
                                      str(exc), now, h.failing_since or now)

    def _download(self, started: float) -> WorkItem:
        cfg = self.cfg
        try:
            with self._session.get(
                cfg.url, auth=self._auth, timeout=(cfg.timeout_seconds, cfg.timeout_seconds),
                verify=self._verify, stream=True, headers={"Accept": "image/*"},
            ) as response:
                at = utc(self.clock)
                self._check_status(response)
                return WorkItem(self.camera_id, self._save(response, at, started), at)
        except (requests.exceptions.RequestException, urllib3.exceptions.HTTPError) as exc:
            reason, cause = _classify(exc)
            raise self._error(reason, cause) from exc

    def _check_status(self, response: requests.Response) -> None:
        if response.status_code == 401:
            raise self._error("unauthorized", self._auth_hint(response))
        if response.status_code != 200:
            first = next(_body_chunks(response), b"")
            ctype = _media_type(response)
            raise self._error(
                "http_status",
                f"HTTP {response.status_code} {response.reason}: {describe(first, ctype)}",
            )

    def _auth_hint(self, response: requests.Response) -> str:
        offered = response.headers.get("WWW-Authenticate", "").split(" ", 1)[0].lower()
        method = self.cfg.auth_method
        if method == "none":
            return (f"the camera asks for credentials ({offered or 'no scheme given'}): add a "
                    "secrets entry and set `secret:` (and `auth: digest` if it asks for digest)")
        if offered and offered != method:
            return (f"the camera asks for {offered} authentication but auth is {method}: "
                    f"set `auth: {offered}`")
        return (f"the camera refused the credentials (HTTP 401, {method}): check the "
                f"secrets entry {self.cfg.secret!r}")

    def _save(self, response: requests.Response, at: datetime, started: float) -> Path:
        """Stream the body to a hidden temp file under the caps, then rename it into place."""
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > self.cfg.max_bytes:
            raise self._too_large(f"{declared} bytes announced")
        chunks = _body_chunks(response)
        first = next(chunks, b"")
        if not first:
            raise self._error("empty", "the camera answered with an empty body")
        ext = image_extension(first, _media_type(response))
        if ext is None:
            raise self._error("not_an_image", "the camera sent " + describe(
                first, _media_type(response)) + " instead of an image")
        tmp = self.spool_dir / f".{self.camera_id}.{at:{_STAMP}}.part"
        try:
            self._write(tmp, first, chunks, started)
            name = free_name(self.spool_dir, f"{self.camera_id}.{at:{_STAMP}}{ext}")
            os.replace(tmp, self.spool_dir / name)
            fsync_dir(self.spool_dir)
        except OSError as exc:
            raise SourceError(f"camera {self.camera_id}: cannot write the snapshot to "
                              f"{self.spool_dir}: {exc.strerror or exc}; check free space "
                              "and permissions of the data folder") from exc
        finally:
            tmp.unlink(missing_ok=True)
        return self.spool_dir / name

    def _write(self, tmp: Path, first: bytes, chunks: Iterator[bytes], started: float) -> None:
        total = 0
        with open(tmp, "wb") as f:
            for chunk in itertools.chain([first], chunks):
                total += len(chunk)
                if total > self.cfg.max_bytes:
                    raise self._too_large(f"at least {total} bytes sent")
                if time.monotonic() - started > self.cfg.timeout_seconds:
                    raise self._error("timeout", f"the snapshot took longer than "
                                      f"{self.cfg.timeout_seconds:g} s to download")
                f.write(chunk)
            f.flush()
            os.fsync(f.fileno())

    def _too_large(self, detail: str) -> CameraUnreachable:
        return self._error("too_large", f"the snapshot is larger than max_bytes="
                           f"{self.cfg.max_bytes} ({detail}); lower the camera's resolution "
                           "or raise max_bytes")

    def _error(self, reason: str, cause: str) -> CameraUnreachable:
        return CameraUnreachable(f"camera {self.camera_id}: {self.url}: {cause}",
                                 camera=self.camera_id, url=self.url, reason=reason)


def redact(url: str) -> str:
    """``url`` safe for logs: no ``user:password@`` and every query value replaced by ``***``.

    Cheap cameras take credentials as query parameters (``?user=admin&pwd=...``).
    """
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    query = urlencode([(k, "***") for k, _ in parse_qsl(parts.query, keep_blank_values=True)],
                      safe="*")
    return urlunsplit((parts.scheme, host, parts.path, query, ""))


def _make_auth(cfg: HttpSource, secrets: SecretStore) -> AuthBase | None:
    """The requests auth for ``cfg.auth_method``; ConfigError names a missing secret field."""
    method = cfg.auth_method
    if method == "none" or cfg.secret is None:
        return None
    if method == "bearer":
        return _Bearer(secrets.field(cfg.secret, "token"))
    user, password = secrets.field(cfg.secret, "username"), secrets.field(cfg.secret, "password")
    return HTTPDigestAuth(user, password) if method == "digest" else HTTPBasicAuth(user, password)


def _tls_verify(camera_id: str, cfg: HttpSource) -> bool | str:
    """requests' ``verify``: the CA bundle path, or whether to check certificates at all."""
    if cfg.ca_bundle:
        if not Path(cfg.ca_bundle).is_file():
            raise ConfigError([f"camera {camera_id}: source.ca_bundle: {cfg.ca_bundle!r}: "
                               "no such file; copy the camera's certificate (PEM) there"])
        return cfg.ca_bundle
    if not cfg.verify_tls and cfg.url.startswith("https:"):
        log.warning("camera %s: TLS certificates are not checked (verify_tls: false); "
                    "prefer ca_bundle with the camera's certificate", camera_id)
    return cfg.verify_tls


def _body_chunks(response: requests.Response) -> Iterator[bytes]:
    """The body as it arrives (``read1``), so the download deadline is checked between reads.

    ``iter_content`` blocks until a whole chunk has arrived: a camera trickling bytes
    just under the read timeout would hold a poll far beyond ``timeout_seconds``.
    """
    while data := response.raw.read1(CHUNK, decode_content=True):
        yield data


def _classify(exc: Exception) -> tuple[str, str]:
    """(reason code, readable cause) for a requests or urllib3 failure."""
    cause = _innermost(exc)
    timeouts = (requests.exceptions.Timeout, urllib3.exceptions.TimeoutError)
    if isinstance(exc, timeouts) or "timed out" in cause:
        return "timeout", "no answer within timeout_seconds (timed out); is the camera on?"
    if isinstance(exc, requests.exceptions.SSLError):
        return "tls", f"TLS failed: {cause}; for a self-signed camera set ca_bundle to its " \
                      "certificate"
    if isinstance(exc, requests.exceptions.ConnectionError):
        return "connection", f"cannot connect: {cause}; check the camera's power, cable and " \
                             "address"
    return "connection", f"the request failed: {cause}"


def _innermost(exc: BaseException) -> str:
    """The readable root of a requests -> urllib3 -> socket error chain, without URLs."""
    seen: set[int] = set()
    while id(exc) not in seen:
        seen.add(id(exc))
        nested = [getattr(exc, "reason", None), *reversed(exc.args)]
        inner = next((e for e in nested if isinstance(e, BaseException)), None)
        if inner is None:
            break
        exc = inner
    text = re.sub(r"^\w+\(host=[^)]*\):\s*", "", str(exc))
    return _redact_text(text)[:200]


def _redact_text(text: str) -> str:
    """Remove ``user:password@`` from any URL inside ``text``."""
    return re.sub(r"(https?://)[^/@\s]*@", r"\1", text)


def _media_type(response: requests.Response) -> str:
    return response.headers.get("Content-Type", "").split(";")[0].strip().lower()
