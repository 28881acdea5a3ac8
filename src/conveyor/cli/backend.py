"""Where CLI commands send their actions: straight to the database, or to a server's API.

Both backends return the same JSON-shaped values, so every command prints the same output and
exits with the same code whichever way it went."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cached_property
from typing import Any, Protocol

from conveyor.actions import definitions as definition_actions
from conveyor.actions import manual, queries, steering, submit
from conveyor.actions.access import Actor
from conveyor.actions.catalog import masked_logs
from conveyor.actions.identity import local_actor
from conveyor.actions.rollout_steering import continue_rollout
from conveyor.actions.runtime import Runtime
from conveyor.config import Settings
from conveyor.definitions.loader import Document
from conveyor.definitions.models import ParamDef
from conveyor.store import definitions as definition_store
from conveyor.store.agents import list_agents
from conveyor.store.runs import all_step_runs


class Backend(Protocol):
    """The actions the CLI needs, each returning JSON-shaped data."""

    def apply(self, documents: Sequence[Document]) -> list[dict[str, Any]]: ...
    def job_params(self, job: str) -> list[ParamDef]: ...
    def jobs(self) -> list[dict[str, Any]]: ...
    def submit(self, job: str, params: Mapping[str, Any]) -> dict[str, Any]: ...
    def run(self, run_id: int, *, history: bool = False) -> dict[str, Any]: ...
    def runs(
        self, *, job: str | None, states: Sequence[str], limit: int
    ) -> list[dict[str, Any]]: ...
    def logs(
        self, run_id: int, *, step: str | None, after: int, limit: int
    ) -> list[dict[str, Any]]: ...
    def approve(
        self, run_id: int, step: str, fields: Mapping[str, Any], reason: str | None
    ) -> str: ...
    def reject(self, run_id: int, step: str, reason: str) -> str: ...
    def resume(self, run_id: int, force: Sequence[str]) -> str: ...
    def cancel(self, run_id: int) -> str: ...
    def retry(self, run_id: int, step: str) -> str: ...
    def skip(self, run_id: int, step: str) -> str: ...
    def succeed(self, run_id: int, step: str, outputs: Mapping[str, str]) -> str: ...
    def rollout(self, run_id: int, step: str, mode: str) -> str: ...
    def agents(self) -> list[dict[str, Any]]: ...
    def add_user(
        self, name: str, password: str | None, admin: bool, grants: Sequence[tuple[str, str]]
    ) -> tuple[dict[str, Any], str | None]: ...
    def set_password(self, name: str, password: str) -> None: ...
    def disable_user(self, name: str, disabled: bool) -> None: ...
    def grant(self, name: str, category: str, role: str, revoke: bool) -> bool: ...
    def list_users(self) -> list[dict[str, Any]]: ...
    def create_token(self, user: str, name: str) -> tuple[str, dict[str, Any]]: ...
    def list_tokens(self, user: str | None) -> list[dict[str, Any]]: ...
    def revoke_token(self, token_id: int) -> None: ...


class LocalBackend:
    """Acts on the database directly, as `--user` / CONVEYOR_USER."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @cached_property
    def rt(self) -> Runtime:
        return Runtime.open(self.settings)

    @cached_property
    def actor(self) -> Actor:
        return local_actor(self.rt, self.settings.user)

    def apply(self, documents: Sequence[Document]) -> list[dict[str, Any]]:
        applied = definition_actions.apply(self.rt, self.actor, documents)
        return [a.__dict__ for a in applied]

    def job_params(self, job: str) -> list[ParamDef]:
        with self.rt.db.read() as conn:
            record = definition_store.get_job(conn, job)
            version = definition_store.get_version(conn, record.id)
        return [ParamDef.model_validate(p) for p in version.definition.get("params", [])]

    def jobs(self) -> list[dict[str, Any]]:
        return [
            {"name": j.name, "category": j.category, "latest_version": j.latest_version}
            for j in queries.jobs(self.rt, self.actor)
        ]

    def submit(self, job: str, params: Mapping[str, Any]) -> dict[str, Any]:
        run = submit.submit(self.rt, self.actor, job, params)
        return self.run(run.id)

    def run(self, run_id: int, *, history: bool = False) -> dict[str, Any]:
        return queries.run_view(self.rt, self.actor, run_id, history=history).to_json()

    def runs(self, *, job: str | None, states: Sequence[str], limit: int) -> list[dict[str, Any]]:
        found = queries.list_runs(self.rt, self.actor, job=job, states=states, limit=limit)
        return [queries.run_summary(r) for r in found]

    def logs(
        self, run_id: int, *, step: str | None, after: int, limit: int
    ) -> list[dict[str, Any]]:
        chunks, _ = masked_logs(self.rt, self.actor, run_id, step=step, after_id=after, limit=limit)
        if not chunks:
            return []
        with self.rt.db.read() as conn:
            names = {r.id: (r.step_key, r.item_index) for r in all_step_runs(conn, run_id)}
        return [
            {
                "id": c.id,
                "step_run_id": c.step_run_id,
                "step": names.get(c.step_run_id, ("?", None))[0],
                "item_index": names.get(c.step_run_id, ("?", None))[1],
                "created_at": queries.iso_time(c.created_at),
                "text": c.text,
            }
            for c in chunks
        ]

    def approve(self, run_id: int, step: str, fields: Mapping[str, Any], reason: str | None) -> str:
        return manual.approve(self.rt, self.actor, run_id, step, fields, reason).value

    def reject(self, run_id: int, step: str, reason: str) -> str:
        return manual.reject(self.rt, self.actor, run_id, step, reason).value

    def resume(self, run_id: int, force: Sequence[str]) -> str:
        return steering.resume(self.rt, self.actor, run_id, force).value

    def cancel(self, run_id: int) -> str:
        return steering.cancel(self.rt, self.actor, run_id).value

    def retry(self, run_id: int, step: str) -> str:
        return steering.retry(self.rt, self.actor, run_id, step).value

    def skip(self, run_id: int, step: str) -> str:
        return steering.skip(self.rt, self.actor, run_id, step).value

    def succeed(self, run_id: int, step: str, outputs: Mapping[str, str]) -> str:
        return steering.mark_succeeded(self.rt, self.actor, run_id, step, outputs).value

    def rollout(self, run_id: int, step: str, mode: str) -> str:
        return continue_rollout(self.rt, self.actor, run_id, step, mode).value

    def agents(self) -> list[dict[str, Any]]:
        with self.rt.db.read() as conn:
            found = list_agents(conn)
        return [
            {
                "id": a.id,
                "name": a.name,
                "hostname": a.hostname,
                "tags": list(a.tags),
                "slots": a.slots,
                "state": a.state,
                "heartbeat_at": queries.iso_time(a.heartbeat_at),
            }
            for a in found
        ]

    # -- accounts ---------------------------------------------------------------------------

    def add_user(
        self, name: str, password: str | None, admin: bool, grants: Sequence[tuple[str, str]]
    ) -> tuple[dict[str, Any], str | None]:
        account, generated = _accounts().add_user(
            self.rt, self.actor, name, password, admin, grants
        )
        return _account(account), generated

    def set_password(self, name: str, password: str) -> None:
        _accounts().set_password(self.rt, self.actor, name, password)

    def disable_user(self, name: str, disabled: bool) -> None:
        _accounts().disable_user(self.rt, self.actor, name, disabled)

    def grant(self, name: str, category: str, role: str, revoke: bool) -> bool:
        change = _accounts().revoke_grant if revoke else _accounts().grant
        return bool(change(self.rt, self.actor, name, category, role))

    def list_users(self) -> list[dict[str, Any]]:
        return [_account(a) for a in _accounts().list_users(self.rt, self.actor)]

    def create_token(self, user: str, name: str) -> tuple[str, dict[str, Any]]:
        plain, record = _accounts().create_token(self.rt, self.actor, user, name)
        return plain, _token(record)

    def list_tokens(self, user: str | None) -> list[dict[str, Any]]:
        return [_token(t) for t in _accounts().list_tokens(self.rt, self.actor, user)]

    def revoke_token(self, token_id: int) -> None:
        _accounts().revoke_token(self.rt, self.actor, token_id)


def _accounts() -> Any:
    # Password hashing (argon2) loads only for the commands that manage accounts.
    from conveyor.actions import accounts

    return accounts


def _account(account: Any) -> dict[str, Any]:
    return {
        "name": account.name,
        "is_admin": account.is_admin,
        "disabled": account.disabled,
        "grants": [{"category": c, "role": r} for c, r in account.grants],
    }


def _token(token: Any) -> dict[str, Any]:
    return {
        "id": token.id,
        "user": token.user,
        "name": token.name,
        "created_at": queries.iso_time(token.created_at),
        "revoked_at": queries.iso_time(token.revoked_at),
    }
