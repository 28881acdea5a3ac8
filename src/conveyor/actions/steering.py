"""Steering a run: cancel, resume, retry, skip, and marking a step succeeded."""

from __future__ import annotations

from collections.abc import Collection, Mapping

from sqlalchemy import Connection

from conveyor.actions.access import Actor, Role
from conveyor.actions.advance import Advancer
from conveyor.actions.launch import relaunch
from conveyor.actions.reopen import reopen, step_rows
from conveyor.actions.runtime import Runtime
from conveyor.actions.subjobs import not_restartable
from conveyor.engine.states import BROKEN_STEP_STATES, RunState, StepState
from conveyor.errors import ConflictError
from conveyor.store import outputs as output_store
from conveyor.store import runs as run_store
from conveyor.store.db import db_now
from conveyor.store.events import add_audit, add_event
from conveyor.store.logs import add_log
from conveyor.store.records import RunRecord

RERUNNABLE = BROKEN_STEP_STATES | {StepState.PENDING}


def _locked_run(conn: Connection, actor: Actor, run_id: int, action: str) -> RunRecord:
    run = run_store.get_run(conn, run_id, for_update=True)
    actor.require(Role.OPERATOR, run.category, action)
    return run


def _audit(conn: Connection, actor: Actor, action: str, run: RunRecord, **detail: object) -> None:
    add_audit(
        conn,
        actor=actor.name,
        action=action,
        target=f"run/{run.id}",
        detail=dict(detail),
        source=actor.source,
    )


def cancel(rt: Runtime, actor: Actor, run_id: int) -> RunState:
    """Stop a run: nothing new starts, waiting and ready steps are cancelled, running processes
    are killed by their agents at their next heartbeat, sub-job runs are cancelled too."""
    with rt.db.write() as conn:
        run = _locked_run(conn, actor, run_id, "cancel runs")
        if run.state.is_final:
            raise ConflictError(f"run {run_id} is already {run.state.value}")
        _audit(conn, actor, "run.cancel", run)
        return _cancel_tree(Advancer(rt, conn), run)


def _cancel_tree(advancer: Advancer, run: RunRecord) -> RunState:
    conn = advancer.conn
    run_store.update_run(conn, run.id, cancel_requested=True)
    rows = run_store.current_step_runs(conn, run.id)
    idle = [r.id for r in rows if r.state in (StepState.READY, StepState.WAITING)]
    run_store.set_step_runs(
        conn,
        idle,
        only_states=[StepState.READY, StepState.WAITING],
        state=StepState.CANCELLED.value,
        ended_at=db_now(),
        error="cancelled",
    )
    for child_id in run_store.child_runs(
        conn, [r.id for r in rows if r.state == StepState.RUNNING]
    ):
        child = run_store.get_run(conn, child_id, for_update=True)
        if not child.state.is_final:
            _cancel_tree(advancer, child)
    if run.state == RunState.QUEUED:
        run_store.update_run(conn, run.id, state=RunState.RUNNING.value)
    add_event(conn, "run", {"cancel_requested": True}, run_id=run.id)
    return advancer.advance(run.id)


def resume(rt: Runtime, actor: Actor, run_id: int, force: Collection[str] = ()) -> RunState:
    """Re-run a failed or cancelled run from its failed, cancelled and not-yet-run steps,
    keeping every succeeded step and its outputs. Steps that are not restartable are refused
    unless named in `force`."""
    with rt.db.write() as conn:
        run = _locked_run(conn, actor, run_id, "resume runs")
        if run.state not in (RunState.FAILED, RunState.CANCELLED):
            raise ConflictError(
                f"run {run_id} is {run.state.value}; only failed or cancelled runs resume"
            )
        rows = [r for r in run_store.current_step_runs(conn, run.id) if r.state in RERUNNABLE]
        refused = not_restartable(conn, run, force)
        if refused:
            names = ", ".join(refused)
            raise ConflictError(
                f"step(s) {names} are not restartable and may have done part of their work; "
                f"resume with --force {refused[0]} to run them again"
            )
        for row in rows:
            if row.state != StepState.PENDING:
                run_store.new_attempt(conn, row, state=StepState.PENDING)
        reopen(conn, run)
        _audit(conn, actor, "run.resume", run, steps=sorted({r.step_key for r in rows}))
        return relaunch(Advancer(rt, conn), run)


def retry(rt: Runtime, actor: Actor, run_id: int, step_key: str) -> RunState:
    """Run a failed, lost or cancelled step again as its next attempt."""
    with rt.db.write() as conn:
        run = _locked_run(conn, actor, run_id, "retry steps")
        rows = [r for r in step_rows(conn, run, step_key) if r.state in BROKEN_STEP_STATES]
        if not rows:
            raise ConflictError(f"step {step_key!r} of run {run_id} has nothing failed to retry")
        for row in rows:
            run_store.new_attempt(conn, row, state=StepState.PENDING)
        reopen(conn, run)
        _audit(conn, actor, "step.retry", run, step=step_key)
        return relaunch(Advancer(rt, conn), run)


def skip(rt: Runtime, actor: Actor, run_id: int, step_key: str) -> RunState:
    """Mark a step that has not succeeded as skipped; its dependants see it as skipped."""
    return _settle(rt, actor, run_id, step_key, StepState.SKIPPED, {})


def mark_succeeded(
    rt: Runtime, actor: Actor, run_id: int, step_key: str, outputs: Mapping[str, str]
) -> RunState:
    """Declare a step done by hand (e.g. a lost step that did finish) with optional outputs."""
    return _settle(rt, actor, run_id, step_key, StepState.SUCCEEDED, outputs)


def _settle(
    rt: Runtime,
    actor: Actor,
    run_id: int,
    step_key: str,
    state: StepState,
    outputs: Mapping[str, str],
) -> RunState:
    with rt.db.write() as conn:
        run = _locked_run(conn, actor, run_id, f"mark steps {state.value}")
        allowed = RERUNNABLE | {StepState.READY, StepState.WAITING}
        rows = [r for r in step_rows(conn, run, step_key) if r.state in allowed]
        if not rows:
            raise ConflictError(f"step {step_key!r} of run {run_id} is not in a state to change")
        run_store.set_step_runs(
            conn,
            [r.id for r in rows],
            state=state.value,
            ended_at=db_now(),
            error=f"{state.value} by {actor.name}",
        )
        for row in rows:
            output_store.insert_outputs(conn, row, outputs)
            add_log(
                conn,
                step_run_id=row.id,
                run_id=run.id,
                text=f"[conveyor] marked {state.value} by {actor.name}\n",
            )
        add_event(conn, "step", {"step": step_key, "state": state.value}, run_id=run.id)
        reopen(conn, run)
        _audit(
            conn,
            actor,
            f"step.{'skip' if state == StepState.SKIPPED else 'succeed'}",
            run,
            step=step_key,
        )
        return relaunch(Advancer(rt, conn), run)
