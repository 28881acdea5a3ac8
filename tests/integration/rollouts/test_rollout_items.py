"""foreach rollouts: one step run (and log) per item, outputs as a list, max_parallel,
max_failures, batches with an after-batch check."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from conveyor.actions.access import Actor
from conveyor.actions.queries import StepView, logs
from conveyor.actions.runtime import Runtime

TIMED = """
      echo "from=$(date +%s.%N)" >> "$CONVEYOR_OUTPUT"; sleep {pause};
      echo "to=$(date +%s.%N)" >> "$CONVEYOR_OUTPUT"
"""

LISTED = """
kind: job
name: listed
params:
  - {name: hosts, type: list, required: true}
  - {name: dir, type: string, required: true}
steps:
  - id: roll
    foreach: "{hosts}"
    run: echo "deploying {item}"; echo "host=[{item}]" >> "$CONVEYOR_OUTPUT"
  - id: after
    needs: [roll]
    run: printf '%s|' {steps.roll.outputs.host} > {dir}/all
"""


def _items(view: Callable[..., Any], run_id: int, step: str) -> list[StepView]:
    return sorted(
        (s for s in view(run_id).steps if s.step == step and s.item_index is not None),
        key=lambda s: s.item_index or 0,
    )


def _max_overlap(spans: list[tuple[float, float]]) -> int:
    edges = sorted([(a, 1) for a, _ in spans] + [(b, -1) for _, b in spans])
    level = peak = 0
    for _, delta in edges:
        level += delta
        peak = max(peak, level)
    return peak


def _span(step: StepView) -> tuple[float, float]:
    return float(step.outputs["from"]), float(step.outputs["to"])


def test_each_item_has_its_own_step_run_log_and_outputs_read_as_a_list(
    tmp_path: Path,
    rt: Runtime,
    admin: Actor,
    apply_yaml: Callable[..., object],
    submit_run: Callable[..., int],
    start_agent: Callable[..., object],
    wait_for_state: Callable[..., Any],
    view: Callable[..., Any],
) -> None:
    apply_yaml(LISTED)
    start_agent(slots=3)
    hosts = ["a", "b c", "d;e"]
    run_id = submit_run("listed", {"hosts": hosts, "dir": str(tmp_path)})
    assert wait_for_state(run_id).state == "succeeded"
    items = _items(view, run_id, "roll")
    assert [s.item for s in items] == hosts
    assert [s.outputs["host"] for s in items] == ["[a]", "[b c]", "[d;e]"]
    chunks = logs(rt, admin, run_id, step="roll")
    for step in items:
        text = "".join(c.text for c in chunks if c.step_run_id == step.id)
        assert text == f"deploying {step.item}\n"
    assert (tmp_path / "all").read_text() == "[a]|[b c]|[d;e]|"


WIDE = """
kind: job
name: wide
params:
  - {name: hosts, type: list, required: true}
steps:
  - id: roll
    foreach: "{hosts}"
    max_parallel: 3
    max_failures: MAXF
    run: >-
      case {item} in bad*) exit 1;; esac; TIMED
"""


def test_max_parallel_never_has_more_items_running(
    run_job: Callable[..., Any],
    view: Callable[..., Any],
) -> None:
    finished = run_job(
        WIDE.replace("MAXF", "0").replace("TIMED", TIMED.format(pause=0.1).strip()),
        "wide",
        {"hosts": [f"h{i}" for i in range(20)]},
        slots=8,
    )
    run_id = finished.id
    assert finished.state == "succeeded"
    items = _items(view, run_id, "roll")
    assert len(items) == 20
    assert all(s.attempt == 1 for s in items)
    assert 2 <= _max_overlap([_span(s) for s in items]) <= 3


def test_max_failures_stops_launching_new_items(
    apply_yaml: Callable[..., object],
    submit_run: Callable[..., int],
    start_agent: Callable[..., object],
    wait_for_state: Callable[..., Any],
    view: Callable[..., Any],
) -> None:
    apply_yaml(WIDE.replace("MAXF", "1").replace("TIMED", TIMED.format(pause=0.05).strip()))
    start_agent(slots=8)
    hosts = ["bad0", "h1", "bad2", *[f"h{i}" for i in range(3, 20)]]
    run_id = submit_run("wide", {"hosts": hosts})
    assert wait_for_state(run_id).state == "failed"
    items = _items(view, run_id, "roll")
    states = [s.state for s in items]
    assert states.count("failed") == 2
    cancelled = [s for s in items if s.state == "cancelled"]
    assert len(cancelled) >= 14  # at most 3 were going when the second failure came
    assert cancelled[0].error.startswith("not started: 2 item(s) failed, more than max_failures 1")
    assert "bad0, bad2" in cancelled[0].error


BATCHED = """
kind: job
name: batched
params:
  - {name: hosts, type: list, required: true}
steps:
  - id: roll
    foreach: "{hosts}"
    batch_size: 2
    after_batch: smoke
    run: >-
      TIMED
  - id: smoke
    run: >-
      echo "seen=$CONVEYOR_ITEM" >> "$CONVEYOR_OUTPUT";
      case "$CONVEYOR_ITEM" in *bad*) exit 1;; esac; TIMED
  - id: done
    needs: [roll]
    run: echo "at=$(date +%s.%N)" >> "$CONVEYOR_OUTPUT"
""".replace("TIMED", TIMED.format(pause=0.1).strip())


def test_batches_wait_for_the_previous_batch_and_its_check(
    run_job: Callable[..., Any],
    view: Callable[..., Any],
) -> None:
    finished = run_job(BATCHED, "batched", {"hosts": ["a", "b", "c", "d", "e"]}, slots=8)
    run_id = finished.id
    assert finished.state == "succeeded"
    items = _items(view, run_id, "roll")
    checks = _items(view, run_id, "smoke")
    assert [c.outputs["seen"] for c in checks] == ["a,b", "c,d", "e"]
    assert [c.item for c in checks] == [["a", "b"], ["c", "d"], ["e"]]
    batches = [items[0:2], items[2:4], items[4:5]]
    for number, batch in enumerate(batches):
        check = _span(checks[number])
        assert check[0] >= max(_span(s)[1] for s in batch)
        if number + 1 < len(batches):
            assert min(_span(s)[0] for s in batches[number + 1]) >= check[1]
    done = next(s for s in view(run_id).steps if s.step == "done")
    assert float(done.outputs["at"]) >= _span(checks[-1])[1]


def test_a_failed_check_stops_the_rollout(
    run_job: Callable[..., Any],
    view: Callable[..., Any],
) -> None:
    finished = run_job(BATCHED, "batched", {"hosts": ["a", "bad", "c", "d"]}, slots=8)
    run_id = finished.id
    assert finished.state == "failed"
    items = _items(view, run_id, "roll")
    assert [s.state for s in items] == ["succeeded", "succeeded", "cancelled", "cancelled"]
    assert items[2].error == "not started: the after_batch check of batch 1 failed"
    assert [c.state for c in _items(view, run_id, "smoke")] == ["failed"]
    assert next(s for s in view(run_id).steps if s.step == "done").state == "pending"
