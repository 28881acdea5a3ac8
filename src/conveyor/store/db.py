"""Connections, transactions and the database clock, for SQLite and PostgreSQL alike."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.exc import DBAPIError, OperationalError, SQLAlchemyError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.pool import NullPool
from sqlalchemy.sql.expression import FunctionElement
from sqlalchemy.types import Float

from conveyor.errors import ConveyorError, StoreError

NOTIFY_CHANNEL = "conveyor_ready"


class db_now(FunctionElement[float]):
    """The database clock in epoch seconds: leases are judged by it, never by a worker's clock."""

    type = Float()
    inherit_cache = True


@compiles(db_now, "sqlite")
def _sqlite_now(element: db_now, compiler: Any, **kw: Any) -> str:
    return "((julianday('now') - 2440587.5) * 86400.0)"


@compiles(db_now, "postgresql")
def _pg_now(element: db_now, compiler: Any, **kw: Any) -> str:
    return "extract(epoch from clock_timestamp())::float8"


def normalize_url(url: str) -> str:
    """Accept plain `postgresql://` URLs and use psycopg 3 for them."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Autocommit at the driver level so that we, not pysqlite, decide how a transaction begins.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA busy_timeout = 60000")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # Writers queue on BEGIN IMMEDIATE (under busy_timeout) instead of failing at commit.
        if conn.get_execution_options().get("conveyor_read"):
            conn.exec_driver_sql("BEGIN")
        else:
            conn.exec_driver_sql("BEGIN IMMEDIATE")


class Database:
    """One store: an engine, transactions, and wake-ups for agents waiting on ready steps."""

    def __init__(self, url: str, *, pool: bool = True) -> None:
        self.url = normalize_url(url)
        self.is_sqlite = self.url.startswith("sqlite")
        kwargs: dict[str, Any] = {}
        if not pool:
            kwargs["poolclass"] = NullPool
        elif not self.is_sqlite:
            kwargs.update(pool_pre_ping=True, pool_size=10, max_overflow=20)
        try:
            self.engine = create_engine(self.url, **kwargs)
        except (SQLAlchemyError, ValueError, ImportError) as exc:
            raise StoreError(f"the database URL {url!r} is not usable: {exc}") from exc
        if self.is_sqlite:
            _configure_sqlite(self.engine)
        self._read_engine = self.engine.execution_options(conveyor_read=True)
        self._local_wakeups: list[threading.Event] = []
        self._after_commit: threading.local = threading.local()

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A read-write transaction; committed on success, rolled back on error."""
        with translate_errors(), self.engine.begin() as conn:
            self._after_commit.notify = False
            yield conn
        if getattr(self._after_commit, "notify", False):
            self._after_commit.notify = False
            self.wake_local()

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only transaction (on SQLite it does not take the write lock)."""
        with translate_errors(), self._read_engine.begin() as conn:
            yield conn

    def notify_ready(self, conn: Connection) -> None:
        """Wake agents once this transaction commits: NOTIFY on PostgreSQL, an event here."""
        if not self.is_sqlite:
            conn.exec_driver_sql(f"NOTIFY {NOTIFY_CHANNEL}")
        self._after_commit.notify = True

    def add_local_waiter(self, waiter: threading.Event) -> Callable[[], None]:
        """Register an in-process event set whenever steps become ready; returns its remover."""
        self._local_wakeups.append(waiter)
        return lambda: self._local_wakeups.remove(waiter)

    def wake_local(self) -> None:
        for waiter in list(self._local_wakeups):
            waiter.set()

    def dispose(self) -> None:
        self.engine.dispose()


@contextmanager
def translate_errors() -> Iterator[None]:
    """Turn driver errors into StoreError at the store's boundary."""
    try:
        yield
    except ConveyorError:
        raise
    except OperationalError as exc:
        raise StoreError(
            f"the database could not be reached or refused: {_first_line(exc)}"
        ) from exc
    except DBAPIError as exc:
        raise StoreError(f"the database refused a statement: {_first_line(exc)}") from exc


def _first_line(exc: DBAPIError) -> str:
    return str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
