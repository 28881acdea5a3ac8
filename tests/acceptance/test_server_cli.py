"""`conveyor server` as a real process, and the CLI talking to it through CONVEYOR_URL."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

JOB = """
kind: job
name: gated
category: Ops
params:
  - {name: token, type: secret}
steps:
  - id: build
    run: echo "building with $CONVEYOR_PARAM_TOKEN"; echo "artifact=a-1" >> "$CONVEYOR_OUTPUT"
  - id: approve
    needs: [build]
    manual:
      instructions: "Ship {steps.build.outputs.artifact}?"
      approvers: {role: approver, not_submitter: true}
  - id: ship
    needs: [approve]
    run: echo "shipped {steps.build.outputs.artifact}"
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def server(
    cli_env: dict[str, str], tmp_path: Path, wait_until: Callable[..., None]
) -> Iterator[tuple[str, str]]:
    """A running server; yields its URL and the first admin's one-time password."""
    port = _free_port()
    log = (tmp_path / "server.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "conveyor", "server", "--port", str(port), "--slots", "2"],
        env=cli_env,
        cwd=tmp_path,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return httpx.get(f"{url}/api/v1/health", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_until(up, timeout=30)
        text = (tmp_path / "server.log").read_text()
        password = text.split("password ", 1)[1].split()[0]
        yield url, password
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


def test_the_cli_works_through_the_server_with_tokens_and_roles(
    server: tuple[str, str],
    cli: Callable[..., Any],
    write: Callable[[str, str], Path],
    wait_until: Callable[..., None],
) -> None:
    url, _ = server
    admin_token = cli("token", "create", "admin", "--user", "admin").out.strip()
    as_admin = {"CONVEYOR_URL": url, "CONVEYOR_TOKEN": admin_token}
    assert cli("apply", str(write("job.yaml", JOB)), env=as_admin).code == 0
    assert cli("user", "add", "bob", "--grant", "Ops=approver", env=as_admin).code == 0
    bob_token = cli("token", "create", "bob", env=as_admin).out.strip()
    as_bob = {"CONVEYOR_URL": url, "CONVEYOR_TOKEN": bob_token}

    started = cli("run", "gated", "-p", "token=hunter2-secret", "--wait", env=as_admin)
    assert started.code == 3, started.err
    run_id = started.out.strip()
    assert cli("approve", run_id, "approve", env=as_admin).code == 2  # four-eyes
    assert cli("run", "gated", env=as_bob).code == 2  # bob may not submit
    assert cli("approve", run_id, "approve", env=as_bob).code == 0
    wait_until(lambda: cli("status", run_id, env=as_admin).code == 0, timeout=30)

    status = cli("status", run_id, "--json", env=as_admin).out
    logs = cli("logs", run_id, env=as_admin).out
    assert "hunter2-secret" not in status
    assert "hunter2-secret" not in logs
    assert "building with ***" in logs
    assert json.loads(status)["params"]["token"] == "***"

    assert cli("token", "revoke", "2", env=as_admin).code == 0
    assert cli("runs", env=as_bob).code == 2
    assert cli("runs", env={"CONVEYOR_URL": url}).code == 2


def test_an_unreachable_server_exits_6(cli: Callable[..., Any]) -> None:
    result = cli("runs", env={"CONVEYOR_URL": f"http://127.0.0.1:{_free_port()}"})
    assert result.code == 6
    assert "Traceback" not in result.err
