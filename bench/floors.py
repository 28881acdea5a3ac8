"""Floors: the cost of the primitives every engine pays, measured in the same run as the workloads.

A workload figure means little on its own; next to the floor it shows how much of it is the
engine's own overhead (for example W1's per-step overhead is wall/40 minus the process start).
"""

from __future__ import annotations

import sqlite3
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from bench.common import median, median_ms
from bench.pg import unique_name


@dataclass(frozen=True)
class Floor:
    key: str
    label: str
    value_ms: float | None
    samples: int
    note: str = ""


def process_start(n: int) -> Floor:
    # `true` does nothing, so this is fork+exec+wait as seen from Python: the least any step costs.
    value, _ = median_ms(lambda: subprocess.run(["true"], check=True), n)
    return Floor("process_start_ms", "process start (subprocess.run true)", value, n)


def sqlite_commit(n: int, synchronous: str = "NORMAL") -> Floor:
    with tempfile.TemporaryDirectory(prefix="bench-sqlite-") as tmp:
        conn = sqlite3.connect(Path(tmp) / "floor.db", isolation_level=None)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(f"PRAGMA synchronous={synchronous}")
            conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")

            def insert_commit() -> None:
                conn.execute("BEGIN")
                conn.execute("INSERT INTO t (v) VALUES ('x')")
                conn.execute("COMMIT")

            value, _ = median_ms(insert_commit, n, warmup=5)
        finally:
            conn.close()
    return Floor(
        f"sqlite_commit_{synchronous.lower()}_ms",
        f"SQLite 1-row insert+commit (WAL, synchronous={synchronous})",
        value,
        n,
    )


def pg_floors(url: str, n: int) -> list[Floor]:
    """PostgreSQL commit, SKIP LOCKED claim and LISTEN/NOTIFY, on a scratch table of our own."""
    table = unique_name("bench_floor")
    channel = unique_name("bench_ch")
    ident = sql.Identifier(table)
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(
            sql.SQL("CREATE TABLE {} (id bigserial PRIMARY KEY, state text NOT NULL)").format(ident)
        )
        try:
            return [
                _pg_commit(url, ident, n),
                _pg_claim(url, ident, n),
                _pg_notify(url, channel, n),
            ]
        finally:
            admin.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(ident))


def _pg_commit(url: str, ident: sql.Identifier, n: int) -> Floor:
    with psycopg.connect(url) as conn:
        stmt = sql.SQL("INSERT INTO {} (state) VALUES ('done')").format(ident)

        def insert_commit() -> None:
            conn.execute(stmt)
            conn.commit()

        value, _ = median_ms(insert_commit, n, warmup=5)
    return Floor("pg_commit_ms", "PostgreSQL 1-row insert+commit", value, n)


def _pg_claim(url: str, ident: sql.Identifier, n: int) -> Floor:
    # The queue claim every agent-pulls-work design does: pick one ready row nobody holds,
    # mark it taken, commit. Rows are pre-filled so each timed claim finds work.
    with psycopg.connect(url) as conn:
        conn.execute(
            sql.SQL("INSERT INTO {} (state) SELECT 'ready' FROM generate_series(1, %s)").format(
                ident
            ),
            (n + 10,),
        )
        conn.commit()
        claim = sql.SQL(
            "UPDATE {t} SET state = 'running' WHERE id = ("
            " SELECT id FROM {t} WHERE state = 'ready' ORDER BY id"
            " LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING id"
        ).format(t=ident)

        def claim_one() -> None:
            if conn.execute(claim).fetchone() is None:
                raise RuntimeError("claim floor ran out of ready rows")
            conn.commit()

        value, _ = median_ms(claim_one, n, warmup=5)
    return Floor("pg_claim_ms", "PostgreSQL FOR UPDATE SKIP LOCKED claim+commit", value, n)


def _pg_notify(url: str, channel: str, n: int) -> Floor:
    # One connection sends NOTIFY (autocommit: delivered at commit), the other is LISTENing;
    # timed from the send to the listener holding the notification.
    with (
        psycopg.connect(url, autocommit=True) as listener,
        psycopg.connect(url, autocommit=True) as sender,
    ):
        listener.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
        notify = sql.SQL("NOTIFY {}").format(sql.Identifier(channel))
        samples: list[float] = []
        for i in range(n + 3):
            start = time.perf_counter_ns()
            sender.execute(notify)
            got = list(listener.notifies(timeout=5.0, stop_after=1))
            elapsed = (time.perf_counter_ns() - start) / 1e6
            if not got:
                raise RuntimeError("LISTEN/NOTIFY floor: notification not received within 5 s")
            if i >= 3:  # the first few warm up both connections
                samples.append(elapsed)
    return Floor("pg_notify_ms", "PostgreSQL NOTIFY -> LISTENer round trip", median(samples), n)


def measure_all(pg_url: str | None, quick: bool, pg_problem: str | None) -> list[Floor]:
    n = 50 if quick else 300
    floors = [
        process_start(n),
        sqlite_commit(n, "NORMAL"),
        sqlite_commit(n, "FULL"),
    ]
    if pg_url is not None and pg_problem is None:
        floors.extend(pg_floors(pg_url, n))
    else:
        reason = pg_problem or "no PostgreSQL URL"
        for key, label in (
            ("pg_commit_ms", "PostgreSQL 1-row insert+commit"),
            ("pg_claim_ms", "PostgreSQL FOR UPDATE SKIP LOCKED claim+commit"),
            ("pg_notify_ms", "PostgreSQL NOTIFY -> LISTENer round trip"),
        ):
            floors.append(Floor(key, label, None, 0, reason))
    return floors
