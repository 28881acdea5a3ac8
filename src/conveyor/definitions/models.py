"""Typed models of the definition format (SPEC section 2).

Models are frozen and refuse unknown keys. Cross-document rules (needs, cycles, placeholders in
scope, `uses`) live in `validation.py`; line numbers are attached by `loader.py`.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$"
ID_PATTERN = r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$"


def parse_duration(value: Any) -> Any:
    """Accept `90`, `1.5`, `"30s"`, `"10m"`, `"2h"`; return seconds as a float."""
    if isinstance(value, bool):
        raise ValueError("a duration is a number of seconds or a text like 30s, 10m or 2h")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        match = _DURATION.match(value)
        if match:
            return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    raise ValueError("a duration is a number of seconds or a text like 30s, 10m or 2h")


Duration = Annotated[float, BeforeValidator(parse_duration), Field(ge=0)]


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class ParamType(StrEnum):
    STRING = "string"
    INT = "int"
    FLOAT = "float"
    BOOL = "bool"
    CHOICE = "choice"
    LIST = "list"
    SECRET = "secret"
    DATE = "date"


class ParamDef(Model):
    """A typed input of a job or reusable step, or a field of a manual step."""

    name: str = Field(pattern=ID_PATTERN)
    type: ParamType = ParamType.STRING
    label: str | None = None
    description: str | None = None
    required: bool = False
    default: Any = None
    pattern: str | None = None
    min: float | None = None
    max: float | None = None
    choices: list[Any] | None = None
    lookup: str | None = None


class ApproversDef(Model):
    role: str | None = None
    users: list[str] = Field(default_factory=list)
    count: int = Field(default=1, ge=1, le=50)
    not_submitter: bool = False


class ManualDef(Model):
    """A step done by people: instructions, fields to fill, and optionally who must approve."""

    instructions: str = ""
    fields: list[ParamDef] = Field(default_factory=list)
    approvers: ApproversDef | None = None


class HttpDef(Model):
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"] = "GET"
    url: str
    headers: dict[str, str] = Field(default_factory=dict)
    body: str | None = None
    json_body: Any = Field(default=None, alias="json")
    expect_status: list[int] = Field(default_factory=lambda: [200, 201, 202, 203, 204])
    timeout: Duration | None = None


class LockDef(Model):
    """A named mutex (limit 1) or semaphore; the name may hold placeholders."""

    name: str
    limit: int = Field(default=1, ge=1, le=10_000)


def _lock_from_text(value: Any) -> Any:
    return {"name": value} if isinstance(value, str) else value


LockRef = Annotated[LockDef, BeforeValidator(_lock_from_text)]


def _tags_from_text(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


class StepBody(Model):
    """What a step does and how it is run: shared by job steps and reusable steps."""

    run: str | None = None
    argv: list[str] | None = None
    script: str | None = None
    interpreter: str | None = None
    http: HttpDef | None = None
    manual: ManualDef | None = None
    uses: str | None = None
    with_: dict[str, Any] = Field(default_factory=dict, alias="with")

    timeout: Duration | None = None
    retries: int = Field(default=0, ge=0, le=100)
    retry_delay: Duration = 0.0
    restartable: bool = True
    success_codes: list[int] = Field(default_factory=lambda: [0])
    env: dict[str, str] = Field(default_factory=dict)
    locks: list[LockRef] = Field(default_factory=list)
    outputs: list[str] | None = None
    on: Annotated[list[str], BeforeValidator(_tags_from_text)] = Field(default_factory=list)

    @property
    def kind(self) -> str:
        """The one step kind set: run, argv, script, http, manual or uses."""
        return next(k for k in STEP_KINDS if getattr(self, k) is not None)

    @model_validator(mode="after")
    def _exactly_one_kind(self) -> StepBody:
        present = [k for k in STEP_KINDS if getattr(self, k) is not None]
        if len(present) != 1:
            names = ", ".join(STEP_KINDS)
            found = ", ".join(present) if present else "none"
            raise ValueError(f"a step needs exactly one of {names} (found {found})")
        if self.interpreter is not None and self.script is None:
            raise ValueError("interpreter goes only with script")
        if self.with_ and self.uses is None:
            raise ValueError("with goes only with uses")
        return self


STEP_KINDS = ("run", "argv", "script", "http", "manual", "uses")


class JobStepDef(StepBody):
    """One placement of a step in a job."""

    id: str = Field(pattern=ID_PATTERN)
    name: str | None = None
    needs: list[str] = Field(default_factory=list)
    when: str | None = None
    foreach: str | None = None
    max_parallel: int | None = Field(default=None, ge=1)
    batch_size: int | None = Field(default=None, ge=1)
    after_batch: str | None = None
    max_failures: int | None = Field(default=None, ge=0)
    on_max_failures: Literal["fail", "pause"] = "fail"


class StepDef(StepBody):
    """A reusable step (`kind: step`), used by name from jobs."""

    kind_: Literal["step"] = Field(default="step", alias="kind")
    name: str = Field(pattern=NAME_PATTERN)
    description: str | None = None
    params: list[ParamDef] = Field(default_factory=list)


class JobDef(Model):
    kind: Literal["job"] = "job"
    name: str = Field(pattern=NAME_PATTERN)
    category: str = "Default"
    description: str | None = None
    max_concurrency: int | None = Field(default=None, ge=1)
    on_limit: Literal["queue", "reject"] = "queue"
    locks: list[LockRef] = Field(default_factory=list)
    params: list[ParamDef] = Field(default_factory=list)
    steps: list[JobStepDef] = Field(min_length=1)

    def step(self, step_id: str) -> JobStepDef:
        return next(s for s in self.steps if s.id == step_id)


class SqlSource(Model):
    url: str
    query: str


class HttpSource(Model):
    url: str
    headers: dict[str, str] = Field(default_factory=dict)
    path: str | None = None


class LookupDef(Model):
    """A named query of the metadata repository that yields param values."""

    kind: Literal["lookup"] = "lookup"
    name: str = Field(pattern=NAME_PATTERN)
    description: str | None = None
    params: list[ParamDef] = Field(default_factory=list)
    sql: SqlSource | None = None
    command: str | None = None
    http: HttpSource | None = None
    values: list[Any] | None = None
    cache_seconds: Duration = 30.0

    @model_validator(mode="after")
    def _exactly_one_source(self) -> LookupDef:
        present = [k for k in ("sql", "command", "http", "values") if getattr(self, k) is not None]
        if len(present) != 1:
            raise ValueError("a lookup needs exactly one of sql, command, http or values")
        return self


Definition = JobDef | StepDef | LookupDef
