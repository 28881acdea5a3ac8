"""Moving a run forward inside the transaction that changed it: no scheduler loop between steps.

Every function here runs inside a write transaction that already holds the run's row (lock order:
job_run, then step_run), so that two steps of one run finishing at once cannot both miss a join.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy import Connection

from conveyor.actions.launch import start_queued, submit_child
from conveyor.actions.runtime import Runtime
from conveyor.actions.versions import LoadedJob, load_job
from conveyor.definitions.expressions import parse_expression
from conveyor.definitions.models import JobStepDef
from conveyor.definitions.templates import parse_template, render
from conveyor.engine.progress import aggregate, next_moves, run_state
from conveyor.engine.scope import MissingValue, Scope, as_text
from conveyor.engine.states import RunState, StepState
from conveyor.errors import ConveyorError
from conveyor.store import locks as lock_store
from conveyor.store import runs as run_store
from conveyor.store.db import db_now
from conveyor.store.events import add_event
from conveyor.store.logs import add_log
from conveyor.store.records import RunRecord, StepRunRecord

SUB_JOB_PREFIX = "job/"


class Advancer:
    """Applies the engine's decisions for one run within one transaction."""

    def __init__(self, rt: Runtime, conn: Connection) -> None:
        self.rt = rt
        self.db = rt.db
        self.conn = conn

    def advance(self, run_id: int) -> RunState:
        """Make ready what can run, skip what must be skipped, and end the run when done."""
        run = run_store.get_run(self.conn, run_id, for_update=True)
        if run.state.is_final or run.state == RunState.QUEUED:
            return run.state
        job = load_job(self.conn, run.job_version_id)
        by_key = _group(run_store.current_step_runs(self.conn, run_id))
        states = {key: aggregate(r.state for r in by_key.get(key, [])) for key in job.graph.keys}
        if not run.cancel_requested:
            scope = _LazyScope(self.conn, run, job)
            moves = next_moves(job.graph, states, lambda key: self._should_run(job, key, scope))
            for key, move in moves.items():
                states[key] = self._apply(run, job, key, by_key.get(key, []), move, scope)
            for key in job.graph.keys:
                if states[key] == StepState.RUNNING and job.steps[key].foreach:
                    self._top_up_items(run, job.steps[key], by_key.get(key, []))
        new_state = run_state(states.values(), cancel_requested=run.cancel_requested)
        if new_state != run.state:
            self.set_run_state(run, new_state)
        return new_state

    # -- moves ------------------------------------------------------------------------------

    def _should_run(self, job: LoadedJob, key: str, scope: _LazyScope) -> bool:
        when = job.steps[key].when
        if not when:
            return True
        try:
            return parse_expression(when).evaluate(scope.get().resolve)
        except MissingValue:
            return False

    def _apply(
        self,
        run: RunRecord,
        job: LoadedJob,
        key: str,
        rows: Sequence[StepRunRecord],
        move: StepState,
        scope: _LazyScope,
    ) -> StepState:
        step = job.steps[key]
        ids = [r.id for r in rows]
        if move == StepState.SKIPPED:
            self._set(ids, run, key, StepState.SKIPPED, started_at=db_now(), ended_at=db_now())
            return StepState.SKIPPED
        if step.manual is not None:
            self._set(ids, run, key, StepState.WAITING, started_at=db_now())
            return StepState.WAITING
        if step.uses and step.uses.startswith(SUB_JOB_PREFIX):
            return self._start_sub_job(run, step, rows[0], scope)
        if step.foreach and any(r.item_index is not None for r in rows):
            self._top_up_items(run, step, rows)  # resumed rollout: its items exist already
            return StepState.RUNNING
        if step.foreach:
            return self._expand_items(run, step, rows[0], scope)
        self._set(ids, run, key, StepState.READY)
        self.db.notify_ready(self.conn)
        return StepState.READY

    def _set(
        self, ids: list[int], run: RunRecord, key: str, state: StepState, **extra: Any
    ) -> None:
        run_store.set_step_runs(self.conn, ids, state=state.value, **extra)
        add_event(self.conn, "step", {"step": key, "state": state.value}, run_id=run.id)

    # -- foreach ----------------------------------------------------------------------------

    def _expand_items(
        self, run: RunRecord, step: JobStepDef, placeholder: StepRunRecord, scope: _LazyScope
    ) -> StepState:
        try:
            values = _as_list(scope.get().resolve(parse_template(step.foreach or "").refs[0]))
        except MissingValue as exc:
            return self.fail_step(run, placeholder, str(exc))
        if not values:
            self._set([placeholder.id], run, step.id, StepState.SKIPPED, ended_at=db_now())
            return StepState.SKIPPED
        run_store.set_step_runs(self.conn, [placeholder.id], is_current=False, state="cancelled")
        tags = run_store.tags_key_of(self.conn, placeholder.id)
        width = step.max_parallel or step.batch_size or len(values)
        run_store.insert_step_runs(
            self.conn,
            [
                {
                    "run_id": run.id,
                    "step_key": step.id,
                    "item_index": index,
                    "item": value,
                    "tags_key": tags,
                    "state": (StepState.READY if index < width else StepState.PENDING).value,
                }
                for index, value in enumerate(values)
            ],
        )
        add_event(
            self.conn,
            "step",
            {"step": step.id, "state": "ready", "items": len(values)},
            run_id=run.id,
        )
        self.db.notify_ready(self.conn)
        return StepState.RUNNING

    def _top_up_items(
        self, run: RunRecord, step: JobStepDef, rows: Sequence[StepRunRecord]
    ) -> None:
        """Launch the next items of a rollout as earlier ones end, within max_parallel and
        max_failures."""
        failed = sum(r.state in (StepState.FAILED, StepState.LOST) for r in rows)
        if step.max_failures is not None and failed > step.max_failures:
            pending = [r.id for r in rows if r.state == StepState.PENDING]
            run_store.set_step_runs(
                self.conn,
                pending,
                state=StepState.CANCELLED.value,
                error="not started: too many items failed",
            )
            return
        active = sum(r.state in (StepState.READY, StepState.RUNNING) for r in rows)
        width = step.max_parallel or len(rows)
        pending = [r.id for r in rows if r.state == StepState.PENDING]
        launch = pending[: max(0, width - active)]
        if launch:
            run_store.set_step_runs(self.conn, launch, state=StepState.READY.value)
            self.db.notify_ready(self.conn)

    # -- sub-jobs ---------------------------------------------------------------------------

    def _start_sub_job(
        self, run: RunRecord, step: JobStepDef, row: StepRunRecord, scope: _LazyScope
    ) -> StepState:
        name = (step.uses or "")[len(SUB_JOB_PREFIX) :]
        try:
            values = _with_values(step, scope.get())
            # run.params shows secrets as ***: the child's secret params get the real values.
            secrets = self.rt.box.open(run.secret_params)
            unmasked = _with_values(step, replace(scope.get(), params={**run.params, **secrets}))
            child_id = submit_child(self, name, values, run, row.id, secret_values=unmasked)
        except (ConveyorError, MissingValue) as exc:
            return self.fail_step(run, row, f"the sub-job {name!r} could not start: {exc}")
        self._set([row.id], run, step.id, StepState.RUNNING, started_at=db_now())
        add_log(self.conn, step_run_id=row.id, run_id=run.id, text=f"started run {child_id}\n")
        return StepState.RUNNING

    @staticmethod
    def render_text(text: str, scope: Scope) -> str:
        return render_text(text, scope)

    def fail_step(self, run: RunRecord, row: StepRunRecord, error: str) -> StepState:
        self._set([row.id], run, row.step_key, StepState.FAILED, error=error, ended_at=db_now())
        add_log(self.conn, step_run_id=row.id, run_id=run.id, text=error + "\n")
        return StepState.FAILED

    # -- ending -----------------------------------------------------------------------------

    def set_run_state(self, run: RunRecord, state: RunState) -> None:
        values: dict[str, Any] = {"state": state.value}
        if state.is_final:
            values["ended_at"] = db_now()
        if run.started_at is None:
            values["started_at"] = db_now()
        run_store.update_run(self.conn, run.id, **values)
        add_event(self.conn, "run", {"state": state.value}, run_id=run.id)
        if not state.is_final:
            return
        lock_store.release_run(self.conn, run.id)
        if run.parent_step_run_id is not None:
            self._finish_parent_step(run, state)
        start_queued(self, run.job_id)

    def _finish_parent_step(self, child: RunRecord, state: RunState) -> None:
        parent = run_store.get_step_run(self.conn, child.parent_step_run_id or 0)
        if parent.state != StepState.RUNNING:
            return
        outputs = run_store.run_outputs(self.conn, [child.id])[child.id]
        flat = {
            f"{key}.{name}": value
            for key, values in outputs.items()
            if isinstance(values, dict)
            for name, value in values.items()
        }
        done = StepState.SUCCEEDED if state == RunState.SUCCEEDED else StepState.FAILED
        error = None if done == StepState.SUCCEEDED else f"sub-job run {child.id} {state.value}"
        if state == RunState.CANCELLED:
            done = StepState.CANCELLED
        run_store.set_step_runs(
            self.conn, [parent.id], state=done.value, ended_at=db_now(), error=error
        )
        if done == StepState.SUCCEEDED:
            run_store.insert_outputs(self.conn, parent, flat)
        add_event(
            self.conn, "step", {"step": parent.step_key, "state": done.value}, run_id=parent.run_id
        )
        self.advance(parent.run_id)


