"""A run's log, paged by chunk id."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from conveyor.actions.catalog import masked_logs
from conveyor.actions.queries import iso_time
from conveyor.api.auth import CurrentActor, Rt
from conveyor.api.params import After, RunId
from conveyor.api.schemas import LogChunkOut, LogPageOut

router = APIRouter(prefix="/runs/{run_id}/logs", tags=["logs"])


@router.get("", response_model=LogPageOut)
def get_logs(
    run_id: RunId,
    rt: Rt,
    actor: CurrentActor,
    after: After = 0,
    limit: Annotated[int, Query(ge=1, le=5000)] = 1000,
    step: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
) -> LogPageOut:
    """Log chunks after chunk id `after` (of one step, every attempt, with `step`); ask again
    with `after=next_after` for the next page."""
    chunks, steps = masked_logs(rt, actor, run_id, step=step, after_id=after, limit=limit)
    return LogPageOut(
        chunks=[
            LogChunkOut(
                id=c.id,
                step_run_id=c.step_run_id,
                step=steps.get(c.step_run_id),
                created_at=iso_time(c.created_at),
                text=c.text,
            )
            for c in chunks
        ],
        next_after=chunks[-1].id if chunks else after,
    )
