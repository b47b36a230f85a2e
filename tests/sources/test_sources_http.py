"""The snapshot poller against a real HTTP(S) camera stand-in on loopback."""

from __future__ import annotations

import datetime as dt
import ipaddress
import logging
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pydantic import ValidationError

from fieldagent.config.secrets import SecretStore
from fieldagent.config.site import HttpSource
from fieldagent.errors import ConfigError
from fieldagent.sources.errors import CameraUnreachable, SourceError
from fieldagent.sources.http import SnapshotPoller, redact
from fieldagent.sources.quarantine import Quarantine
from tests.sources.camserver import Behaviour, CameraServer, run_camera
from tests.sources.conftest import T0
from tests.support.clock import SimClock

SECRETS = SecretStore(
    {"cam": {"username": "admin", "password": "s3cret"}, "tok": {"token": "tok-123"},
     "half": {"username": "admin"}},
    source="secrets.yaml", environ={},
)


@pytest.fixture
def camera(jpeg: bytes) -> Iterator[CameraServer]:
    with run_camera(Behaviour(body=jpeg)) as cam:
        yield cam


def _poller(
    tmp_path: Path, clock: SimClock, quarantine: Quarantine, url: str, **cfg: Any
) -> SnapshotPoller:
    cfg.setdefault("timeout_seconds", 2.0)
    return SnapshotPoller("cam1", HttpSource(url=url, **cfg), SECRETS, tmp_path / "spool", clock,
                          quarantine=quarantine)


def _fails(poller: SnapshotPoller, reason: str) -> CameraUnreachable:
    before = set(poller.spool_dir.iterdir())
    with pytest.raises(CameraUnreachable) as info:
        poller.fetch()
    assert info.value.reason == reason, str(info.value)
    assert str(info.value).startswith(f"camera cam1: {poller.url}: ")
    assert set(poller.spool_dir.iterdir()) == before, "a failed fetch must leave nothing behind"
    return info.value


def test_a_snapshot_is_written_whole_and_named_by_the_answer_time(
    tmp_path: Path, clock: SimClock, quarantine: Quarantine, camera: CameraServer, jpeg: bytes
) -> None:
    p = _poller(tmp_path, clock, quarantine, camera.url())
    path = p.fetch()
    assert path.read_bytes() == jpeg
    assert path.name == "cam1.20260601T060000_000000Z.jpg"
    assert [f.name for f in p.spool_dir.iterdir()] == [path.name]  # no temp file left
    clock.advance(0.25)
    (item,) = p.poll()
    assert item.captured_at == clock.now and item.captured_at.utcoffset() == dt.timedelta(0)
    assert item.path.name == "cam1.20260601T060000_250000Z.jpg"
    h = p.health()
    assert (h.consecutive_failures, h.last_success, h.last_error) == (0, clock.now, None)


def test_basic_auth(
    tmp_path: Path, clock: SimClock, quarantine: Quarantine, camera: CameraServer, jpeg: bytes
) -> None:
    camera.behaviour.auth = "basic"
    assert _poller(tmp_path, clock, quarantine, camera.url(), secret="cam").fetch().read_bytes() \
        == jpeg
    camera.behaviour.password = "changed-on-the-camera"
    err = _fails(_poller(tmp_path, clock, quarantine, camera.url(), secret="cam"), "unauthorized")
    assert "refused the credentials (HTTP 401, basic): check the secrets entry 'cam'" in str(err)
    assert "s3cret" not in str(err)


def test_digest_auth_is_really_checked(
    tmp_path: Path, clock: SimClock, quarantine: Quarantine, camera: CameraServer, jpeg: bytes
) -> None:
    camera.behaviour.auth = "digest"
    p = _poller(tmp_path, clock, quarantine, camera.url("/ISAPI/Streaming/channels/101/picture"),
                secret="cam", auth="digest")
    assert p.fetch().read_bytes() == jpeg
    clock.advance(1)
    assert p.fetch().read_bytes() == jpeg  # the second request reuses the nonce (nc=2)
    assert camera.authorised == 2
    camera.behaviour.password = "other"
    camera.nonces.clear()
    err = _fails(p, "unauthorized")
    assert "HTTP 401, digest" in str(err)


