"""Lookups: values from SQL, a command or a static list; param values never become code."""

from __future__ import annotations

from pathlib import Path

from api_client import Api

from conveyor.actions import definitions
from conveyor.actions.access import SYSTEM
from conveyor.definitions.loader import load_text


def _define(api: Api, yaml: str) -> None:
    definitions.apply(api.rt, SYSTEM, load_text(yaml, "lookup.yaml"))


def test_static_and_sql_lookups(api: Api, tmp_path: Path) -> None:
    import sqlite3

    meta = tmp_path / "meta.db"
    with sqlite3.connect(meta) as conn:
        conn.execute("create table host (service text, name text)")
        conn.executemany(
            "insert into host values (?, ?)",
            [("web", "web-1"), ("web", "web-2"), ("db", "db-1"), ("x' or '1'='1", "leak")],
        )
    _define(
        api,
        "kind: lookup\nname: envs\nvalues: [staging, prod]\n---\n"
        "kind: lookup\nname: hosts\nparams: [{name: service, type: string, required: true}]\n"
        f"sql: {{url: 'sqlite:///{meta}', query: \"select name from host where service = "
        "{service} and name != 'a:b' order by name\"}\n",
    )
    envs = api.client.get("/api/v1/lookups/envs", headers=api.as_("viewer"))
    assert envs.json() == {"name": "envs", "values": ["staging", "prod"]}
    hosts = api.client.get("/api/v1/lookups/hosts?service=web", headers=api.as_("viewer"))
    assert hosts.json()["values"] == ["web-1", "web-2"]
    injected = api.client.get(
        "/api/v1/lookups/hosts", params={"service": "x' or '1'='1"}, headers=api.as_("viewer")
    )
    assert injected.json()["values"] == ["leak"]  # matched literally, as a bound value
    missing = api.client.get("/api/v1/lookups/hosts", headers=api.as_("viewer"))
    assert missing.status_code == 422
    unknown = api.client.get("/api/v1/lookups/nope", headers=api.as_("viewer"))
    assert unknown.status_code == 404


def test_command_lookup_quotes_values(api: Api, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    _define(
        api,
        "kind: lookup\nname: echo\ncache_seconds: 0\n"
        "params: [{name: word, type: string}]\ncommand: printf '%s\\n' a {word}\n",
    )
    plain = api.client.get("/api/v1/lookups/echo?word=b", headers=api.as_("viewer"))
    assert plain.json()["values"] == ["a", "b"]
    evil = f"$(touch {marker}); touch {marker}"
    response = api.client.get(
        "/api/v1/lookups/echo", params={"word": evil}, headers=api.as_("viewer")
    )
    assert response.json()["values"] == ["a", evil]
    assert not marker.exists()
