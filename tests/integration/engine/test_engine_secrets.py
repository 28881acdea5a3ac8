"""Secrets reach processes (also through sub-jobs) and nothing else: not logs, outputs, params,
approvals or audit records, and they are ciphertext at rest."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import select

from conveyor.actions import manual
from conveyor.actions.access import Actor
from conveyor.actions.runtime import Runtime
from conveyor.store.tables import approval, audit_event, job_run, step_log, step_output

SECRET = "s3cr3t-Value!"
PASSWORD = "hunter2-field"

PARENT = """
kind: job
name: parent
params:
  - {name: token, type: secret, required: true}
  - {name: dir, type: string, required: true}
steps:
  - id: leak
    run: |
      echo "log $CONVEYOR_PARAM_TOKEN"
      echo "out=$CONVEYOR_PARAM_TOKEN" >> "$CONVEYOR_OUTPUT"
  - id: ask
    manual:
      fields: [{name: password, type: secret, required: true}]
  - id: child
    needs: [leak, ask]
    uses: job/child
    with: {token: "{token}", shown: "{token}", dir: "{dir}"}
---
kind: job
name: child
params:
  - {name: token, type: secret, required: true}
  - {name: shown, type: string}
  - {name: dir, type: string, required: true}
steps:
  - id: use
    run: printf '%s' "$CONVEYOR_PARAM_TOKEN" > {dir}/token
"""


def _dump(rt: Runtime, *tables: Any) -> str:
    with rt.db.read() as conn:
        rows = [dict(r) for t in tables for r in conn.execute(select(t)).mappings()]
    return json.dumps(rows, default=str)


def test_secrets_reach_processes_and_nothing_else(
    tmp_path: Path,
    rt: Runtime,
    admin: Actor,
    apply_yaml: Callable[..., object],
    submit_run: Callable[..., int],
    start_agent: Callable[..., object],
    wait_for_state: Callable[..., Any],
    steps_of: Callable[[int], dict],
    view: Callable[..., Any],
) -> None:
    apply_yaml(PARENT)
    start_agent()
    run_id = submit_run("parent", {"token": SECRET, "dir": str(tmp_path)})
    wait_for_state(run_id, {"waiting"})
    manual.approve(rt, admin, run_id, "ask", {"password": PASSWORD})
    assert wait_for_state(run_id).state == "succeeded"
    assert (tmp_path / "token").read_text() == SECRET  # through the sub-job, unmasked
    assert steps_of(run_id)["leak"].outputs == {"out": "***"}
    assert steps_of(run_id)["ask"].outputs["password"] == "***"
    assert view(run_id).params["token"] == "***"
    stored = _dump(rt, job_run, step_log, step_output, approval, audit_event)
    assert SECRET not in stored
    assert PASSWORD not in stored
    assert '"shown": "***"' in stored  # a plain param of the child never gets the secret
