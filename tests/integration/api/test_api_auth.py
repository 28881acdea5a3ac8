"""Who may call: every route refuses anonymous callers; tokens and sessions end at once."""

from __future__ import annotations

import re

import pytest
from api_client import Api

from conveyor.actions import accounts
from conveyor.actions.access import SYSTEM


def _api_routes(api: Api) -> list[tuple[str, str]]:
    """Every (method, path) of the OpenAPI document, plus the document itself."""
    found = [("GET", "/api/v1/openapi.json")]
    for template, operations in api.app.openapi()["paths"].items():
        path = re.sub(r"\{run_id\}|\{token_id\}", "1", template)
        path = re.sub(r"\{[a-z_]+\}", "x", path)
        found.extend((method.upper(), path) for method in operations)
    return found


def test_every_route_refuses_anonymous_callers(api: Api) -> None:
    routes = _api_routes(api)
    assert len(routes) > 25
    for method, path in routes:
        response = api.client.request(method, path, json={"job": "deploy"})
        if path == "/api/v1/health":
            assert response.status_code == 200
            continue
        assert response.status_code == 401, (method, path, response.text)
        assert set(response.json()) == {"error"}
        assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize(
    "header", ["Bearer", "Bearer cvt_not-a-token", "Basic YWRtaW46YWRtaW4=", "bearer  "]
)
def test_bad_credentials_are_refused(api: Api, header: str) -> None:
    response = api.client.get("/api/v1/jobs", headers={"Authorization": header})
    assert response.status_code == 401


def test_openapi_document_needs_credentials(api: Api) -> None:
    assert api.client.get("/api/v1/openapi.json").status_code == 401
    doc = api.client.get("/api/v1/openapi.json", headers=api.as_("viewer")).json()
    assert "/api/v1/runs/{run_id}/events" in doc["paths"]
    assert doc["components"]["securitySchemes"]


def test_revoked_token_is_refused_at_once(api: Api) -> None:
    created = api.client.post("/api/v1/tokens", json={"name": "ci"}, headers=api.as_("viewer"))
    assert created.status_code == 201
    token, token_id = created.json()["token"], created.json()["record"]["id"]
    headers = {"Authorization": f"Bearer {token}"}
    assert api.client.get("/api/v1/jobs", headers=headers).status_code == 200
    listed = api.client.get("/api/v1/tokens", headers=api.as_("viewer")).json()
    assert {t["name"] for t in listed} == {"t", "ci"}
    assert all("token" not in t and "hash" not in str(t) for t in listed)
    # Someone else cannot revoke it (and cannot learn it exists).
    other = api.client.post(f"/api/v1/tokens/{token_id}/revoke", headers=api.as_("operator"))
    assert other.status_code == 404
    revoked = api.client.post(f"/api/v1/tokens/{token_id}/revoke", headers=api.as_("viewer"))
    assert revoked.status_code == 200
    assert api.client.get("/api/v1/jobs", headers=headers).status_code == 401
    again = api.client.post(f"/api/v1/tokens/{token_id}/revoke", headers=api.as_("viewer"))
    assert again.status_code == 409


def test_disabled_account_loses_access_at_once(api: Api) -> None:
    assert api.client.get("/api/v1/jobs", headers=api.as_("viewer")).status_code == 200
    done = api.client.post("/api/v1/users/viewer/disable", headers=api.as_("admin"))
    assert done.status_code == 200
    assert api.client.get("/api/v1/jobs", headers=api.as_("viewer")).status_code == 401
    api.client.post("/api/v1/users/viewer/enable", headers=api.as_("admin"))
    assert api.client.get("/api/v1/jobs", headers=api.as_("viewer")).status_code == 200


def test_tokens_are_stored_hashed(api: Api) -> None:
    from sqlalchemy import select

    from conveyor.store.tables import api_token

    with api.rt.db.read() as conn:
        stored = set(conn.execute(select(api_token.c.token_hash)).scalars())
    assert not stored & set(api.tokens.values())
    assert all(len(h) == 64 for h in stored)


def test_first_admin_is_created_once(rt) -> None:  # type: ignore[no-untyped-def]
    password = accounts.ensure_first_admin(rt)
    assert password is not None
    assert accounts.ensure_first_admin(rt) is None
    actor = accounts.authenticate_password(rt, "admin", password)
    assert actor.is_admin
    assert [a.name for a in accounts.list_users(rt, SYSTEM)] == ["admin"]
