"""Apply Alembic migrations on start; cheap when the schema is already at head."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

from conveyor.errors import StoreError
from conveyor.store.db import Database, translate_errors

_MIGRATIONS = Path(__file__).with_name("migrations")
_PG_LOCK_KEY = 0x0C0E7E40
_REVISION = re.compile(r"^(down_revision|revision)\s*=\s*['\"]?([\w]+)['\"]?", re.MULTILINE)

if TYPE_CHECKING:
    from alembic.config import Config


def alembic_config(conn: Connection | None = None) -> Config:
    """An Alembic config pointing at our migrations, optionally bound to a connection."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    if conn is not None:
        cfg.attributes["connection"] = conn
    return cfg


@lru_cache(maxsize=1)
def head_revision() -> str:
    """The newest revision, read from the version files' headers: every command checks it at
    start, and importing Alembic for that would cost more than the rest of a CLI call."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (_MIGRATIONS / "versions").glob("*.py"):
        for key, value in _REVISION.findall(path.read_text(encoding="utf-8")):
            (revisions if key == "revision" else parents).add(value)
    heads = revisions - parents
    if len(heads) != 1:
        raise StoreError(f"the migrations must have one head, found {sorted(heads)}")
    return heads.pop()


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
                from alembic import command

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
