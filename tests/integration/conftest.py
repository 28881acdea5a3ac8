"""Factories for integration tests: apply definitions, start agents, wait for states.

Every factory is a fixture returning a callable (STYLE.md); agents started through
`start_agent` are stopped at teardown, killing whatever they still run.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterator
from pathlib import Path
from typing import Any

import pytest

from conveyor.actions import definitions, queries, submit
from conveyor.actions.access import Actor
from conveyor.actions.definitions import Applied
from conveyor.actions.queries import RunView, StepView
from conveyor.actions.runtime import Runtime
from conveyor.agent.worker import Agent
from conveyor.definitions.loader import load_text

FINAL = ("succeeded", "failed", "cancelled")
WAIT_SECONDS = 60.0
POLL_SECONDS = 0.1


@pytest.fixture
def admin() -> Actor:
    """The local user while no account exists: trusted like an admin."""
    return Actor(name="tester", is_admin=True)


@pytest.fixture
def apply_yaml(rt: Runtime, admin: Actor) -> Callable[[str], list[Applied]]:
    def apply(text: str) -> list[Applied]:
        return definitions.apply(rt, admin, load_text(text, "test.yaml"))

    return apply


@pytest.fixture
def submit_run(rt: Runtime, admin: Actor) -> Callable[..., int]:
    """`submit_run(job, params={}, actor=admin)` returns the new run's id."""

    def run(job: str, params: dict[str, Any] | None = None, actor: Actor | None = None) -> int:
        return submit.submit(rt, actor or admin, job, params or {}).id

    return run


@pytest.fixture
def start_agent(rt: Runtime) -> Iterator[Callable[..., Agent]]:
    """`start_agent(tags=..., slots=..., runtime=...)` starts an in-process agent."""
    started: list[Agent] = []

    def start(runtime: Runtime | None = None, **kwargs: Any) -> Agent:
        agent = Agent(runtime or rt, **kwargs)
        agent.start()
        started.append(agent)
        return agent

    yield start
    for agent in started:
        if not agent.stopping.is_set():
            agent.stop(timeout=10, kill=True)


@pytest.fixture
def view(rt: Runtime, admin: Actor) -> Callable[..., RunView]:
    def get(run_id: int, *, history: bool = False) -> RunView:
        return queries.run_view(rt, admin, run_id, history=history)

    return get


@pytest.fixture
def wait_for_state(view: Callable[..., RunView]) -> Callable[..., RunView]:
    """Poll the store until the run is in one of `states` (default: a final one)."""

    def wait(
        run_id: int, states: Collection[str] = FINAL, timeout: float = WAIT_SECONDS
    ) -> RunView:
        deadline = time.monotonic() + timeout
        while True:
            current = view(run_id)
            if current.state in states:
                return current
            if time.monotonic() > deadline:
                summary = [(s.step, s.item_index, s.state, s.error) for s in current.steps]
                raise AssertionError(f"run {run_id} is {current.state}, not {states}: {summary}")
            time.sleep(POLL_SECONDS)

    return wait


@pytest.fixture
def wait_for_step(view: Callable[..., RunView]) -> Callable[..., StepView]:
    """Poll the store until the step's current attempt is in one of `states`."""

    def wait(
        run_id: int, step: str, states: Collection[str], timeout: float = WAIT_SECONDS
    ) -> StepView:
        deadline = time.monotonic() + timeout
        while True:
            found = [s for s in view(run_id).steps if s.step == step]
            if found and found[0].state in states:
                return found[0]
            if time.monotonic() > deadline:
                raise AssertionError(f"step {step} of run {run_id} is not in {states}: {found}")
            time.sleep(POLL_SECONDS)

    return wait


@pytest.fixture
def steps_of(view: Callable[..., RunView]) -> Callable[[int], dict[str, StepView]]:
    """The run's current step runs by step id (one per step; not for foreach steps)."""

    def get(run_id: int) -> dict[str, StepView]:
        return {s.step: s for s in view(run_id).steps}

    return get


@pytest.fixture
def log_of(rt: Runtime, admin: Actor) -> Callable[..., str]:
    """The whole log of a run (or of one step, every attempt) as one text."""

    def get(run_id: int, step: str | None = None) -> str:
        return "".join(c.text for c in queries.logs(rt, admin, run_id, step=step))

    return get


def _alive(pid: int) -> bool:
    """True while the process runs; a zombie waiting for its reaper counts as gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            state = handle.read().rsplit(b")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state not in (b"Z", b"X")


@pytest.fixture
def pid_gone() -> Callable[..., bool]:
    """`pid_gone(pid, timeout)`: wait for a process to end; True when it did."""

    def wait(pid: int, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(POLL_SECONDS)
        return not _alive(pid)

    return wait


@pytest.fixture
def read_pid() -> Callable[[Path], int]:
    """Wait for a step to write a process id into `path`, and return it."""

    def read(path: Path) -> int:
        deadline = time.monotonic() + WAIT_SECONDS
        while not (path.exists() and path.read_text().strip()):
            assert time.monotonic() < deadline, f"{path} was never written"
            time.sleep(POLL_SECONDS)
        return int(path.read_text())

    return read


@pytest.fixture
def run_job(
    apply_yaml: Callable[[str], list[Applied]],
    start_agent: Callable[..., Agent],
    submit_run: Callable[..., int],
    wait_for_state: Callable[..., RunView],
) -> Callable[..., RunView]:
    """`run_job(yaml, job, params=None, **agent_options)`: apply the definitions, start an
    agent, submit a run and wait until it is final; returns the finished run."""

    def run(text: str, job: str, params: dict[str, Any] | None = None, **agent: Any) -> RunView:
        apply_yaml(text)
        start_agent(**agent)
        return wait_for_state(submit_run(job, params))

    return run
