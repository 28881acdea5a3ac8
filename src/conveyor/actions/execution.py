"""What agents do to the store: claim, ship logs, heartbeat, finish, and sweep lost steps."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, text

from conveyor.actions.advance import Advancer, render_text
from conveyor.actions.launch import start_lock_waiters
from conveyor.actions.runtime import Runtime
from conveyor.actions.versions import load_job
from conveyor.engine.scope import MissingValue, Scope
from conveyor.engine.states import StepState
from conveyor.store import claims as claim_store
from conveyor.store import locks as lock_store
from conveyor.store import outputs as output_store
from conveyor.store import runs as run_store
from conveyor.store.db import db_now
from conveyor.store.events import add_event
from conveyor.store.logs import add_log, append_log
from conveyor.store.records import ClaimedStep, RunRecord, StepRunRecord

MAX_BACKOFF_SECONDS = 3600.0
EXTRA_ATTEMPTS_WHEN_LOST = 3
LOCK_RETRY_SECONDS = 5.0
_SWEEP_LOCK_KEY = 0x0C0E7E41


@dataclass(frozen=True)
class StepResult:
    """How an attempt ended, as the agent saw it."""

    state: StepState
    exit_code: int | None = None
    outputs: Mapping[str, str] | None = None
    error: str | None = None


@dataclass(frozen=True)
class NextClaim:
    """What an agent finishing a step can take on in the same transaction: its id, the tags
    keys it may claim and how many slots it has free (the finishing one included)."""

    agent_id: int
    keys: Sequence[str]
    limit: int


def claim(rt: Runtime, agent_id: int, keys: Sequence[str], limit: int) -> list[ClaimedStep]:
    """Take up to `limit` ready steps, with the locks each needs (all or none, in the same
    transaction); a step whose lock is busy goes back to ready, waiting for it."""
    with rt.db.write() as conn:
        return _claim(rt, conn, NextClaim(agent_id, keys, limit))


def _claim(rt: Runtime, conn: Connection, wants: NextClaim) -> list[ClaimedStep]:
    claimed = claim_store.claim(
        conn,
        agent_id=wants.agent_id,
        keys=wants.keys,
        limit=wants.limit,
        lease=rt.settings.lease_seconds,
    )
    wanted = {step.step_run_id: _wanted_locks(conn, step) for step in claimed}
    lock_store.prepare(conn, (name for locks in wanted.values() for name, _ in locks))
    taken = [step for step in claimed if _take_step_locks(conn, step, wanted[step.step_run_id])]
    rt.db.claimed_ready(conn, [step.step_run_id for step in taken])
    return taken


def _wanted_locks(conn: Connection, step: ClaimedStep) -> list[tuple[str, int]]:
    locks = load_job(conn, step.job_version_id).steps[step.step_key].locks
    if not locks:
        return []
    scope = Scope(
        params=step.params,
        outputs=step.outputs,
        item=step.item,
        run_id=step.run_id,
        submitter=step.submitter,
        job_name=step.job_name,
    )
    return [(_lock_name(lock.name, scope), lock.limit) for lock in locks]


def _take_step_locks(conn: Connection, step: ClaimedStep, wanted: list[tuple[str, int]]) -> bool:
    if not wanted:
        return True
    busy = lock_store.try_acquire(conn, wanted, run_id=step.run_id, step_run_id=step.step_run_id)
    if busy is None:
        return True
    # Releasing the lock makes this step claimable at once (lock_store.wake_waiters); the retry
    # delay is only a safety net for a release that raced with this claim.
    claim_store.unclaim(
        conn, step.step_run_id, waiting_for=busy.sentence(), retry_in=LOCK_RETRY_SECONDS
    )
    return False


def release_step_locks(advancer: Advancer, step_run_id: int) -> None:
    """Release a step run's locks and wake what waits for them: steps, and runs queued."""
    released = lock_store.release_step(advancer.conn, step_run_id)
    if not released:
        return
    lock_store.wake_waiters(advancer.conn, released)
    advancer.db.notify_ready(advancer.conn)
    start_lock_waiters(advancer)


def _lock_name(template: str, scope: Scope) -> str:
    try:
        return render_text(template, scope)
    except MissingValue:
        return template  # validation checked the placeholders; never fail a claim over one


def ship_log(rt: Runtime, step: ClaimedStep, chunk: str) -> bool:
    """Append a log batch; False when the attempt is no longer this agent's (stop the process)."""
    with rt.db.write() as conn:
        return append_log(
            conn,
            step_run_id=step.step_run_id,
            run_id=step.run_id,
            token=step.attempt_token,
            text=chunk,
            lease=rt.settings.lease_seconds,
        )


def heartbeat(rt: Runtime, agent_id: int) -> list[int]:
    """Renew every lease of the agent; returns its step runs whose run should be cancelled."""
    with rt.db.write() as conn:
        return claim_store.renew_leases(conn, agent_id, rt.settings.lease_seconds)


def stale_attempts(rt: Runtime, token_by_id: Mapping[int, str]) -> set[int]:
    """Which of an agent's attempts (step run id -> attempt token) are no longer its own."""
    with rt.db.read() as conn:
        return claim_store.stale_attempts(conn, token_by_id)


