"""A poor link on loopback: a TCP proxy that throttles, delays, stalls, cuts and corrupts.

``tc netem`` is not available on these machines, so the test suite makes its own bad link:

    client (boto3) --> PoorLink (127.0.0.1:random) --> upstream server (e.g. SeaweedFS S3)

* ``rate``: bytes per second in each direction, a token bucket shared by all connections
  (one link, however many sockets use it).
* ``latency``: seconds added before each forwarded chunk.
* ``refuse_new``: new connections are reset at once (the link dropped).
* ``stall``: nothing is forwarded, on live or new connections (a link gone silent): the
  client's read timeout fires.
* ``cut_all()`` resets every live connection now; ``cut_after(n)`` does it once ``n`` more
  bytes have gone upstream (mid-upload, deterministically).
* ``corrupt_next(marker, replacement)``: flip bytes once in the upstream stream.

It is bounded: at most ``max_connections`` live connections and ``max_lifetime`` seconds,
after which it stops by itself; and a context manager that stops it on exit.
"""

from __future__ import annotations

import select
import socket
import struct
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from types import TracebackType

HOST = "127.0.0.1"


class TokenBucket:
    """Blocks ``take(n)`` until ``n`` bytes fit the rate; ``rate=None`` means unlimited."""

    def __init__(self, rate: float | None) -> None:
        self._lock = threading.Lock()
        self.set_rate(rate)

    def set_rate(self, rate: float | None) -> None:
        with self._lock:
            self.rate = rate
            self.burst = max(1024.0, rate / 20) if rate else float("inf")
            self._tokens = 0.0
            self._stamp = time.monotonic()

    def take(self, n: int, stop: threading.Event) -> None:
        while not stop.is_set():
            with self._lock:
                if self.rate is None:
                    return
                now = time.monotonic()
                self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
                self._stamp = now
                if self._tokens >= n:
                    self._tokens -= n
                    return
                wait = (n - self._tokens) / self.rate
            stop.wait(min(wait, 0.05))

    def chunk(self, default: int) -> int:
        """The largest read that makes sense: one burst at most."""
        return int(min(default, self.burst))


@dataclass
class _Conn:
    client: socket.socket
    upstream: socket.socket
    closed: threading.Event = field(default_factory=threading.Event)
    pumps_done: int = 0

    def close(self, *, reset: bool) -> None:
        if self.closed.is_set():
            return
        self.closed.set()
        for sock in (self.client, self.upstream):
            with suppress(OSError):
                if reset:  # SO_LINGER 0: close sends RST, as a dropped link would
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                sock.close()


