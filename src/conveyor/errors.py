"""The whole error tree. Front doors map these classes to exit codes and HTTP statuses."""

from __future__ import annotations

from dataclasses import dataclass


class ConveyorError(Exception):
    """Root of every error Conveyor raises on purpose; its message is one plain sentence."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a definition, located in its file."""

    source: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.source}:{self.line}: {self.message}"


class DefinitionError(ConveyorError):
    """A definition file (or stored definition) is invalid; carries every problem found."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        first = str(problems[0]) if problems else "invalid definition"
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        super().__init__(first + more)


class ParamError(ConveyorError):
    """A param or field value breaks a rule; nothing was created."""


class UsageError(ConveyorError):
    """The caller asked for something malformed (bad flag, bad expression)."""


class NotFoundError(ConveyorError):
    """A named job, run, step, user or token does not exist."""


class ConflictError(ConveyorError):
    """The action does not fit the current state (approving a step that is not waiting...)."""


class AccessDenied(ConveyorError):
    """The acting user lacks the role the action needs."""


class AuthenticationError(ConveyorError):
    """The caller could not be identified (no or bad credentials)."""


class StoreError(ConveyorError):
    """The database could not be reached or refused a statement."""


class StaleAttempt(ConflictError):
    """A write carried an attempt token that is no longer the current one."""
