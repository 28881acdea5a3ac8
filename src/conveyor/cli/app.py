"""The Typer application, the shared state of one invocation, and error-to-exit-code mapping."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NoReturn, TypeVar

import typer

from conveyor.cli.backend import Backend, LocalBackend
from conveyor.config import Settings
from conveyor.errors import (
    AccessDenied,
    AuthenticationError,
    ConflictError,
    ConveyorError,
    DefinitionError,
    NotFoundError,
    ParamError,
    StoreError,
    UsageError,
)

app = typer.Typer(
    name="conveyor",
    help="Conveyor: jobs of reusable steps, run by agents that pull work from a database.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

# Exit codes (SPEC section 5).
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_WAITING, EXIT_CANCELLED, EXIT_TIMEOUT, EXIT_STORE = (
    0, 1, 2, 3, 4, 5, 6,
)  # fmt: skip
EXIT_GOING = 7  # `status` of a run that is still queued or running (an extension of SPEC 5)
_ERROR_CODES: tuple[tuple[type[ConveyorError], int], ...] = (
    (StoreError, EXIT_STORE),
    (DefinitionError, EXIT_USAGE),
    (ParamError, EXIT_USAGE),
    (UsageError, EXIT_USAGE),
    (NotFoundError, EXIT_USAGE),
    (ConflictError, EXIT_USAGE),
    (AccessDenied, EXIT_USAGE),
    (AuthenticationError, EXIT_USAGE),
)


@dataclass
class Invocation:
    """What every command of this process shares: settings and the backend they select."""

    settings: Settings = field(default_factory=Settings.from_env)
    _backend: Backend | None = None

    @property
    def backend(self) -> Backend:
        if self._backend is None:
            if self.settings.server_url:
                from conveyor.cli.remote import RemoteBackend

                self._backend = RemoteBackend(self.settings)
            else:
                self._backend = LocalBackend(self.settings)
        return self._backend


state = Invocation()


def say(message: str) -> None:
    """Progress and messages go to stderr; stdout is kept for what scripts read."""
    typer.echo(message, err=True)


def emit_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def exit_code_for(exc: ConveyorError) -> int:
    for kind, code in _ERROR_CODES:
        if isinstance(exc, kind):
            return code
    return EXIT_FAILED


def fail(exc: ConveyorError) -> NoReturn:
    """Print one sentence (every problem of a definition error) and exit with its code."""
    if isinstance(exc, DefinitionError):
        for problem in exc.problems:
            say(f"error: {problem}")
    else:
        say(f"error: {exc}")
    if state.settings.verbose:
        import traceback

        traceback.print_exception(exc, file=sys.stderr)
    raise typer.Exit(exit_code_for(exc))


F = TypeVar("F", bound=Callable[..., Any])


def guarded(func: F) -> F:
    """Turn ConveyorError into one sentence and the SPEC's exit code."""
    import functools

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ConveyorError as exc:
            fail(exc)

    return wrapper  # type: ignore[return-value]
