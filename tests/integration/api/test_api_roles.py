"""Wrong role: 403 and the database unchanged; four-eyes holds through every credential."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from api_client import JOB_YAML, Api

Counts = Callable[[], dict[str, int]]


def _refused(api: Api, counts: Counts, user: str, method: str, path: str, **kw: object) -> None:
    before = counts()
    headers = {**dict(kw.pop("headers", {})), **api.as_(user)}  # type: ignore[call-overload]
    response = api.client.request(method, path, headers=headers, **kw)  # type: ignore[arg-type]
    assert response.status_code == 403, (user, method, path, response.text)
    assert set(response.json()) == {"error"}
    assert counts() == before


def test_viewer_may_look_but_not_submit(api: Api, table_counts: Counts) -> None:
    run_id = api.submit()
    assert api.client.get(f"/api/v1/runs/{run_id}", headers=api.as_("viewer")).status_code == 200
    body = {"job": "deploy", "params": {"service": "web"}}
    _refused(api, table_counts, "viewer", "POST", "/api/v1/runs", json=body)
    _refused(api, table_counts, "approver", "POST", "/api/v1/runs", json=body)


@pytest.mark.parametrize(
    ("user", "method", "path", "body"),
    [
        ("viewer", "POST", "/api/v1/runs/{run}/cancel", None),
        ("viewer", "POST", "/api/v1/runs/{run}/steps/approve/skip", None),
        ("viewer", "POST", "/api/v1/runs/{run}/steps/approve/approve", {}),
        ("operator", "POST", "/api/v1/runs/{run}/steps/approve/approve", {}),
        ("outsider", "GET", "/api/v1/runs/{run}", None),
        ("outsider", "GET", "/api/v1/runs/{run}/logs", None),
        ("outsider", "GET", "/api/v1/runs/{run}/events?follow=false", None),
        ("outsider", "POST", "/api/v1/runs/{run}/cancel", None),
        ("outsider", "GET", "/api/v1/jobs/deploy", None),
        ("operator", "GET", "/api/v1/audit", None),
        ("operator", "GET", "/api/v1/users", None),
        ("operator", "POST", "/api/v1/users", {"name": "eve", "admin": True}),
        ("operator", "POST", "/api/v1/users/operator/grants", {"category": "*", "role": "editor"}),
        ("operator", "POST", "/api/v1/users/viewer/password", {"password": "x" * 12}),
        ("operator", "POST", "/api/v1/tokens", {"user": "admin"}),
        ("operator", "GET", "/api/v1/tokens?user=admin", None),
    ],
)
def test_wrong_role_is_refused(
    api: Api, table_counts: Counts, user: str, method: str, path: str, body: object
) -> None:
    run_id = api.submit()
    kw = {"json": body} if body is not None else {}
    _refused(api, table_counts, user, method, path.format(run=run_id), **kw)


def test_only_editors_define_jobs(api: Api, table_counts: Counts) -> None:
    changed = JOB_YAML.replace("Approve, then build.", "Changed.")
    yaml = {"Content-Type": "application/yaml"}
    _refused(api, table_counts, "operator", "POST", "/api/v1/jobs", content=changed, headers=yaml)
    response = api.client.post(
        "/api/v1/jobs", content=changed, headers={**yaml, **api.as_("editor")}
    )
    assert response.status_code == 200, response.text
    assert response.json() == [{"kind": "job", "name": "deploy", "changed": True, "version": 2}]


def test_lists_show_only_visible_runs(api: Api) -> None:
    api.submit()
    assert len(api.client.get("/api/v1/runs", headers=api.as_("viewer")).json()) == 1
    assert api.client.get("/api/v1/runs", headers=api.as_("outsider")).json() == []
    assert api.client.get("/api/v1/jobs", headers=api.as_("outsider")).json() == []


def test_four_eyes_through_tokens_and_sessions(api: Api, table_counts: Counts) -> None:
    run_id = api.submit(user="opapprover")
    path = f"/api/v1/runs/{run_id}/steps/approve/approve"
    _refused(api, table_counts, "opapprover", "POST", path, json={})
    # A second token of the same person is the same person.
    second = api.client.post("/api/v1/tokens", json={"name": "2"}, headers=api.as_("opapprover"))
    api.tokens["opapprover-2"] = second.json()["token"]
    _refused(api, table_counts, "opapprover-2", "POST", path, json={})
    reject = f"/api/v1/runs/{run_id}/steps/approve/reject"
    _refused(api, table_counts, "opapprover", "POST", reject, json={"reason": "mine"})
    # And a signed-in browser session of that person too.
    from test_api_web import sign_in

    csrf = sign_in(api.client, "opapprover")
    before = table_counts()
    assert api.client.post(path, json={}, headers={"X-CSRF-Token": csrf}).status_code == 403
    assert table_counts() == before
    api.client.cookies.clear()
    response = api.client.post(path, json={"reason": "ok"}, headers=api.as_("approver"))
    assert response.status_code == 200, response.text
    assert response.json() == {"run": run_id, "state": "running"}
    audit = api.client.get("/api/v1/audit", headers=api.as_("admin")).json()
    assert audit[0]["action"] == "step.approve"
    assert audit[0]["actor"] == "approver"
    assert audit[0]["source"] == "testclient"
