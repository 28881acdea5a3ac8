"""Rollouts inside the advancing transaction: expanding `foreach` items, launching them within
max_parallel and batches, running the after-batch check, and halting (fail or pause).

The step named by `after_batch` belongs to its rollout: it is never scheduled on its own. After
each batch it runs as one more step run of its own step key, with `item_index` = the batch number
(from 0) and `item` = the batch's items; its outputs read as a list, one entry per batch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from conveyor.actions.versions import LoadedJob
from conveyor.definitions.models import JobStepDef
from conveyor.definitions.templates import parse_template
from conveyor.engine.progress import aggregate
from conveyor.engine.rollout import RolloutPlan, RolloutRules, batches, plan_rollout
from conveyor.engine.scope import MissingValue, Scope
from conveyor.engine.states import StepState
from conveyor.store import runs as run_store
from conveyor.store.claims import tags_key
from conveyor.store.db import db_now
from conveyor.store.events import add_event
from conveyor.store.logs import add_log
from conveyor.store.records import RunRecord, StepRunBrief, StepRunRecord

if TYPE_CHECKING:
    from conveyor.actions.advance import Advancer

PAUSE_HINT = "a person may go on with the remaining items, retry the failed ones, or abort"


def check_owners(job: LoadedJob) -> dict[str, str]:
    """Check step key -> the rollout step key that runs it after each batch."""
    return {s.after_batch: s.id for s in job.definition.steps if s.foreach and s.after_batch}


class Rollouts:
    """The rollouts of one run, within the advancer's transaction."""

    def __init__(self, advancer: Advancer, run: RunRecord, job: LoadedJob) -> None:
        self.advancer = advancer
        self.conn = advancer.conn
        self.run = run
        self.job = job
        self.owners = check_owners(job)

    def expand(self, step: JobStepDef, placeholder: StepRunRecord, scope: Scope) -> StepState:
        """Replace the step's single pending row by one pending row per item, then launch."""
        try:
            values = as_list(scope.resolve(parse_template(step.foreach or "").refs[0]))
        except MissingValue as exc:
            return self.advancer.fail_step(self.run, placeholder, str(exc))
        if not values:
            self.advancer.set_steps([placeholder.id], self.run, step.id, StepState.SKIPPED)
            return StepState.SKIPPED
        retired = [placeholder.id]
        if step.after_batch:
            retired += [
                r.id
                for r in run_store.current_step_runs(self.conn, self.run.id)
                if r.step_key == step.after_batch and r.item_index is None
            ]
        run_store.set_step_runs(self.conn, retired, is_current=False, state="cancelled")
        run_store.insert_step_runs(
            self.conn,
            [
                {
                    "run_id": self.run.id,
                    "step_key": step.id,
                    "item_index": index,
                    "item": value,
                    "tags_key": placeholder.tags_key,
                    "state": StepState.PENDING.value,
                }
                for index, value in enumerate(values)
            ],
        )
        add_event(self.conn, "step", {"step": step.id, "items": len(values)}, run_id=self.run.id)
        return self.top_up(step) or StepState.RUNNING

    def top_up(self, step: JobStepDef) -> StepState | None:
        """Apply the rollout's plan; returns the step's state, or None when it has no items."""
        rows = run_store.current_step_runs(self.conn, self.run.id)
        items = _by_index(rows, step.id)
        if not items:
            return None
        checks = _by_index(rows, step.after_batch)
        states = {i: r.state for i, r in items.items()}
        check_states = {b: r.state for b, r in checks.items()}
        plan = plan_rollout(states, check_states, _rules(step))
        if plan.halted is not None:
            states.update(self._halt(step, items, plan))
        if plan.launch:
            ready = self._ids(items, plan.launch)
            run_store.set_step_runs(self.conn, ready, state=StepState.READY.value)
            states.update(dict.fromkeys(plan.launch, StepState.READY))
            self.advancer.db.notify_ready(self.conn, ready)
        if plan.check is not None:
            row = checks.get(plan.check)
            check_states[plan.check] = self._start_check(step, items, row, plan.check)
        return aggregate([*states.values(), *check_states.values()])

    @staticmethod
    def _ids(items: Mapping[int, StepRunRecord], indexes: Sequence[int]) -> list[int]:
        return [items[i].id for i in indexes]

    def _halt(
        self, step: JobStepDef, items: Mapping[int, StepRunRecord], plan: RolloutPlan
    ) -> dict[int, StepState]:
        """Stop launching: the items not started are cancelled, or wait for a person (pause)."""
        pending = [i for i, r in items.items() if r.state == StepState.PENDING]
        if not pending:
            return {}
        reason = self.describe(plan, items)
        if step.on_max_failures == "pause":
            run_store.set_step_runs(
                self.conn,
                self._ids(items, pending),
                state=StepState.WAITING.value,
                waiting_for=f"rollout paused: {reason}; {PAUSE_HINT}",
            )
            paused = {"step": step.id, "state": "waiting", "paused": True}
            add_event(self.conn, "step", paused, run_id=self.run.id)
            self._log(items[pending[0]], f"[conveyor] rollout paused: {reason}\n")
            return dict.fromkeys(pending, StepState.WAITING)
        run_store.set_step_runs(
            self.conn,
            self._ids(items, pending),
            state=StepState.CANCELLED.value,
            ended_at=db_now(),
            error=f"not started: {reason}",
        )
        return dict.fromkeys(pending, StepState.CANCELLED)

    @staticmethod
    def describe(plan: RolloutPlan, items: Mapping[int, StepRunRecord]) -> str:
        """The halt in words, naming the failed items by their values."""
        if not plan.failed:
            return plan.halted or ""
        named = ", ".join(_item_text(items[i]) for i in plan.failed[:10])
        more = f" and {len(plan.failed) - 10} more" if len(plan.failed) > 10 else ""
        return f"{plan.halted} (failed: {named}{more})"

    def _start_check(
        self,
        step: JobStepDef,
        items: Mapping[int, StepRunRecord],
        row: StepRunRecord | None,
        batch: int,
    ) -> StepState:
        """Run the after-batch check of `batch`: a manual check waits for a person, any other
        goes to the agents. A retried check already has its (pending) row."""
        check = self.job.steps[step.after_batch or ""]
        state = StepState.WAITING if check.manual is not None else StepState.READY
        extra: dict[str, Any] = {"started_at": db_now()} if check.manual is not None else {}
        if row is not None:
            run_store.set_step_runs(self.conn, [row.id], state=state.value, **extra)
        else:
            members = batches(list(items), step.batch_size)[batch]
            run_store.insert_step_runs(
                self.conn,
                [
                    {
                        "run_id": self.run.id,
                        "step_key": check.id,
                        "item_index": batch,
                        "item": [items[i].item for i in members],
                        "tags_key": tags_key(check.on),
                        "state": state.value,
                        **extra,
                    }
                ],
            )
        started = {"step": check.id, "state": state.value, "batch": batch}
        add_event(self.conn, "step", started, run_id=self.run.id)
        if state == StepState.READY:
            self.advancer.db.notify_ready(self.conn)
        return state

    def check_state(
        self, check_key: str, rows: Sequence[StepRunBrief], owner_state: StepState
    ) -> StepState:
        """A check step's state: its batch runs', or its rollout's while it has none (skipped
        with it; pending otherwise: it never runs on its own)."""
        runs = [r.state for r in rows if r.item_index is not None]
        if runs:
            return aggregate(runs)
        if owner_state == StepState.SKIPPED:
            pending = [r.id for r in rows if r.state == StepState.PENDING]
            if pending:
                self.advancer.set_steps(pending, self.run, check_key, StepState.SKIPPED)
            return StepState.SKIPPED
        return StepState.PENDING

    def _log(self, row: StepRunRecord, text: str) -> None:
        add_log(self.conn, step_run_id=row.id, run_id=self.run.id, text=text)


def _by_index(rows: Sequence[StepRunRecord], key: str | None) -> dict[int, StepRunRecord]:
    return {r.item_index: r for r in rows if r.step_key == key and r.item_index is not None}


def _rules(step: JobStepDef) -> RolloutRules:
    return RolloutRules(
        max_parallel=step.max_parallel,
        batch_size=step.batch_size,
        max_failures=step.max_failures,
        has_check=bool(step.after_batch),
    )


def _item_text(row: StepRunRecord) -> str:
    value = row.item
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def as_list(value: Any) -> list[Any]:
    """A foreach value as a list: lists as they are, text split on commas."""
    if isinstance(value, list):
        return value
    if value is None or value == "":
        return []
    return [part.strip() for part in str(value).split(",") if part.strip()]
