"""Moving a run forward inside the transaction that changed it: no scheduler loop between steps.

Every function here runs inside a write transaction that already holds the run's row (lock order:
job_run, then step_run), so that two steps of one run finishing at once cannot both miss a join.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection

from conveyor.actions.launch import start_queued
from conveyor.actions.rollouts import Rollouts
from conveyor.actions.runtime import Runtime
from conveyor.actions.subjobs import is_sub_job, settle_parent_step, start_sub_job
from conveyor.actions.versions import LoadedJob, load_job
from conveyor.definitions.expressions import parse_expression
from conveyor.definitions.templates import parse_template, render
from conveyor.engine.progress import aggregate, next_moves, run_state
from conveyor.engine.scope import MissingValue, Scope, as_text
from conveyor.engine.states import RunState, StepState
from conveyor.store import locks as lock_store
from conveyor.store import outputs as output_store
from conveyor.store import runs as run_store
from conveyor.store.db import db_now
from conveyor.store.events import add_event
from conveyor.store.logs import add_log
from conveyor.store.records import RunRecord, StepRunBrief, StepRunRecord


class Advancer:
    """Applies the engine's decisions for one run within one transaction."""

    def __init__(self, rt: Runtime, conn: Connection) -> None:
        self.rt = rt
        self.db = rt.db
        self.conn = conn

    def advance(self, run_id: int, *, locked: RunRecord | None = None) -> RunState:
        """Make ready what can run, skip what must be skipped, and end the run when done.
        `locked` is the run's record when the caller locked its row in this transaction and
        changed nothing of it since."""
        run = locked or run_store.get_run(self.conn, run_id, for_update=True)
        if run.state.is_final or run.state == RunState.QUEUED:
            return run.state
        job = load_job(self.conn, run.job_version_id)
        # Only ids, keys, items and states: reading whole records of every step run of the run
        # on each step's end made a long run's steps slower the longer it got.
        by_key = _group(run_store.current_step_states(self.conn, run_id))
        states = {key: aggregate(r.state for r in by_key.get(key, [])) for key in job.graph.keys}
        rollouts = Rollouts(self, run, job)
        if not run.cancel_requested:
            # Rollouts first: one whose items all ended may still owe its after-batch check,
            # and its dependants must not start before that.
            for key in job.graph.keys:
                needs_done = all(states[need].is_done_ok for need in job.graph.needs[key])
                if job.steps[key].foreach and needs_done:
                    states[key] = rollouts.top_up(job.steps[key]) or states[key]
            scope = _LazyScope(self.conn, run, job)
            moves = next_moves(job.graph, states, lambda key: self._should_run(job, key, scope))
            for key, move in moves.items():
                if key not in rollouts.owners:  # an after_batch check runs only for its rollout
                    states[key] = self._apply(run, job, key, by_key.get(key, []), move, scope)
        for check, owner in rollouts.owners.items():
            states[check] = rollouts.check_state(check, by_key.get(check, []), states[owner])
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
        rows: Sequence[StepRunBrief],
        move: StepState,
        scope: _LazyScope,
    ) -> StepState:
        step = job.steps[key]
        ids = [r.id for r in rows]
        if move == StepState.SKIPPED:
            self.set_steps(ids, run, key, StepState.SKIPPED)
            return StepState.SKIPPED
        if step.manual is not None:
            self.set_steps(ids, run, key, StepState.WAITING, started_at=db_now())
            return StepState.WAITING
        if is_sub_job(step):
            first = run_store.current_step_runs(self.conn, run.id, key)[0]
            return start_sub_job(self, run, step, first, scope.get())
        if step.foreach and any(r.item_index is not None for r in rows):
            # A resumed rollout: its items exist already.
            return Rollouts(self, run, job).top_up(step) or StepState.RUNNING
        if step.foreach:
            first = run_store.current_step_runs(self.conn, run.id, key)[0]
            return Rollouts(self, run, job).expand(step, first, scope.get())
        self.set_steps(ids, run, key, StepState.READY)
        self.db.notify_ready(self.conn, ids)
        return StepState.READY

    def set_steps(
        self, ids: list[int], run: RunRecord, key: str, state: StepState, **extra: Any
    ) -> None:
        """Move step runs of one step to `state` (skipped ones also end now), with an event."""
        if state == StepState.SKIPPED:
            extra = {"started_at": db_now(), "ended_at": db_now(), **extra}
        run_store.set_step_runs(self.conn, ids, state=state.value, **extra)
        add_event(self.conn, "step", {"step": key, "state": state.value}, run_id=run.id)

    @staticmethod
    def render_text(text: str, scope: Scope) -> str:
        return render_text(text, scope)

    def fail_step(self, run: RunRecord, row: StepRunRecord, error: str) -> StepState:
        failed = StepState.FAILED
        self.set_steps([row.id], run, row.step_key, failed, error=error, ended_at=db_now())
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
        released = lock_store.release_run(self.conn, run.id)
        if released and lock_store.wake_waiters(self.conn, released):
            self.db.notify_ready(self.conn)
        if run.parent_step_run_id is not None:
            settle_parent_step(self, run, state)
        start_queued(self, run.job_id)


class _LazyScope:
    """Reads outputs only when a `when`, `foreach` or `with` actually needs them."""

    def __init__(self, conn: Connection, run: RunRecord, job: LoadedJob) -> None:
        self._conn, self._run, self._job = conn, run, job
        self._scope: Scope | None = None

    def get(self) -> Scope:
        if self._scope is None:
            outputs = output_store.run_outputs(self._conn, [self._run.id])[self._run.id]
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


def _group(rows: Sequence[StepRunBrief]) -> Mapping[str, list[StepRunBrief]]:
    grouped: dict[str, list[StepRunBrief]] = defaultdict(list)
    for row in rows:
        grouped[row.step_key].append(row)
    return grouped
