"""Read-side views for the server: a job with its versions, agents, locks, audit, masked logs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from conveyor.actions.access import Actor, Role
from conveyor.actions.live import masker_of
from conveyor.actions.queries import logs as query_logs
from conveyor.actions.runtime import Runtime
from conveyor.definitions.models import JobDef
from conveyor.security.masking import MASK
from conveyor.store import catalog
from conveyor.store import definitions as definition_store
from conveyor.store import runs as run_store
from conveyor.store.agents import list_agents
from conveyor.store.catalog import VersionSummary
from conveyor.store.events import list_audit
from conveyor.store.locks import holders
from conveyor.store.records import AgentRecord, LogChunk


@dataclass(frozen=True)
class JobDetail:
    name: str
    category: str
    description: str | None
    latest_version: int
    versions: list[VersionSummary]
    params: list[dict[str, Any]]
    steps: list[dict[str, Any]]


def job_detail(rt: Runtime, actor: Actor, name: str) -> JobDetail:
    """A job's latest definition (params, steps) and the list of its versions."""
    with rt.db.read() as conn:
        job = definition_store.get_job(conn, name)
        actor.require(Role.VIEWER, job.category, "see jobs")
        version = definition_store.get_version(conn, job.id)
        versions = catalog.list_versions(conn, job.id)
    definition = JobDef.model_validate(version.definition)
    params = []
    for param in definition.params:
        shown = param.model_dump(mode="json", exclude_none=True)
        # A secret's default is a secret too.
        if param.type == "secret" and param.default is not None:
            shown["default"] = MASK
        params.append(shown)
    steps = [
        {"id": s.id, "name": s.name, "needs": list(s.needs), "manual": s.manual is not None}
        for s in definition.steps
    ]
    return JobDetail(
        name=job.name,
        category=job.category,
        description=definition.description,
        latest_version=job.latest_version,
        versions=versions,
        params=params,
        steps=steps,
    )


def masked_logs(
    rt: Runtime,
    actor: Actor,
    run_id: int,
    *,
    step: str | None = None,
    after_id: int = 0,
    limit: int = 1000,
) -> tuple[list[LogChunk], dict[int, str]]:
    """Log chunks of a run with its secrets masked, and the step of each step run id."""
    chunks = query_logs(rt, actor, run_id, step=step, after_id=after_id, limit=limit)
    with rt.db.read() as conn:
        run = run_store.get_run(conn, run_id)
        steps = {r.id: r.step_key for r in run_store.all_step_runs(conn, run_id)}
    masker = masker_of(rt, run.secret_params)
    if masker:
        chunks = [
            LogChunk(c.id, c.step_run_id, c.run_id, c.created_at, masker.mask(c.text))
            for c in chunks
        ]
    return chunks, steps


def _require_some_role(actor: Actor, what: str) -> None:
    if not actor.is_admin and not actor.grants:
        actor.require_admin(what)


def agents(rt: Runtime, actor: Actor) -> list[AgentRecord]:
    """Agents that have not stopped (anyone with a role may look)."""
    _require_some_role(actor, "see agents")
    with rt.db.read() as conn:
        return list_agents(conn)


def locks(rt: Runtime, actor: Actor) -> list[dict[str, Any]]:
    """Locks held now, by whom (anyone with a role may look)."""
    _require_some_role(actor, "see locks")
    with rt.db.read() as conn:
        return holders(conn)


def audit(
    rt: Runtime, actor: Actor, *, limit: int = 100, before_id: int | None = None
) -> list[dict[str, Any]]:
    """The audit trail, newest first (admins only); it is never edited."""
    actor.require_admin("read the audit trail")
    with rt.db.read() as conn:
        return list_audit(conn, limit=limit, before_id=before_id)
