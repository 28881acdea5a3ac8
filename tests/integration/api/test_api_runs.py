"""Jobs, runs, steps, logs, agents, locks, audit and users through the API."""

from __future__ import annotations

from api_client import JOB_YAML, Api

from conveyor.store import runs as run_store
from conveyor.store.logs import add_log


def test_define_jobs_from_yaml_or_json(api: Api) -> None:
    headers = {**api.as_("editor"), "Content-Type": "text/yaml"}
    same = api.client.post("/api/v1/jobs", content=JOB_YAML, headers=headers)
    assert same.json() == [{"kind": "job", "name": "deploy", "changed": False, "version": 1}]
    changed = JOB_YAML.replace("Approve, then build.", "v2")
    as_json = api.client.post("/api/v1/jobs", json={"yaml": changed}, headers=api.as_("editor"))
    assert as_json.json()[0]["version"] == 2
    detail = api.client.get("/api/v1/jobs/deploy", headers=api.as_("viewer")).json()
    assert [v["version"] for v in detail["versions"]] == [2, 1]
    assert [p["name"] for p in detail["params"]] == ["service", "token"]
    assert detail["description"] == "v2"
    listed = api.client.get("/api/v1/jobs", headers=api.as_("viewer")).json()
    assert listed == [{"name": "deploy", "category": "Ops", "latest_version": 2}]


def test_bad_definition_lists_its_problems(api: Api) -> None:
    bad = "kind: job\nname: broken\nsteps:\n  - id: a\n    needs: [nope]\n    run: x {missing}\n"
    response = api.client.post(
        "/api/v1/jobs", content=bad, headers={**api.as_("admin"), "Content-Type": "text/yaml"}
    )
    assert response.status_code == 422
    body = response.json()
    assert body["error"]
    assert all({"file", "line", "message"} <= set(p) for p in body["problems"])
    assert body["problems"][0]["line"] > 1
    wrong_type = api.client.post(
        "/api/v1/jobs", content="x", headers={**api.as_("admin"), "Content-Type": "text/plain"}
    )
    assert wrong_type.status_code == 422
    assert api.client.get("/api/v1/jobs/broken", headers=api.as_("admin")).status_code == 404


def test_submit_refuses_bad_params_and_creates_nothing(api: Api) -> None:
    body = {"job": "deploy", "params": {"service": "Bad Name; rm -rf /"}}
    response = api.client.post("/api/v1/runs", json=body, headers=api.as_("operator"))
    assert response.status_code == 422
    assert "service" in response.json()["error"]
    missing = api.client.post("/api/v1/runs", json={"job": "nope"}, headers=api.as_("admin"))
    assert missing.status_code == 404
    assert api.client.get("/api/v1/runs", headers=api.as_("admin")).json() == []


def test_run_view_filters_and_steering(api: Api) -> None:
    first, second = api.submit(), api.submit()
    view = api.client.get(f"/api/v1/runs/{first}", headers=api.as_("viewer")).json()
    assert view["state"] == "waiting"
    assert [s["step"] for s in view["steps"]] == ["approve", "build"]
    assert view["steps"][0]["manual"]["instructions"] == "Deploy web?"
    runs = api.client.get("/api/v1/runs?limit=1", headers=api.as_("viewer")).json()
    assert [r["id"] for r in runs] == [second]
    older = api.client.get(f"/api/v1/runs?before={second}", headers=api.as_("viewer")).json()
    assert [r["id"] for r in older] == [first]
    cancel = api.client.post(f"/api/v1/runs/{first}/cancel", headers=api.as_("operator"))
    assert cancel.json() == {"run": first, "state": "cancelled"}
    again = api.client.post(f"/api/v1/runs/{first}/cancel", headers=api.as_("operator"))
    assert again.status_code == 409
    states = api.client.get("/api/v1/runs?state=cancelled", headers=api.as_("viewer")).json()
    assert [r["id"] for r in states] == [first]
    resumed = api.client.post(
        f"/api/v1/runs/{first}/resume", json={"force": []}, headers=api.as_("operator")
    )
    assert resumed.status_code == 200, resumed.text
    skip = api.client.post(f"/api/v1/runs/{second}/steps/approve/skip", headers=api.as_("operator"))
    assert skip.status_code == 200
    nope = api.client.post(f"/api/v1/runs/{second}/steps/nope/retry", headers=api.as_("admin"))
    assert nope.status_code == 404
    assert api.client.get("/api/v1/runs/999999", headers=api.as_("admin")).status_code == 404


def test_logs_are_paged(api: Api) -> None:
    run_id = api.submit()
    with api.rt.db.write() as conn:
        step = run_store.current_step_runs(conn, run_id)[0]
        for i in range(5):
            add_log(conn, step_run_id=step.id, run_id=run_id, text=f"line {i}\n")
    url = f"/api/v1/runs/{run_id}/logs"
    page = api.client.get(f"{url}?limit=3", headers=api.as_("viewer")).json()
    assert [c["text"] for c in page["chunks"]] == ["line 0\n", "line 1\n", "line 2\n"]
    assert page["chunks"][0]["step"] == "approve"
    rest = api.client.get(f"{url}?after={page['next_after']}", headers=api.as_("viewer")).json()
    assert [c["text"] for c in rest["chunks"]] == ["line 3\n", "line 4\n"]
    of_build = api.client.get(f"{url}?step=build", headers=api.as_("viewer")).json()
    assert of_build["chunks"] == []


def test_agents_locks_and_audit(api: Api) -> None:
    assert api.client.get("/api/v1/agents", headers=api.as_("viewer")).json() == []
    assert api.client.get("/api/v1/locks", headers=api.as_("viewer")).json() == []
    api.submit()
    audit = api.client.get("/api/v1/audit?limit=1", headers=api.as_("admin")).json()
    assert audit[0]["action"] == "run.submit"
    assert audit[0]["actor"] == "operator"
    # The audit trail has no route that changes it.
    for method in ("PUT", "PATCH", "DELETE", "POST"):
        response = api.client.request(method, "/api/v1/audit", headers=api.as_("admin"))
        assert response.status_code == 405


def test_users_and_grants(api: Api) -> None:
    created = api.client.post(
        "/api/v1/users",
        json={"name": "carol", "grants": [{"category": "Ops", "role": "viewer"}]},
        headers=api.as_("admin"),
    )
    assert created.status_code == 201, created.text
    assert len(created.json()["password"]) >= 16
    duplicate = api.client.post("/api/v1/users", json={"name": "carol"}, headers=api.as_("admin"))
    assert duplicate.status_code == 409
    bad_role = api.client.post(
        "/api/v1/users/carol/grants",
        json={"category": "Ops", "role": "overlord"},
        headers=api.as_("admin"),
    )
    assert bad_role.status_code == 422
    granted = api.client.post(
        "/api/v1/users/carol/grants",
        json={"category": "Ops", "role": "operator"},
        headers=api.as_("admin"),
    )
    assert granted.json() == {"changed": True}
    users = {u["name"]: u for u in api.client.get("/api/v1/users", headers=api.as_("admin")).json()}
    assert {g["role"] for g in users["carol"]["grants"]} == {"viewer", "operator"}
    assert "password" not in str(users)
    token = api.client.post(
        "/api/v1/tokens", json={"user": "carol", "name": "x"}, headers=api.as_("admin")
    ).json()["token"]
    body = {"job": "deploy", "params": {"service": "web"}}
    response = api.client.post(
        "/api/v1/runs", json=body, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 201
