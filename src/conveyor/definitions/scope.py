"""Which placeholders are in scope where (SPEC section 3), and which outputs a step can produce.

`{name}` reads a param of the job (or, inside a reusable step, of that step); `{item}` exists
only in a step with `foreach`; `{steps.ID.outputs.KEY}` needs ID upstream of the reading step
and KEY among the outputs ID can produce; `{run.id}`, `{run.submitter}` and `{job.name}` are
always there.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from conveyor.definitions.expressions import ExpressionError, parse_expression
from conveyor.definitions.models import StepBody, StepDef
from conveyor.definitions.templates import Ref, TemplateSyntaxError, parse_template

RUN_VALUES = frozenset({("run", "id"), ("run", "submitter"), ("job", "name")})
HTTP_OUTPUTS = frozenset({"status", "body"})
TextPath = tuple[str | int, ...]


@dataclass(frozen=True)
class Outputs:
    """The output keys a step can produce; `keys=None` means any key."""

    keys: frozenset[str] | None
    json: bool = False  # an HTTP step also outputs `json.<path>` keys of its answer

    def allows(self, key: str) -> bool:
        """True when `key` is an output this step can produce."""
        return self.keys is None or key in self.keys or (self.json and key.startswith("json."))


ANY_OUTPUT = Outputs(None)


def _any_output(step_id: str) -> Outputs:
    return ANY_OUTPUT


@dataclass(frozen=True)
class Scope:
    """What placeholders may name at one place of a definition."""

    owner: str  # "job 'deploy'" or "step 'http-health'": whose params `{name}` reads
    params: frozenset[str]
    item: bool = False
    upstream: frozenset[str] | None = None  # None: no step outputs can be read here
    job_steps: frozenset[str] = frozenset()
    outputs: Callable[[str], Outputs] = field(default=_any_output, compare=False)


def outputs_of(body: StepBody, steps: Mapping[str, StepDef]) -> Outputs:
    """The outputs a step body can produce; undeclared command steps can produce any key."""
    declared = frozenset(body.outputs or ())
    if body.http is not None:
        return Outputs(declared | HTTP_OUTPUTS, json=True)
    if body.manual is not None:
        return Outputs(declared | {f.name for f in body.manual.fields})
    used = steps.get(body.uses) if body.uses is not None else None
    if used is not None and used.uses is None:  # a reusable step never nests (validated)
        inner = outputs_of(used, steps)
        return ANY_OUTPUT if inner.keys is None else Outputs(inner.keys | declared, inner.json)
    return Outputs(declared) if body.outputs is not None else ANY_OUTPUT


def body_texts(body: StepBody) -> Iterator[tuple[TextPath, str]]:
    """Every text of a step body that may hold placeholders, with its path in the document."""
    if body.run is not None:
        yield ("run",), body.run
    for index, arg in enumerate(body.argv or []):
        yield ("argv", index), arg
    if body.script is not None:
        yield ("script",), body.script
    for key, value in body.env.items():
        yield ("env", key), value
    for index, lock in enumerate(body.locks):
        yield ("locks", index), lock.name
    if body.http is not None:
        yield ("http", "url"), body.http.url
        for key, value in body.http.headers.items():
            yield ("http", "headers", key), value
        if body.http.body is not None:
            yield ("http", "body"), body.http.body
        yield from nested_texts(("http", "json"), body.http.json_body)
    if body.manual is not None:
        yield ("manual", "instructions"), body.manual.instructions


def nested_texts(path: TextPath, value: Any) -> Iterator[tuple[TextPath, str]]:
    """The texts inside a JSON-like value (a `with` value, an HTTP json body), with paths."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from nested_texts((*path, str(key)), item)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from nested_texts((*path, index), item)


def template_problems(text: str, scope: Scope) -> list[str]:
    """Why `text` is not a valid template in `scope` (empty when it is)."""
    try:
        template = parse_template(text)
    except TemplateSyntaxError as exc:
        return [str(exc)]
    return _refs_problems(template.refs, scope)


def expression_problems(text: str, scope: Scope) -> list[str]:
    """Why `text` is not a valid `when` expression in `scope` (empty when it is)."""
    try:
        expression = parse_expression(text)
    except ExpressionError as exc:
        return [str(exc)]
    return _refs_problems(expression.refs, scope)


def _refs_problems(refs: tuple[Ref, ...], scope: Scope) -> list[str]:
    problems = (ref_problem(ref, scope) for ref in dict.fromkeys(refs))
    return [problem for problem in problems if problem is not None]


def ref_problem(ref: Ref, scope: Scope) -> str | None:
    """Why `ref` names nothing in `scope`, or None when it is fine."""
    path, shown = ref.path, "{" + ref.text + "}"
    if path in RUN_VALUES:
        return None
    if len(path) == 1:
        if (path[0] == "item" and scope.item) or path[0] in scope.params:
            return None
        if path[0] == "item":
            return "{item} is only set in a step with foreach"
        return f"{shown} is not a param of {scope.owner}"
    if path[0] != "steps":
        return (
            f"{shown} names nothing: use a param, {{steps.ID.outputs.KEY}}, {{item}}, "
            "{run.id}, {run.submitter} or {job.name}"
        )
    return _output_problem(ref, scope)


def _output_problem(ref: Ref, scope: Scope) -> str | None:
    path, shown = ref.path, "{" + ref.text + "}"
    if len(path) != 4 or path[2] != "outputs":
        return f"{shown} should be written {{steps.ID.outputs.KEY}}"
    if scope.upstream is None:
        return f"{shown}: step outputs cannot be read here, only params and run values"
    step_id, key = path[1], path[3]
    if step_id not in scope.job_steps:
        return f"{shown} names step '{step_id}', which is not in this job"
    if step_id not in scope.upstream:
        return f"{shown} reads step '{step_id}', which is not in this step's needs"
    outputs = scope.outputs(step_id)
    if not outputs.allows(key):
        known = ", ".join(sorted(outputs.keys or ())) + (", json.*" if outputs.json else "")
        return f"{shown}: step '{step_id}' has no output '{key}' (it has {known})"
    return None
