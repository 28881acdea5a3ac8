"""Agents: registration, liveness and listing."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, insert, select, update

from conveyor.store.db import db_now
from conveyor.store.records import AgentRecord
from conveyor.store.tables import agent


def register(
    conn: Connection, *, name: str, hostname: str, pid: int, tags: Sequence[str], slots: int
) -> int:
    values = {
        "name": name,
        "hostname": hostname,
        "pid": pid,
        "tags": sorted(set(tags)),
        "slots": slots,
        "state": "online",
        "started_at": db_now(),
        "heartbeat_at": db_now(),
    }
    return int(conn.execute(insert(agent).values(values).returning(agent.c.id)).scalar_one())


def stop(conn: Connection, agent_id: int) -> None:
    conn.execute(
        update(agent).where(agent.c.id == agent_id).values(state="stopped", stopped_at=db_now())
    )


def mark_silent(conn: Connection, older_than: float) -> None:
    """Agents that have not heartbeated for `older_than` seconds are shown as offline."""
    conn.execute(
        update(agent)
        .where(agent.c.state == "online", agent.c.heartbeat_at < db_now() - older_than)
        .values(state="offline")
    )


def list_agents(conn: Connection, *, include_stopped: bool = False) -> list[AgentRecord]:
    query = select(agent).order_by(agent.c.id)
    if not include_stopped:
        query = query.where(agent.c.state != "stopped")
    return [
        AgentRecord(
            id=r.id,
            name=r.name,
            hostname=r.hostname,
            pid=r.pid,
            tags=tuple(r.tags),
            slots=r.slots,
            state=r.state,
            started_at=r.started_at,
            heartbeat_at=r.heartbeat_at,
            stopped_at=r.stopped_at,
        )
        for r in conn.execute(query)
    ]


def live_tags(conn: Connection, within: float) -> list[frozenset[str]]:
    """The tag sets of the agents online that heartbeated within the last `within` seconds."""
    query = select(agent.c.tags).where(
        agent.c.state == "online", agent.c.heartbeat_at >= db_now() - within
    )
    return [frozenset(tags) for tags in conn.execute(query).scalars()]