def test_bearer_token(
    tmp_path: Path, clock: SimClock, quarantine: Quarantine, camera: CameraServer, jpeg: bytes
) -> None:
    camera.behaviour.auth = "bearer"
    p = _poller(tmp_path, clock, quarantine, camera.url(), secret="tok", auth="bearer")
    assert p.fetch().read_bytes() == jpeg
    camera.behaviour.token = "rotated"
    _fails(p, "unauthorized")


def test_401_says_which_auth_the_camera_wants(
    tmp_path: Path, clock: SimClock, quarantine: Quarantine, camera: CameraServer
) -> None:
    camera.behaviour.auth = "digest"
    err = _fails(_poller(tmp_path, clock, quarantine, camera.url()), "unauthorized")
    assert "asks for credentials (digest)" in str(err) and "set `secret:`" in str(err)
    err = _fails(_poller(tmp_path, clock, quarantine, camera.url(), secret="cam"), "unauthorized")
    assert "asks for digest authentication but auth is basic: set `auth: digest`" in str(err)


def test_a_camera_that_does_not_answer_fails_quickly_as_a_timeout(
    tmp_path: Path, clock: SimClock, quarantine: Quarantine, camera: CameraServer
) -> None:
    camera.behaviour.hang = True
    p = _poller(tmp_path, clock, quarantine, camera.url(), timeout_seconds=0.5)
    started = time.monotonic()
    err = _fails(p, "timeout")
    assert time.monotonic() - started < 2.0
    assert "timed out" in str(err)


def test_a_trickling_body_is_cut_at_the_timeout(
    tmp_path: Path, clock: SimClock, quarantine: Quarantine, camera: CameraServer
) -> None:
    camera.behaviour.body = b"\xff\xd8\xff" + b"\0" * 40_000  # 40 pieces, 0.1 s apart
    camera.behaviour.trickle_seconds = 0.1
    p = _poller(tmp_path, clock, quarantine, camera.url(), timeout_seconds=0.5)
    started = time.monotonic()
    err = _fails(p, "timeout")
    assert time.monotonic() - started < 2.0  # each read is quick, the whole is not
    assert "longer than 0.5 s" in str(err)


@pytest.mark.parametrize("content_type", ["text/html; charset=utf-8", "image/jpeg"])
def test_an_html_page_is_refused_with_its_title(
    tmp_path: Path, clock: SimClock, quarantine: Quarantine, camera: CameraServer,
    content_type: str,
) -> None:
    camera.behaviour.body = (b"<!DOCTYPE html><html><head><title>Stream limit &amp; busy"
                             b"</title></head><body>Too many clients</body></html>")
    camera.behaviour.content_type = content_type
    err = _fails(_poller(tmp_path, clock, quarantine, camera.url()), "not_an_image")
    assert "the camera sent an HTML page titled 'Stream limit & busy' instead of an image" in str(
        err)


def test_other_bodies_are_judged_by_their_first_bytes(
    tmp_path: Path, clock: SimClock, quarantine: Quarantine, camera: CameraServer, jpeg: bytes
) -> None:
    p = _poller(tmp_path, clock, quarantine, camera.url())
    camera.behaviour.content_type = "application/octet-stream"
    assert p.fetch().suffix == ".jpg"  # an unlabelled JPEG is still a JPEG
    camera.behaviour.body = b'{"error": "busy"}'
    camera.behaviour.content_type = "application/json"
    err = _fails(p, "not_an_image")
    assert "application/json, starting with bytes 7b 22 65" in str(err)
    camera.behaviour.body = b""
    camera.behaviour.content_type = "image/jpeg"
    _fails(p, "empty")


def test_oversize_snapshots_are_refused_announced_or_not(
    tmp_path: Path, clock: SimClock, quarantine: Quarantine, camera: CameraServer
) -> None:
    camera.behaviour.body = b"\xff\xd8\xff" + bytes(50_000)
    p = _poller(tmp_path, clock, quarantine, camera.url(), max_bytes=10_000)
    err = _fails(p, "too_large")
    assert "50003 bytes announced" in str(err) and "raise max_bytes" in str(err)
    camera.behaviour.send_length = False  # the body just keeps coming
    err = _fails(p, "too_large")
    sent = re.search(r"at least (\d+) bytes sent", str(err))
    assert sent is not None and int(sent[1]) > 10_000
    camera.behaviour.body = camera.behaviour.body[:9_000]
    assert p.fetch().stat().st_size == 9_000


