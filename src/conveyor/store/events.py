"""Events: every state change gets a monotonically increasing id, for live views and replay."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, func, insert, select

from conveyor.store.db import before_commit, db_now, tx_state
from conveyor.store.records import EventRecord
from conveyor.store.tables import audit_event, event

_ADD_EVENT = insert(event).values(created_at=db_now())


def add_event(
    conn: Connection,
    kind: str,
    data: Mapping[str, Any],
    *,
    run_id: int | None = None,
    step_run_id: int | None = None,
) -> None:
    """Record an event. Inside `Database.write` the events of the transaction are inserted
    together, in order, just before it commits (one statement instead of one each)."""
    row = {"run_id": run_id, "step_run_id": step_run_id, "kind": kind, "data": dict(data)}
    state = tx_state(conn)
    if state is None:
        conn.execute(_ADD_EVENT, [row])
        return
    buffered = state.setdefault("events", [])
    if not buffered:
        before_commit(conn, lambda: _flush(conn, buffered))
    buffered.append(row)


def _flush(conn: Connection, rows: list[dict[str, Any]]) -> None:
    if rows:
        conn.execute(_ADD_EVENT, list(rows))
        rows.clear()


def events_after(
    conn: Connection, *, after_id: int = 0, run_id: int | None = None, limit: int = 500
) -> list[EventRecord]:
    query = select(event).where(event.c.id > after_id).order_by(event.c.id).limit(limit)
    if run_id is not None:
        query = query.where(event.c.run_id == run_id)
    return [
        EventRecord(
            id=r.id,
            run_id=r.run_id,
            step_run_id=r.step_run_id,
            kind=r.kind,
            data=r.data,
            created_at=r.created_at,
        )
        for r in conn.execute(query)
    ]


def last_event_id(conn: Connection) -> int:
    return int(conn.execute(select(func.coalesce(func.max(event.c.id), 0))).scalar_one())


def add_audit(
    conn: Connection,
    *,
    actor: str,
    action: str,
    target: str,
    detail: Mapping[str, Any],
    source: str,
) -> None:
    """Record a state change made by a person. There is no update or delete of these rows."""
    conn.execute(
        insert(audit_event).values(
            created_at=db_now(),
            actor=actor,
            action=action,
            target=target,
            detail=dict(detail),
            source=source,
        )
    )


def list_audit(conn: Connection, *, limit: int = 100, before_id: int | None = None) -> list[Any]:
    query = select(audit_event).order_by(audit_event.c.id.desc()).limit(limit)
    if before_id:
        query = query.where(audit_event.c.id < before_id)
    return [dict(r) for r in conn.execute(query).mappings()]
