"""An agent that stops and kills its steps hands them back: lost, then queued again when
restartable, instead of failing a run that nobody asked to cancel."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

SLEEPER = """
kind: job
name: sleeper
steps:
  - id: nap
    restartable: RESTARTABLE
    run: echo "attempt $CONVEYOR_ATTEMPT"; sleep 20
"""


@pytest.mark.parametrize("restartable", [True, False])
def test_killed_steps_of_a_stopping_agent_are_handed_back(
    restartable: bool,
    apply_yaml: Callable[..., Any],
    submit_run: Callable[..., int],
    start_agent: Callable[..., Any],
    wait_for_step: Callable[..., Any],
    wait_for_state: Callable[..., Any],
    view: Callable[..., Any],
) -> None:
    apply_yaml(SLEEPER.replace("RESTARTABLE", str(restartable).lower()))
    agent = start_agent(slots=1)
    run_id = submit_run("sleeper", {})
    wait_for_step(run_id, "nap", {"running"})
    agent.stop(timeout=0.2, kill=True)
    history = [(s.attempt, s.state) for s in view(run_id, history=True).steps]
    if restartable:
        assert history == [(1, "lost"), (2, "ready")]
        assert view(run_id).state == "running"
    else:
        assert history == [(1, "lost")]
        assert wait_for_state(run_id).state == "failed"
    assert "stopped before the step ended" in (view(run_id, history=True).steps[0].error or "")
