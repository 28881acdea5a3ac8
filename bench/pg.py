"""PostgreSQL helpers: reachability and scratch databases/tables with unique names.

Other sessions and the test suite share this server, so everything the bench creates carries a
random suffix and is dropped on the way out, even when the workload fails.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict


def unique_name(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


def reachable(url: str, timeout_s: int = 3) -> str | None:
    """None when PostgreSQL answers at `url`, else the reason in one sentence."""
    try:
        with psycopg.connect(url, connect_timeout=timeout_s) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        return f"PostgreSQL at {url} is not reachable: {str(exc).strip().splitlines()[0]}"
    return None


def server_version(url: str) -> str:
    with psycopg.connect(url) as conn:
        row = conn.execute("SHOW server_version").fetchone()
    return str(row[0]) if row else "unknown"


@contextmanager
def scratch_database(admin_url: str, prefix: str = "bench") -> Iterator[str]:
    """Create a database with a unique name, yield its URL, drop it afterwards.

    For Conveyor workloads that need a whole store of their own (W4, W5 on PostgreSQL).
    """
    name = unique_name(prefix)
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    params = conninfo_to_dict(admin_url)
    params["dbname"] = name
    url = "postgresql://" + _url_authority(params) + "/" + name
    try:
        yield url
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            # FORCE ends connections a failed workload left behind (PostgreSQL 13+).
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def _url_authority(params: Mapping[str, object]) -> str:
    user = str(params.get("user", "postgres"))
    password = params.get("password")
    host = str(params.get("host", "127.0.0.1"))
    port = str(params.get("port", "5432"))
    cred = f"{user}:{password}" if password else user
    return f"{cred}@{host}:{port}"
