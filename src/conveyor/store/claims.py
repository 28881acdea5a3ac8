"""Claiming ready step runs, renewing leases, and finding the ones whose agent went silent."""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from itertools import combinations
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Float,
    Integer,
    Select,
    String,
    bindparam,
    exists,
    literal_column,
    select,
    update,
)

from conveyor.engine.states import StepState
from conveyor.store.db import db_now
from conveyor.store.outputs import run_outputs
from conveyor.store.records import ClaimedStep, StepRunRecord
from conveyor.store.tables import agent, job, job_run, step_output, step_run

MAX_TAG_SUBSETS = 4096


def tags_key(tags: Sequence[str]) -> str:
    """The normalised form of a step's `on` tags, as stored in step_run.tags_key."""
    return ",".join(sorted(set(tags)))


def claimable_keys(agent_tags: Sequence[str]) -> list[str]:
    """Every tags_key an agent with these tags may take: each subset of its tags. Agents carry
    a handful of tags, so the list stays small and the claim stays an indexed IN."""
    unique = sorted(set(agent_tags))
    keys = [""]
    for size in range(1, len(unique) + 1):
        for combo in combinations(unique, size):
            keys.append(",".join(combo))
            if len(keys) >= MAX_TAG_SUBSETS:
                return keys
    return keys


# Built once: the claim is the hottest statement an agent runs. `state = 'ready'` is literal
# SQL, not a parameter, so that the partial indexes on ready rows apply (PostgreSQL's generic
# plans for prepared statements, SQLite's planner). Ready rows of one tags key come in id order
# from ix_step_run_ready (tags_key, id); for several keys, ready rows are walked by id
# (ix_step_run_ready_id) rather than all sorted. `not_before` (compared with the volatile
# database clock) is filtered after.
_IS_READY = step_run.c.state == literal_column("'ready'")


def _candidates(several_keys: bool, dialect: str) -> Select[Any]:
    tags: ColumnElement[Any] = step_run.c.tags_key
    if several_keys and dialect == "sqlite":
        tags = literal_column("+step_run.tags_key")  # unary + : SQLite uses no index for it
    query = (
        select(step_run.c.id)
        .where(
            _IS_READY,
            tags.in_(bindparam("keys", expanding=True)),
            step_run.c.not_before <= db_now(),
        )
        .order_by(step_run.c.id)
        .limit(bindparam("limit", type_=Integer))
    )
    return query.with_for_update(skip_locked=True) if dialect == "postgresql" else query


_CLAIM_VALUES = {
    "state": StepState.RUNNING.value,
    "agent_id": bindparam("agent_id", type_=Integer),
    "attempt_token": bindparam("token", type_=String),
    "started_at": db_now(),
    "lease_expires_at": db_now() + bindparam("lease", type_=Float),
    "waiting_for": None,
}


def _claim_update(dialect: str, several: bool) -> Any:
    return (
        update(step_run)
        .where(step_run.c.id.in_(_candidates(several, dialect).scalar_subquery()))
        .values(_CLAIM_VALUES)
    )


def _has_outputs(run_id: Any) -> Any:
    """Whether the run has outputs at all: most runs have none, and then their read is saved."""
    return exists().where(step_output.c.run_id == run_id).label("has_outputs")


def _details(source: Any) -> Select[Any]:
    return (
        select(
            source.c.id,
            source.c.run_id,
            source.c.step_key,
            source.c.item_index,
            source.c.item,
            source.c.attempt,
            job_run.c.job_version_id,
            job_run.c.submitter,
            job_run.c.params,
            job_run.c.secret_params,
            job_run.c.parent_step_run_id,
            job.c.name,
            _has_outputs(source.c.run_id),
        )
        .join(job_run, job_run.c.id == source.c.run_id)
        .join(job, job.c.id == job_run.c.job_id)
        .order_by(source.c.id)
    )


# SQLite: the claim returns ids, then one read gives what the agent needs. PostgreSQL: one
# statement, the UPDATE in a CTE whose rows are joined with their run and job.
_CLAIM_IDS = {
    several: _claim_update("sqlite", several).returning(step_run.c.id) for several in (False, True)
}
_DETAILS = _details(step_run).where(step_run.c.id.in_(bindparam("ids", expanding=True)))
_CLAIM_PG = {
    several: _details(
        _claim_update("postgresql", several)
        .returning(
            step_run.c.id,
            step_run.c.run_id,
            step_run.c.step_key,
            step_run.c.item_index,
            step_run.c.item,
            step_run.c.attempt,
        )
        .cte("claimed")
    )
    for several in (False, True)
}


