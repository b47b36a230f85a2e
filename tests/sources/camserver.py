"""A real IP camera stand-in for the HTTP source tests: ``ThreadingHTTPServer`` on loopback.

It serves a snapshot with no auth, basic, digest (RFC 7616, MD5, qop=auth, checked for
real: a wrong password or a forged nonce gets 401) or bearer auth, and can misbehave the
ways cameras do: hang before answering, trickle the body, send HTML error pages, send
more bytes than announced, omit Content-Length. Optionally HTTPS with a given cert.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Literal
from urllib.request import parse_http_list, parse_keqv_list

REALM = "camera"


@dataclass
class Behaviour:
    """What the camera does on the next requests; tests change it between fetches."""

    body: bytes = b""
    content_type: str = "image/jpeg"
    status: int = 200
    auth: Literal["none", "basic", "digest", "bearer"] = "none"
    username: str = "admin"
    password: str = "s3cret"
    token: str = "tok-123"
    send_length: bool = True
    hang: bool = False  # wait (until the server stops) before answering
    trickle_seconds: float = 0.0  # pause between 1 KiB pieces of the body


@dataclass
class CameraServer:
    """A running camera; ``url(path)`` is its address, ``hits`` counts requests."""

    httpd: ThreadingHTTPServer
    behaviour: Behaviour
    scheme: str
    stop: threading.Event = field(default_factory=threading.Event)
    hits: int = 0
    nonces: set[str] = field(default_factory=set)
    authorised: int = 0

    def url(self, path: str = "/snapshot.jpg") -> str:
        host, port = self.httpd.server_address[:2]
        return f"{self.scheme}://{host!s}:{port}{path}"


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: object) -> None:  # keep test output clean
        pass

    def do_GET(self) -> None:
        cam = self.server.camera
        cam.hits += 1
        b = cam.behaviour
        if not self._authorised(cam, b):
            return
        cam.authorised += 1
        if b.hang:
            cam.stop.wait(30)
            return
        self.send_response(b.status)
        self.send_header("Content-Type", b.content_type)
        if b.send_length:
            self.send_header("Content-Length", str(len(b.body)))
        self.end_headers()
        with suppress(OSError):  # the client may hang up mid-body (caps, deadlines)
            if not b.trickle_seconds:
                self.wfile.write(b.body)
                return
            for i in range(0, len(b.body), 1024):
                self.wfile.write(b.body[i : i + 1024])
                self.wfile.flush()
                if cam.stop.wait(b.trickle_seconds):
                    return

    def _authorised(self, cam: CameraServer, b: Behaviour) -> bool:
        header = self.headers.get("Authorization", "")
        if b.auth == "none":
            return True
        if b.auth == "basic":
            good = base64.b64encode(f"{b.username}:{b.password}".encode()).decode()
            if header == f"Basic {good}":
                return True
            return self._challenge(f'Basic realm="{REALM}"')
        if b.auth == "bearer":
            if header == f"Bearer {b.token}":
                return True
            return self._challenge(f'Bearer realm="{REALM}"')
        if header.startswith("Digest ") and self._digest_ok(cam, b, header[7:]):
            return True
        nonce = secrets.token_hex(16)
        cam.nonces.add(nonce)
        return self._challenge(
            f'Digest realm="{REALM}", qop="auth", algorithm=MD5, nonce="{nonce}", opaque="x1"'
        )

    def _digest_ok(self, cam: CameraServer, b: Behaviour, params: str) -> bool:
        p = parse_keqv_list(parse_http_list(params))
        if p.get("nonce") not in cam.nonces or p.get("username") != b.username:
            return False
        if p.get("uri") != self.path or p.get("qop") != "auth":
            return False
        ha1 = _md5(f"{b.username}:{REALM}:{b.password}")
        ha2 = _md5(f"GET:{self.path}")
        expected = _md5(f"{ha1}:{p['nonce']}:{p.get('nc')}:{p.get('cnonce')}:auth:{ha2}")
        return secrets.compare_digest(expected, p.get("response", ""))

    def _challenge(self, www_authenticate: str) -> bool:
        body = b"<html><head><title>401 Unauthorized</title></head></html>"
        self.send_response(401)
        self.send_header("WWW-Authenticate", www_authenticate)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        return False


class _Server(ThreadingHTTPServer):
    camera: CameraServer


@contextmanager
def run_camera(
    behaviour: Behaviour, tls: tuple[Path, Path] | None = None
) -> Iterator[CameraServer]:
    """Serve ``behaviour`` on 127.0.0.1 (HTTPS with ``(cert, key)`` when given)."""
    httpd = _Server(("127.0.0.1", 0), _Handler)
    if tls is not None:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(*tls)
        httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
    cam = CameraServer(httpd, behaviour, "https" if tls else "http")
    httpd.camera = cam
    thread = threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="camserver", daemon=True
    )
    thread.start()
    try:
        yield cam
    finally:
        cam.stop.set()
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)
