"""`conveyor server` as a real process, and the CLI talking to it through CONVEYOR_URL."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from support.server import free_port, running_server

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


@pytest.fixture
def server(cli_env: dict[str, str], tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A running server; yields its URL and the first admin's one-time password."""
    with running_server(cli_env, tmp_path, "--slots", "2") as found:
        yield found.url, found.admin_password


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
    result = cli("runs", env={"CONVEYOR_URL": f"http://127.0.0.1:{free_port()}"})
    assert result.code == 6
    assert "Traceback" not in result.err
