"""Runs, step runs and outputs: the rows the engine moves through their states."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import (
    Connection,
    Integer,
    String,
    Text,
    and_,
    bindparam,
    func,
    insert,
    select,
    update,
)

from conveyor.engine.states import RunState, StepState
from conveyor.errors import NotFoundError
from conveyor.store.db import db_now
from conveyor.store.records import RunRecord, StepRunBrief, StepRunRecord
from conveyor.store.tables import job, job_category, job_run, job_version, step_run

_RUN_COLUMNS = (
    job_run,
    job.c.name.label("job_name"),
    job_version.c.version,
    job_category.c.name.label("category"),
)


def _run_select() -> Any:
    return (
        select(*_RUN_COLUMNS)
        .join(job, job.c.id == job_run.c.job_id)
        .join(job_version, job_version.c.id == job_run.c.job_version_id)
        .join(job_category, job_category.c.id == job.c.category_id)
    )


def _run_record(row: Mapping[Any, Any]) -> RunRecord:
    return RunRecord(
        id=row["id"],
        job_id=row["job_id"],
        job_name=row["job_name"],
        job_version_id=row["job_version_id"],
        version=row["version"],
        category=row["category"],
        state=RunState(row["state"]),
        params=row["params"],
        secret_params=row["secret_params"],
        submitter=row["submitter"],
        parent_step_run_id=row["parent_step_run_id"],
        cancel_requested=bool(row["cancel_requested"]),
        error=row["error"],
        created_at=row["created_at"],
        started_at=row["started_at"],
        ended_at=row["ended_at"],
    )


_GET_RUN = _run_select().where(job_run.c.id == bindparam("run_id"))
_LOCK_RUN = _GET_RUN.with_for_update(of=job_run)


def get_run(conn: Connection, run_id: int, *, for_update: bool = False) -> RunRecord:
    locking = for_update and conn.dialect.name == "postgresql"
    row = conn.execute(_LOCK_RUN if locking else _GET_RUN, {"run_id": run_id}).mappings().first()
    if row is None:
        raise NotFoundError(f"there is no run {run_id}")
    return _run_record(row)


def lock_with_ancestors(
    conn: Connection, run_id: int, *, has_parent: bool | None = None
) -> RunRecord:
    """Lock a run's row after those of its ancestors, root first. Cancelling a run locks it and
    then its sub-job runs; a sub-job's end locks it and then its parent: both must take the
    locks in this one order, or the two could deadlock on PostgreSQL. `has_parent=False` (the
    caller knows the run is no sub-job run: that never changes) skips the ancestor lookup."""
    if has_parent is False:
        return get_run(conn, run_id, for_update=True)
    chain = [run_id]
    while (parent := _parent_run_id(conn, chain[-1])) is not None and parent not in chain:
        chain.append(parent)
    for ancestor in reversed(chain[1:]):
        get_run(conn, ancestor, for_update=True)
    return get_run(conn, run_id, for_update=True)


def _parent_run_id(conn: Connection, run_id: int) -> int | None:
    query = (
        select(step_run.c.run_id)
        .join(job_run, job_run.c.parent_step_run_id == step_run.c.id)
        .where(job_run.c.id == run_id)
    )
    found = conn.execute(query).scalar()
    return int(found) if found is not None else None


def list_runs(
    conn: Connection,
    *,
    job_name: str | None = None,
    states: Sequence[str] = (),
    limit: int = 50,
    before_id: int | None = None,
) -> list[RunRecord]:
    query = _run_select().order_by(job_run.c.id.desc()).limit(limit)
    if job_name:
        query = query.where(job.c.name == job_name)
    if states:
        query = query.where(job_run.c.state.in_(list(states)))
    if before_id:
        query = query.where(job_run.c.id < before_id)
    return [_run_record(r) for r in conn.execute(query).mappings()]


def insert_run(
    conn: Connection,
    *,
    job_id: int,
    job_version_id: int,
    state: RunState,
    params: Mapping[str, Any],
    secret_params: str | None,
    submitter: str,
    parent_step_run_id: int | None = None,
) -> int:
    values: dict[str, Any] = {
        "job_id": job_id,
        "job_version_id": job_version_id,
        "state": state.value,
        "params": dict(params),
        "secret_params": secret_params,
        "submitter": submitter,
        "parent_step_run_id": parent_step_run_id,
        "cancel_requested": False,
        "created_at": db_now(),
    }
    if state != RunState.QUEUED:
        values["started_at"] = db_now()
    return int(conn.execute(insert(job_run).values(values).returning(job_run.c.id)).scalar_one())


def update_run(conn: Connection, run_id: int, **values: Any) -> None:
    conn.execute(update(job_run).where(job_run.c.id == run_id).values(**values))


def insert_step_runs(conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert step runs; each row gives run_id, step_key, state and optionally more columns."""
    if not rows:
        return
    full = [
        {
            "item_index": None,
            "item": None,
            "attempt": 1,
            "is_current": True,
            "tags_key": "",
            "not_before": 0.0,
            "waiting_for": None,
            **row,
        }
        for row in rows
    ]
    conn.execute(insert(step_run).values(created_at=db_now()), full)