def claim(
    conn: Connection, *, agent_id: int, keys: Sequence[str], limit: int, lease: float
) -> list[ClaimedStep]:
    """Take up to `limit` ready step runs (one statement on PostgreSQL, under BEGIN IMMEDIATE on
    SQLite). The lease starts now, at the claim, not at a first heartbeat."""
    if limit <= 0:
        return []
    token = secrets.token_hex(16)
    values = {"keys": list(keys), "limit": limit, "agent_id": agent_id, "token": token}
    values["lease"] = lease
    several = len(keys) > 1
    if conn.dialect.name == "postgresql":
        rows = conn.execute(_CLAIM_PG[several], values).all()
    else:
        ids = sorted(conn.execute(_CLAIM_IDS[several], values).scalars())
        rows = conn.execute(_DETAILS, {"ids": ids}).all() if ids else []
    return _claimed_steps(conn, rows, token)


def unclaim(conn: Connection, step_run_id: int, *, waiting_for: str, retry_in: float) -> None:
    """Put a just-claimed step run back to ready (a lock it needs is held elsewhere). It is
    not claimable for `retry_in` seconds, so that it cannot starve the ready steps behind it."""
    conn.execute(
        update(step_run)
        .where(step_run.c.id == step_run_id)
        .values(
            state=StepState.READY.value,
            agent_id=None,
            attempt_token=None,
            started_at=None,
            lease_expires_at=None,
            waiting_for=waiting_for,
            not_before=db_now() + retry_in,
        )
    )


def _claimed_steps(conn: Connection, rows: Sequence[Any], token: str) -> list[ClaimedStep]:
    with_outputs = sorted({r.run_id for r in rows if r.has_outputs})
    outputs = run_outputs(conn, with_outputs) if with_outputs else {}
    return [
        ClaimedStep(
            step_run_id=r.id,
            run_id=r.run_id,
            step_key=r.step_key,
            item_index=r.item_index,
            item=r.item,
            attempt=r.attempt,
            attempt_token=token,
            job_version_id=r.job_version_id,
            job_name=r.name,
            submitter=r.submitter,
            params=r.params,
            secret_params=r.secret_params,
            outputs=outputs.get(r.run_id, {}),
            has_parent=r.parent_step_run_id is not None,
        )
        for r in rows
    ]


def renew_leases(conn: Connection, agent_id: int, lease: float) -> list[int]:
    """Heartbeat: extend the lease of every step this agent runs and mark the agent alive.
    Returns the ids of its running step runs whose run was asked to cancel."""
    conn.execute(
        update(agent).where(agent.c.id == agent_id).values(heartbeat_at=db_now(), state="online")
    )
    conn.execute(
        update(step_run)
        .where(step_run.c.agent_id == agent_id, step_run.c.state == StepState.RUNNING.value)
        .values(lease_expires_at=db_now() + lease)
    )
    query = (
        select(step_run.c.id)
        .join(job_run, job_run.c.id == step_run.c.run_id)
        .where(
            step_run.c.agent_id == agent_id,
            step_run.c.state == StepState.RUNNING.value,
            job_run.c.cancel_requested.is_(True),
        )
    )
    return list(conn.execute(query).scalars())


def stale_attempts(conn: Connection, token_by_id: Mapping[int, str]) -> set[int]:
    """Of these step runs, the ones no longer running under the given attempt tokens (declared
    lost and perhaps re-run elsewhere): the agent must stop its copy and report nothing."""
    if not token_by_id:
        return set()
    rows = conn.execute(
        select(step_run.c.id, step_run.c.attempt_token, step_run.c.state).where(
            step_run.c.id.in_(list(token_by_id))
        )
    )
    running = {
        r.id
        for r in rows
        if r.state == StepState.RUNNING.value and r.attempt_token == token_by_id[r.id]
    }
    return set(token_by_id) - running


def expired(conn: Connection, limit: int = 100) -> list[StepRunRecord]:
    """Running step runs whose lease passed by the database clock. Not locked here: the
    sweeper locks each one's run first (lock order job_run, then step_run) and re-checks the
    lease with `declare_lost`, since a heartbeat may renew it meanwhile."""
    query = (
        select(step_run)
        .where(
            step_run.c.state == StepState.RUNNING.value,
            step_run.c.lease_expires_at < db_now(),
        )
        .order_by(step_run.c.id)
        .limit(limit)
    )
    return [StepRunRecord.from_row(r) for r in conn.execute(query).mappings()]


def declare_lost(conn: Connection, step_run_id: int) -> bool:
    """Mark a running step run lost if its lease is still expired; False when it was renewed,
    finished or already declared lost meanwhile."""
    result = conn.execute(
        update(step_run)
        .where(
            step_run.c.id == step_run_id,
            step_run.c.state == StepState.RUNNING.value,
            step_run.c.lease_expires_at < db_now(),
        )
        .values(
            state=StepState.LOST.value,
            ended_at=db_now(),
            lease_expires_at=None,
            error="its agent stopped heartbeating",
        )
    )
    return result.rowcount == 1
