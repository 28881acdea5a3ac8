"""Shared by the API tests: the job under test, the accounts, and a client wrapper."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

from fastapi import FastAPI
from starlette.exceptions import StarletteDeprecationWarning

with warnings.catch_warnings():
    # Starlette 1.x prefers the httpx2 package, which this project does not install; the
    # test client works the same over httpx.
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient


from conveyor.actions.runtime import Runtime

SECRET = "s3cr3t-PLAINTEXT-token-value"
PASSWORD = "correct horse battery"
JOB_YAML = """\
kind: job
name: deploy
category: Ops
description: Approve, then build.
params:
  - {name: service, type: string, required: true, pattern: "^[a-z0-9-]+$"}
  - {name: token, type: secret}
steps:
  - id: approve
    manual:
      instructions: "Deploy {service}?"
      approvers: {role: approver, not_submitter: true}
  - id: build
    needs: [approve]
    run: echo build {service}
"""
# Who holds what: name -> grants (category, role); "admin" is an admin.
ROLES: dict[str, list[tuple[str, str]]] = {
    "viewer": [("Ops", "viewer")],
    "operator": [("Ops", "operator")],
    "approver": [("Ops", "approver")],
    "approver2": [("Ops", "approver")],
    "opapprover": [("Ops", "operator"), ("Ops", "approver")],
    "editor": [("Ops", "editor")],
    "outsider": [("Other", "operator")],
}


@dataclass
class Api:
    """A test client plus the tokens of every account."""

    client: TestClient
    app: FastAPI
    rt: Runtime
    tokens: dict[str, str]

    def as_(self, user: str | None) -> dict[str, str]:
        """Headers authenticating as `user` (None: anonymous)."""
        return {} if user is None else {"Authorization": f"Bearer {self.tokens[user]}"}

    def submit(self, user: str = "operator", **params: object) -> int:
        body = {"job": "deploy", "params": {"service": "web", "token": SECRET, **params}}
        response = self.client.post("/api/v1/runs", json=body, headers=self.as_(user))
        assert response.status_code == 201, response.text
        return int(response.json()["id"])
