"""Job versions are immutable, so their parsed form and graph are cached per process."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from threading import Lock

from sqlalchemy import Connection

from conveyor.definitions.models import JobDef, JobStepDef
from conveyor.engine.graph import Graph
from conveyor.store.db import Database
from conveyor.store.definitions import get_version_by_id


@dataclass(frozen=True)
class LoadedJob:
    version_id: int
    version: int
    definition: JobDef

    @cached_property
    def graph(self) -> Graph:
        return Graph.build((s.id, s.needs) for s in self.definition.steps)

    @cached_property
    def steps(self) -> dict[str, JobStepDef]:
        return {s.id: s for s in self.definition.steps}

    @cached_property
    def secret_names(self) -> frozenset[str]:
        return frozenset(p.name for p in self.definition.params if p.type == "secret")


_cache: dict[tuple[str, int], LoadedJob] = {}
_lock = Lock()


def cached_job(db: Database, version_id: int) -> LoadedJob:
    """`load_job` without a transaction when the version was read before (an agent's steps)."""
    found = _cache.get((str(db.engine.url), version_id))
    if found is not None:
        return found
    with db.read() as conn:
        return load_job(conn, version_id)


def load_job(conn: Connection, version_id: int) -> LoadedJob:
    """The parsed definition of a job version, from the cache when it was read before."""
    # Keyed by database too: ids repeat across stores used by one process (tests, benchmarks).
    key = (str(conn.engine.url), version_id)
    found = _cache.get(key)
    if found is not None:
        return found
    record = get_version_by_id(conn, version_id)
    loaded = LoadedJob(
        version_id=record.id,
        version=record.version,
        definition=JobDef.model_validate(record.definition),
    )
    with _lock:
        _cache[key] = loaded
    return loaded
