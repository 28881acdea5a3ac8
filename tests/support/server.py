"""Start a real `conveyor server` process for acceptance and browser tests."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx


@dataclass(frozen=True)
class RunningServer:
    url: str
    admin_password: str


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _up(url: str) -> bool:
    try:
        return httpx.get(f"{url}/api/v1/health", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


@contextmanager
def running_server(env: dict[str, str], workdir: Path, *args: str) -> Iterator[RunningServer]:
    """A server on a free port; yields its URL and the first admin's one-time password."""
    port = free_port()
    log_path = workdir / "server.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "conveyor", "server", "--port", str(port), *args],
            env=env,
            cwd=workdir,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 30
            while not _up(url):
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise AssertionError("the server did not start: " + log_path.read_text())
                time.sleep(0.1)
            password = log_path.read_text().split("password ", 1)[1].split()[0]
            yield RunningServer(url=url, admin_password=password)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
