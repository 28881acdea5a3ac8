"""Submitting a run: the front doors' entry point (permission, audit, one transaction)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from conveyor.actions.access import Actor, Role
from conveyor.actions.advance import Advancer
from conveyor.actions.launch import create_run
from conveyor.actions.runtime import Runtime
from conveyor.actions.versions import load_job
from conveyor.store import definitions as definition_store
from conveyor.store import runs as run_store
from conveyor.store.events import add_audit
from conveyor.store.records import RunRecord


def submit(
    rt: Runtime,
    actor: Actor,
    job_name: str,
    raw_params: Mapping[str, Any],
) -> RunRecord:
    """Check the params and create a run of the job's latest version, all in one transaction.
    A refused param raises ParamError and writes nothing."""
    with rt.db.write() as conn:
        job = definition_store.get_job(conn, job_name)
        actor.require(Role.OPERATOR, job.category, f"run jobs of {job.category!r}")
        version = definition_store.get_version(conn, job.id)
        loaded = load_job(conn, version.id)
        run_id = create_run(Advancer(rt, conn), loaded, job.id, raw_params, actor.name)
        add_audit(
            conn,
            actor=actor.name,
            action="run.submit",
            target=f"run/{run_id}",
            detail={"job": job_name, "version": version.version},
            source=actor.source,
        )
        return run_store.get_run(conn, run_id)
