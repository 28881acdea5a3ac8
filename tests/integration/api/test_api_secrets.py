"""No plaintext secret in any answer, stream, page, audit record or at rest."""

from __future__ import annotations

from api_client import SECRET, Api
from sqlalchemy import select

from conveyor.store import runs as run_store
from conveyor.store.logs import add_log
from conveyor.store.tables import audit_event, event, job_run


def test_secret_never_leaves_the_server(api: Api) -> None:
    run_id = api.submit(user="opapprover")
    with api.rt.db.write() as conn:
        step = run_store.current_step_runs(conn, run_id)[0]
        # An agent that failed to mask: the API is the second wall.
        add_log(conn, step_run_id=step.id, run_id=run_id, text=f"token is {SECRET}\n")
    api.client.post(
        f"/api/v1/runs/{run_id}/steps/approve/approve",
        json={"reason": "fine"},
        headers=api.as_("approver"),
    )
    answers = []
    for path in (
        "/api/v1/runs",
        f"/api/v1/runs/{run_id}",
        f"/api/v1/runs/{run_id}?history=true",
        f"/api/v1/runs/{run_id}/logs",
        f"/api/v1/runs/{run_id}/events?follow=false",
        "/api/v1/events?follow=false",
        "/api/v1/audit",
        "/api/v1/jobs/deploy",
    ):
        response = api.client.get(path, headers=api.as_("admin"))
        assert response.status_code == 200, (path, response.text)
        answers.append(response.text)
    from test_api_web import sign_in

    sign_in(api.client, "admin")
    answers.append(api.client.get("/").text)
    assert all(SECRET not in answer for answer in answers)
    assert "token is ***" in answers[3]
    with api.rt.db.read() as conn:
        stored = str(conn.execute(select(job_run)).all())
        stored += str(conn.execute(select(audit_event)).all())
        stored += str(conn.execute(select(event)).all())
    assert SECRET not in stored


def test_refused_secret_is_not_echoed(api: Api) -> None:
    body = {"job": "deploy", "params": {"service": SECRET.upper() + " x", "token": ["a"]}}
    response = api.client.post("/api/v1/runs", json=body, headers=api.as_("operator"))
    assert response.status_code == 422
    assert SECRET.upper() not in response.text
    wrong = api.client.post(
        "/api/v1/runs",
        json={"job": "deploy", "params": {"service": "web", "token": 12345678}},
        headers=api.as_("operator"),
    )
    assert "12345678" not in wrong.text
