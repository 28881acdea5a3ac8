"""Sub-jobs: a linked child run whose outputs become the step's; cancel and resume go through
to it; sub-job cycles are refused when applied."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from conveyor.actions import steering
from conveyor.actions.access import Actor
from conveyor.actions.runtime import Runtime
from conveyor.errors import DefinitionError
from conveyor.store.tables import job, job_run

FAMILY = """
kind: job
name: parent
params:
  - {name: dir, type: string, required: true}
  - {name: text, type: string, default: hello}
steps:
  - id: sub
    uses: job/child
    with: {dir: "{dir}", text: "{text} world"}
  - id: after
    needs: [sub]
    run: printf '%s' {steps.sub.outputs.say.said} > {dir}/said
---
kind: job
name: child
params:
  - {name: dir, type: string, required: true}
  - {name: text, type: string, required: true}
steps:
  - id: say
    run: >-
      test -e {dir}/go || exit 3; test -e {dir}/slow && sleep 30;
      echo "said={text}" >> "$CONVEYOR_OUTPUT"
"""


def _sub(view: Callable[..., Any], run_id: int) -> Any:
    return next(s for s in view(run_id).steps if s.step == "sub")


def _child_runs(rt: Runtime) -> int:
    with rt.db.read() as conn:
        query = select(func.count()).select_from(job_run).where(job_run.c.parent_step_run_id > 0)
        return int(conn.execute(query).scalar_one())


def test_the_child_run_is_linked_and_its_outputs_are_the_steps(
    tmp_path: Path,
    apply_yaml: Callable[..., object],
    submit_run: Callable[..., int],
    start_agent: Callable[..., object],
    wait_for_state: Callable[..., Any],
    view: Callable[..., Any],
) -> None:
    apply_yaml(FAMILY)
    (tmp_path / "go").touch()
    start_agent()
    run_id = submit_run("parent", {"dir": str(tmp_path)})
    assert wait_for_state(run_id).state == "succeeded"
    sub = _sub(view, run_id)
    child = view(sub.child_run_id)
    assert child.job == "child"
    assert child.parent_step_run_id == sub.id
    assert sub.outputs == {"say.said": "hello world", "run_id": str(child.id)}
    assert (tmp_path / "said").read_text() == "hello world"


def test_cancelling_the_parent_cancels_the_child(
    tmp_path: Path,
    rt: Runtime,
    admin: Actor,
    apply_yaml: Callable[..., object],
    submit_run: Callable[..., int],
    start_agent: Callable[..., object],
    wait_for_state: Callable[..., Any],
    wait_for_step: Callable[..., Any],
    view: Callable[..., Any],
) -> None:
    apply_yaml(FAMILY)
    (tmp_path / "go").touch()
    (tmp_path / "slow").touch()
    start_agent()
    run_id = submit_run("parent", {"dir": str(tmp_path)})
    child_id = wait_for_step(run_id, "sub", {"running"}).child_run_id
    wait_for_state(child_id, {"running"})
    steering.cancel(rt, admin, run_id)
    assert wait_for_state(run_id, timeout=20).state == "cancelled"
    assert wait_for_state(child_id).state == "cancelled"
    assert _sub(view, run_id).state == "cancelled"


def test_resuming_the_parent_resumes_the_failed_child(
    run_job: Callable[..., Any],
    tmp_path: Path,
    rt: Runtime,
    admin: Actor,
    wait_for_state: Callable[..., Any],
    view: Callable[..., Any],
) -> None:
    finished = run_job(FAMILY, "parent", {"dir": str(tmp_path)})
    run_id = finished.id
    assert finished.state == "failed"
    child_id = _sub(view, run_id).child_run_id
    assert view(child_id).state == "failed"
    assert _sub(view, run_id).error == f"sub-job run {child_id} failed"
    (tmp_path / "go").touch()
    steering.resume(rt, admin, run_id)
    assert wait_for_state(run_id).state == "succeeded"
    assert _sub(view, run_id).child_run_id == child_id
    assert _sub(view, run_id).attempt == 2
    assert [s.attempt for s in view(child_id).steps] == [2]
    assert _child_runs(rt) == 1


CYCLE = """
kind: job
name: ping
steps:
  - {id: call, uses: job/pong}
---
kind: job
name: pong
steps:
  - {id: call, uses: job/ping}
"""


def test_a_sub_job_cycle_is_refused(rt: Runtime, apply_yaml: Callable[..., object]) -> None:
    with pytest.raises(DefinitionError, match="runs itself as a sub-job"):
        apply_yaml(CYCLE)
    with rt.db.read() as conn:
        assert conn.execute(select(func.count()).select_from(job)).scalar_one() == 0
