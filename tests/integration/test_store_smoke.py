"""The store fixture gives a migrated database on both engines."""

from __future__ import annotations

from conveyor.actions.runtime import Runtime
from conveyor.store.definitions import count_jobs
from conveyor.store.migrate import current_revision, head_revision


def test_store_is_migrated_to_head(rt: Runtime) -> None:
    with rt.db.read() as conn:
        assert current_revision(conn) == head_revision()
        assert count_jobs(conn) == 0
