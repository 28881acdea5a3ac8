"""`uses:` of a reusable step, resolved into a plain job step.

The reusable step's `{param}` placeholders are replaced by the job step's `with:` values (or the
param's default) as template text, so a with-value such as `https://{service}/health` keeps its
job placeholders, which the engine renders later like any other. In `run` commands the literal
text of a with-value is shell-quoted here, because the agent only quotes substituted values: a
with-value is a value, so `with: {msg: "a; rm -rf ~"}` stays one word, never shell code.

`uses: job/NAME` (a sub-job) is left as it is.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from conveyor.definitions.models import JobDef, JobStepDef, StepBody, StepDef
from conveyor.definitions.templates import Ref, escape, parse_template, shell_quote
from conveyor.errors import NotFoundError

SUB_JOB_PREFIX = "job/"
_BODY_FIELDS = set(StepBody.model_fields) - {"uses", "with_"}


def job_references(job: JobDef) -> set[str]:
    """What the job uses: a reusable step by its name, a sub-job as `job/NAME`."""
    return {step.uses for step in job.steps if step.uses is not None}


def resolve_uses(job: JobDef, steps: Mapping[str, StepDef]) -> JobDef:
    """The job with every `uses: <step>` replaced by that step's body; sub-jobs stay as they are.

    The job step keeps its own id, needs, when, foreach and every key it sets; `env` merges
    (the job step's keys win). Raises `NotFoundError` for a step missing from `steps`.
    """
    resolved = [_resolve_step(step, steps) if _uses_step(step) else step for step in job.steps]
    return job.model_copy(update={"steps": resolved})


def _uses_step(step: JobStepDef) -> bool:
    return step.uses is not None and not step.uses.startswith(SUB_JOB_PREFIX)


def _resolve_step(step: JobStepDef, steps: Mapping[str, StepDef]) -> JobStepDef:
    used = steps.get(step.uses or "")
    if used is None:
        raise NotFoundError(f"step '{step.uses}' is not defined")
    values = {
        param.name: _param_text(step.with_, param.name, param.default) for param in used.params
    }
    body = used.model_dump(include=_BODY_FIELDS, exclude_unset=True)
    body = _substitute_body(body, values)
    own = step.model_dump(exclude_unset=True, exclude={"uses", "with_"})
    merged = {**body, **own}
    if "env" in body and "env" in own:
        merged["env"] = {**body["env"], **own["env"]}
    return JobStepDef.model_validate(merged)


def _param_text(with_: Mapping[str, Any], name: str, default: Any) -> str:
    """The template text a step param stands for: its with-value, else its default, else ''."""
    if name in with_:
        value = with_[name]
        return value if isinstance(value, str) else escape(_as_text(value))
    return "" if default is None else escape(_as_text(default))


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict):
        return json.dumps(value)
    return str(value)


def _substitute_body(body: dict[str, Any], values: Mapping[str, str]) -> dict[str, Any]:
    result = dict(body)
    if "run" in result:
        result["run"] = _substitute(result["run"], values, quote=True)
    for key in ("argv", "script", "env", "http", "locks"):
        if key in result:
            result[key] = _walk(result[key], values, quote=False)
    if "manual" in result:
        manual = dict(result["manual"])
        if "instructions" in manual:
            manual["instructions"] = _walk(manual["instructions"], values, quote=False)
        result["manual"] = manual
    return result


def _walk(value: Any, values: Mapping[str, str], *, quote: bool) -> Any:
    if isinstance(value, str):
        return _substitute(value, values, quote=quote)
    if isinstance(value, dict):
        # Keys such as `method` or `limit` pass through: only texts are templates.
        return {key: _walk(item, values, quote=quote) for key, item in value.items()}
    if isinstance(value, list):
        return [_walk(item, values, quote=quote) for item in value]
    return value


def _substitute(text: str, values: Mapping[str, str], *, quote: bool) -> str:
    out: list[str] = []
    for part in parse_template(text).parts:
        if isinstance(part, str):
            out.append(escape(part))
        elif len(part.path) == 1 and part.path[0] in values:
            value = values[part.path[0]]
            out.append(_quoted_template(value) if quote else value)
        else:
            out.append(_placeholder(part))
    return "".join(out)


def _quoted_template(text: str) -> str:
    """A with-value as one shell word: literal runs quoted, placeholders left for the agent."""
    parts = parse_template(text).parts
    if not parts:
        return "''"
    return "".join(
        escape(shell_quote(part)) if isinstance(part, str) else _placeholder(part) for part in parts
    )


def _placeholder(ref: Ref) -> str:
    return "{" + ref.text + "}"
