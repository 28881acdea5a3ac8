"""Decisions people took on manual steps (quorums count distinct approvers)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, insert, select

from conveyor.store.db import db_now
from conveyor.store.tables import approval


def add(
    conn: Connection,
    *,
    step_run_id: int,
    actor: str,
    decision: str,
    fields: Mapping[str, Any],
    reason: str | None,
) -> None:
    conn.execute(
        insert(approval).values(
            step_run_id=step_run_id,
            actor=actor,
            decision=decision,
            fields=dict(fields),
            reason=reason,
            created_at=db_now(),
        )
    )


def of_step_run(conn: Connection, step_run_id: int) -> list[dict[str, Any]]:
    query = select(approval).where(approval.c.step_run_id == step_run_id).order_by(approval.c.id)
    return [dict(r) for r in conn.execute(query).mappings()]
