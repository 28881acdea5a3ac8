"""Stored definitions: jobs as immutable versions, reusable steps and lookups."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from conveyor.definitions.models import JobDef, LookupDef, StepDef
from conveyor.errors import NotFoundError
from conveyor.store.db import db_now
from conveyor.store.records import JobRecord, JobVersionRecord
from conveyor.store.tables import job, job_category, job_param, job_step, job_version, lookup, step


def dump_definition(definition: JobDef | StepDef | LookupDef) -> dict[str, Any]:
    """The canonical JSON form: defaults left out, so equal meaning gives equal digests."""
    return definition.model_dump(mode="json", by_alias=True, exclude_defaults=True)


def digest_of(data: dict[str, Any]) -> str:
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def category_id(conn: Connection, name: str) -> int:
    found = conn.execute(select(job_category.c.id).where(job_category.c.name == name)).scalar()
    if found is not None:
        return int(found)
    return int(
        conn.execute(
            insert(job_category).values(name=name).returning(job_category.c.id)
        ).scalar_one()
    )


def save_job(conn: Connection, definition: JobDef, source: str, actor: str) -> tuple[int, bool]:
    """Store a job as a new version unless it equals the latest; returns (version, created)."""
    data = dump_definition(definition)
    digest = digest_of(data)
    row = conn.execute(select(job).where(job.c.name == definition.name)).mappings().first()
    cat_id = category_id(conn, definition.category)
    if row is not None:
        latest = conn.execute(
            select(job_version.c.digest).where(
                job_version.c.job_id == row["id"], job_version.c.version == row["latest_version"]
            )
        ).scalar()
        if latest == digest and row["category_id"] == cat_id:
            return int(row["latest_version"]), False
        version = int(row["latest_version"]) + 1
        job_id = int(row["id"])
        conn.execute(
            update(job)
            .where(job.c.id == job_id)
            .values(latest_version=version, category_id=cat_id, updated_at=db_now())
        )
    else:
        version = 1
        job_id = conn.execute(
            insert(job)
            .values(
                name=definition.name,
                category_id=cat_id,
                latest_version=1,
                created_at=db_now(),
                updated_at=db_now(),
            )
            .returning(job.c.id)
        ).scalar_one()
    version_id = conn.execute(
        insert(job_version)
        .values(
            job_id=job_id,
            version=version,
            digest=digest,
            definition=data,
            source=source,
            created_at=db_now(),
            created_by=actor,
        )
        .returning(job_version.c.id)
    ).scalar_one()
    _save_parts(conn, version_id, definition)
    return version, True


def _save_parts(conn: Connection, version_id: int, definition: JobDef) -> None:
    conn.execute(
        insert(job_step),
        [
            {
                "job_version_id": version_id,
                "step_key": s.id,
                "position": i,
                "kind": s.kind,
                "uses": s.uses,
                "needs": list(s.needs),
            }
            for i, s in enumerate(definition.steps)
        ],
    )
    if definition.params:
        conn.execute(
            insert(job_param),
            [
                {
                    "job_version_id": version_id,
                    "name": p.name,
                    "position": i,
                    "type": p.type.value,
                    "definition": p.model_dump(mode="json", exclude_defaults=True),
                }
                for i, p in enumerate(definition.params)
            ],
        )


def _save_named(conn: Connection, table: Any, data: dict[str, Any], source: str) -> bool:
    digest = digest_of(data)
    row = conn.execute(select(table).where(table.c.name == data["name"])).mappings().first()
    values: dict[str, Any] = {
        "digest": digest,
        "definition": data,
        "source": source,
        "updated_at": db_now(),
    }
    if row is None:
        if table is step:
            values["version"] = 1
        conn.execute(insert(table).values(name=data["name"], **values))
        return True
    if row["digest"] == digest:
        return False
    if table is step:
        values["version"] = row["version"] + 1
    conn.execute(update(table).where(table.c.id == row["id"]).values(**values))
    return True


def save_step(conn: Connection, definition: StepDef, source: str) -> bool:
    """Store a reusable step; returns whether it changed (jobs keep the copy applied with them)."""
    return _save_named(conn, step, dump_definition(definition), source)


def save_lookup(conn: Connection, definition: LookupDef, source: str) -> bool:
    return _save_named(conn, lookup, dump_definition(definition), source)


def _job_select() -> Any:
    return select(
        job.c.id,
        job.c.name,
        job.c.latest_version,
        job_category.c.name.label("category"),
    ).join(job_category, job_category.c.id == job.c.category_id)


def get_job(conn: Connection, name: str) -> JobRecord:
    row = conn.execute(_job_select().where(job.c.name == name)).mappings().first()
    if row is None:
        raise NotFoundError(f"there is no job named {name!r}")
    return JobRecord.from_row(row)


def list_jobs(conn: Connection) -> list[JobRecord]:
    rows = conn.execute(_job_select().order_by(job_category.c.name, job.c.name)).mappings()
    return [JobRecord.from_row(r) for r in rows]


def get_version(conn: Connection, job_id: int, version: int | None = None) -> JobVersionRecord:
    """A job's version (the latest when `version` is None)."""
    query = (
        select(job_version, job.c.name.label("job_name"))
        .join(job, job.c.id == job_version.c.job_id)
        .where(job_version.c.job_id == job_id)
    )
    if version is None:
        query = query.where(job_version.c.version == job.c.latest_version)
    else:
        query = query.where(job_version.c.version == version)
    row = conn.execute(query).mappings().first()
    if row is None:
        raise NotFoundError(f"job version {version} does not exist")
    return _version_record(row)


def get_version_by_id(conn: Connection, version_id: int) -> JobVersionRecord:
    query = (
        select(job_version, job.c.name.label("job_name"))
        .join(job, job.c.id == job_version.c.job_id)
        .where(job_version.c.id == version_id)
    )
    row = conn.execute(query).mappings().first()
    if row is None:
        raise NotFoundError(f"job version #{version_id} does not exist")
    return _version_record(row)


def _version_record(row: Any) -> JobVersionRecord:
    return JobVersionRecord(
        id=row["id"],
        job_id=row["job_id"],
        job_name=row["job_name"],
        version=row["version"],
        definition=row["definition"],
        source=row["source"],
        created_at=row["created_at"],
        created_by=row["created_by"],
    )


def latest_definitions(conn: Connection) -> tuple[dict[str, JobDef], dict[str, StepDef], set[str]]:
    """Every job's latest definition, every reusable step, and lookup names (for validation)."""
    jobs_q = select(job.c.name, job_version.c.definition).join(
        job_version,
        (job_version.c.job_id == job.c.id) & (job_version.c.version == job.c.latest_version),
    )
    jobs = {name: JobDef.model_validate(data) for name, data in conn.execute(jobs_q)}
    steps = {
        name: StepDef.model_validate(data)
        for name, data in conn.execute(select(step.c.name, step.c.definition))
    }
    lookups = set(conn.execute(select(lookup.c.name)).scalars())
    return jobs, steps, lookups


def get_lookup(conn: Connection, name: str) -> LookupDef:
    data = conn.execute(select(lookup.c.definition).where(lookup.c.name == name)).scalar()
    if data is None:
        raise NotFoundError(f"there is no lookup named {name!r}")
    return LookupDef.model_validate(data)


def count_jobs(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(job)).scalar_one())