def test_http_errors_name_the_status(
    tmp_path: Path, clock: SimClock, quarantine: Quarantine, camera: CameraServer
) -> None:
    camera.behaviour.status = 503
    camera.behaviour.content_type = "text/plain"
    camera.behaviour.body = b"encoder restarting"
    err = _fails(_poller(tmp_path, clock, quarantine, camera.url()), "http_status")
    assert "HTTP 503 Service Unavailable: text (text/plain) starting 'encoder restarting'" in str(
        err)


def test_a_refused_connection_names_the_url_without_credentials(
    tmp_path: Path, clock: SimClock, quarantine: Quarantine
) -> None:
    with run_camera(Behaviour()) as cam:
        url = cam.url("/snapshot.cgi?user=admin&pwd=hunter2&chan=1")
    p = _poller(tmp_path, clock, quarantine, url)  # the server is gone: nothing listens
    err = _fails(p, "connection")
    assert "snapshot.cgi?user=***&pwd=***&chan=***" in str(err)
    assert "hunter2" not in str(err) and "hunter2" not in err.url
    assert "cannot connect" in str(err) and "refused" in str(err).lower()


def test_is_down_after_the_threshold_of_silence(
    tmp_path: Path, clock: SimClock, quarantine: Quarantine, camera: CameraServer
) -> None:
    p = _poller(tmp_path, clock, quarantine, camera.url(), down_after_seconds=900)
    assert not p.is_down(clock.now)  # never polled: nothing to say yet
    p.fetch()
    camera.behaviour.status = 500
    for _ in range(2):
        clock.advance(300)
        _fails_keep_spool(p)
        assert not p.is_down(clock.now)
    clock.advance(300)
    _fails_keep_spool(p)
    h = p.health()
    assert p.is_down(clock.now)
    assert h.consecutive_failures == 3 and h.last_success == T0
    assert h.last_error is not None and "HTTP 500" in h.last_error
    assert h.last_error_at == clock.now and h.failing_since == T0 + dt.timedelta(seconds=300)
    camera.behaviour.status = 200
    clock.advance(300)
    p.fetch()
    assert not p.is_down(clock.now) and p.health().consecutive_failures == 0


def test_a_camera_that_never_answered_is_down_from_its_first_failure(
    tmp_path: Path, clock: SimClock, quarantine: Quarantine, camera: CameraServer
) -> None:
    camera.behaviour.status = 404
    p = _poller(tmp_path, clock, quarantine, camera.url(), down_after_seconds=60)
    _fails(p, "http_status")
    assert not p.is_down(clock.now + dt.timedelta(seconds=59))
    assert p.is_down(clock.now + dt.timedelta(seconds=60))


def _fails_keep_spool(p: SnapshotPoller) -> None:
    with pytest.raises(CameraUnreachable):
        p.fetch()


