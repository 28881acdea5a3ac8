"""Frozen records handed out by the store; SQLAlchemy rows never leave this package."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from conveyor.engine.states import RunState, StepState


@dataclass(frozen=True)
class JobRecord:
    id: int
    name: str
    category: str
    latest_version: int
    description: str | None = None

    @classmethod
    def from_row(cls, row: Mapping[Any, Any]) -> JobRecord:
        return cls(
            id=row["id"],
            name=row["name"],
            category=row["category"],
            latest_version=row["latest_version"],
            description=row.get("description"),
        )


@dataclass(frozen=True)
class JobVersionRecord:
    id: int
    job_id: int
    job_name: str
    version: int
    definition: Mapping[str, Any]
    source: str
    created_at: float
    created_by: str


@dataclass(frozen=True)
class RunRecord:
    id: int
    job_id: int
    job_name: str
    job_version_id: int
    version: int
    category: str
    state: RunState
    params: Mapping[str, Any]
    secret_params: str | None
    submitter: str
    parent_step_run_id: int | None
    cancel_requested: bool
    error: str | None
    created_at: float
    started_at: float | None
    ended_at: float | None


@dataclass(frozen=True)
class StepRunRecord:
    id: int
    run_id: int
    step_key: str
    item_index: int | None
    item: Any
    attempt: int
    is_current: bool
    state: StepState
    agent_id: int | None
    lease_expires_at: float | None
    not_before: float
    waiting_for: str | None
    created_at: float
    started_at: float | None
    ended_at: float | None
    exit_code: int | None
    error: str | None
    attempt_token: str | None = None
    tags_key: str = ""

    @classmethod
    def from_row(cls, row: Mapping[Any, Any]) -> StepRunRecord:
        return cls(
            id=row["id"],
            run_id=row["run_id"],
            step_key=row["step_key"],
            item_index=row["item_index"],
            item=row["item"],
            attempt=row["attempt"],
            is_current=bool(row["is_current"]),
            state=StepState(row["state"]),
            agent_id=row["agent_id"],
            lease_expires_at=row["lease_expires_at"],
            not_before=row["not_before"],
            waiting_for=row["waiting_for"],
            created_at=row["created_at"],
            started_at=row["started_at"],
            ended_at=row["ended_at"],
            exit_code=row["exit_code"],
            error=row["error"],
            attempt_token=row.get("attempt_token"),
            tags_key=row.get("tags_key") or "",
        )


@dataclass(frozen=True, slots=True)
class StepRunBrief:
    """A current step run as the scheduler sees it: which step, which item, which state."""

    id: int
    step_key: str
    item_index: int | None
    state: StepState


@dataclass(frozen=True)
class ClaimedStep:
    """What an agent needs to run one claimed attempt, read in the claim's transaction."""

    step_run_id: int
    run_id: int
    step_key: str
    item_index: int | None
    item: Any
    attempt: int
    attempt_token: str
    job_version_id: int
    job_name: str
    submitter: str
    params: Mapping[str, Any]
    secret_params: str | None
    outputs: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    has_parent: bool | None = None  # the run is a sub-job's (None: not known)


@dataclass(frozen=True)
class LogChunk:
    id: int
    step_run_id: int
    run_id: int
    created_at: float
    text: str


@dataclass(frozen=True)
class EventRecord:
    id: int
    run_id: int | None
    step_run_id: int | None
    kind: str
    data: Mapping[str, Any]
    created_at: float


@dataclass(frozen=True)
class AgentRecord:
    id: int
    name: str
    hostname: str
    pid: int
    tags: tuple[str, ...]
    slots: int
    state: str
    started_at: float
    heartbeat_at: float
    stopped_at: float | None
