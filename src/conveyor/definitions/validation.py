"""Cross-document rules (SPEC sections 2 and 3): names, needs, cycles, placeholders in scope, uses.

Pydantic models check each document alone; here documents of one batch see each other and the
already stored definitions (a batch definition replaces a stored one of the same name), and every
problem is reported with its file and line.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Any

from conveyor.definitions.loader import Document, KeyPath
from conveyor.definitions.models import JobDef, JobStepDef, LookupDef, ParamDef, StepBody, StepDef
from conveyor.definitions.params import check_value
from conveyor.definitions.scope import (
    ANY_OUTPUT,
    Scope,
    body_texts,
    expression_problems,
    nested_texts,
    outputs_of,
    template_problems,
)
from conveyor.definitions.templates import parse_template
from conveyor.definitions.uses import SUB_JOB_PREFIX, job_references, resolve_uses
from conveyor.errors import DefinitionError, ParamError, Problem

# `job_references` and `resolve_uses` live in uses.py; they are part of this module's contract.
__all__ = ["job_references", "resolve_uses", "validate"]

_EMPTY: Mapping[str, Any] = MappingProxyType({})
_ROLLOUT_KEYS = ("max_parallel", "batch_size", "after_batch", "max_failures", "on_max_failures")


class _Report:
    def __init__(self, document: Document) -> None:
        self.document = document
        self.problems: list[Problem] = []

    def add(self, path: KeyPath, message: str) -> None:
        line = self.document.line_of(path)
        self.problems.append(Problem(self.document.source, line, message))


@dataclass(frozen=True)
class _Known:
    steps: Mapping[str, StepDef]
    jobs: Mapping[str, JobDef]
    lookups: frozenset[str]


def validate(
    documents: Sequence[Document],
    *,
    known_steps: Mapping[str, StepDef] = _EMPTY,
    known_jobs: Mapping[str, JobDef] = _EMPTY,
    known_lookups: Collection[str] = (),
) -> None:
    """Check cross-document rules; raises `DefinitionError` with every problem found.

    Definitions in `documents` see each other and override the `known_*` stored ones.
    """
    batch = [d.definition for d in documents]
    known = _Known(
        steps={**known_steps, **{d.name: d for d in batch if isinstance(d, StepDef)}},
        jobs={**known_jobs, **{d.name: d for d in batch if isinstance(d, JobDef)}},
        lookups=frozenset(known_lookups) | {d.name for d in batch if isinstance(d, LookupDef)},
    )
    problems = _duplicate_names(documents)
    for document in documents:
        report = _Report(document)
        definition = document.definition
        if isinstance(definition, JobDef):
            _check_job(definition, report, known)
        elif isinstance(definition, StepDef):
            _check_reusable_step(definition, report, known)
        else:
            _check_params(definition.params, ("params",), report, known.lookups)
        problems.extend(report.problems)
    problems.extend(_sub_job_cycles(documents, known.jobs))
    if problems:
        raise DefinitionError(problems)


def _duplicate_names(documents: Sequence[Document]) -> list[Problem]:
    seen: dict[tuple[str, str], Document] = {}
    problems = []
    for document in documents:
        definition = document.definition
        kind = "step" if isinstance(definition, StepDef) else definition.kind
        first = seen.setdefault((kind, definition.name), document)
        if first is not document:
            where = f"{first.source}:{first.line}"
            message = f"{kind} '{definition.name}' is defined twice (first at {where})"
            problems.append(Problem(document.source, document.line_of(("name",)), message))
    return problems


# -- params -------------------------------------------------------------------------------------


def _check_params(
    params: Sequence[ParamDef],
    base: KeyPath,
    report: _Report,
    lookups: Collection[str] | None,
    what: str = "param",
) -> None:
    seen: set[str] = set()
    for index, param in enumerate(params):
        path = (*base, index)
        label = f"{what} '{param.name}'"
        if param.name in seen:
            report.add(path, f"{label} is declared twice")
        seen.add(param.name)
        for message in _param_problems(param, label, lookups):
            report.add(path, message)


def _param_problems(param: ParamDef, label: str, lookups: Collection[str] | None) -> Iterator[str]:
    if param.type == "choice" and not param.choices:
        yield f"{label}: a choice needs choices"
    if param.lookup is not None and lookups is not None and param.lookup not in lookups:
        yield f"{label}: lookup '{param.lookup}' is not defined"
    if param.pattern is not None and not _is_regex(param.pattern):
        yield f"{label}: pattern is not a valid regular expression"
        return
    if param.type == "secret" and param.default is not None:
        # The value itself is never repeated: a default would be a secret in plain sight.
        yield f"{label}: a secret cannot have a default; pass it when submitting"
    elif param.default is not None and (param.type != "choice" or param.choices):
        try:
            check_value(param, param.default)
        except ParamError as exc:
            yield f"the default of {exc}"


def _is_regex(pattern: str) -> bool:
    try:
        re.compile(pattern)
    except re.error:
        return False
    return True


# -- reusable steps -----------------------------------------------------------------------------


def _check_reusable_step(step: StepDef, report: _Report, known: _Known) -> None:
    _check_params(step.params, ("params",), report, known.lookups)
    if step.uses is not None:
        report.add(
            ("uses",), "a reusable step cannot itself use a step or job; use both from a job"
        )
    scope = Scope(owner=f"step '{step.name}'", params=frozenset(p.name for p in step.params))
    _check_body(step, (), "", scope, report, known)


def _check_body(
    body: StepBody, base: KeyPath, label: str, scope: Scope, report: _Report, known: _Known
) -> None:
    for path, text in body_texts(body):
        for message in template_problems(text, scope):
            report.add((*base, *path), f"{label}{_field_text(path)}: {message}")
    if body.manual is not None:
        fields_path = (*base, "manual", "fields")
        _check_params(body.manual.fields, fields_path, report, known.lookups, what="field")


def _field_text(path: KeyPath) -> str:
    return ".".join(f"[{p}]" if isinstance(p, int) else p for p in path).replace(".[", "[")


# -- jobs ---------------------------------------------------------------------------------------


def _check_job(job: JobDef, report: _Report, known: _Known) -> None:
    _check_params(job.params, ("params",), report, known.lookups)
    job_scope = Scope(owner=f"job '{job.name}'", params=frozenset(p.name for p in job.params))
    for index, lock in enumerate(job.locks):
        for message in template_problems(lock.name, job_scope):
            report.add(("locks", index), f"locks[{index}]: {message}")
    ids = _step_ids(job, report)
    needs = _check_needs(job, ids, report)
    for cycle in find_cycles(needs):
        path = ("steps", ids[cycle[0]], "needs")
        report.add(path, "steps form a cycle through needs: " + " -> ".join(cycle))
    outputs = {step_id: outputs_of(job.steps[index], known.steps) for step_id, index in ids.items()}
    for index, step in enumerate(job.steps):
        scope = replace(
            job_scope,
            item=step.foreach is not None,
            upstream=frozenset(_reachable(needs, step.id)),
            job_steps=frozenset(ids),
            outputs=lambda step_id: outputs.get(step_id, ANY_OUTPUT),
        )
        _check_job_step(step, ("steps", index), scope, report, known)


def _check_job_step(
    step: JobStepDef, base: KeyPath, scope: Scope, report: _Report, known: _Known
) -> None:
    label = f"steps[{base[-1]}] ({step.id}): "
    _check_body(step, base, label, scope, report, known)
    if step.when is not None:
        for message in expression_problems(step.when, scope):
            report.add((*base, "when"), f"{label}when: {message}")
    _check_rollout(step, base, label, replace(scope, item=False), report)
    if step.uses is not None:
        _check_uses(step, base, label, report, known)
        for path, text in nested_texts(("with",), step.with_):
            for message in template_problems(text, scope):
                report.add((*base, *path), f"{label}{_field_text(path)}: {message}")


def _step_ids(job: JobDef, report: _Report) -> dict[str, int]:
    """Each step id with the index of its first step; a repeated id is a problem."""
    ids: dict[str, int] = {}
    for index, step in enumerate(job.steps):
        if step.id in ids:
            report.add(("steps", index, "id"), f"steps[{index}]: step id '{step.id}' is used twice")
        ids.setdefault(step.id, index)
    return ids


def _check_needs(job: JobDef, ids: Mapping[str, int], report: _Report) -> dict[str, list[str]]:
    """The needs graph over known step ids; each unknown name is a problem."""
    graph: dict[str, list[str]] = {step_id: [] for step_id in ids}
    for index, step in enumerate(job.steps):
        for position, name in enumerate(step.needs):
            if name in ids:
                graph[step.id].append(name)
            else:
                path = ("steps", index, "needs", position)
                report.add(path, f"steps[{index}] ({step.id}): needs '{name}', no step of this job")
    return graph


def find_cycles(graph: Mapping[str, Sequence[str]]) -> list[list[str]]:
    """Cycles of a directed graph, each as a path that returns to its start; one per node set."""
    state: dict[str, int] = {}  # 1: on the current path, 2: finished
    cycles: list[list[str]] = []
    found: set[frozenset[str]] = set()
    for root in graph:
        if root in state:
            continue
        path, stack = [root], [iter(graph[root])]
        state[root] = 1
        while stack:  # iterative, so a long chain of steps cannot exhaust the Python stack
            child = next(stack[-1], None)
            if child is None:
                state[path.pop()] = 2
                stack.pop()
            elif state.get(child) == 1:
                cycle = [*path[path.index(child) :], child]
                if frozenset(cycle) not in found:
                    found.add(frozenset(cycle))
                    cycles.append(cycle)
            elif child not in state and child in graph:
                state[child] = 1
                path.append(child)
                stack.append(iter(graph[child]))
    return cycles


def _reachable(graph: Mapping[str, Iterable[str]], start: str) -> set[str]:
    seen: set[str] = set()
    todo = list(graph.get(start, ()))
    while todo:
        node = todo.pop()
        if node not in seen:
            seen.add(node)
            todo.extend(graph.get(node, ()))
    return seen


def _check_rollout(
    step: JobStepDef, base: KeyPath, label: str, scope: Scope, report: _Report
) -> None:
    if step.foreach is None:
        for key in _ROLLOUT_KEYS:
            if key in step.model_fields_set:
                report.add((*base, key), f"{label}{key} goes only with foreach")
        return
    problems = template_problems(step.foreach, scope)
    if not problems and not parse_template(step.foreach).is_single_ref:
        problems = ["foreach must be a single placeholder such as {hosts}"]
    for message in problems:
        report.add((*base, "foreach"), f"{label}foreach: {message}")
    if step.after_batch is not None and step.after_batch not in scope.job_steps - {step.id}:
        message = f"after_batch names '{step.after_batch}', no other step of this job"
        report.add((*base, "after_batch"), label + message)


def _check_uses(
    step: JobStepDef, base: KeyPath, label: str, report: _Report, known: _Known
) -> None:
    uses = step.uses or ""
    target: JobDef | StepDef | None
    if uses.startswith(SUB_JOB_PREFIX):
        noun, target = (
            f"job '{uses[len(SUB_JOB_PREFIX) :]}'",
            known.jobs.get(uses[len(SUB_JOB_PREFIX) :]),
        )
    else:
        noun, target = f"step '{uses}'", known.steps.get(uses)
    if target is None:
        report.add((*base, "uses"), f"{label}uses {noun}, which is not defined")
        return
    params = {p.name: p for p in target.params}
    for key, value in step.with_.items():
        param = params.get(key)
        if param is None:
            report.add((*base, "with", key), f"{label}with: '{key}' is not a param of {noun}")
        else:
            for message in _literal_problems(param, value):
                report.add((*base, "with", key), f"{label}with: {message}")
    for param in target.params:
        if param.required and param.default is None and param.name not in step.with_:
            report.add((*base, "uses"), f"{label}{noun} needs its required param '{param.name}'")


def _literal_problems(param: ParamDef, value: Any) -> Iterator[str]:
    """A `with` value without placeholders can be checked against the param now."""
    if isinstance(value, str) and "{" in value:
        return
    try:
        check_value(param, value)
    except ParamError as exc:
        yield str(exc)


def _sub_job_cycles(documents: Sequence[Document], jobs: Mapping[str, JobDef]) -> list[Problem]:
    graph = {
        name: sorted(
            ref[len(SUB_JOB_PREFIX) :]
            for ref in job_references(job)
            if ref.startswith(SUB_JOB_PREFIX) and ref[len(SUB_JOB_PREFIX) :] in jobs
        )
        for name, job in jobs.items()
    }
    in_batch = {d.definition.name: d for d in documents if isinstance(d.definition, JobDef)}
    problems = []
    for cycle in find_cycles(graph):
        name = next((name for name in cycle if name in in_batch), None)
        if name is not None:
            document = in_batch[name]
            start = cycle.index(name)
            shown = [*cycle[start:-1], *cycle[:start], name]  # start the cycle at this job
            message = f"job '{name}' runs itself as a sub-job: " + " -> ".join(shown)
            problems.append(Problem(document.source, document.line_of(("steps",)), message))
    return problems
