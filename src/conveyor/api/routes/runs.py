"""Runs: list, submit, look at one, and resume or cancel it."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query

from conveyor.actions import queries, steering
from conveyor.actions.queries import run_view
from conveyor.actions.submit import submit
from conveyor.api.auth import CurrentActor, Rt
from conveyor.api.params import Before, RunId
from conveyor.api.schemas import ResumeIn, RunOut, RunSummaryOut, StateOut, SubmitIn
from conveyor.store.records import RunRecord

router = APIRouter(prefix="/runs", tags=["runs"])


def summary(run: RunRecord) -> RunSummaryOut:
    """The list form of a run: no steps."""
    return RunSummaryOut(**queries.run_summary(run))


@router.get("", response_model=list[RunSummaryOut])
def list_runs(
    rt: Rt,
    actor: CurrentActor,
    job: Annotated[str | None, Query(max_length=200)] = None,
    state: Annotated[list[str], Query(max_length=10)] = [],  # noqa: B006 - FastAPI copies it
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    before: Before = None,
) -> list[RunSummaryOut]:
    """Runs the caller may see, newest first; `state` may repeat or be comma-separated."""
    states = [s for value in state for s in value.split(",") if s]
    runs = queries.list_runs(rt, actor, job=job, states=states, limit=limit, before_id=before)
    return [summary(r) for r in runs]


@router.post("", response_model=RunOut, status_code=201)
def submit_run(body: SubmitIn, rt: Rt, actor: CurrentActor) -> Any:
    """Submit a run of a job's latest version; a refused param creates nothing (422)."""
    run = submit(rt, actor, body.job, body.params)
    return run_view(rt, actor, run.id).to_json()


@router.get("/{run_id}", response_model=RunOut)
def get_run(run_id: RunId, rt: Rt, actor: CurrentActor, history: bool = False) -> Any:
    """A run with its step runs (every attempt with `history=true`); secrets are masked."""
    return run_view(rt, actor, run_id, history=history).to_json()


@router.post("/{run_id}/resume", response_model=StateOut)
def resume(
    run_id: RunId, rt: Rt, actor: CurrentActor, body: Annotated[ResumeIn | None, Body()] = None
) -> StateOut:
    """Re-run a failed or cancelled run from its failed steps; `force` names steps that are
    not restartable and should run again anyway."""
    force = body.force if body is not None else []
    return StateOut(run=run_id, state=steering.resume(rt, actor, run_id, force).value)


@router.post("/{run_id}/cancel", response_model=StateOut)
def cancel(run_id: RunId, rt: Rt, actor: CurrentActor) -> StateOut:
    """Cancel a run and its sub-job runs."""
    return StateOut(run=run_id, state=steering.cancel(rt, actor, run_id).value)
