"""max_concurrency (queue in order, or reject), job and step locks that say who holds them,
locks released with lost steps and ended runs, no deadlock, and steps no live agent can take."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select

from conveyor.actions import execution, steering
from conveyor.actions.access import Actor
from conveyor.actions.launch import LimitReached
from conveyor.actions.runtime import Runtime
from conveyor.store import locks as lock_store
from conveyor.store.claims import claimable_keys
from conveyor.store.tables import job_run

SPAN = """
      echo "from=$(date +%s.%N)" >> "$CONVEYOR_OUTPUT"; sleep 0.3;
      echo "to=$(date +%s.%N)" >> "$CONVEYOR_OUTPUT"
"""

SERIAL = f"""
kind: job
name: serial
max_concurrency: 1
steps:
  - id: work
    run: >-{SPAN}"""

REFUSING = """
kind: job
name: refusing
max_concurrency: 1
on_limit: reject
steps:
  - {id: hold, manual: {instructions: hold the slot}}
"""


def _spans(view: Callable[..., Any], run_ids: list[int], step: str) -> list[tuple[float, float]]:
    found = []
    for run_id in run_ids:
        for s in view(run_id).steps:
            if s.step == step:
                found.append((float(s.outputs["from"]), float(s.outputs["to"])))
    return found


def _max_overlap(spans: list[tuple[float, float]]) -> int:
    edges = sorted([(a, 1) for a, _ in spans] + [(b, -1) for _, b in spans])
    level = peak = 0
    for _, delta in edges:
        level += delta
        peak = max(peak, level)
    return peak


def test_queued_runs_start_in_submission_order(
    apply_yaml: Callable[..., object],
    submit_run: Callable[..., int],
    start_agent: Callable[..., object],
    wait_for_state: Callable[..., Any],
    view: Callable[..., Any],
) -> None:
    apply_yaml(SERIAL)
    runs = [submit_run("serial") for _ in range(4)]
    assert [view(r).state for r in runs] == ["running", "queued", "queued", "queued"]
    assert view(runs[1]).error == "waiting for a free slot: job 'serial' allows 1 run(s) at once"
    start_agent(slots=4)
    for run_id in runs:
        assert wait_for_state(run_id).state == "succeeded"
    spans = _spans(view, runs, "work")
    assert spans == sorted(spans)  # started in submission order
    assert all(end <= start for (_, end), (start, _) in itertools.pairwise(spans))
    assert view(runs[-1]).error is None


def test_reject_refuses_with_a_sentence_and_stores_nothing(
    rt: Runtime, apply_yaml: Callable[..., object], submit_run: Callable[..., int]
) -> None:
    apply_yaml(REFUSING)
    submit_run("refusing")
    with pytest.raises(LimitReached, match=r"allows 1 at once .*refused"):
        submit_run("refusing")
    with rt.db.read() as conn:
        assert conn.execute(select(func.count()).select_from(job_run)).scalar_one() == 1


HOLDER = """
kind: job
name: holder
params:
  - {name: env, type: string, default: prod}
locks: ["deploy-{env}"]
steps:
  - {id: hold, manual: {instructions: keep the lock}}
---
kind: job
name: stepper
steps:
  - id: deploy
    locks: ["deploy-prod"]
    run: echo "at=$(date +%s.%N)" >> "$CONVEYOR_OUTPUT"
"""


def test_waiting_for_a_lock_says_who_holds_it_and_release_wakes_at_once(
    rt: Runtime,
    admin: Actor,
    apply_yaml: Callable[..., object],
    submit_run: Callable[..., int],
    start_agent: Callable[..., object],
    wait_for_state: Callable[..., Any],
    wait_for_step: Callable[..., Any],
    view: Callable[..., Any],
) -> None:
    apply_yaml(HOLDER)
    first = submit_run("holder")
    second = submit_run("holder")
    assert view(first).state == "waiting"
    assert view(second).state == "queued"
    assert view(second).error == f"waiting for lock deploy-prod held by run {first}"
    start_agent()
    stepper = submit_run("stepper")
    deadline = time.monotonic() + 10
    while not (view(stepper).steps[0].waiting_for or "").startswith("waiting for lock"):
        assert time.monotonic() < deadline, view(stepper)
        time.sleep(0.1)
    assert view(stepper).steps[0].waiting_for == f"waiting for lock deploy-prod held by run {first}"
    cancelled_at = time.time()
    steering.cancel(rt, admin, first)
    # The second holder run takes the lock (it queued first); once it is cancelled too the
    # step goes at once, not after its slow safety-net retry.
    assert wait_for_state(second, {"waiting"}).state == "waiting"
    steering.cancel(rt, admin, second)
    assert wait_for_state(stepper).state == "succeeded"
    assert float(view(stepper).steps[0].outputs["at"]) - cancelled_at < 3.0
    with rt.db.read() as conn:
        assert lock_store.holders(conn) == []


TWO_LOCKS = """
kind: job
name: ab
steps:
  - id: work
    locks: [a, b]
    run: >-{span}
---
kind: job
name: ba
steps:
  - id: work
    locks: [b, {{name: a, limit: 1}}]
    run: >-{span}
""".format(span=SPAN.replace("0.3", "0.05"))


def test_two_runs_wanting_the_same_two_locks_never_deadlock(
    apply_yaml: Callable[..., object],
    submit_run: Callable[..., int],
    start_agent: Callable[..., object],
    wait_for_state: Callable[..., Any],
    view: Callable[..., Any],
) -> None:
    apply_yaml(TWO_LOCKS)
    start_agent(slots=4)
    start_agent(slots=4)
    runs = [submit_run(job) for _ in range(6) for job in ("ab", "ba")]
    for run_id in runs:
        assert wait_for_state(run_id).state == "succeeded"
    assert _max_overlap(_spans(view, runs, "work")) == 1


LOCKED_STEP = """
kind: job
name: locked-step
steps:
  - id: work
    locks: [{name: pool, limit: 1}]
    run: "true"
"""


def test_the_locks_of_a_lost_step_are_released(
    rt: Runtime,
    make_runtime: Callable[..., Runtime],
    apply_yaml: Callable[..., object],
    submit_run: Callable[..., int],
) -> None:
    apply_yaml(LOCKED_STEP)
    submit_run("locked-step")
    short = make_runtime(lease_seconds=0.5)
    assert len(execution.claim(short, 999_999, claimable_keys(()), 1)) == 1
    with rt.db.read() as conn:
        assert [h["name"] for h in lock_store.holders(conn)] == ["pool"]
    deadline = time.monotonic() + 15
    while execution.sweep(rt) == 0:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    with rt.db.read() as conn:
        assert lock_store.holders(conn) == []


GPU = """
kind: job
name: gpu-job
steps:
  - {id: train, on: [gpu], run: "true"}
"""


def test_a_step_no_live_agent_can_take_says_so(
    apply_yaml: Callable[..., object],
    submit_run: Callable[..., int],
    start_agent: Callable[..., object],
    wait_for_state: Callable[..., Any],
    view: Callable[..., Any],
) -> None:
    apply_yaml(GPU)
    run_id = submit_run("gpu-job")
    assert view(run_id).steps[0].waiting_for == "no live agent has tags gpu"
    start_agent(tags=["cpu"])
    assert view(run_id).steps[0].waiting_for == "no live agent has tags gpu"
    start_agent(tags=["gpu", "cpu"])
    assert wait_for_state(run_id).state == "succeeded"
    assert view(run_id).steps[0].waiting_for is None
