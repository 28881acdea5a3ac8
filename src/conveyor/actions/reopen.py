"""Shared moves of the steering actions: reopening a finished run, checking a step exists."""

from __future__ import annotations

from sqlalchemy import Connection

from conveyor.actions.versions import load_job
from conveyor.engine.states import RunState
from conveyor.errors import NotFoundError
from conveyor.store import runs as run_store
from conveyor.store.events import add_event
from conveyor.store.records import RunRecord, StepRunRecord


def reopen(conn: Connection, run: RunRecord) -> None:
    """A finished run goes back to running so that re-queued steps can move it on."""
    if not run.state.is_final:
        return
    run_store.update_run(
        conn,
        run.id,
        state=RunState.RUNNING.value,
        ended_at=None,
        cancel_requested=False,
        error=None,
    )
    # Ended, the run gave up its max_concurrency slot; coming back it takes one again at once
    # (a person asked for it), but its job locks are taken again (launch.relaunch).
    add_event(conn, "run", {"state": RunState.RUNNING.value, "reopened": True}, run_id=run.id)


def step_rows(conn: Connection, run: RunRecord, step_key: str) -> list[StepRunRecord]:
    """The current rows (one, or one per item) of a step of a run; NotFoundError if none."""
    if step_key not in load_job(conn, run.job_version_id).steps:
        raise NotFoundError(f"run {run.id} has no step {step_key!r}")
    return [r for r in run_store.current_step_runs(conn, run.id) if r.step_key == step_key]
