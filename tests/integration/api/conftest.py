"""An API client on the `rt` store (SQLite and PostgreSQL), with accounts of every role."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from api_client import JOB_YAML, PASSWORD, ROLES, Api, TestClient
from argon2 import PasswordHasher

from conveyor.actions import accounts
from conveyor.actions.access import SYSTEM
from conveyor.actions.definitions import apply
from conveyor.actions.runtime import Runtime
from conveyor.api import create_app
from conveyor.definitions.loader import load_text
from conveyor.security import passwords


@pytest.fixture(autouse=True)
def _fast_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    # Production argon2 parameters cost ~50 ms a hash; tests create many accounts.
    monkeypatch.setattr(
        passwords, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    )


@pytest.fixture
def api(rt: Runtime) -> Iterator[Api]:
    apply(rt, SYSTEM, load_text(JOB_YAML, "deploy.yaml"))
    tokens = {}
    accounts.add_user(rt, SYSTEM, "admin", PASSWORD, admin=True)
    tokens["admin"] = accounts.create_token(rt, SYSTEM, "admin", "t")[0]
    for name, grants in ROLES.items():
        accounts.add_user(rt, SYSTEM, name, PASSWORD, grants=grants)
        tokens[name] = accounts.create_token(rt, SYSTEM, name, "t")[0]
    app = create_app(rt)
    with TestClient(app) as client:
        yield Api(client=client, app=app, rt=rt, tokens=tokens)


@pytest.fixture
def table_counts(rt: Runtime) -> Callable[[], dict[str, int]]:
    """Row counts of the tables a refused action must leave alone."""
    from sqlalchemy import func, select

    from conveyor.store import tables

    def counts() -> dict[str, int]:
        names = ("job_run", "step_run", "audit_event", "approval", "event", "job_version")
        with rt.db.read() as conn:
            return {
                n: conn.execute(
                    select(func.count()).select_from(tables.metadata.tables[n])
                ).scalar_one()
                for n in names
            }

    return counts
