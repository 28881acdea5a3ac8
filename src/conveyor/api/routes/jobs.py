"""Jobs: list, one with its versions and params, and defining jobs from YAML."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from conveyor.actions import catalog, queries
from conveyor.actions.definitions import apply
from conveyor.actions.queries import iso_time
from conveyor.api.auth import CurrentActor, Rt
from conveyor.api.params import Name
from conveyor.api.schemas import AppliedOut, DefinitionIn, JobDetailOut, JobOut, VersionOut
from conveyor.definitions.loader import load_text
from conveyor.errors import UsageError

router = APIRouter(prefix="/jobs", tags=["jobs"])

MAX_DEFINITION_BYTES = 1_000_000
YAML_TYPES = ("application/yaml", "text/yaml", "application/x-yaml", "text/x-yaml")


@router.get("", response_model=list[JobOut])
def list_jobs(rt: Rt, actor: CurrentActor) -> list[JobOut]:
    """Jobs the caller may see, by category and name."""
    return [
        JobOut(name=j.name, category=j.category, latest_version=j.latest_version)
        for j in queries.jobs(rt, actor)
    ]


@router.get("/{name}", response_model=JobDetailOut)
def get_job(name: Name, rt: Rt, actor: CurrentActor) -> JobDetailOut:
    """A job's latest params and steps, and every version."""
    detail = catalog.job_detail(rt, actor, name)
    return JobDetailOut(
        name=detail.name,
        category=detail.category,
        latest_version=detail.latest_version,
        description=detail.description,
        versions=[
            VersionOut(
                version=v.version,
                digest=v.digest,
                created_at=iso_time(v.created_at),
                created_by=v.created_by,
            )
            for v in detail.versions
        ],
        params=detail.params,
        steps=detail.steps,
    )


_BODY_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/yaml": {"schema": {"type": "string"}},
            "application/json": {"schema": DefinitionIn.model_json_schema()},
        },
    }
}


@router.post("", response_model=list[AppliedOut], openapi_extra=_BODY_DOC)
async def define(request: Request, rt: Rt, actor: CurrentActor) -> list[AppliedOut]:
    """Validate and store definitions (YAML text, or JSON {"yaml": "..."}); all or nothing."""
    text = await _definition_text(request)
    documents = await run_in_threadpool(load_text, text, "request")
    applied = await run_in_threadpool(apply, rt, actor, documents)
    return [
        AppliedOut(kind=a.kind, name=a.name, changed=a.changed, version=a.version) for a in applied
    ]


async def _definition_text(request: Request) -> str:
    body = await request.body()
    if len(body) > MAX_DEFINITION_BYTES:
        raise UsageError(f"a definition may have at most {MAX_DEFINITION_BYTES} bytes")
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError("the definition is not valid UTF-8 text") from None
    if "\x00" in text:
        raise UsageError("the definition holds a NUL character")
    if kind in YAML_TYPES:
        return text
    if kind == "application/json":
        try:
            data = json.loads(text)
        except ValueError:
            raise UsageError("the body is not valid JSON") from None
        if not isinstance(data, dict) or not isinstance(data.get("yaml"), str) or len(data) != 1:
            raise UsageError('the JSON body must be {"yaml": "<definition text>"}')
        return str(data["yaml"])
    raise UsageError("send definitions as application/yaml, text/yaml or application/json")