def finish(rt: Runtime, step: ClaimedStep, result: StepResult) -> bool:
    """Record the end of an attempt and move the run on, in one transaction. A stale attempt
    token (the step was declared lost and re-run elsewhere) changes nothing and returns False."""
    with rt.db.write() as conn:
        return _finish(rt, conn, step, result)


def finish_and_claim(
    rt: Runtime, step: ClaimedStep, result: StepResult, wants: NextClaim
) -> tuple[bool, list[ClaimedStep] | None]:
    """`finish`, then claim for the same agent in the same transaction: the step the finish made
    ready goes straight to the slot that just freed, with no wake-up and no claim transaction
    of its own. The claimed list is None when no claim was tried (a stale token, or the finish
    took serialising lock locks that a claim could take out of order): the agent must then
    claim on its own."""
    with rt.db.write() as conn:
        if not _finish(rt, conn, step, result):
            return False, None
        if lock_store.serialised(conn):
            return True, None
        return True, _claim(rt, conn, wants)


def _finish(rt: Runtime, conn: Connection, step: ClaimedStep, result: StepResult) -> bool:
    advancer = Advancer(rt, conn)
    run = run_store.lock_with_ancestors(conn, step.run_id, has_parent=step.has_parent)
    record = run_store.finish_attempt(
        conn,
        step.step_run_id,
        step.attempt_token,
        state=result.state,
        exit_code=result.exit_code,
        error=result.error,
    )
    if record is None:
        return False
    if load_job(conn, run.job_version_id).steps[step.step_key].locks:
        release_step_locks(advancer, step.step_run_id)  # only a step with locks holds any
    if result.state == StepState.SUCCEEDED and result.outputs:
        output_store.insert_outputs(conn, record, result.outputs)
    add_event(
        conn,
        "step",
        {"step": step.step_key, "state": result.state.value, "exit_code": result.exit_code},
        run_id=step.run_id,
        step_run_id=step.step_run_id,
    )
    if result.state == StepState.FAILED:
        _maybe_retry(advancer, record, run=run)
    elif result.state == StepState.LOST:
        _requeue_lost(advancer, record, run)  # its agent stopped and handed the step back
    advancer.advance(step.run_id, locked=run)
    return True


def _maybe_retry(
    advancer: Advancer, record: StepRunRecord, *, lost: bool = False, run: RunRecord | None = None
) -> bool:
    conn = advancer.conn
    run = run or run_store.get_run(conn, record.run_id)
    if run.cancel_requested:
        return False
    definition = load_job(conn, run.job_version_id).steps[record.step_key]
    allowed = definition.retries + (EXTRA_ATTEMPTS_WHEN_LOST if lost else 0)
    if record.attempt > allowed:
        return False
    delay = 0.0 if lost else definition.retry_delay * (2 ** (record.attempt - 1))
    run_store.new_attempt(
        conn,
        record,
        state=StepState.READY,
        not_before=db_now() + min(delay, MAX_BACKOFF_SECONDS),
    )
    reason = "lost its agent" if lost else "failed"
    add_log(
        conn,
        step_run_id=record.id,
        run_id=record.run_id,
        text=f"[conveyor] attempt {record.attempt} {reason}; attempt {record.attempt + 1} "
        f"starts in {delay:g}s\n",
    )
    advancer.db.notify_ready(conn)  # which rows: unknown here, so every agent is woken
    return True


def sweep(rt: Runtime) -> int:
    """Declare lost the steps whose lease passed by the database clock; put restartable ones
    back to ready as their next attempt. One sweeper at a time on PostgreSQL."""
    with rt.db.write() as conn:
        if not rt.db.is_sqlite:
            got = conn.execute(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": _SWEEP_LOCK_KEY})
            if not got.scalar():
                return 0
        expired = claim_store.expired(conn)
        for record in expired:
            _declare_lost(Advancer(rt, conn), record)
        return len(expired)


def _declare_lost(advancer: Advancer, record: StepRunRecord) -> None:
    conn = advancer.conn
    run_store.lock_with_ancestors(conn, record.run_id)
    if not claim_store.declare_lost(conn, record.id):
        return
    release_step_locks(advancer, record.id)
    add_event(
        conn,
        "step",
        {"step": record.step_key, "state": "lost"},
        run_id=record.run_id,
        step_run_id=record.id,
    )
    _requeue_lost(advancer, record, run_store.get_run(conn, record.run_id))
    advancer.advance(record.run_id)


def _requeue_lost(advancer: Advancer, record: StepRunRecord, run: RunRecord) -> None:
    """A lost attempt runs again when its step is restartable; otherwise a person decides."""
    step = load_job(advancer.conn, run.job_version_id).steps[record.step_key]
    if step.restartable:
        _maybe_retry(advancer, record, lost=True, run=run)
    else:
        add_log(
            advancer.conn,
            step_run_id=record.id,
            run_id=record.run_id,
            text="[conveyor] the step is not restartable: it waits for a person to retry, "
            "skip or mark it succeeded\n",
        )
