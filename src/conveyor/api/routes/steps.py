"""Acting on one step of a run: approve or reject a manual step; retry, skip or settle one."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body

from conveyor.actions import manual, steering
from conveyor.actions.rollout_steering import continue_rollout
from conveyor.api.auth import CurrentActor, Rt
from conveyor.api.params import RunId, StepKey
from conveyor.api.schemas import ApproveIn, RejectIn, RolloutIn, StateOut, SucceedIn

router = APIRouter(prefix="/runs/{run_id}/steps/{step}", tags=["steps"])


@router.post("/approve", response_model=StateOut)
def approve(
    run_id: RunId,
    step: StepKey,
    rt: Rt,
    actor: CurrentActor,
    body: Annotated[ApproveIn | None, Body()] = None,
) -> StateOut:
    """Approve a waiting manual step with its field values (one of a quorum if it has one)."""
    body = body or ApproveIn()
    state = manual.approve(rt, actor, run_id, step, body.fields, body.reason)
    return StateOut(run=run_id, state=state.value)


@router.post("/reject", response_model=StateOut)
def reject(run_id: RunId, step: StepKey, body: RejectIn, rt: Rt, actor: CurrentActor) -> StateOut:
    """Reject a waiting manual step with a reason: the step and the run fail."""
    return StateOut(run=run_id, state=manual.reject(rt, actor, run_id, step, body.reason).value)


@router.post("/retry", response_model=StateOut)
def retry(run_id: RunId, step: StepKey, rt: Rt, actor: CurrentActor) -> StateOut:
    """Run a failed, lost or cancelled step again as its next attempt."""
    return StateOut(run=run_id, state=steering.retry(rt, actor, run_id, step).value)


@router.post("/skip", response_model=StateOut)
def skip(run_id: RunId, step: StepKey, rt: Rt, actor: CurrentActor) -> StateOut:
    """Mark a step that has not succeeded as skipped."""
    return StateOut(run=run_id, state=steering.skip(rt, actor, run_id, step).value)


@router.post("/succeed", response_model=StateOut)
def succeed(
    run_id: RunId,
    step: StepKey,
    rt: Rt,
    actor: CurrentActor,
    body: Annotated[SucceedIn | None, Body()] = None,
) -> StateOut:
    """Declare a step succeeded by hand (a lost step that did finish), with optional outputs."""
    outputs = body.outputs if body is not None else {}
    state = steering.mark_succeeded(rt, actor, run_id, step, outputs)
    return StateOut(run=run_id, state=state.value)


@router.post("/rollout", response_model=StateOut)
def rollout(run_id: RunId, step: StepKey, body: RolloutIn, rt: Rt, actor: CurrentActor) -> StateOut:
    """Decide on a paused rollout: launch the remaining items, retry the failed ones, or abort."""
    return StateOut(run=run_id, state=continue_rollout(rt, actor, run_id, step, body.mode).value)