class _LazyScope:
    """Reads outputs only when a `when`, `foreach` or `with` actually needs them."""

    def __init__(self, conn: Connection, run: RunRecord, job: LoadedJob) -> None:
        self._conn, self._run, self._job = conn, run, job
        self._scope: Scope | None = None

    def get(self) -> Scope:
        if self._scope is None:
            outputs = run_store.run_outputs(self._conn, [self._run.id])[self._run.id]
            self._scope = Scope(
                params=self._run.params,
                outputs=outputs,
                run_id=self._run.id,
                submitter=self._run.submitter,
                job_name=self._job.definition.name,
                secret_names=self._job.secret_names,
            )
        return self._scope


def render_text(text: str, scope: Scope) -> str:
    """Render a template with raw values (for with-values, instructions, lock names)."""
    return render(parse_template(text), lambda ref: as_text(scope.resolve(ref)))


def _with_values(step: JobStepDef, scope: Scope) -> dict[str, Any]:
    return {
        key: render_text(value, scope) if isinstance(value, str) else value
        for key, value in step.with_.items()
    }


def _as_list(value: Any) -> list[Any]:
    if isinstance(value, list):
        return value
    if value is None or value == "":
        return []
    return [part.strip() for part in str(value).split(",") if part.strip()]


def _group(rows: Sequence[StepRunRecord]) -> Mapping[str, list[StepRunRecord]]:
    grouped: dict[str, list[StepRunRecord]] = defaultdict(list)
    for row in rows:
        grouped[row.step_key].append(row)
    return grouped