def current_step_runs(
    conn: Connection, run_id: int, step_key: str | None = None
) -> list[StepRunRecord]:
    query = (
        select(step_run)
        .where(step_run.c.run_id == run_id, step_run.c.is_current.is_(True))
        .order_by(step_run.c.id)
    )
    if step_key is not None:
        query = query.where(step_run.c.step_key == step_key)
    return [StepRunRecord.from_row(r) for r in conn.execute(query).mappings()]


_STEP_STATES = (
    select(step_run.c.id, step_run.c.step_key, step_run.c.item_index, step_run.c.state)
    .where(step_run.c.run_id == bindparam("run_id"), step_run.c.is_current.is_(True))
    .order_by(step_run.c.id)
)


def current_step_states(conn: Connection, run_id: int) -> list[StepRunBrief]:
    """What the scheduler needs of a run's current step runs, without their items or times."""
    rows = conn.execute(_STEP_STATES, {"run_id": run_id})
    return [StepRunBrief(r[0], r[1], r[2], StepState(r[3])) for r in rows]


def all_step_runs(conn: Connection, run_id: int) -> list[StepRunRecord]:
    query = select(step_run).where(step_run.c.run_id == run_id).order_by(step_run.c.id)
    return [StepRunRecord.from_row(r) for r in conn.execute(query).mappings()]


def get_step_run(conn: Connection, step_run_id: int) -> StepRunRecord:
    row = conn.execute(select(step_run).where(step_run.c.id == step_run_id)).mappings().first()
    if row is None:
        raise NotFoundError(f"there is no step run {step_run_id}")
    return StepRunRecord.from_row(row)


_SET_STATE = (
    update(step_run)
    .where(step_run.c.id.in_(bindparam("ids", expanding=True)))
    .values(state=bindparam("new_state", type_=String))
)


def set_step_runs(
    conn: Connection, ids: Iterable[int], *, only_states: Iterable[StepState] = (), **values: Any
) -> int:
    """Update step runs by id (optionally only those still in `only_states`); returns the count."""
    id_list = list(ids)
    if not id_list:
        return 0
    allowed = [s.value for s in only_states]
    if not allowed and list(values) == ["state"]:  # the scheduler's move: built once
        return conn.execute(_SET_STATE, {"ids": id_list, "new_state": values["state"]}).rowcount
    query = update(step_run).where(step_run.c.id.in_(id_list)).values(**values)
    if allowed:
        query = query.where(step_run.c.state.in_(allowed))
    return conn.execute(query).rowcount


_FINISH = (
    update(step_run)
    .where(
        step_run.c.id == bindparam("step_run_id"),
        step_run.c.attempt_token == bindparam("token"),
        step_run.c.state == StepState.RUNNING.value,
    )
    .values(
        state=bindparam("state", type_=String),
        exit_code=bindparam("exit_code", type_=Integer),
        error=bindparam("error", type_=Text),
        ended_at=db_now(),
        lease_expires_at=None,
    )
    .returning(*step_run.c)
)


