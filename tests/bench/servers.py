"""A fresh moto server (the project's launcher, tests/support/moto_server.py) behind the latency proxy.

Each tool, K and latency gets its own moto, so no tool sees what another made. moto runs in the test
venv (it pins moto); the proxy is standard-library Python and runs with this interpreter. Both are
child processes, so neither competes with the benchmark's own thread for Python's lock.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psutil

HERE = Path(__file__).resolve().parent
LAUNCHER = HERE.parent / "support" / "moto_server.py"
PROXY = HERE / "proxy.py"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class Operation:
    """One request moto recorded, as the moto extension names it."""

    access_key_id: str | None
    service: str | None
    operation: str | None
    read: bool

    @property
    def label(self) -> str:
        return f"{self.service or '?'}:{self.operation or '?'}"


@dataclass(frozen=True)
class Endpoints:
    """moto's own URL (for controls and the read-back) and the proxy's (for the tools)."""

    moto: str
    proxy: str
    moto_pid: int

    def moto_cpu_seconds(self) -> float:
        """CPU time (user + system) moto has used so far."""
        times = psutil.Process(self.moto_pid).cpu_times()
        return times.user + times.system

    def recorded(self, access_key_id: str | None = None) -> list[Operation]:
        """Every request moto recorded so far, oldest first, only those signed with the key id if given."""
        body = json.dumps({} if access_key_id is None else {"AccessKeyId": access_key_id}).encode()
        request = urllib.request.Request(f"{self.moto}/_ocp_aws_test/recorded-operations", data=body, method="POST")
        with urllib.request.urlopen(request, timeout=60) as response:
            entries = json.loads(response.read())["Operations"]
        return [Operation(e["AccessKeyId"], e["Service"], e["Operation"], bool(e["Read"])) for e in entries]

    def throttled(self) -> dict[str, int]:
        """Requests the proxy answered with a throttling error so far, by service."""
        with urllib.request.urlopen(f"{self.proxy}/_proxy/stats", timeout=60) as response:
            return dict(json.loads(response.read())["throttled"])


def _wait_for(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(url, timeout=1).close()
            return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{url} did not answer; its log:\n{log.read_text()}") from None
            time.sleep(0.1)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def started(
    workdir: Path, test_python: str, latency_ms: float, nagle: bool = False, throttle: str = ""
) -> Iterator[Endpoints]:
    """Start moto and a proxy with ``latency_ms`` (and ``throttle``, see proxy.py) in front of it; stop
    both on exit.

    ``workdir`` must not exist yet: moto appends its recording to a file there, so a folder used
    before would carry another run's requests."""
    workdir.mkdir(parents=True)
    moto_url = f"http://127.0.0.1:{free_port()}"
    moto_log = workdir / "moto.log"
    with open(moto_log, "wb") as log:
        # In its own folder: moto's request recorder writes its file into the working directory.
        moto = subprocess.Popen(
            [test_python, str(LAUNCHER), "-H", "127.0.0.1", "-p", moto_url.rsplit(":", 1)[1]],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=workdir,
            env={k: v for k, v in os.environ.items() if not k.startswith("AWS_ENDPOINT")},
        )
    try:
        _wait_for(f"{moto_url}/moto-api/data.json", moto, moto_log)
        proxy_log = workdir / "proxy.log"
        args = [sys.executable, str(PROXY), "--upstream", moto_url, "--latency-ms", str(latency_ms)]
        args += ["--throttle", throttle] if throttle else []
        with open(proxy_log, "wb") as log:
            proxy = subprocess.Popen([*args, *(["--nagle"] if nagle else [])], stdout=subprocess.PIPE, stderr=log)
        try:
            assert proxy.stdout is not None
            line = proxy.stdout.readline().decode().strip()
            if not line.startswith("listening "):
                raise RuntimeError(f"The latency proxy did not start: {proxy_log.read_text()}")
            yield Endpoints(moto_url, line.split(" ", 1)[1], moto.pid)
        finally:
            _stop(proxy)
    finally:
        _stop(moto)
