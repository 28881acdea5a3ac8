"""A person's answer to a paused rollout (`on_max_failures: pause`): go on, retry, or abort."""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import Connection

from conveyor.actions.access import Actor, Role
from conveyor.actions.advance import Advancer
from conveyor.actions.launch import relaunch
from conveyor.actions.reopen import step_rows
from conveyor.actions.runtime import Runtime
from conveyor.actions.versions import load_job
from conveyor.engine.rollout import FAILED_ITEM_STATES
from conveyor.engine.states import BROKEN_STEP_STATES, RunState, StepState
from conveyor.errors import ConflictError, UsageError
from conveyor.store import runs as run_store
from conveyor.store.db import db_now
from conveyor.store.events import add_audit, add_event
from conveyor.store.logs import add_log
from conveyor.store.records import StepRunRecord


class RolloutChoice(StrEnum):
    REMAINING = "remaining"  # accept the failures (their items are skipped), launch the rest
    RETRY_FAILED = "retry-failed"  # run the failed items (and a failed check) again, then the rest
    ABORT = "abort"  # launch nothing more: the step and the run fail


def continue_rollout(rt: Runtime, actor: Actor, run_id: int, step_key: str, mode: str) -> RunState:
    """Answer a paused rollout of step `step_key` of run `run_id`. Needs the operator role in
    the run's category; writes the audit event `rollout.<mode>` and moves the run on."""
    try:
        choice = RolloutChoice(mode)
    except ValueError:
        modes = ", ".join(c.value for c in RolloutChoice)
        raise UsageError(f"{mode!r} is not a way to go on with a rollout: use {modes}") from None
    with rt.db.write() as conn:
        run = run_store.lock_with_ancestors(conn, run_id)
        actor.require(Role.OPERATOR, run.category, "steer rollouts")
        items = step_rows(conn, run, step_key)
        step = load_job(conn, run.job_version_id).steps[step_key]
        waiting = [r for r in items if r.state == StepState.WAITING]
        if not step.foreach or not waiting:
            raise ConflictError(f"step {step_key!r} of run {run_id} is not a paused rollout")
        failed = [r for r in items if r.state in FAILED_ITEM_STATES]
        if step.after_batch:
            checks = step_rows(conn, run, step.after_batch)
            failed += [r for r in checks if r.state in BROKEN_STEP_STATES]
        _apply(conn, choice, actor, waiting, failed)
        note = f"[conveyor] rollout: {choice.value}, chosen by {actor.name}\n"
        add_log(conn, step_run_id=waiting[0].id, run_id=run.id, text=note)
        add_event(conn, "step", {"step": step_key, "rollout": choice.value}, run_id=run.id)
        add_audit(
            conn,
            actor=actor.name,
            action=f"rollout.{choice.value}",
            target=f"run/{run.id}/{step_key}",
            detail={"failed": [r.item_index for r in failed], "waiting": len(waiting)},
            source=actor.source,
        )
        return relaunch(Advancer(rt, conn), run)


def _apply(
    conn: Connection,
    choice: RolloutChoice,
    actor: Actor,
    waiting: list[StepRunRecord],
    failed: list[StepRunRecord],
) -> None:
    ids = [r.id for r in waiting]
    if choice == RolloutChoice.ABORT:
        run_store.set_step_runs(
            conn,
            ids,
            state=StepState.CANCELLED.value,
            ended_at=db_now(),
            waiting_for=None,
            error=f"rollout aborted by {actor.name}",
        )
        return
    run_store.set_step_runs(conn, ids, state=StepState.PENDING.value, waiting_for=None)
    for row in failed:
        if choice == RolloutChoice.RETRY_FAILED:
            run_store.new_attempt(conn, row, state=StepState.PENDING)
        else:
            # A new attempt, so the failed one stays in the history as it was.
            run_store.new_attempt(
                conn,
                row,
                state=StepState.SKIPPED,
                started_at=db_now(),
                ended_at=db_now(),
                error=f"failed; skipped by {actor.name} to go on with the rollout",
            )
