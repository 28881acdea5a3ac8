"""Connections, transactions and the database clock, for SQLite and PostgreSQL alike."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.exc import DBAPIError, DisconnectionError, OperationalError, SQLAlchemyError
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
            # No pool_pre_ping (a round trip per transaction): connections idle for a while are
            # pinged at checkout (`_ping_idle`); a disconnect met mid-use invalidates the pool
            # and surfaces as StoreError, which every caller of the agent retries.
            kwargs.update(pool_size=10, max_overflow=20)
        try:
            self.engine = create_engine(self.url, **kwargs)
        except (SQLAlchemyError, ValueError, ImportError) as exc:
            raise StoreError(f"the database URL {url!r} is not usable: {exc}") from exc
        if self.is_sqlite:
            _configure_sqlite(self.engine)
        elif pool:
            _ping_idle(self.engine)
        self._read_engine = self.engine.execution_options(conveyor_read=True)
        self._local_wakeups: list[threading.Event] = []
        self._tx = _Pending()

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A read-write transaction; committed on success, rolled back on error. The NOTIFY of
        steps made ready is sent last, just before the commit, unless the transaction's own
        claim took every one of them (`claimed_ready`)."""
        pending = self._tx
        with translate_errors(), self.engine.begin() as conn:
            pending.notify, pending.ready = False, set()
            tx: dict[str, Any] = {"before_commit": []}
            conn.info[_TX] = tx
            try:
                yield conn
                for hook in tx["before_commit"]:
                    hook()
                if pending.notify and not self.is_sqlite:
                    conn.exec_driver_sql(f"NOTIFY {NOTIFY_CHANNEL}")
            finally:
                conn.info.pop(_TX, None)
        if pending.notify:
            pending.notify = False
            self.wake_local()

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only transaction (on SQLite it does not take the write lock)."""
        with translate_errors(), self._read_engine.begin() as conn:
            yield conn

    def notify_ready(self, conn: Connection, ids: Iterable[int] | None = None) -> None:
        """Wake agents once this transaction commits: NOTIFY on PostgreSQL, an event here.
        `ids` are the step runs made ready, when known (None: unknown, always wake)."""
        pending = self._tx
        pending.notify = True
        if ids is None:
            pending.ready = None
        elif pending.ready is not None:
            pending.ready.update(ids)

    def claimed_ready(self, conn: Connection, ids: Iterable[int]) -> None:
        """This transaction's own claim took these step runs: if they are all it made ready,
        no other agent needs waking for them."""
        pending = self._tx
        if pending.notify and pending.ready is not None and pending.ready <= set(ids):
            pending.notify = False

    @property
    def wakes_locally(self) -> bool:
        """True when in-process events are how agents here learn of ready steps (SQLite); on
        PostgreSQL they LISTEN, and a local event as well would wake them twice."""
        return self.is_sqlite

    def add_local_waiter(self, waiter: threading.Event) -> Callable[[], None]:
        """Register an in-process event set whenever steps become ready; returns its remover."""
        self._local_wakeups.append(waiter)
        return lambda: self._local_wakeups.remove(waiter)

    def wake_local(self) -> None:
        for waiter in list(self._local_wakeups):
            waiter.set()

    def dispose(self) -> None:
        self.engine.dispose()


_TX = "conveyor_tx"


def tx_state(conn: Connection) -> dict[str, Any] | None:
    """Scratch space of the `Database.write` transaction in progress on `conn` (None outside
    one): what the store keeps until commit, such as buffered events."""
    found: dict[str, Any] | None = conn.info.get(_TX)
    return found


def before_commit(conn: Connection, hook: Callable[[], None]) -> None:
    """Run `hook` at the end of this `Database.write` transaction, just before it commits."""
    state = tx_state(conn)
    if state is None:
        hook()
    else:
        state["before_commit"].append(hook)


class _Pending(threading.local):
    """Per thread, the wake-up owed by the write transaction in progress."""

    notify: bool = False
    ready: set[int] | None = None


IDLE_PING_SECONDS = 2.0


def _ping_idle(engine: Engine) -> None:
    """Ping a pooled connection at checkout only when it sat idle for a while: a busy agent
    reuses its connections within milliseconds and should not pay a round trip each time,
    while one left idle across a server restart is found dead before it is handed out."""

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_conn: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("idle_since")
        if since is None or time.monotonic() - since < IDLE_PING_SECONDS:
            return
        try:
            cursor = dbapi_conn.cursor()
            try:
                cursor.execute("SELECT 1")
            finally:
                cursor.close()
            dbapi_conn.rollback()
        except Exception as exc:  # the pool retries with a fresh connection
            raise DisconnectionError(f"a pooled connection is dead: {exc}") from exc


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
