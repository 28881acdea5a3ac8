"""Log chunks of step runs: appended in batches by agents, paged by readers."""

from __future__ import annotations

from sqlalchemy import Connection, func, insert, select, update

from conveyor.engine.states import StepState
from conveyor.store.db import db_now
from conveyor.store.records import LogChunk
from conveyor.store.tables import step_log, step_run


def append_log(
    conn: Connection, *, step_run_id: int, run_id: int, token: str, text: str, lease: float
) -> bool:
    """Append a chunk and renew the lease, only while `token` is the attempt's own."""
    renewed = conn.execute(
        update(step_run)
        .where(
            step_run.c.id == step_run_id,
            step_run.c.attempt_token == token,
            step_run.c.state == StepState.RUNNING.value,
        )
        .values(lease_expires_at=db_now() + lease)
    ).rowcount
    if renewed != 1:
        return False
    conn.execute(
        insert(step_log).values(
            step_run_id=step_run_id, run_id=run_id, created_at=db_now(), text=text
        )
    )
    return True


def add_log(conn: Connection, *, step_run_id: int, run_id: int, text: str) -> None:
    """A line written by Conveyor itself (a manual decision, a skip), not by a process."""
    conn.execute(
        insert(step_log).values(
            step_run_id=step_run_id, run_id=run_id, created_at=db_now(), text=text
        )
    )


def read_logs(
    conn: Connection,
    run_id: int,
    *,
    step_run_ids: list[int] | None = None,
    after_id: int = 0,
    limit: int = 1000,
) -> list[LogChunk]:
    query = (
        select(step_log)
        .where(step_log.c.run_id == run_id, step_log.c.id > after_id)
        .order_by(step_log.c.id)
        .limit(limit)
    )
    if step_run_ids is not None:
        query = query.where(step_log.c.step_run_id.in_(step_run_ids))
    return [
        LogChunk(
            id=r.id,
            step_run_id=r.step_run_id,
            run_id=r.run_id,
            created_at=r.created_at,
            text=r.text,
        )
        for r in conn.execute(query)
    ]


def log_tail(conn: Connection, step_run_id: int, chunks: int = 5) -> str:
    query = (
        select(step_log.c.text)
        .where(step_log.c.step_run_id == step_run_id)
        .order_by(step_log.c.id.desc())
        .limit(chunks)
    )
    return "".join(reversed(list(conn.execute(query).scalars())))


def log_size(conn: Connection, step_run_id: int) -> int:
    query = select(func.coalesce(func.sum(func.length(step_log.c.text)), 0)).where(
        step_log.c.step_run_id == step_run_id
    )
    return int(conn.execute(query).scalar_one())
