"""Claiming ready step runs, renewing leases, and finding the ones whose agent went silent."""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from itertools import combinations

from sqlalchemy import Connection, select, update

from conveyor.engine.states import StepState
from conveyor.store.db import db_now
from conveyor.store.records import ClaimedStep, StepRunRecord
from conveyor.store.runs import run_outputs
from conveyor.store.tables import agent, job, job_run, step_run

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


def claim(
    conn: Connection, *, agent_id: int, keys: Sequence[str], limit: int, lease: float
) -> list[ClaimedStep]:
    """Take up to `limit` ready step runs (one statement on PostgreSQL, under BEGIN IMMEDIATE on
    SQLite). The lease starts now, at the claim, not at a first heartbeat."""
    if limit <= 0:
        return []
    token = secrets.token_hex(16)
    candidates = (
        select(step_run.c.id)
        .where(
            step_run.c.state == StepState.READY.value,
            step_run.c.tags_key.in_(list(keys)),
            step_run.c.not_before <= db_now(),
        )
        .order_by(step_run.c.id)
        .limit(limit)
    )
    if conn.dialect.name == "postgresql":
        candidates = candidates.with_for_update(skip_locked=True)
    claimed = conn.execute(
        update(step_run)
        .where(step_run.c.id.in_(candidates.scalar_subquery()))
        .values(
            state=StepState.RUNNING.value,
            agent_id=agent_id,
            attempt_token=token,
            started_at=db_now(),
            lease_expires_at=db_now() + lease,
            waiting_for=None,
        )
        .returning(step_run.c.id)
    ).scalars()
    ids = sorted(claimed)
    return _claimed_details(conn, ids, token) if ids else []


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


def _claimed_details(conn: Connection, ids: list[int], token: str) -> list[ClaimedStep]:
    query = (
        select(
            step_run.c.id,
            step_run.c.run_id,
            step_run.c.step_key,
            step_run.c.item_index,
            step_run.c.item,
            step_run.c.attempt,
            job_run.c.job_version_id,
            job_run.c.submitter,
            job_run.c.params,
            job_run.c.secret_params,
            job.c.name,
        )
        .join(job_run, job_run.c.id == step_run.c.run_id)
        .join(job, job.c.id == job_run.c.job_id)
        .where(step_run.c.id.in_(ids))
        .order_by(step_run.c.id)
    )
    rows = conn.execute(query).all()
    outputs = run_outputs(conn, sorted({r.run_id for r in rows}))
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
