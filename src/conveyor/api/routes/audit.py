"""The audit trail: read only. No route edits or deletes an audit record."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from conveyor.actions import catalog
from conveyor.actions.queries import iso_time
from conveyor.api.auth import CurrentActor, Rt
from conveyor.api.params import Before
from conveyor.api.schemas import AuditOut

router = APIRouter(prefix="/audit", tags=["audit"])


@router.get("", response_model=list[AuditOut])
def list_audit(
    rt: Rt,
    actor: CurrentActor,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    before: Before = None,
) -> list[AuditOut]:
    """Who changed what, when and from where, newest first (admins only)."""
    return [
        AuditOut(
            id=r["id"],
            created_at=iso_time(r["created_at"]),
            actor=r["actor"],
            action=r["action"],
            target=r["target"],
            detail=r["detail"],
            source=r["source"],
        )
        for r in catalog.audit(rt, actor, limit=limit, before_id=before)
    ]
