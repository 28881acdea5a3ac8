"""The CLI's backend when CONVEYOR_URL names a server: the same actions over the REST API."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from conveyor.config import Settings
from conveyor.definitions.loader import Document
from conveyor.definitions.models import ParamDef
from conveyor.errors import (
    AccessDenied,
    AuthenticationError,
    ConflictError,
    ConveyorError,
    DefinitionError,
    NotFoundError,
    ParamError,
    Problem,
    StoreError,
)

_STATUS_ERRORS: dict[int, type[ConveyorError]] = {
    401: AuthenticationError,
    403: AccessDenied,
    404: NotFoundError,
    409: ConflictError,
    422: ParamError,
}


class RemoteBackend:
    """Talks to `conveyor server` at `settings.server_url` with a bearer token."""

    def __init__(self, settings: Settings) -> None:
        headers = {"Accept": "application/json"}
        if settings.token:
            headers["Authorization"] = f"Bearer {settings.token}"
        base = (settings.server_url or "").rstrip("/") + "/api/v1"
        self.client = httpx.Client(base_url=base, headers=headers, timeout=30.0)

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self.client.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise StoreError(f"the server could not be reached: {exc}") from exc
        if response.status_code >= 400:
            raise _error(response)
        return response.json() if response.content else None

    def apply(self, documents: Sequence[Document]) -> list[dict[str, Any]]:
        text = "\n---\n".join(d.text for d in documents)
        found: list[dict[str, Any]] = self._call(
            "POST", "/jobs", content=text.encode(), headers={"Content-Type": "application/yaml"}
        )
        return found

    def job_params(self, job: str) -> list[ParamDef]:
        data = self._call("GET", f"/jobs/{_segment(job)}")
        return [ParamDef.model_validate(p) for p in data.get("params", [])]

    def jobs(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self._call("GET", "/jobs")
        return found

    def submit(self, job: str, params: Mapping[str, Any]) -> dict[str, Any]:
        found: dict[str, Any] = self._call("POST", "/runs", json={"job": job, "params": params})
        return found

    def run(self, run_id: int, *, history: bool = False) -> dict[str, Any]:
        query = {"history": "true"} if history else {}
        found: dict[str, Any] = self._call("GET", f"/runs/{run_id}", params=query)
        return found

    def runs(self, *, job: str | None, states: Sequence[str], limit: int) -> list[dict[str, Any]]:
        query: dict[str, Any] = {"limit": limit}
        if job:
            query["job"] = job
        if states:
            query["state"] = list(states)
        found: list[dict[str, Any]] = self._call("GET", "/runs", params=query)
        return found

    def logs(
        self, run_id: int, *, step: str | None, after: int, limit: int
    ) -> list[dict[str, Any]]:
        query: dict[str, Any] = {"after": after, "limit": limit}
        if step:
            query["step"] = step
        page: dict[str, Any] = self._call("GET", f"/runs/{run_id}/logs", params=query)
        chunks: list[dict[str, Any]] = page["chunks"]
        return chunks

    def _step_action(self, run_id: int, step: str, action: str, body: dict[str, Any]) -> str:
        data = self._call("POST", f"/runs/{run_id}/steps/{_segment(step)}/{action}", json=body)
        return str(data["state"])

    def approve(self, run_id: int, step: str, fields: Mapping[str, Any], reason: str | None) -> str:
        return self._step_action(
            run_id, step, "approve", {"fields": dict(fields), "reason": reason}
        )

    def reject(self, run_id: int, step: str, reason: str) -> str:
        return self._step_action(run_id, step, "reject", {"reason": reason})

    def resume(self, run_id: int, force: Sequence[str]) -> str:
        return str(
            self._call("POST", f"/runs/{run_id}/resume", json={"force": list(force)})["state"]
        )

    def cancel(self, run_id: int) -> str:
        return str(self._call("POST", f"/runs/{run_id}/cancel", json={})["state"])

    def retry(self, run_id: int, step: str) -> str:
        return self._step_action(run_id, step, "retry", {})

    def skip(self, run_id: int, step: str) -> str:
        return self._step_action(run_id, step, "skip", {})

    def succeed(self, run_id: int, step: str, outputs: Mapping[str, str]) -> str:
        return self._step_action(run_id, step, "succeed", {"outputs": dict(outputs)})

    def rollout(self, run_id: int, step: str, mode: str) -> str:
        return self._step_action(run_id, step, "rollout", {"mode": mode})

    def agents(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self._call("GET", "/agents")
        return found

    # -- accounts ---------------------------------------------------------------------------

    def add_user(
        self, name: str, password: str | None, admin: bool, grants: Sequence[tuple[str, str]]
    ) -> tuple[dict[str, Any], str | None]:
        body = {
            "name": name,
            "password": password,
            "admin": admin,
            "grants": [{"category": c, "role": r} for c, r in grants],
        }
        data = self._call("POST", "/users", json=body)
        return data["user"], data.get("password")

    def set_password(self, name: str, password: str) -> None:
        self._call("POST", f"/users/{_segment(name)}/password", json={"password": password})

    def disable_user(self, name: str, disabled: bool) -> None:
        action = "disable" if disabled else "enable"
        self._call("POST", f"/users/{_segment(name)}/{action}", json={})

    def grant(self, name: str, category: str, role: str, revoke: bool) -> bool:
        path = f"/users/{_segment(name)}/grants" + ("/revoke" if revoke else "")
        return bool(self._call("POST", path, json={"category": category, "role": role})["changed"])

    def list_users(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self._call("GET", "/users")
        return found

    def create_token(self, user: str, name: str) -> tuple[str, dict[str, Any]]:
        data = self._call("POST", "/tokens", json={"user": user, "name": name})
        return str(data["token"]), data["record"]

    def list_tokens(self, user: str | None) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self._call(
            "GET", "/tokens", params={"user": user} if user else {}
        )
        return found

    def revoke_token(self, token_id: int) -> None:
        self._call("POST", f"/tokens/{token_id}/revoke", json={})


def _segment(text: str) -> str:
    from urllib.parse import quote

    return quote(text, safe="")


def _error(response: httpx.Response) -> ConveyorError:
    try:
        body = response.json()
    except ValueError:
        body = {}
    message = body.get("error") if isinstance(body, dict) else None
    message = message or f"the server answered HTTP {response.status_code}"
    if response.status_code == 422 and isinstance(body, dict) and body.get("problems"):
        return DefinitionError(
            [Problem(p["source"], p["line"], p["message"]) for p in body["problems"]]
        )
    if response.status_code >= 500:
        return StoreError(message)
    return _STATUS_ERRORS.get(response.status_code, ConveyorError)(message)
