"""Fixtures shared by every test layer: a migrated store on SQLite and on PostgreSQL."""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from conveyor.actions.runtime import Runtime
from conveyor.config import Settings
from conveyor.store.db import Database
from conveyor.store.migrate import upgrade

PG_ADMIN_URL = os.environ.get("CONVEYOR_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
TEST_SECRET_KEY = "test-secret-key-not-for-production"
_counter = itertools.count()


def _pg_url(dbname: str) -> str:
    base, _, _ = PG_ADMIN_URL.rpartition("/")
    return f"{base}/{dbname}"


def _pg_admin(sql: str) -> None:
    with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5) as conn:
        conn.execute(sql)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    """A migrated template database, cloned per test (claim tests need real commits seen
    across connections, so a rolled-back transaction per test would not do)."""
    try:
        psycopg.connect(PG_ADMIN_URL, connect_timeout=5).close()
    except psycopg.OperationalError as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL is required in CI and is not reachable: {exc}")
        pytest.skip(f"PostgreSQL is not reachable: {exc}")
    name = f"conveyor_tpl_{os.getpid()}"
    _pg_admin(f"DROP DATABASE IF EXISTS {name}")
    _pg_admin(f"CREATE DATABASE {name}")
    db = Database(_pg_url(name))
    upgrade(db)
    db.dispose()
    yield name
    _pg_admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, migrated store URL: a SQLite file, or a clone of the PostgreSQL template."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'conveyor.db'}"
        db = Database(url)
        upgrade(db)
        db.dispose()
        yield url
        return
    template = request.getfixturevalue("pg_template")
    name = f"conveyor_t_{os.getpid()}_{next(_counter)}"
    _pg_admin(f"CREATE DATABASE {name} TEMPLATE {template}")
    yield _pg_url(name)
    _pg_admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return Settings(
        db_url=db_url,
        user="tester",
        secret_key=TEST_SECRET_KEY,
        key_file=tmp_path / "secret.key",
        lease_seconds=30.0,
        heartbeat_seconds=0.5,
        poll_seconds=0.2,
    )


@pytest.fixture
def make_runtime(settings: Settings) -> Iterator[Callable[..., Runtime]]:
    """Runtimes on the test's store; `make_runtime(lease_seconds=2)` overrides settings."""
    opened: list[Runtime] = []

    def make(**overrides: Any) -> Runtime:
        rt = Runtime.open(settings.with_overrides(**overrides))
        opened.append(rt)
        return rt

    yield make
    for rt in opened:
        rt.close()


@pytest.fixture
def rt(make_runtime: Callable[..., Runtime]) -> Runtime:
    return make_runtime()
