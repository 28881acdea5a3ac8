"""Sub-jobs (`uses: job/NAME`): a step that runs another job as its own, linked run.

The child run points at the parent's step run (`job_run.parent_step_run_id`); its end settles
that step run, with the child's outputs (`STEP.KEY`) and `run_id` as the step's outputs.
Cancelling the parent cancels the child. When the step runs again (resume or retry of the
parent), the child run of its earlier attempt is picked up instead of starting another: a failed
or cancelled child is resumed from its broken steps, a succeeded one gives its outputs at once,
one still going is simply followed.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection

from conveyor.actions.versions import load_job
from conveyor.definitions.models import JobStepDef
from conveyor.engine.scope import MissingValue, Scope
from conveyor.engine.states import BROKEN_STEP_STATES, RunState, StepState
from conveyor.errors import ConveyorError
from conveyor.store import outputs as output_store
from conveyor.store import runs as run_store
from conveyor.store.db import db_now
from conveyor.store.events import add_event
from conveyor.store.logs import add_log
from conveyor.store.records import RunRecord, StepRunRecord

if TYPE_CHECKING:
    from conveyor.actions.advance import Advancer

SUB_JOB_PREFIX = "job/"


def is_sub_job(step: JobStepDef) -> bool:
    return bool(step.uses and step.uses.startswith(SUB_JOB_PREFIX))


def not_restartable(conn: Connection, run: RunRecord, force: Collection[str]) -> list[str]:
    """The failed or lost steps of a run (and of the sub-job runs its failed steps started)
    that are not restartable and not named in `force`: resuming would run them again."""
    job = load_job(conn, run.job_version_id)
    broken = [
        r
        for r in run_store.current_step_runs(conn, run.id)
        if r.state in (StepState.FAILED, StepState.LOST)
    ]
    found = {
        r.step_key
        for r in broken
        if not job.steps[r.step_key].restartable and r.step_key not in force
    }
    children = run_store.child_run_ids(conn, [r.id for r in broken])
    for child_id in children.values():
        child = run_store.get_run(conn, child_id)
        found.update(not_restartable(conn, child, force))
    return sorted(found)


def start_sub_job(
    advancer: Advancer, run: RunRecord, step: JobStepDef, row: StepRunRecord, scope: Scope
) -> StepState:
    """Start (or pick up again) the child run of a sub-job step; the step runs meanwhile."""
    from conveyor.actions.launch import submit_child

    name = (step.uses or "")[len(SUB_JOB_PREFIX) :]
    earlier = run_store.earlier_child_run(advancer.conn, row)
    if earlier is not None:
        return _pick_up(advancer, run, row, earlier)
    try:
        values = _with_values(advancer, step, scope)
        # run.params shows secrets as ***: the child's secret params get the real values.
        secrets = advancer.rt.box.open(run.secret_params)
        unmasked = _with_values(advancer, step, replace(scope, params={**run.params, **secrets}))
        child_id = submit_child(advancer, name, values, run, row.id, secret_values=unmasked)
    except (ConveyorError, MissingValue) as exc:
        return advancer.fail_step(run, row, f"the sub-job {name!r} could not start: {exc}")
    return _running(advancer, run, row, f"started run {child_id}")


def _running(advancer: Advancer, run: RunRecord, row: StepRunRecord, note: str) -> StepState:
    advancer.set_steps([row.id], run, row.step_key, StepState.RUNNING, started_at=db_now())
    add_log(advancer.conn, step_run_id=row.id, run_id=run.id, text=f"{note}\n")
    return StepState.RUNNING


def _pick_up(advancer: Advancer, run: RunRecord, row: StepRunRecord, child_id: int) -> StepState:
    """Link the child run of an earlier attempt to this attempt and carry on with it."""
    conn = advancer.conn
    child = run_store.get_run(conn, child_id, for_update=True)
    run_store.update_run(conn, child_id, parent_step_run_id=row.id)
    child = replace(child, parent_step_run_id=row.id)
    if child.state == RunState.SUCCEEDED:
        _running(advancer, run, row, f"run {child_id} already succeeded: its outputs are taken")
        return settle_parent_step(advancer, child, RunState.SUCCEEDED, advance=False)
    if child.state in (RunState.FAILED, RunState.CANCELLED):
        _reopen_child(advancer, child)
        return _running(advancer, run, row, f"resumed run {child_id}")
    return _running(advancer, run, row, f"following run {child_id}, still {child.state.value}")


def _reopen_child(advancer: Advancer, child: RunRecord) -> None:
    from conveyor.actions.launch import relaunch
    from conveyor.actions.reopen import reopen

    conn = advancer.conn
    for row in run_store.current_step_runs(conn, child.id):
        if row.state in BROKEN_STEP_STATES:
            run_store.new_attempt(conn, row, state=StepState.PENDING)
    reopen(conn, child)
    relaunch(advancer, child)


def settle_parent_step(
    advancer: Advancer, child: RunRecord, state: RunState, *, advance: bool = True
) -> StepState:
    """A child run ended: its parent's step ends alike, with the child's outputs on success."""
    conn = advancer.conn
    parent = run_store.get_step_run(conn, child.parent_step_run_id or 0)
    if parent.state != StepState.RUNNING:
        return parent.state
    done = {
        RunState.SUCCEEDED: StepState.SUCCEEDED,
        RunState.CANCELLED: StepState.CANCELLED,
    }.get(state, StepState.FAILED)
    error = None if done == StepState.SUCCEEDED else f"sub-job run {child.id} {state.value}"
    run_store.set_step_runs(conn, [parent.id], state=done.value, ended_at=db_now(), error=error)
    if done == StepState.SUCCEEDED:
        output_store.insert_outputs(conn, parent, _child_outputs(advancer, child))
    add_event(conn, "step", {"step": parent.step_key, "state": done.value}, run_id=parent.run_id)
    if advance:
        advancer.advance(parent.run_id)
    return done


def _child_outputs(advancer: Advancer, child: RunRecord) -> dict[str, str]:
    outputs = output_store.run_outputs(advancer.conn, [child.id])[child.id]
    flat = {
        f"{key}.{name}": value
        for key, values in outputs.items()
        if isinstance(values, dict)
        for name, value in values.items()
    }
    return {**flat, "run_id": str(child.id)}


def _with_values(advancer: Advancer, step: JobStepDef, scope: Scope) -> dict[str, Any]:
    return {
        key: advancer.render_text(value, scope) if isinstance(value, str) else value
        for key, value in step.with_.items()
    }
