"""Read-side views shared by the CLI, the API and the pages: runs, steps, logs, outputs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from conveyor.actions.access import Actor, Role
from conveyor.actions.advance import render_text
from conveyor.actions.runtime import Runtime
from conveyor.actions.versions import LoadedJob, load_job
from conveyor.engine.scope import Scope
from conveyor.engine.states import StepState
from conveyor.store import approvals as approval_store
from conveyor.store import definitions as definition_store
from conveyor.store import outputs as output_store
from conveyor.store import runs as run_store
from conveyor.store.agents import list_agents, live_tags
from conveyor.store.logs import log_tail, read_logs
from conveyor.store.records import LogChunk, RunRecord, StepRunRecord


@dataclass(frozen=True)
class StepView:
    id: int
    step: str
    item: Any
    item_index: int | None
    state: str
    attempt: int
    exit_code: int | None
    outputs: dict[str, str]
    agent: str | None
    started_at: float | None
    ended_at: float | None
    error: str | None
    waiting_for: str | None
    manual: dict[str, Any] | None = None
    child_run_id: int | None = None  # the run a sub-job step started


@dataclass(frozen=True)
class RunView:
    id: int
    job: str
    version: int
    category: str
    state: str
    params: dict[str, Any]
    submitter: str
    parent_step_run_id: int | None
    created_at: float
    started_at: float | None
    ended_at: float | None
    error: str | None
    steps: list[StepView] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The JSON shape shared by `status --json` and the API: times as ISO 8601 UTC."""
        data: dict[str, Any] = _with_iso_times(asdict(self))
        return data


