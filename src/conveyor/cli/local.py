"""`run --local`: the store plus an embedded agent in this process, no server needed."""

from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING

from conveyor.cli.backend import LocalBackend
from conveyor.config import Settings

if TYPE_CHECKING:
    from conveyor.agent.worker import Agent


class LocalRun:
    """A local backend with an agent of `slots` slots, stopped (its steps killed) on exit."""

    def __init__(self, settings: Settings, *, slots: int) -> None:
        self.backend = LocalBackend(settings.with_overrides(server_url=None))
        self.slots = slots
        self.agent: Agent | None = None

    def __enter__(self) -> LocalRun:
        from conveyor.agent.worker import Agent

        self.agent = Agent(self.backend.rt, slots=self.slots, name="local")
        self.agent.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.agent is not None:
            # Leaving early (timeout, Ctrl-C) must not leave orphan processes behind.
            self.agent.stop(timeout=2.0, kill=exc_type is not None)
        self.backend.rt.close()
