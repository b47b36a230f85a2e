"""An S3 that fails on demand: moto's server app behind a small fault-injecting middleware.

Used ONLY to make S3 error responses a real server will not produce on request (500,
503 SlowDown, throttling, a clock-skew refusal ...), so the transport's translation of each
into the uplink error tree is tested over real HTTP. Real behaviour (checksums, create-only
writes, multipart) is tested against SeaweedFS, not here: moto accepts wrong checksums.

moto has no switch for injecting errors, so this serves moto's own WSGI app
(``DomainDispatcherApplication``, as ``ThreadedMotoServer`` does) wrapped in
``FaultInjector``: a request matching an armed ``Fault`` is answered with the S3-shaped XML
error; every other request goes through to moto. Loopback only, port chosen by the kernel.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from types import TracebackType
from typing import Any
from xml.sax.saxutils import escape

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import make_server

HOST = "127.0.0.1"
StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


@dataclass
class Fault:
    """Answer ``times`` requests whose method and path+query match with this error."""

    status: int
    code: str
    message: str = "injected by the test"
    method: str | None = None
    match: str = ""
    times: int = 1

    def matches(self, method: str, target: str) -> bool:
        return self.times != 0 and self.method in (None, method) and self.match in target


class FaultInjector:
    """WSGI middleware: armed faults first, then the wrapped app."""

    def __init__(self, app: WsgiApp) -> None:
        self.app = app
        self.faults: list[Fault] = []
        self.hits: list[str] = []
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        method = environ["REQUEST_METHOD"]
        target = environ.get("PATH_INFO", "") + "?" + environ.get("QUERY_STRING", "")
        fault = self._take(method, target)
        if fault is None:
            return self.app(environ, start_response)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        if length:  # read the body so the client is not reset while still sending it
            environ["wsgi.input"].read(length)
        body = b"" if method == "HEAD" else _error_xml(fault, environ.get("PATH_INFO", "/"))
        headers = [("Content-Type", "application/xml"), ("Content-Length", str(len(body)))]
        start_response(f"{fault.status} {fault.code}", headers)
        return [body]

    def _take(self, method: str, target: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.matches(method, target):
                    fault.times -= 1
                    self.hits.append(f"{method} {target} -> {fault.status} {fault.code}")
                    return fault
        return None


def _error_xml(fault: Fault, resource: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{escape(fault.code)}</Code><Message>{escape(fault.message)}</Message>"
        f"<Resource>{escape(resource)}</Resource><RequestId>fault</RequestId></Error>"
    ).encode()


class FaultyS3:
    """moto's S3 on loopback with ``inject(...)``; a context manager."""

    def __init__(self) -> None:
        self.injector = FaultInjector(DomainDispatcherApplication(create_backend_app))
        self._server = make_server(
            HOST, 0, self.injector, threaded=True, request_handler=MotoRequestHandler
        )
        self.port = int(self._server.server_address[1])
        self.endpoint_url = f"http://{HOST}:{self.port}"
        self.credentials = {"access_key_id": "testing", "secret_access_key": "testing"}
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def inject(
        self,
        status: int,
        code: str,
        *,
        method: str | None = None,
        match: str = "",
        times: int = 1,
        message: str = "injected by the test",
    ) -> Fault:
        """Arm a fault: the next ``times`` matching requests get this error (-1: all)."""
        fault = Fault(status, code, message, method, match, times)
        with self.injector._lock:
            self.injector.faults.append(fault)
        return fault

    def clear(self) -> None:
        with self.injector._lock:
            self.injector.faults.clear()

    def __enter__(self) -> FaultyS3:
        self._thread.start()
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
