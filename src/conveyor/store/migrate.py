"""Apply Alembic migrations on start; cheap when the schema is already at head."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

from conveyor.store.db import Database, translate_errors

_MIGRATIONS = Path(__file__).with_name("migrations")
_PG_LOCK_KEY = 0x0C0E7E40


def alembic_config(conn: Connection | None = None) -> Config:
    """An Alembic config pointing at our migrations, optionally bound to a connection."""
    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    if conn is not None:
        cfg.attributes["connection"] = conn
    return cfg


@lru_cache(maxsize=1)
def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(conn: Connection) -> str | None:
    try:
        with conn.begin_nested():
            row = conn.execute(text("SELECT version_num FROM alembic_version")).first()
    except DBAPIError:
        return None
    return row[0] if row else None


def upgrade(db: Database) -> None:
    """Bring the schema to head. Several processes may start at once: PostgreSQL serialises
    them with an advisory lock; SQLite with its write lock."""
    head = head_revision()
    with translate_errors(), db.engine.connect() as conn:
        if _at_head(conn, head):
            return
        if not db.is_sqlite:
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _PG_LOCK_KEY})
            conn.commit()
        try:
            if not _at_head(conn, head):
                command.upgrade(alembic_config(conn), "head")
                conn.commit()
        finally:
            if not db.is_sqlite:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _PG_LOCK_KEY})
                conn.commit()


def _at_head(conn: Connection, head: str | None) -> bool:
    found = current_revision(conn)
    conn.commit()
    return found == head
