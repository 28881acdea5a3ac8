"""Agents that stop heartbeating: their steps are declared lost by the database clock, run
again when restartable, and the old attempt's late writes change nothing."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import update

from conveyor.actions import execution
from conveyor.actions.execution import StepResult
from conveyor.actions.runtime import Runtime
from conveyor.engine.states import StepState
from conveyor.store.claims import claimable_keys
from conveyor.store.records import ClaimedStep
from conveyor.store.tables import step_run

FAKE_AGENT = 999_999

ONCE = """
kind: job
name: once
params:
  - {name: dir, type: string, required: true}
steps:
  - id: work
    RESTARTABLE
    run: >-
      echo $CONVEYOR_ATTEMPT >> {dir}/attempts;
      echo "attempt=$CONVEYOR_ATTEMPT" >> "$CONVEYOR_OUTPUT"
"""


def _claim_and_vanish(make_runtime: Callable[..., Runtime]) -> ClaimedStep:
    """Claim the ready step as an agent that never heartbeats, with a one-second lease."""
    short = make_runtime(lease_seconds=1.0)
    claimed = execution.claim(short, FAKE_AGENT, claimable_keys(()), 1)
    assert len(claimed) == 1
    return claimed[0]


def _sweep_until_lost(rt: Runtime, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while execution.sweep(rt) == 0:
        assert time.monotonic() < deadline, "the sweep never found the expired lease"
        time.sleep(0.2)


def test_a_lost_restartable_step_runs_again_elsewhere(
    tmp_path: Path,
    rt: Runtime,
    make_runtime: Callable[..., Runtime],
    apply_yaml: Callable[..., object],
    submit_run: Callable[..., int],
    start_agent: Callable[..., object],
    wait_for_state: Callable[..., Any],
    view: Callable[..., Any],
) -> None:
    apply_yaml(ONCE.replace("RESTARTABLE", "restartable: true"))
    run_id = submit_run("once", {"dir": str(tmp_path)})
    old = _claim_and_vanish(make_runtime)
    _sweep_until_lost(rt)
    history = view(run_id, history=True).steps
    assert [(s.attempt, s.state) for s in history] == [(1, "lost"), (2, "ready")]
    start_agent()
    assert wait_for_state(run_id).state == "succeeded"
    assert (tmp_path / "attempts").read_text() == "2\n"
    before = view(run_id, history=True)
    late = StepResult(state=StepState.FAILED, exit_code=1, outputs={"attempt": "1"})
    assert execution.finish(rt, old, late) is False
    assert execution.ship_log(rt, old, "late line\n") is False
    after = view(run_id, history=True)
    assert after == before
    assert after.steps[1].outputs == {"attempt": "2"}


def test_a_lost_step_that_is_not_restartable_fails_the_run(
    tmp_path: Path,
    rt: Runtime,
    make_runtime: Callable[..., Runtime],
    apply_yaml: Callable[..., object],
    submit_run: Callable[..., int],
    wait_for_state: Callable[..., Any],
    view: Callable[..., Any],
) -> None:
    apply_yaml(ONCE.replace("RESTARTABLE", "restartable: false"))
    run_id = submit_run("once", {"dir": str(tmp_path)})
    old = _claim_and_vanish(make_runtime)
    _sweep_until_lost(rt)
    assert wait_for_state(run_id, timeout=5).state == "failed"
    assert [(s.attempt, s.state) for s in view(run_id, history=True).steps] == [(1, "lost")]
    done = StepResult(state=StepState.SUCCEEDED, exit_code=0)
    assert execution.finish(rt, old, done) is False
    assert view(run_id).state == "failed"


SILENT = """
kind: job
name: silent
params:
  - {name: dir, type: string, required: true}
steps:
  - id: nap
    run: sh -c 'sleep 30 & echo $! > {dir}/pid.$CONVEYOR_ATTEMPT; sleep 30'
"""


def test_an_agent_stops_its_copy_once_the_step_was_declared_lost(
    tmp_path: Path,
    rt: Runtime,
    apply_yaml: Callable[..., object],
    submit_run: Callable[..., int],
    start_agent: Callable[..., object],
    view: Callable[..., Any],
    read_pid: Callable[[Path], int],
    pid_gone: Callable[..., bool],
) -> None:
    """As if the agent had been paused past its lease: the sweep re-queued its step; the
    agent must then kill its own silent copy (not wait for it to end) and report nothing."""
    apply_yaml(SILENT)
    start_agent(slots=1)
    run_id = submit_run("silent", {"dir": str(tmp_path)})
    pid = read_pid(tmp_path / "pid.1")
    with rt.db.write() as conn:
        conn.execute(update(step_run).values(lease_expires_at=0.0))
    _sweep_until_lost(rt)
    assert pid_gone(pid, timeout=15)
    read_pid(tmp_path / "pid.2")  # the freed slot took attempt 2
    history = view(run_id, history=True).steps
    assert [(s.attempt, s.state) for s in history] == [(1, "lost"), (2, "running")]
