"""The step graph run by real agents: parallel branches, joins, `when`, skips, failures, tags."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from typing import Any

PARALLEL = """
kind: job
name: parallel
steps:
  - {id: start, run: "true"}
  - id: left
    needs: [start]
    run: >-
      echo "from=$(date +%s.%N)" >> "$CONVEYOR_OUTPUT"; sleep 1;
      echo "to=$(date +%s.%N)" >> "$CONVEYOR_OUTPUT"
  - id: right
    needs: [start]
    run: >-
      echo "from=$(date +%s.%N)" >> "$CONVEYOR_OUTPUT"; sleep 1.5;
      echo "to=$(date +%s.%N)" >> "$CONVEYOR_OUTPUT"
  - id: join
    needs: [left, right]
    run: echo "at=$(date +%s.%N)" >> "$CONVEYOR_OUTPUT"
"""


def test_parallel_branches_overlap_and_the_join_waits_for_both(
    run_job: Callable[..., Any],
    steps_of: Callable[[int], dict],
) -> None:
    finished = run_job(PARALLEL, "parallel", slots=2)
    run_id = finished.id
    assert finished.state == "succeeded"
    steps = steps_of(run_id)
    left = [float(steps["left"].outputs[k]) for k in ("from", "to")]
    right = [float(steps["right"].outputs[k]) for k in ("from", "to")]
    assert left[0] < right[1], (left, right)
    assert right[0] < left[1], (left, right)
    assert float(steps["join"].outputs["at"]) >= max(left[1], right[1])


FAN = """
kind: job
name: fan
steps:
  - {id: a, run: "true"}
  - {id: b, run: "true"}
  - {id: c, run: "true"}
  - {id: d, run: "true"}
  - {id: join, needs: [a, b, c, d], run: "true"}
"""


def test_joins_are_not_missed_when_branches_end_together(
    apply_yaml: Callable[..., object],
    submit_run: Callable[..., int],
    start_agent: Callable[..., object],
    wait_for_state: Callable[..., object],
    steps_of: Callable[[int], dict],
) -> None:
    apply_yaml(FAN)
    start_agent(slots=4)
    start_agent(slots=4)
    runs = [submit_run("fan") for _ in range(8)]
    for run_id in runs:
        assert wait_for_state(run_id).state == "succeeded"  # type: ignore[attr-defined]
        assert steps_of(run_id)["join"].state == "succeeded"


CONDITIONS = """
kind: job
name: conditions
params:
  - {name: env, type: choice, choices: [staging, prod], default: staging}
steps:
  - {id: always, run: "true"}
  - {id: prod-only, needs: [always], when: "{env} == 'prod'", run: "true"}
  - {id: after-prod, needs: [prod-only], run: "true"}
  - {id: staging-only, needs: [always], when: "{env} == 'staging' and not false", run: "true"}
  - {id: tolerant, run: "exit 3", success_codes: [0, 3]}
"""


def test_when_skips_and_skips_propagate(
    run_job: Callable[..., Any],
    submit_run: Callable[..., int],
    wait_for_state: Callable[..., object],
    steps_of: Callable[[int], dict],
) -> None:
    finished = run_job(CONDITIONS, "conditions")
    run_id = finished.id
    assert finished.state == "succeeded"
    states = {key: s.state for key, s in steps_of(run_id).items()}
    assert states == {
        "always": "succeeded",
        "prod-only": "skipped",
        "after-prod": "skipped",
        "staging-only": "succeeded",
        "tolerant": "succeeded",
    }
    assert steps_of(run_id)["tolerant"].exit_code == 3
    prod = submit_run("conditions", {"env": "prod"})
    assert wait_for_state(prod).state == "succeeded"  # type: ignore[attr-defined]
    assert steps_of(prod)["after-prod"].state == "succeeded"
    assert steps_of(prod)["staging-only"].state == "skipped"


FAILING = """
kind: job
name: failing
steps:
  - {id: broken, run: "exit 1"}
  - {id: after, needs: [broken], run: "true"}
  - {id: later, needs: [after], run: "true"}
  - {id: other, run: "sleep 0.3"}
"""


def test_a_failed_step_fails_the_run_and_its_dependants_never_run(
    run_job: Callable[..., Any],
    steps_of: Callable[[int], dict],
) -> None:
    finished = run_job(FAILING, "failing")
    run_id = finished.id
    assert finished.state == "failed"
    steps = steps_of(run_id)
    assert steps["broken"].state == "failed"
    assert steps["broken"].exit_code == 1
    assert steps["after"].state == "pending"
    assert steps["later"].state == "pending"
    assert steps["other"].state == "succeeded"


TAGGED = """
kind: job
name: tagged
steps:
  - {id: anywhere, run: "true"}
  - {id: gpu, needs: [anywhere], on: [gpu], run: "true"}
"""


def test_tagged_steps_only_go_to_agents_with_the_tag(
    apply_yaml: Callable[..., object],
    submit_run: Callable[..., int],
    start_agent: Callable[..., object],
    wait_for_state: Callable[..., object],
    wait_for_step: Callable[..., object],
    steps_of: Callable[[int], dict],
) -> None:
    apply_yaml(TAGGED)
    start_agent(name="plain", tags=["cpu"])
    run_id = submit_run("tagged")
    wait_for_step(run_id, "anywhere", {"succeeded"})
    time.sleep(1.0)  # the plain agent polls several times meanwhile
    assert steps_of(run_id)["gpu"].state == "ready"
    start_agent(name="gpu-box", tags=["gpu", "cpu"])
    assert wait_for_state(run_id).state == "succeeded"  # type: ignore[attr-defined]
    assert steps_of(run_id)["gpu"].agent == "gpu-box"
    assert steps_of(run_id)["anywhere"].agent == "plain"


LOCKED = """
kind: job
name: locked
params:
  - {name: env, type: string, default: prod}
steps:
  - id: one
    locks: ["deploy-{env}"]
    run: >-
      echo "from=$(date +%s.%N)" >> "$CONVEYOR_OUTPUT"; sleep 0.4;
      echo "to=$(date +%s.%N)" >> "$CONVEYOR_OUTPUT"
  - id: two
    locks: ["deploy-{env}"]
    run: >-
      echo "from=$(date +%s.%N)" >> "$CONVEYOR_OUTPUT"; sleep 0.4;
      echo "to=$(date +%s.%N)" >> "$CONVEYOR_OUTPUT"
"""


def test_steps_holding_the_same_lock_never_overlap(
    apply_yaml: Callable[..., object],
    submit_run: Callable[..., int],
    start_agent: Callable[..., object],
    wait_for_state: Callable[..., object],
    steps_of: Callable[[int], dict],
) -> None:
    apply_yaml(LOCKED)
    start_agent(slots=4)
    runs = [submit_run("locked") for _ in range(2)]
    spans = []
    for run_id in runs:
        assert wait_for_state(run_id).state == "succeeded"  # type: ignore[attr-defined]
        for step in steps_of(run_id).values():
            spans.append((float(step.outputs["from"]), float(step.outputs["to"])))
    spans.sort()
    assert all(end <= start for (_, end), (start, _) in itertools.pairwise(spans))
