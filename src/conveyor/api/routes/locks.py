"""Locks: which runs and step runs hold which named locks now."""

from __future__ import annotations

from fastapi import APIRouter

from conveyor.actions import catalog
from conveyor.actions.queries import iso_time
from conveyor.api.auth import CurrentActor, Rt
from conveyor.api.schemas import LockOut

router = APIRouter(prefix="/locks", tags=["locks"])


@router.get("", response_model=list[LockOut])
def list_locks(rt: Rt, actor: CurrentActor) -> list[LockOut]:
    """Every lock hold, by lock name."""
    return [
        LockOut(
            name=str(h["name"]),
            limit=int(str(h["lock_limit"])),
            run_id=int(str(h["run_id"])),
            step_run_id=int(str(h["step_run_id"])) if h["step_run_id"] is not None else None,
            acquired_at=iso_time(float(str(h["acquired_at"]))),
        )
        for h in catalog.locks(rt, actor)
    ]