def finish_attempt(
    conn: Connection,
    step_run_id: int,
    token: str,
    *,
    state: StepState,
    exit_code: int | None,
    error: str | None,
) -> StepRunRecord | None:
    """End a running attempt if `token` is still its own and return its row as it is now; a
    stale token changes nothing and returns None."""
    values = {
        "step_run_id": step_run_id,
        "token": token,
        "state": state.value,
        "exit_code": exit_code,
        "error": error,
    }
    row = conn.execute(_FINISH, values).mappings().first()
    return StepRunRecord.from_row(row) if row is not None else None


def new_attempt(conn: Connection, old: StepRunRecord, *, state: StepState, **values: Any) -> int:
    """Retire `old` as history and insert its next attempt as the current row."""
    conn.execute(update(step_run).where(step_run.c.id == old.id).values(is_current=False))
    tags = conn.execute(select(step_run.c.tags_key).where(step_run.c.id == old.id)).scalar_one()
    row: dict[str, Any] = {
        "run_id": old.run_id,
        "step_key": old.step_key,
        "item_index": old.item_index,
        "item": old.item,
        "attempt": old.attempt + 1,
        "is_current": True,
        "state": state.value,
        "tags_key": tags,
        "not_before": 0.0,
        "created_at": db_now(),
        **values,
    }
    return int(conn.execute(insert(step_run).values(row).returning(step_run.c.id)).scalar_one())


def count_live_runs(conn: Connection, job_id: int) -> int:
    live = [RunState.RUNNING.value, RunState.WAITING.value]
    query = select(func.count()).where(and_(job_run.c.job_id == job_id, job_run.c.state.in_(live)))
    return int(conn.execute(query).scalar_one())


def oldest_queued_runs(conn: Connection, job_id: int, limit: int) -> list[int]:
    query = (
        select(job_run.c.id)
        .where(job_run.c.job_id == job_id, job_run.c.state == RunState.QUEUED.value)
        .order_by(job_run.c.id)
        .limit(limit)
    )
    return list(conn.execute(query).scalars())


def tags_key_of(conn: Connection, step_run_id: int) -> str:
    return str(
        conn.execute(select(step_run.c.tags_key).where(step_run.c.id == step_run_id)).scalar_one()
    )


def runs_waiting_for_locks(conn: Connection, limit: int) -> list[int]:
    query = (
        select(job_run.c.id)
        .where(job_run.c.state == RunState.QUEUED.value, job_run.c.error.like("waiting for lock%"))
        .order_by(job_run.c.id)
        .limit(limit)
    )
    return list(conn.execute(query).scalars())


def child_runs(conn: Connection, parent_step_run_ids: Sequence[int]) -> list[int]:
    return list(child_run_ids(conn, parent_step_run_ids).values())


def child_run_ids(conn: Connection, parent_step_run_ids: Sequence[int]) -> dict[int, int]:
    """The sub-job run started by each of these step runs: step run id -> run id."""
    if not parent_step_run_ids:
        return {}
    query = select(job_run.c.parent_step_run_id, job_run.c.id).where(
        job_run.c.parent_step_run_id.in_(list(parent_step_run_ids))
    )
    return {int(parent): int(child) for parent, child in conn.execute(query)}


def earlier_child_run(conn: Connection, row: StepRunRecord) -> int | None:
    """The sub-job run of the latest earlier attempt of this step run's step (and item), if any:
    resuming a parent picks that run up again instead of starting another."""
    attempts = select(step_run.c.id).where(
        step_run.c.run_id == row.run_id,
        step_run.c.step_key == row.step_key,
        step_run.c.id != row.id,
    )
    if row.item_index is None:
        attempts = attempts.where(step_run.c.item_index.is_(None))
    else:
        attempts = attempts.where(step_run.c.item_index == row.item_index)
    query = (
        select(job_run.c.id)
        .where(job_run.c.parent_step_run_id.in_(attempts.scalar_subquery()))
        .order_by(job_run.c.id.desc())
        .limit(1)
    )
    found = conn.execute(query).scalar()
    return int(found) if found is not None else None