@pytest.fixture(scope="module")
def self_signed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1, as cheap cameras ship."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ipcam")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(
            ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    return folder / "cert.pem", folder / "key.pem"


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
def test_self_signed_https_camera(
    tmp_path: Path, clock: SimClock, quarantine: Quarantine, jpeg: bytes,
    self_signed: tuple[Path, Path], caplog: pytest.LogCaptureFixture,
) -> None:
    with run_camera(Behaviour(body=jpeg), tls=self_signed) as cam:
        err = _fails(_poller(tmp_path, clock, quarantine, cam.url()), "tls")
        assert "certificate verify failed" in str(err) and "set ca_bundle" in str(err)
        trusted = _poller(tmp_path, clock, quarantine, cam.url(), ca_bundle=str(self_signed[0]))
        assert trusted.fetch().read_bytes() == jpeg
        with caplog.at_level(logging.WARNING, "fieldagent.sources.http"):
            blind = _poller(tmp_path, clock, quarantine, cam.url(), verify_tls=False)
        assert "TLS certificates are not checked" in caplog.text
        clock.advance(1)
        assert blind.fetch().read_bytes() == jpeg


def test_leftover_snapshots_are_offered_again_and_stale_parts_removed(
    tmp_path: Path, clock: SimClock, quarantine: Quarantine, camera: CameraServer
) -> None:
    p = _poller(tmp_path, clock, quarantine, camera.url())
    first = p.fetch()
    second = p.fetch()  # same clock time: a unique name, not an overwrite
    assert second.name == "cam1.20260601T060000_000000Z-1.jpg"
    (p.spool_dir / "cam10.20260601T050000_000000Z.jpg").write_bytes(b"another camera's")
    (p.spool_dir / ".cam1.20260601T070000_000000Z.part").write_bytes(b"cut short")
    again = _poller(tmp_path, clock, quarantine, camera.url())
    assert [(i.camera, i.path, i.captured_at) for i in again.leftovers()] == [
        ("cam1", first, T0), ("cam1", second, T0)]
    assert not (p.spool_dir / ".cam1.20260601T070000_000000Z.part").exists()


def test_finish_deletes_and_quarantine_keeps_a_snapshot(
    tmp_path: Path, clock: SimClock, quarantine: Quarantine, camera: CameraServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    p = _poller(tmp_path, clock, quarantine, camera.url())
    done = p.fetch()
    p.finish(done)
    assert not done.exists()
    p.finish(done)  # already gone: no error
    shed = p.fetch()
    with caplog.at_level(logging.WARNING, "fieldagent.sources.http"):
        p.finish(shed, "shed")
    assert not shed.exists() and "was not analysed" in caplog.text
    with pytest.raises(ValueError, match="outcome"):
        p.finish(shed, "rejected")  # type: ignore[arg-type]
    bad = p.fetch()
    kept = p.quarantine(bad, "corrupt", "cannot decode")
    assert kept is not None and kept.parent == tmp_path / "quarantine" / "cam1"
    assert kept.with_name(kept.name + ".reason.json").exists()


def test_a_spool_that_cannot_be_written_is_a_source_error_not_a_camera_failure(
    tmp_path: Path, clock: SimClock, quarantine: Quarantine, camera: CameraServer
) -> None:
    p = _poller(tmp_path, clock, quarantine, camera.url())
    p.spool_dir.rmdir()
    with pytest.raises(SourceError, match=r"cannot write the snapshot to .*/spool") as info:
        p.fetch()
    assert not isinstance(info.value, CameraUnreachable)
    assert p.health().consecutive_failures == 0


def test_missing_credentials_or_ca_bundle_are_config_errors_at_start(
    tmp_path: Path, clock: SimClock, quarantine: Quarantine
) -> None:
    with pytest.raises(ConfigError, match=r"secrets.yaml: half.password: missing"):
        _poller(tmp_path, clock, quarantine, "http://127.0.0.1:9/x.jpg", secret="half")
    with pytest.raises(ConfigError, match=r"secrets.yaml: nope: no such secrets entry"):
        _poller(tmp_path, clock, quarantine, "http://127.0.0.1:9/x.jpg", secret="nope")
    with pytest.raises(ConfigError, match=r"camera cam1: source.ca_bundle: .*: no such file"):
        _poller(tmp_path, clock, quarantine, "https://127.0.0.1:9/x.jpg",
                ca_bundle=str(tmp_path / "missing.pem"))


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"url": "http://admin:pw@cam/x.jpg"}, "the URL holds credentials"),
        ({"auth": "digest"}, "auth is digest but no `secret`"),
        ({"auth": "none", "secret": "cam"}, "auth is none but a `secret` is set"),
        ({"verify_tls": False, "ca_bundle": "/etc/cam.pem"}, "ca_bundle is set but verify_tls"),
    ],
)
def test_http_source_cross_checks(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        HttpSource(**{"url": "http://cam/x.jpg", **fields})


def test_auth_method_defaults_follow_the_secret() -> None:
    assert HttpSource(url="http://cam/x.jpg").auth_method == "none"
    assert HttpSource(url="http://cam/x.jpg", secret="cam").auth_method == "basic"
    assert HttpSource(url="http://cam/x.jpg", secret="cam", auth="digest").auth_method == "digest"


def test_redact_hides_userinfo_and_query_values() -> None:
    assert redact("https://u:p@cam:8443/a/b.jpg?pwd=x&res=hd") == "https://cam:8443/a/b.jpg?pwd=***&res=***"
    assert redact("http://cam/snap.jpg") == "http://cam/snap.jpg"