class PoorLink:
    """The throttling TCP proxy; see the module docstring. Use as a context manager."""

    def __init__(
        self,
        upstream: tuple[str, int],
        *,
        rate: float | None = None,
        latency: float = 0.0,
        max_connections: int = 64,
        max_lifetime: float = 300.0,
        chunk: int = 16384,
    ) -> None:
        self.upstream = upstream
        self.latency = latency
        self.refuse_new = False
        self.stall = False
        self.max_connections = max_connections
        self.max_lifetime = max_lifetime
        self.chunk = chunk
        self.up_bucket, self.down_bucket = TokenBucket(rate), TokenBucket(rate)
        self.bytes_up = self.bytes_down = self.accepted = self.cuts = self.cut_events = 0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._conns: list[_Conn] = []
        self._threads: list[threading.Thread] = []
        self._cut_budget: int | None = None
        self._corrupt: tuple[bytes, bytes] | None = None
        self._timer = threading.Timer(max_lifetime, self.stop)
        self._listener = socket.create_server((HOST, 0), backlog=64)
        self._listener.settimeout(0.1)
        self.port = int(self._listener.getsockname()[1])
        self.url = f"http://{HOST}:{self.port}"

    # -- controls -------------------------------------------------------------------

    def set_rate(self, rate: float | None) -> None:
        self.up_bucket.set_rate(rate)
        self.down_bucket.set_rate(rate)

    def cut_all(self) -> int:
        """Reset every live connection; return how many were cut."""
        with self._lock:
            conns, self._conns = self._conns, []
            self._cut_budget = None
        for conn in conns:
            conn.close(reset=True)
        self.cuts += len(conns)
        return len(conns)

    def cut_after(self, nbytes: int) -> None:
        """Cut all connections once ``nbytes`` more bytes have been forwarded upstream."""
        with self._lock:
            self._cut_budget = nbytes

    def corrupt_next(self, marker: bytes, replacement: bytes) -> None:
        """Replace the next ``marker`` seen upstream by ``replacement`` (same length), once."""
        if len(marker) != len(replacement):
            raise ValueError("marker and replacement must have the same length")
        self._corrupt = (marker, replacement)

    # -- lifecycle ------------------------------------------------------------------

    def start(self) -> PoorLink:
        self._spawn(self._accept_loop)
        self._timer.daemon = True
        self._timer.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._timer.cancel()
        with suppress(OSError):
            self._listener.close()
        self.cut_all()
        for thread in list(self._threads):
            if thread is not threading.current_thread():
                thread.join(timeout=2)

    def __enter__(self) -> PoorLink:
        return self.start()

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- internals ------------------------------------------------------------------

    def _spawn(self, target: Callable[..., None], *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except (TimeoutError, OSError):
                continue
            self.accepted += 1
            if self.refuse_new or len(self._conns) >= self.max_connections:
                _Conn(client, socket.socket()).close(reset=True)
                continue
            try:
                upstream = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                _Conn(client, socket.socket()).close(reset=True)
                continue
            conn = _Conn(client, upstream)
            with self._lock:
                self._conns.append(conn)
            self._spawn(self._pump, conn, client, upstream, True)
            self._spawn(self._pump, conn, upstream, client, False)

    def _pump(self, conn: _Conn, src: socket.socket, dst: socket.socket, up: bool) -> None:
        """Forward one direction until EOF, an error, a cut or stop."""
        bucket = self.up_bucket if up else self.down_bucket
        try:
            while not (self._stop.is_set() or conn.closed.is_set()):
                if self.stall:
                    self._stop.wait(0.02)
                    continue
                if not select.select([src], [], [], 0.05)[0]:
                    continue
                data = src.recv(bucket.chunk(self.chunk))
                if not data:
                    with suppress(OSError):
                        dst.shutdown(socket.SHUT_WR)
                    return
                self._forward(conn, dst, self._maybe_corrupt(data) if up else data, bucket)
                self._count(len(data), up)
        except (OSError, ValueError):
            conn.close(reset=True)
        finally:
            self._finish(conn)

    def _forward(self, conn: _Conn, dst: socket.socket, data: bytes, bucket: TokenBucket) -> None:
        if self.latency:
            self._stop.wait(self.latency)
        bucket.take(len(data), self._stop)
        view = memoryview(data)
        while view and not conn.closed.is_set():
            _, writable, _ = select.select([], [dst], [], 0.05)
            if writable:
                view = view[dst.send(view) :]

    def _maybe_corrupt(self, data: bytes) -> bytes:
        rule = self._corrupt
        if rule and rule[0] in data:
            self._corrupt = None
            return data.replace(rule[0], rule[1], 1)
        return data

    def _count(self, n: int, up: bool) -> None:
        with self._lock:
            if not up:
                self.bytes_down += n
                return
            self.bytes_up += n
            if self._cut_budget is None:
                return
            self._cut_budget -= n
            if self._cut_budget > 0:
                return
            # counted here: by the time cut_all runs, a finishing pump may have
            # removed the connection it was cutting, and `cuts` would read 0
            self.cut_events += 1
        self.cut_all()

    def _finish(self, conn: _Conn) -> None:
        """Called by each pump as it ends; the second one closes and forgets the connection."""
        with self._lock:
            conn.pumps_done += 1
            if conn.pumps_done < 2:
                return
            if conn in self._conns:
                self._conns.remove(conn)
        conn.close(reset=False)
