"""Named mutexes and semaphores held by runs and step runs, released with them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, delete, func, insert, select, text, update

from conveyor.engine.states import StepState
from conveyor.store.db import db_now, tx_state
from conveyor.store.tables import lock_hold, step_run

WAITING_PREFIX = "waiting for lock "


@dataclass(frozen=True)
class Busy:
    """A lock that could not be taken, and who holds it: (run id, step key or None) pairs."""

    name: str
    limit: int
    holders: tuple[tuple[int, str | None], ...]

    def sentence(self) -> str:
        """`waiting for lock deploy-prod held by run 12 (step deploy)`: shown to people, and
        its prefix is how waiters are found again when the lock is released."""
        who = ", ".join(
            f"run {run_id}" + (f" (step {step})" if step else "") for run_id, step in self.holders
        )
        size = f" ({self.limit} at once)" if self.limit > 1 else ""
        return f"{WAITING_PREFIX}{self.name}{size} held by {who or 'a run that just ended'}"


def _serialise(conn: Connection, names: Iterable[str]) -> None:
    """Serialise the count-then-insert of holders of these names across transactions (PostgreSQL;
    SQLite writers are serialised already). Always in name order, so no two claims deadlock."""
    if conn.dialect.name != "postgresql":
        return
    ordered = sorted(set(names))
    state = tx_state(conn)
    if ordered and state is not None:
        state["serialised"] = True
    for name in ordered:
        conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:n))"), {"n": "lock:" + name})


def serialised(conn: Connection) -> bool:
    """True when this transaction took serialising locks already: taking more now (a claim
    after a finish) could take them out of name order."""
    state = tx_state(conn)
    return bool(state and state.get("serialised"))


def prepare(conn: Connection, names: Iterable[str]) -> None:
    """Take the serialising locks of every name a claim may need, up front and in name order:
    taking them step by step would take them out of order across the claimed steps."""
    _serialise(conn, names)


def try_acquire(
    conn: Connection,
    wanted: Sequence[tuple[str, int]],
    *,
    run_id: int,
    step_run_id: int | None = None,
) -> Busy | None:
    """Take every lock in `wanted` (name, limit) or none; returns the first busy one, or None.
    Locks are taken in name order so two runs wanting the same two locks cannot deadlock."""
    ordered = sorted(dict(wanted).items())
    _serialise(conn, (name for name, _ in ordered))
    for name, limit in ordered:
        held = conn.execute(
            select(func.count()).select_from(lock_hold).where(lock_hold.c.name == name)
        ).scalar_one()
        if held >= limit:
            return Busy(name, limit, _holders(conn, name))
    if ordered:
        conn.execute(
            insert(lock_hold).values(acquired_at=db_now()),
            [
                {"name": name, "lock_limit": limit, "run_id": run_id, "step_run_id": step_run_id}
                for name, limit in ordered
            ],
        )
    return None


def _holders(conn: Connection, name: str) -> tuple[tuple[int, str | None], ...]:
    query = (
        select(lock_hold.c.run_id, step_run.c.step_key)
        .outerjoin(step_run, step_run.c.id == lock_hold.c.step_run_id)
        .where(lock_hold.c.name == name)
        .order_by(lock_hold.c.id)
    )
    return tuple((int(r.run_id), r.step_key) for r in conn.execute(query))


def release_step(conn: Connection, step_run_id: int) -> list[str]:
    """Release the locks a step run holds; returns their names."""
    query = delete(lock_hold).where(lock_hold.c.step_run_id == step_run_id)
    return list(conn.execute(query.returning(lock_hold.c.name)).scalars())


def release_run(conn: Connection, run_id: int) -> list[str]:
    """Release every lock of a run (its own and its step runs'); returns their names."""
    query = delete(lock_hold).where(lock_hold.c.run_id == run_id)
    return list(conn.execute(query.returning(lock_hold.c.name)).scalars())


def wake_waiters(conn: Connection, names: Iterable[str]) -> int:
    """Make the ready step runs waiting for one of these locks claimable at once (their own retry
    is only a slow safety net). Rows a claim holds right now are skipped, not waited for: that
    claim checks the lock itself, and waiting here could deadlock with it."""
    count = 0
    for name in sorted(set(names)):
        waiting = select(step_run.c.id).where(
            step_run.c.state == StepState.READY.value,
            step_run.c.waiting_for.startswith(f"{WAITING_PREFIX}{name} ", autoescape=True),
        )
        if conn.dialect.name == "postgresql":
            waiting = waiting.with_for_update(skip_locked=True)
        result = conn.execute(
            update(step_run)
            .where(step_run.c.id.in_(waiting.scalar_subquery()))
            .values(not_before=0.0)
        )
        count += result.rowcount
    return count


def holders(conn: Connection, name: str | None = None) -> list[dict[str, object]]:
    query = select(lock_hold).order_by(lock_hold.c.name, lock_hold.c.id)
    if name is not None:
        query = query.where(lock_hold.c.name == name)
    return [dict(r) for r in conn.execute(query).mappings()]
