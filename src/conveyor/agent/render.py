"""Turning a claimed step into what an executor runs. Values are substituted once, quoted for
where they land: shell-quoted in commands, percent-encoded in URLs, raw in the environment.
Secrets reach processes only through environment variables."""

from __future__ import annotations

import json
import os
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from conveyor.agent.executors.http import HttpRequest
from conveyor.agent.executors.process import ProcessSpec
from conveyor.definitions.models import JobStepDef
from conveyor.definitions.shell import render_shell
from conveyor.definitions.templates import Ref, parse_template, render, shell_quote
from conveyor.engine.scope import Scope, as_text
from conveyor.errors import ConveyorError
from conveyor.security.masking import Masker

SHELLS = frozenset({"sh", "bash", "dash", "zsh", "ksh", "ash"})
DEFAULT_INTERPRETER = "/bin/sh"


class RenderError(ConveyorError):
    """A step could not be turned into a command (a missing value, a secret in argv...)."""


@dataclass(frozen=True)
class Prepared:
    """A step ready to execute: a process (with an optional script file body) or a request."""

    process: ProcessSpec | None = None
    script: str | None = None
    http: HttpRequest | None = None


def env_name(param: str) -> str:
    return "CONVEYOR_PARAM_" + param.upper().replace("-", "_").replace(".", "_")


class Renderer:
    """Renders the templates of one step of one run."""

    def __init__(self, scope: Scope, secrets: Mapping[str, str]) -> None:
        self.scope = scope
        self.secrets = secrets

    def _is_secret(self, ref: Ref) -> bool:
        return len(ref.path) == 1 and ref.path[0] in self.secrets

    def _resolve(self, ref: Ref) -> Any:
        if self._is_secret(ref):
            return self.secrets[ref.path[0]]
        try:
            return self.scope.resolve(ref)
        except LookupError as exc:
            raise RenderError(str(exc)) from exc

    def _render(self, text: str, encode: Callable[[Ref, Any], str]) -> str:
        return render(parse_template(text), lambda ref: encode(ref, self._resolve(ref)))

    def shell(self, text: str) -> str:
        """A command: values quoted for the context they land in (see definitions.shell),
        secrets as references to their environment variables."""

        def value_of(ref: Ref) -> tuple[str, bool]:
            if self._is_secret(ref):
                return f'"${{{env_name(ref.path[0])}}}"', False
            value = self._resolve(ref)
            if isinstance(value, list):
                return " ".join(shell_quote(as_text(v)) for v in value) or "''", False
            return as_text(value), True

        try:
            return render_shell(parse_template(text), value_of)
        except ValueError as exc:
            raise RenderError(str(exc)) from exc

    def literal(self, text: str, *, allow_secrets: bool = True, where: str = "") -> str:
        """Raw values, for the environment, headers and argv items (no shell reads them)."""

        def encode(ref: Ref, value: Any) -> str:
            if self._is_secret(ref) and not allow_secrets:
                raise RenderError(
                    f"secret {{{ref.text}}} cannot go in {where}, where every process "
                    f"listing would show it; use ${env_name(ref.path[0])} in a run command"
                )
            return as_text(value)

        return self._render(text, encode)

    def script(self, text: str, interpreter: str) -> str:
        """A script: shell-quoted for shells, JSON string literals for other interpreters."""
        program = os.path.basename(shlex.split(interpreter)[0]) if interpreter else "sh"
        if program in SHELLS:
            return self.shell(text)
        return self._render(text, lambda _ref, value: json.dumps(as_text(value)))

    def url(self, text: str) -> str:
        """A URL: a leading placeholder gives the base as is; later ones are percent-encoded
        so that a value cannot add a path segment or a query parameter."""
        template = parse_template(text)
        first = template.parts[0] if template.parts else None

        def encode(ref: Ref) -> str:
            value = as_text(self._resolve(ref))
            return value if ref is first else quote(value, safe="")

        return render(template, encode)

    def json_value(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.literal(value)
        if isinstance(value, list):
            return [self.json_value(v) for v in value]
        if isinstance(value, dict):
            return {k: self.json_value(v) for k, v in value.items()}
        return value


def prepare(
    step: JobStepDef, renderer: Renderer, base_env: Mapping[str, str], log_limit: int
) -> Prepared:
    """Render a `run`, `argv`, `script` or `http` step into its executor's input."""
    env = dict(base_env)
    for key, value in step.env.items():
        env[key] = renderer.literal(value)
    if step.http is not None:
        http = step.http
        return Prepared(
            http=HttpRequest(
                method=http.method,
                url=renderer.url(http.url),
                headers={k: renderer.literal(v) for k, v in http.headers.items()},
                body=renderer.literal(http.body) if http.body is not None else None,
                json_body=renderer.json_value(http.json_body),
                timeout=http.timeout or step.timeout or 30.0,
                expect_status=tuple(http.expect_status),
            )
        )
    if step.run is not None:
        argv = ["/bin/sh", "-c", renderer.shell(step.run)]
    elif step.argv is not None:
        argv = [renderer.literal(item, allow_secrets=False, where="argv") for item in step.argv]
    elif step.script is not None:
        interpreter = step.interpreter or DEFAULT_INTERPRETER
        spec = ProcessSpec(
            argv=shlex.split(interpreter), env=env, timeout=step.timeout, log_limit=log_limit
        )
        return Prepared(process=spec, script=renderer.script(step.script, interpreter))
    else:
        raise RenderError(f"step {step.id!r} is not run by agents")
    return Prepared(
        process=ProcessSpec(argv=argv, env=env, timeout=step.timeout, log_limit=log_limit)
    )


def base_environment(
    scope: Scope, secrets: Mapping[str, str], step_key: str, attempt: int
) -> dict[str, str]:
    """CONVEYOR_* variables every step process gets: params (secrets too), run facts, item."""
    env = {env_name(name): as_text(value) for name, value in scope.params.items()}
    env.update({env_name(name): value for name, value in secrets.items()})
    env.update(
        CONVEYOR_RUN_ID=str(scope.run_id),
        CONVEYOR_JOB=scope.job_name,
        CONVEYOR_STEP_ID=step_key,
        CONVEYOR_ATTEMPT=str(attempt),
        CONVEYOR_SUBMITTER=scope.submitter,
    )
    if scope.item is not None:
        env["CONVEYOR_ITEM"] = as_text(scope.item)
    return env


def masker_for(secrets: Mapping[str, str]) -> Masker:
    return Masker(v for v in secrets.values() if isinstance(v, str))
