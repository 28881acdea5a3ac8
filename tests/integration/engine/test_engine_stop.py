"""Ending attempts early: retries with backoff, timeouts and cancels that kill the whole group."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from conveyor.actions import steering
from conveyor.actions.access import Actor
from conveyor.actions.runtime import Runtime

SLACK = 0.05  # float rounding of the database clock's epoch seconds

RETRIED = """
kind: job
name: retried
steps:
  - {id: stubborn, run: "exit 2", retries: 2, retry_delay: 0.5s}
"""


def test_retries_back_off_exponentially(
    run_job: Callable[..., Any],
    view: Callable[..., Any],
) -> None:
    finished = run_job(RETRIED, "retried")
    run_id = finished.id
    assert finished.state == "failed"
    attempts = view(run_id, history=True).steps
    assert [(s.attempt, s.state, s.exit_code) for s in attempts] == [
        (1, "failed", 2),
        (2, "failed", 2),
        (3, "failed", 2),
    ]
    # Lower bounds only: the delay doubles from 0.5 s after each failed attempt.
    assert attempts[1].started_at >= attempts[0].ended_at + 0.5 - SLACK
    assert attempts[2].started_at >= attempts[1].ended_at + 1.0 - SLACK


SLEEPER = """
kind: job
name: sleeper
params:
  - {name: pidfile, type: string, required: true}
steps:
  - id: nap
    TIMEOUT
    run: sh -c 'sleep 30 & echo $! > {pidfile}; sleep 30'
"""


def test_a_timeout_kills_grandchildren(
    tmp_path: Path,
    apply_yaml: Callable[..., object],
    submit_run: Callable[..., int],
    start_agent: Callable[..., object],
    wait_for_state: Callable[..., Any],
    steps_of: Callable[[int], dict],
    read_pid: Callable[[Path], int],
    pid_gone: Callable[..., bool],
) -> None:
    apply_yaml(SLEEPER.replace("TIMEOUT", "timeout: 1s"))
    start_agent()
    pidfile = tmp_path / "pid"
    run_id = submit_run("sleeper", {"pidfile": str(pidfile)})
    pid = read_pid(pidfile)
    assert wait_for_state(run_id).state == "failed"
    assert "timed out" in (steps_of(run_id)["nap"].error or "")
    assert pid_gone(pid)


def test_cancel_kills_the_running_group(
    tmp_path: Path,
    rt: Runtime,
    admin: Actor,
    apply_yaml: Callable[..., object],
    submit_run: Callable[..., int],
    start_agent: Callable[..., object],
    wait_for_state: Callable[..., Any],
    steps_of: Callable[[int], dict],
    read_pid: Callable[[Path], int],
    pid_gone: Callable[..., bool],
) -> None:
    apply_yaml(SLEEPER.replace("TIMEOUT", ""))
    start_agent()
    pidfile = tmp_path / "pid"
    run_id = submit_run("sleeper", {"pidfile": str(pidfile)})
    pid = read_pid(pidfile)
    steering.cancel(rt, admin, run_id)
    assert wait_for_state(run_id, timeout=15).state == "cancelled"
    assert steps_of(run_id)["nap"].state == "cancelled"
    assert pid_gone(pid)
