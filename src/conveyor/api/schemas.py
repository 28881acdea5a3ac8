"""Request and response models of the REST API: the shapes the OpenAPI document describes."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class Strict(BaseModel):
    """Request bodies refuse unknown keys, so a typo is an error rather than ignored."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _no_nul(cls, data: Any) -> Any:
        if has_nul(data):
            raise ValueError("text may not contain NUL characters")
        return data


def has_nul(value: Any) -> bool:
    """True when a NUL character hides in `value` (no database column can store one)."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(has_nul(k) or has_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(has_nul(v) for v in value)
    return False


class ProblemOut(BaseModel):
    file: str
    line: int
    message: str


class ErrorOut(BaseModel):
    error: str
    problems: list[ProblemOut] | None = None


class HealthOut(BaseModel):
    status: str


class JobOut(BaseModel):
    name: str
    category: str
    latest_version: int


class VersionOut(BaseModel):
    version: int
    digest: str
    created_at: str | None
    created_by: str


class JobDetailOut(JobOut):
    description: str | None
    versions: list[VersionOut]
    params: list[dict[str, Any]]
    steps: list[dict[str, Any]]


class DefinitionIn(Strict):
    yaml: str = Field(max_length=1_000_000)


class AppliedOut(BaseModel):
    kind: str
    name: str
    changed: bool
    version: int | None


class RunSummaryOut(BaseModel):
    id: int
    job: str
    version: int
    category: str
    state: str
    params: dict[str, Any]
    submitter: str
    created_at: str | None
    started_at: str | None
    ended_at: str | None
    error: str | None


class StepOut(BaseModel):
    id: int
    step: str
    item: Any = None
    item_index: int | None
    state: str
    attempt: int
    exit_code: int | None
    outputs: dict[str, str]
    agent: str | None
    started_at: str | None
    ended_at: str | None
    error: str | None
    waiting_for: str | None
    manual: dict[str, Any] | None = None
    child_run_id: int | None = None


class RunOut(RunSummaryOut):
    parent_step_run_id: int | None
    steps: list[StepOut]


class RolloutIn(Strict):
    mode: Literal["remaining", "retry-failed", "abort"]


class SubmitIn(Strict):
    job: str = Field(min_length=1, max_length=200)
    params: dict[str, Any] = Field(default_factory=dict)


class LogChunkOut(BaseModel):
    id: int
    step_run_id: int
    step: str | None
    created_at: str | None
    text: str


class LogPageOut(BaseModel):
    chunks: list[LogChunkOut]
    next_after: int


class StateOut(BaseModel):
    run: int
    state: str


class ApproveIn(Strict):
    fields: dict[str, Any] = Field(default_factory=dict)
    reason: str | None = Field(default=None, max_length=10_000)


class RejectIn(Strict):
    reason: str = Field(min_length=1, max_length=10_000)


class SucceedIn(Strict):
    outputs: dict[str, str] = Field(default_factory=dict)


class ResumeIn(Strict):
    force: list[str] = Field(default_factory=list, max_length=1000)


class LookupOut(BaseModel):
    name: str
    values: list[str | int | float | bool]


class AgentOut(BaseModel):
    id: int
    name: str
    hostname: str
    pid: int
    tags: list[str]
    slots: int
    state: str
    started_at: str | None
    heartbeat_at: str | None


class LockOut(BaseModel):
    name: str
    limit: int
    run_id: int
    step_run_id: int | None
    acquired_at: str | None


class AuditOut(BaseModel):
    id: int
    created_at: str | None
    actor: str
    action: str
    target: str
    detail: dict[str, Any]
    source: str


class GrantOut(BaseModel):
    category: str
    role: str


class AccountOut(BaseModel):
    name: str
    is_admin: bool
    disabled: bool
    grants: list[GrantOut]


class UserIn(Strict):
    name: str = Field(min_length=1, max_length=128)
    password: str | None = Field(default=None, max_length=1024)
    admin: bool = False
    grants: list[GrantOut] = Field(default_factory=list, max_length=200)


class NewAccountOut(BaseModel):
    user: AccountOut
    password: str | None = Field(
        default=None, description="The generated one-time password, shown only here."
    )


class PasswordIn(Strict):
    password: str = Field(min_length=1, max_length=1024)


class GrantIn(Strict):
    category: str = Field(min_length=1, max_length=200)
    role: str = Field(min_length=1, max_length=40)


class ChangedOut(BaseModel):
    changed: bool


class TokenOut(BaseModel):
    id: int
    user: str
    name: str
    created_at: str | None
    revoked_at: str | None


class TokenIn(Strict):
    user: str | None = Field(default=None, max_length=128)
    name: str = Field(default="default", min_length=1, max_length=200)


class NewTokenOut(BaseModel):
    token: str = Field(description="The API token itself, shown only here.")
    record: TokenOut
