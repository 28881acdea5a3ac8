"""Migrations: head matches the models, and downgrade/upgrade round-trips, on both engines."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from conveyor.store.db import Database
from conveyor.store.migrate import alembic_config, current_revision, head_revision, upgrade
from conveyor.store.tables import metadata


def test_the_cheap_head_lookup_agrees_with_alembic() -> None:
    assert head_revision() == ScriptDirectory.from_config(alembic_config()).get_current_head()


def test_head_matches_the_models(db_url: str) -> None:
    db = Database(db_url)
    try:
        with db.engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(context, metadata) == []
    finally:
        db.dispose()


def test_downgrade_to_base_and_upgrade_again(db_url: str) -> None:
    db = Database(db_url)
    try:
        with db.engine.connect() as conn:
            command.downgrade(alembic_config(conn), "base")
            conn.commit()
            assert current_revision(conn) is None
        upgrade(db)
        with db.engine.connect() as conn:
            assert current_revision(conn) == head_revision()
    finally:
        db.dispose()
