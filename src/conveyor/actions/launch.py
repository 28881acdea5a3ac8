"""Creating and starting runs inside a transaction: submissions, sub-jobs and queued runs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection

from conveyor.actions.versions import LoadedJob, load_job
from conveyor.definitions.params import check_values
from conveyor.engine.scope import Scope
from conveyor.engine.states import RunState, StepState
from conveyor.errors import ConflictError
from conveyor.store import definitions as definition_store
from conveyor.store import locks as lock_store
from conveyor.store import runs as run_store
from conveyor.store.claims import tags_key
from conveyor.store.events import add_event
from conveyor.store.records import RunRecord

if TYPE_CHECKING:
    from conveyor.actions.advance import Advancer

MASK = "***"
QUEUED_PREFIX = "waiting for a free slot: job "


class LimitReached(ConflictError):
    """A job's max_concurrency is reached and its on_limit is reject."""


def create_run(
    advancer: Advancer,
    loaded: LoadedJob,
    job_id: int,
    raw_params: Mapping[str, Any],
    submitter: str,
    parent_step_run_id: int | None = None,
) -> int:
    conn = advancer.conn
    definition = loaded.definition
    values = check_values(definition.params, raw_params)
    secrets = {k: v for k, v in values.items() if k in loaded.secret_names and v is not None}
    shown = {k: (MASK if k in secrets else v) for k, v in values.items()}
    state, waiting = _admission(conn, loaded, job_id)
    run_id = run_store.insert_run(
        conn,
        job_id=job_id,
        job_version_id=loaded.version_id,
        state=state,
        params=shown,
        secret_params=advancer.rt.box.seal(secrets),
        submitter=submitter,
        parent_step_run_id=parent_step_run_id,
    )
    if waiting:
        run_store.update_run(conn, run_id, error=waiting)
    run_store.insert_step_runs(
        conn,
        [
            {
                "run_id": run_id,
                "step_key": step.id,
                "state": StepState.PENDING.value,
                "tags_key": tags_key(step.on),
            }
            for step in definition.steps
        ],
    )
    add_event(conn, "run", {"state": state.value, "job": definition.name}, run_id=run_id)
    if state == RunState.RUNNING:
        start_run(advancer, run_id, loaded, shown)
    return run_id


def _admission(conn: Connection, loaded: LoadedJob, job_id: int) -> tuple[RunState, str | None]:
    """Whether a new run may start now, or queues behind the job's max_concurrency (and why),
    or is refused (on_limit: reject; nothing is stored then)."""
    definition = loaded.definition
    limit = definition.max_concurrency
    if limit is None:
        return RunState.RUNNING, None
    live = run_store.count_live_runs(conn, job_id)
    queued = run_store.oldest_queued_runs(conn, job_id, 1)
    if live < limit and not queued:
        return RunState.RUNNING, None
    if definition.on_limit == "reject":
        raise LimitReached(
            f"job {definition.name!r} already has {live} run(s) going and allows "
            f"{limit} at once (max_concurrency), so this run was refused"
        )
    return RunState.QUEUED, f"{QUEUED_PREFIX}{definition.name!r} allows {limit} run(s) at once"


def start_run(
    advancer: Advancer, run_id: int, loaded: LoadedJob, params: Mapping[str, Any]
) -> bool:
    """Take the run's job-level locks (all or none) and let its first steps go. Returns False
    and leaves the run queued when a lock is held elsewhere."""
    definition = loaded.definition
    if definition.locks:
        scope = Scope(params=params, run_id=run_id, job_name=definition.name)
        wanted = [(advancer.render_text(lock.name, scope), lock.limit) for lock in definition.locks]
        busy = lock_store.try_acquire(advancer.conn, wanted, run_id=run_id)
        if busy is not None:
            run_store.update_run(
                advancer.conn, run_id, state=RunState.QUEUED.value, error=busy.sentence()
            )
            return False
    run_store.update_run(advancer.conn, run_id, error=None)
    advancer.advance(run_id)
    return True


def submit_child(
    advancer: Advancer,
    job_name: str,
    raw_params: Mapping[str, Any],
    parent: RunRecord,
    parent_step_run_id: int,
    secret_values: Mapping[str, Any] | None = None,
) -> int:
    """Start a sub-job's run on behalf of the parent run's submitter. `secret_values` are the
    params rendered with the parent's secrets: only the child's secret params take them, so a
    secret never lands in a plain param."""
    conn = advancer.conn
    job = definition_store.get_job(conn, job_name)
    version = definition_store.get_version(conn, job.id)
    loaded = load_job(conn, version.id)
    unmasked = secret_values or {}
    params = {
        key: unmasked.get(key, value) if key in loaded.secret_names else value
        for key, value in raw_params.items()
    }
    return create_run(advancer, loaded, job.id, params, parent.submitter, parent_step_run_id)


def start_queued(advancer: Advancer, job_id: int) -> None:
    """When a run ends, let queued runs start in submission order: those of its job (a slot of
    max_concurrency freed) and those waiting for a lock (it may have released one)."""
    conn = advancer.conn
    candidates = run_store.oldest_queued_runs(conn, job_id, 20)
    candidates += run_store.runs_waiting_for_locks(conn, 20)
    _start_in_order(advancer, candidates)


def start_lock_waiters(advancer: Advancer) -> None:
    """Locks were released without a run ending (a step's): runs queued for a lock may go."""
    _start_in_order(advancer, run_store.runs_waiting_for_locks(advancer.conn, 20))


def _start_in_order(advancer: Advancer, candidates: list[int]) -> None:
    conn = advancer.conn
    for run_id in sorted(set(candidates)):
        run = run_store.get_run(conn, run_id, for_update=True)
        if run.state != RunState.QUEUED:
            continue
        loaded = load_job(conn, run.job_version_id)
        limit = loaded.definition.max_concurrency
        if limit is not None and run_store.count_live_runs(conn, run.job_id) >= limit:
            continue
        run_store.update_run(conn, run_id, state=RunState.RUNNING.value)
        start_run(advancer, run_id, loaded, run.params)


def relaunch(advancer: Advancer, run: RunRecord) -> RunState:
    """Move a run on after a person steered it. `run` is the record from before the steering:
    if it had ended (and was reopened since), it takes its job locks again first, since they
    were released at its end; while one is held elsewhere it queues for it."""
    conn = advancer.conn
    if run.state.is_final:
        loaded = load_job(conn, run.job_version_id)
        if loaded.definition.locks:
            start_run(advancer, run.id, loaded, run.params)
            return run_store.get_run(conn, run.id).state
    return advancer.advance(run.id)
