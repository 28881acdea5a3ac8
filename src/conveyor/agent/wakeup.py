"""Waking agents without polling: LISTEN/NOTIFY on PostgreSQL; in-process events on SQLite."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from conveyor.store.db import NOTIFY_CHANNEL, Database

log = logging.getLogger(__name__)


def start_listener(
    db: Database, wake: threading.Event, stopping: threading.Event
) -> threading.Thread | None:
    """On PostgreSQL, a thread that sets `wake` on every NOTIFY; None on SQLite."""
    if db.is_sqlite:
        return None
    url = db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    thread = threading.Thread(
        target=_listen, args=(url, wake, stopping), name="agent-listen", daemon=True
    )
    thread.start()
    return thread


def _listen(url: str, wake: threading.Event, stopping: threading.Event) -> None:
    import psycopg

    while not stopping.is_set():
        try:
            conn: Any = psycopg.connect(url, autocommit=True, connect_timeout=5)
            with conn:
                conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
                wake.set()  # anything made ready while we were not listening
                while not stopping.is_set():
                    for _ in conn.notifies(timeout=1.0):
                        wake.set()
        except psycopg.Error as exc:
            log.warning("listening for notifications failed, reconnecting: %s", exc)
            wake.set()
            time.sleep(1.0)
