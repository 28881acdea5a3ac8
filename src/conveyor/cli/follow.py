"""Following a run to its end: progress on stderr, and the SPEC's exit code for its state."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any

from conveyor.cli.app import (
    EXIT_CANCELLED,
    EXIT_FAILED,
    EXIT_GOING,
    EXIT_OK,
    EXIT_TIMEOUT,
    EXIT_WAITING,
    say,
)
from conveyor.cli.backend import Backend

STATE_EXIT = {
    "succeeded": EXIT_OK,
    "failed": EXIT_FAILED,
    "waiting": EXIT_WAITING,
    "cancelled": EXIT_CANCELLED,
    "queued": EXIT_GOING,
    "running": EXIT_GOING,
}


def step_label(step: dict[str, Any]) -> str:
    if step.get("item_index") is not None:
        return f"{step['step']}[{step['item_index']}]"
    return str(step["step"])


class Progress:
    """Prints each step's state when it changes."""

    def __init__(self) -> None:
        self.seen: dict[tuple[str, int], str] = {}

    def show(self, run: dict[str, Any]) -> None:
        for step in run["steps"]:
            key = (step_label(step), step["attempt"])
            if self.seen.get(key) == step["state"]:
                continue
            self.seen[key] = step["state"]
            attempt = f" (attempt {step['attempt']})" if step["attempt"] > 1 else ""
            detail = (
                f": {step['error']}" if step.get("error") and step["state"] != "skipped" else ""
            )
            say(f"  {key[0]}{attempt}: {step['state']}{detail}")


def follow(
    backend: Backend,
    run_id: int,
    *,
    timeout: float | None,
    interval: float = 0.05,
    on_waiting: Callable[[dict[str, Any]], bool] | None = None,
) -> int:
    """Poll until the run is final (or waits on a person); return the exit code to use.
    `on_waiting` may settle a waiting step (inline approval) and return True to go on."""
    progress = Progress()
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        run = backend.run(run_id)
        progress.show(run)
        run_state = run["state"]
        if run_state in ("succeeded", "failed", "cancelled"):
            say(f"run {run_id} {run_state}")
            return STATE_EXIT[run_state]
        if run_state == "waiting" and not (on_waiting and on_waiting(run)):
            say(f"run {run_id} is waiting on a person: {waiting_hint(run)}")
            return EXIT_WAITING
        if deadline is not None and time.monotonic() > deadline:
            say(f"run {run_id} is still {run_state} after {timeout:g}s")
            return EXIT_TIMEOUT
        time.sleep(interval)
        interval = min(interval * 1.2, 0.5)


def waiting_hint(run: dict[str, Any]) -> str:
    waiting = [s["step"] for s in run["steps"] if s["state"] == "waiting"]
    names = ", ".join(waiting) or "?"
    return f"step {names} (conveyor approve {run['id']} {waiting[0] if waiting else 'STEP'})"


def is_terminal() -> bool:
    return sys.stdin.isatty() and sys.stderr.isatty()
