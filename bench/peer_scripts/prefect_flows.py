# mypy: ignore-errors
# (run by the peers' venv: prefect, luigi, airflow are not installed where mypy runs)
"""The Prefect flows of W1-W3, shared by the in-process script and the served deployments."""

from __future__ import annotations

from pathlib import Path

from _peer_common import CHAIN_STEPS, FANOUT_SLOTS, FANOUT_STEPS, probe_start_ns, run_true
from prefect import flow, task
from prefect.task_runners import ThreadPoolTaskRunner


@task
def chain_step(previous: int) -> int:
    run_true()
    return previous + 1


@task
def fan_step(index: int) -> int:
    run_true()
    return index


@task
def join_step(count: int) -> int:
    run_true()
    return count


@task
def probe_step(probe_file: str) -> int:
    started = probe_start_ns()
    # A file, because a served flow runs in a process of its own and keeps no results.
    if probe_file:
        Path(probe_file).write_text(str(started))
    return started


@flow(name="bench-w1-chain")
def w1_chain() -> int:
    value = 0
    for _ in range(CHAIN_STEPS):
        value = chain_step(value)  # a direct call: each task waits for the previous one
    return value


@flow(name="bench-w2-fanout", task_runner=ThreadPoolTaskRunner(max_workers=FANOUT_SLOTS))
def w2_fanout() -> int:
    futures = [fan_step.submit(i) for i in range(FANOUT_STEPS)]
    return join_step.submit(len(futures), wait_for=futures).result()


@flow(name="bench-w3-one")
def w3_one(probe_file: str = "") -> int:
    return probe_step(probe_file)