def iso_time(value: float | None) -> str | None:
    if value is None:
        return None
    moment = datetime.fromtimestamp(value, tz=UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _with_iso_times(data: Any) -> Any:
    if isinstance(data, dict):
        return {
            k: iso_time(v)
            if k.endswith("_at") and isinstance(v, float | int)
            else _with_iso_times(v)
            for k, v in data.items()
        }
    if isinstance(data, list):
        return [_with_iso_times(v) for v in data]
    return data


def run_view(rt: Runtime, actor: Actor, run_id: int, *, history: bool = False) -> RunView:
    """A run with each step run (current attempts, or every attempt with `history`)."""
    with rt.db.read() as conn:
        run = run_store.get_run(conn, run_id)
        actor.require(Role.VIEWER, run.category, "see runs")
        job = load_job(conn, run.job_version_id)
        rows = (run_store.all_step_runs if history else run_store.current_step_runs)(conn, run_id)
        outputs = output_store.step_run_outputs(conn, [r.id for r in rows])
        agents = {a.id: a.name for a in list_agents(conn, include_stopped=True)}
        scope = _scope(conn, run, job)
        steps = [_step_view(conn, r, outputs.get(r.id, {}), agents, job, scope, run) for r in rows]
        steps = _with_routing(conn, rt, rows, steps)
    return RunView(
        id=run.id,
        job=run.job_name,
        version=run.version,
        category=run.category,
        state=run.state.value,
        params=dict(run.params),
        submitter=run.submitter,
        parent_step_run_id=run.parent_step_run_id,
        created_at=run.created_at,
        started_at=run.started_at,
        ended_at=run.ended_at,
        error=run.error,
        steps=steps,
    )


def _with_routing(
    conn: Any, rt: Runtime, rows: Sequence[StepRunRecord], steps: list[StepView]
) -> list[StepView]:
    """Add what the rows do not say: the child run of each sub-job step, and why a ready step
    waits when no live agent has its tags (instead of leaving it ready in silence)."""
    children = run_store.child_run_ids(conn, [r.id for r in rows])
    idle = [r for r in rows if r.state == StepState.READY and not r.waiting_for]
    live = live_tags(conn, rt.settings.lease_seconds) if idle else []
    stranded = {r.id: _no_agent(r.tags_key) for r in idle if not _takeable(r.tags_key, live)}
    return [
        replace(
            view,
            child_run_id=children.get(view.id),
            waiting_for=stranded.get(view.id, view.waiting_for),
        )
        for view in steps
    ]


def _takeable(key: str, live: Sequence[frozenset[str]]) -> bool:
    wanted = frozenset(key.split(",")) if key else frozenset()
    return any(wanted <= tags for tags in live)


def _no_agent(key: str) -> str:
    if not key:
        return "no live agent is running"
    return f"no live agent has tags {key.replace(',', ', ')}"


def _scope(conn: Any, run: RunRecord, job: LoadedJob) -> Scope:
    return Scope(
        params=run.params,
        outputs=output_store.run_outputs(conn, [run.id])[run.id],
        run_id=run.id,
        submitter=run.submitter,
        job_name=job.definition.name,
    )


def _step_view(
    conn: Any,
    row: StepRunRecord,
    outputs: dict[str, str],
    agents: dict[int, str],
    job: LoadedJob,
    scope: Scope,
    run: RunRecord,
) -> StepView:
    manual = None
    definition = job.steps[row.step_key].manual
    if definition is not None and row.state.value == "waiting":
        manual = _manual_context(conn, row, job, scope)
    return StepView(
        id=row.id,
        step=row.step_key,
        item=row.item,
        item_index=row.item_index,
        state=row.state.value,
        attempt=row.attempt,
        exit_code=row.exit_code,
        outputs=outputs,
        agent=agents.get(row.agent_id) if row.agent_id else None,
        started_at=row.started_at,
        ended_at=row.ended_at,
        error=row.error,
        waiting_for=row.waiting_for,
        manual=manual,
    )


def _manual_context(conn: Any, row: StepRunRecord, job: LoadedJob, scope: Scope) -> dict[str, Any]:
    """What an approver sees before deciding: the rendered instructions, the fields, who may
    approve, the approvals so far, and the outputs and log tails of the steps it follows."""
    step = job.steps[row.step_key]
    manual = step.manual
    assert manual is not None
    try:
        instructions = render_text(manual.instructions, scope)
    except LookupError:
        instructions = manual.instructions
    upstream = sorted(job.graph.upstream(row.step_key))
    current = {r.step_key: r for r in run_store.current_step_runs(conn, row.run_id)}
    return {
        "instructions": instructions,
        "fields": [f.model_dump(mode="json", exclude_defaults=True) for f in manual.fields],
        "approvers": manual.approvers.model_dump(mode="json") if manual.approvers else None,
        "approvals": [
            {"actor": a["actor"], "decision": a["decision"], "at": a["created_at"]}
            for a in approval_store.of_step_run(conn, row.id)
        ],
        "context": [
            {
                "step": key,
                "outputs": scope.outputs.get(key, {}),
                "log_tail": log_tail(conn, current[key].id) if key in current else "",
            }
            for key in upstream
        ],
    }


def list_runs(
    rt: Runtime,
    actor: Actor,
    *,
    job: str | None = None,
    states: Sequence[str] = (),
    limit: int = 50,
    before_id: int | None = None,
) -> list[RunRecord]:
    with rt.db.read() as conn:
        runs = run_store.list_runs(
            conn, job_name=job, states=states, limit=limit, before_id=before_id
        )
    return [r for r in runs if actor.has(Role.VIEWER, r.category)]


def logs(
    rt: Runtime,
    actor: Actor,
    run_id: int,
    *,
    step: str | None = None,
    after_id: int = 0,
    limit: int = 1000,
) -> list[LogChunk]:
    """Log chunks of a run (optionally of one step, every attempt) after a chunk id."""
    with rt.db.read() as conn:
        run = run_store.get_run(conn, run_id)
        actor.require(Role.VIEWER, run.category, "see logs")
        ids = None
        if step is not None:
            from conveyor.actions.reopen import step_rows

            step_rows(conn, run, step)
            ids = [r.id for r in run_store.all_step_runs(conn, run_id) if r.step_key == step]
        return read_logs(conn, run_id, step_run_ids=ids, after_id=after_id, limit=limit)


def step_names(rt: Runtime, run: RunRecord) -> dict[int, str]:
    with rt.db.read() as conn:
        return {r.id: r.step_key for r in run_store.all_step_runs(conn, run.id)}


def jobs(rt: Runtime, actor: Actor) -> list[Any]:
    with rt.db.read() as conn:
        found = definition_store.list_jobs(conn)
    return [j for j in found if actor.has(Role.VIEWER, j.category)]


def run_summary(run: RunRecord) -> dict[str, Any]:
    """The list form of a run (no steps), shared by `conveyor runs --json` and `GET /runs`."""
    return {
        "id": run.id,
        "job": run.job_name,
        "version": run.version,
        "category": run.category,
        "state": run.state.value,
        "params": dict(run.params),
        "submitter": run.submitter,
        "created_at": iso_time(run.created_at),
        "started_at": iso_time(run.started_at),
        "ended_at": iso_time(run.ended_at),
        "error": run.error,
    }
