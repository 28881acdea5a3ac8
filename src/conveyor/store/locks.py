"""Named mutexes and semaphores held by runs and step runs, released with them."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, delete, func, insert, select, text

from conveyor.store.db import db_now
from conveyor.store.tables import lock_hold


def try_acquire(
    conn: Connection,
    wanted: Sequence[tuple[str, int]],
    *,
    run_id: int,
    step_run_id: int | None = None,
) -> str | None:
    """Take every lock in `wanted` (name, limit) or none; returns the first busy name, or None.
    Locks are taken in name order so two runs wanting the same two locks cannot deadlock."""
    ordered = sorted(dict(wanted).items())
    if conn.dialect.name == "postgresql":
        for name, _ in ordered:
            # Serialise the count-then-insert of holders of one name across transactions.
            conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:n))"), {"n": "lock:" + name})
    for name, limit in ordered:
        held = conn.execute(
            select(func.count()).select_from(lock_hold).where(lock_hold.c.name == name)
        ).scalar_one()
        if held >= limit:
            return name
    if ordered:
        conn.execute(
            insert(lock_hold).values(acquired_at=db_now()),
            [
                {"name": name, "lock_limit": limit, "run_id": run_id, "step_run_id": step_run_id}
                for name, limit in ordered
            ],
        )
    return None


def release_step(conn: Connection, step_run_id: int) -> int:
    """Release the locks a step run holds; returns how many it held."""
    return int(
        conn.execute(delete(lock_hold).where(lock_hold.c.step_run_id == step_run_id)).rowcount
    )


def release_run(conn: Connection, run_id: int) -> None:
    conn.execute(delete(lock_hold).where(lock_hold.c.run_id == run_id))


def holders(conn: Connection, name: str | None = None) -> list[dict[str, object]]:
    query = select(lock_hold).order_by(lock_hold.c.name, lock_hold.c.id)
    if name is not None:
        query = query.where(lock_hold.c.name == name)
    return [dict(r) for r in conn.execute(query).mappings()]
