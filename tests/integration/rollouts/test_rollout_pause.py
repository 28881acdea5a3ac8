"""on_max_failures: pause — the run waits, saying which items failed, until an operator goes on
with the remaining items, retries the failed ones, or aborts."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from conveyor.actions.access import Actor, Role
from conveyor.actions.rollout_steering import continue_rollout
from conveyor.actions.runtime import Runtime
from conveyor.errors import AccessDenied, ConflictError, UsageError
from conveyor.store.tables import audit_event

PAUSING = """
kind: job
name: pausing
params:
  - {name: hosts, type: list, required: true}
  - {name: dir, type: string, required: true}
steps:
  - id: roll
    foreach: "{hosts}"
    max_parallel: 1
    max_failures: 0
    on_max_failures: pause
    run: >-
      case {item} in bad*) test -e {dir}/fixed || exit 1;; esac;
      echo "did=$CONVEYOR_ITEM" >> "$CONVEYOR_OUTPUT"
  - id: after
    needs: [roll]
    run: "true"
"""
HOSTS = ["a", "bad", "c", "d"]


@pytest.fixture
def paused(
    tmp_path: Path,
    apply_yaml: Callable[..., object],
    submit_run: Callable[..., int],
    start_agent: Callable[..., object],
    wait_for_state: Callable[..., Any],
) -> int:
    apply_yaml(PAUSING)
    start_agent(slots=4)
    run_id = submit_run("pausing", {"hosts": HOSTS, "dir": str(tmp_path)})
    assert wait_for_state(run_id, {"waiting", "succeeded", "failed"}).state == "waiting"
    return run_id


def _roll(view: Callable[..., Any], run_id: int) -> list[Any]:
    items = [s for s in view(run_id).steps if s.step == "roll"]
    return sorted(items, key=lambda s: s.item_index)


def test_a_paused_rollout_says_which_items_failed(paused: int, view: Callable[..., Any]) -> None:
    items = _roll(view, paused)
    assert [s.state for s in items] == ["succeeded", "failed", "waiting", "waiting"]
    assert items[2].waiting_for == (
        "rollout paused: 1 item(s) failed, more than max_failures 0 (failed: bad); "
        "a person may go on with the remaining items, retry the failed ones, or abort"
    )


def test_retry_failed_runs_them_again_then_the_rest(
    tmp_path: Path,
    paused: int,
    rt: Runtime,
    admin: Actor,
    wait_for_state: Callable[..., Any],
    view: Callable[..., Any],
) -> None:
    (tmp_path / "fixed").touch()
    continue_rollout(rt, admin, paused, "roll", "retry-failed")
    assert wait_for_state(paused).state == "succeeded"
    items = _roll(view, paused)
    assert [(s.state, s.attempt) for s in items] == [
        ("succeeded", 1),
        ("succeeded", 2),
        ("succeeded", 1),
        ("succeeded", 1),
    ]
    with rt.db.read() as conn:
        actions = list(conn.execute(select(audit_event.c.action)).scalars())
    assert "rollout.retry-failed" in actions


def test_remaining_skips_the_failed_items_and_goes_on(
    paused: int,
    rt: Runtime,
    admin: Actor,
    wait_for_state: Callable[..., Any],
    view: Callable[..., Any],
) -> None:
    continue_rollout(rt, admin, paused, "roll", "remaining")
    assert wait_for_state(paused).state == "succeeded"
    states = [s.state for s in _roll(view, paused)]
    assert states == ["succeeded", "skipped", "succeeded", "succeeded"]
    history = [s for s in view(paused, history=True).steps if s.item == "bad"]
    assert [s.state for s in history] == ["failed", "skipped"]


def test_abort_fails_the_run(
    paused: int,
    rt: Runtime,
    admin: Actor,
    wait_for_state: Callable[..., Any],
    view: Callable[..., Any],
) -> None:
    continue_rollout(rt, admin, paused, "roll", "abort")
    assert wait_for_state(paused).state == "failed"
    items = _roll(view, paused)
    assert [s.state for s in items] == ["succeeded", "failed", "cancelled", "cancelled"]
    assert items[3].error == "rollout aborted by tester"


def test_only_operators_may_answer_and_only_a_paused_rollout(
    paused: int, rt: Runtime, admin: Actor
) -> None:
    viewer = Actor(name="val", grants={"Default": frozenset({Role.VIEWER})})
    with pytest.raises(AccessDenied):
        continue_rollout(rt, viewer, paused, "roll", "remaining")
    with pytest.raises(UsageError, match="not a way to go on"):
        continue_rollout(rt, admin, paused, "roll", "onwards")
    with pytest.raises(ConflictError, match="not a paused rollout"):
        continue_rollout(rt, admin, paused, "after", "remaining")
