"""Signing in to the web UI, seeing what the account may see, escaped, and signing out."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

from support.server import running_server

HOSTILE_CATEGORY = "<img src=x onerror=alert(1)>"
JOB = f"""
kind: job
name: tidy
category: "{HOSTILE_CATEGORY}"
steps:
  - id: a
    run: echo tidy
"""


def _apply(env: dict[str, str], tmp_path: Path) -> None:
    path = tmp_path / "job.yaml"
    path.write_text(JOB)
    subprocess.run(
        [sys.executable, "-m", "conveyor", "apply", str(path)], env=env, check=True, timeout=60
    )


def test_sign_in_shows_jobs_escaped_and_sign_out_ends_the_session(
    page: Any, server_env: dict[str, str], tmp_path: Path
) -> None:
    _apply(server_env, tmp_path)
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    with running_server(server_env, tmp_path, "--no-agent") as server:
        page.goto(f"{server.url}/")
        assert page.url.endswith("/login")
        page.fill("input[name=username]", "admin")
        page.fill("input[name=password]", "wrong password")
        page.click("button[type=submit]")
        assert "wrong" in page.content()
        page.fill("input[name=username]", "admin")
        page.fill("input[name=password]", server.admin_password)
        page.click("button[type=submit]")
        page.wait_for_url(f"{server.url}/")
        assert page.get_by_text("tidy").count() == 1
        assert page.get_by_text(HOSTILE_CATEGORY).count() == 1
        assert page.locator("img").count() == 0
        assert dialogs == []
        cookies = {c["name"]: c for c in page.context.cookies()}
        session = next(c for c in cookies.values() if c["httpOnly"])
        assert session["sameSite"] == "Lax"
        page.click("text=Sign out")
        page.wait_for_url(f"{server.url}/login")
        page.goto(f"{server.url}/")
        assert page.url.endswith("/login")


def test_a_logout_without_its_csrf_token_is_refused(
    server_env: dict[str, str], tmp_path: Path
) -> None:
    with running_server(server_env, tmp_path, "--no-agent") as server:
        answer = httpx.post(f"{server.url}/logout", data={}, follow_redirects=False)
        assert answer.status_code == 403
