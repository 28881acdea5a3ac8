"""Load on PostgreSQL: four agents (each on its own Runtime, so its own connections) run 50 runs
whose steps share a semaphore of 2 and a mutex. From the intervals the steps record themselves:
no limit is ever exceeded, no step runs twice, every run finishes."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from conveyor.actions.runtime import Runtime

RECORD = """
      echo "$CONVEYOR_RUN_ID $CONVEYOR_STEP_ID start $(date +%s.%N)" >> {dir}/spans;
      sleep 0.03;
      echo "$CONVEYOR_RUN_ID $CONVEYOR_STEP_ID end $(date +%s.%N)" >> {dir}/spans
"""

SHARED = f"""
kind: job
name: pool-first
params:
  - {{name: dir, type: string, required: true}}
steps:
  - id: pool
    locks: [{{name: pool, limit: 2}}]
    run: >-{RECORD}
  - id: solo
    needs: [pool]
    locks: [mutex]
    run: >-{RECORD}
---
kind: job
name: solo-first
params:
  - {{name: dir, type: string, required: true}}
steps:
  - id: solo
    locks: [mutex]
    run: >-{RECORD}
  - id: pool
    needs: [solo]
    locks: [{{name: pool, limit: 2}}]
    run: >-{RECORD}
"""
RUNS = 50


def _peak(spans: list[tuple[float, float]]) -> int:
    edges = sorted([(a, 1) for a, _ in spans] + [(b, -1) for _, b in spans])
    level = peak = 0
    for _, delta in edges:
        level += delta
        peak = max(peak, level)
    return peak


def _read(path: Path) -> tuple[dict[str, list[tuple[float, float]]], Counter[tuple[str, str]]]:
    starts: dict[tuple[str, str], float] = {}
    spans: dict[str, list[tuple[float, float]]] = {"pool": [], "solo": []}
    seen: Counter[tuple[str, str]] = Counter()
    for line in path.read_text().splitlines():
        run_id, step, edge, moment = line.split()
        if edge == "start":
            seen[(run_id, step)] += 1
            starts[(run_id, step)] = float(moment)
        else:
            spans[step].append((starts[(run_id, step)], float(moment)))
    return spans, seen


@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_fifty_runs_on_four_agents_never_exceed_their_locks(
    tmp_path: Path,
    make_runtime: Callable[..., Runtime],
    apply_yaml: Callable[..., object],
    submit_run: Callable[..., int],
    start_agent: Callable[..., object],
    wait_for_state: Callable[..., Any],
) -> None:
    apply_yaml(SHARED)
    for number in range(4):
        start_agent(runtime=make_runtime(), slots=4, name=f"agent-{number}")
    jobs = ("pool-first", "solo-first")
    runs = [submit_run(jobs[i % 2], {"dir": str(tmp_path)}) for i in range(RUNS)]
    for run_id in runs:
        assert wait_for_state(run_id, timeout=50).state == "succeeded"
    spans, seen = _read(tmp_path / "spans")
    assert len(seen) == 2 * RUNS
    assert set(seen.values()) == {1}  # no step ran twice
    assert _peak(spans["pool"]) <= 2
    assert _peak(spans["solo"]) == 1
