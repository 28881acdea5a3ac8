"""Sign-in pages: CSRF on every form and cookie-session request, escaping, cookie flags."""

from __future__ import annotations

import re

from api_client import PASSWORD, Api, TestClient

from conveyor.actions import definitions
from conveyor.actions.access import SYSTEM
from conveyor.definitions.loader import load_text


def _csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found is not None, html
    return found.group(1)


def sign_in(client: TestClient, user: str, password: str = PASSWORD) -> str:
    """Sign in through the form; returns the session's CSRF token."""
    form = client.get("/login")
    response = client.post(
        "/login",
        data={"username": user, "password": password, "csrf_token": _csrf_of(form.text)},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    return _csrf_of(client.get("/").text)


def test_login_needs_the_forms_csrf_token(api: Api) -> None:
    api.client.get("/login")
    data = {"username": "admin", "password": PASSWORD}
    refused = api.client.post("/login", data=data, follow_redirects=False)
    assert refused.status_code == 403
    forged = api.client.post("/login", data={**data, "csrf_token": "x"}, follow_redirects=False)
    assert forged.status_code == 403
    assert "conveyor_session" not in api.client.cookies


def test_wrong_password_is_refused(api: Api) -> None:
    form = api.client.get("/login")
    data = {"username": "admin", "password": "wrong-password", "csrf_token": _csrf_of(form.text)}
    response = api.client.post("/login", data=data, follow_redirects=False)
    assert response.status_code == 401
    assert "conveyor_session" not in api.client.cookies


def test_session_cookie_flags_and_csrf_on_api_posts(api: Api) -> None:
    form = api.client.get("/login")
    data = {"username": "operator", "password": PASSWORD, "csrf_token": _csrf_of(form.text)}
    response = api.client.post("/login", data=data, follow_redirects=False)
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie
    assert "samesite=lax" in cookie
    csrf = _csrf_of(api.client.get("/").text)
    assert api.client.get("/api/v1/jobs").status_code == 200
    body = {"job": "deploy", "params": {"service": "web"}}
    assert api.client.post("/api/v1/runs", json=body).status_code == 403
    wrong = api.client.post("/api/v1/runs", json=body, headers={"X-CSRF-Token": "nope"})
    assert wrong.status_code == 403
    assert api.client.get("/api/v1/runs").json() == []
    ok = api.client.post("/api/v1/runs", json=body, headers={"X-CSRF-Token": csrf})
    assert ok.status_code == 201
    assert ok.json()["submitter"] == "operator"


def test_logout_needs_csrf_and_ends_the_session(api: Api) -> None:
    csrf = sign_in(api.client, "viewer")
    refused = api.client.post("/logout", follow_redirects=False)
    assert refused.status_code == 403
    assert api.client.get("/api/v1/jobs").status_code == 200
    done = api.client.post("/logout", data={"csrf_token": csrf}, follow_redirects=False)
    assert done.status_code == 303
    assert api.client.get("/api/v1/jobs").status_code == 401
    assert api.client.get("/", follow_redirects=False).status_code == 303


def test_password_change_ends_sessions(api: Api) -> None:
    sign_in(api.client, "viewer")
    assert api.client.get("/api/v1/jobs").status_code == 200
    response = api.client.post(
        "/api/v1/users/viewer/password",
        json={"password": "another password"},
        headers=api.as_("admin"),
    )
    assert response.status_code == 200
    assert api.client.get("/api/v1/jobs").status_code == 401


def test_pages_escape_user_written_text(api: Api) -> None:
    nasty = "<script>alert(1)</script>"
    yaml = f"kind: job\nname: xss\ncategory: '{nasty}'\nsteps:\n  - id: a\n    run: echo hi\n"
    definitions.apply(api.rt, SYSTEM, load_text(yaml, "xss.yaml"))
    sign_in(api.client, "admin")
    page = api.client.get("/")
    assert page.status_code == 200
    assert nasty not in page.text
    assert "&lt;script&gt;" in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]
