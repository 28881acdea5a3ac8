"""Read queries for the server's views: job versions, and the runs events belong to."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, select

from conveyor.store.tables import job, job_category, job_run, job_version


@dataclass(frozen=True)
class VersionSummary:
    version: int
    digest: str
    created_at: float
    created_by: str


def list_versions(conn: Connection, job_id: int) -> list[VersionSummary]:
    """Every version of a job, newest first."""
    query = (
        select(
            job_version.c.version,
            job_version.c.digest,
            job_version.c.created_at,
            job_version.c.created_by,
        )
        .where(job_version.c.job_id == job_id)
        .order_by(job_version.c.version.desc())
    )
    return [VersionSummary(*row) for row in conn.execute(query)]


@dataclass(frozen=True)
class RunOwner:
    """What a stream needs to know of a run: who may see it and its secrets' ciphertext."""

    run_id: int
    category: str
    state: str
    secret_params: str | None


def run_owners(conn: Connection, run_ids: Sequence[int]) -> dict[int, RunOwner]:
    """Category, state and sealed secrets of each of the runs (absent ids are left out)."""
    if not run_ids:
        return {}
    query = (
        select(job_run.c.id, job_category.c.name, job_run.c.state, job_run.c.secret_params)
        .join(job, job.c.id == job_run.c.job_id)
        .join(job_category, job_category.c.id == job.c.category_id)
        .where(job_run.c.id.in_(sorted(set(run_ids))))
    )
    return {row[0]: RunOwner(*row) for row in conn.execute(query)}
