# mypy: ignore-errors
# (run by the peers' venv: prefect, luigi, airflow are not installed where mypy runs)
"""The Airflow DAGs of W1-W3. Airflow 3 runs only serialized DAGs, so this file sits alone in the
DAGS_FOLDER the harness points Airflow at and is serialized with `airflow dags reserialize`."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pendulum
from airflow.sdk import dag, task

# _peer_common lives one folder up; Airflow imports this file by path, not as a package.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from _peer_common import (
    CHAIN_STEPS,
    FANOUT_SLOTS,
    FANOUT_STEPS,
    probe_start_ns,
    run_true,
)

START = pendulum.datetime(2026, 1, 1, tz="UTC")
# Where the W3 task writes its probe; set by the harness, read back by airflow_workloads.py.
PROBE_FILE = Path(os.environ.get("BENCH_PROBE_DIR", "/tmp")) / "airflow-w3.start"


@task
def step() -> None:
    run_true()


@task
def probe() -> None:
    PROBE_FILE.write_text(str(probe_start_ns()))


@dag(dag_id="bench_w1_chain", schedule=None, start_date=START, catchup=False)
def bench_w1_chain() -> None:
    previous = None
    for i in range(CHAIN_STEPS):
        current = step.override(task_id=f"s{i}")()
        if previous is not None:
            previous >> current
        previous = current


@dag(
    dag_id="bench_w2_fanout",
    schedule=None,
    start_date=START,
    catchup=False,
    max_active_tasks=FANOUT_SLOTS,
)
def bench_w2_fanout() -> None:
    fans = [step.override(task_id=f"f{i}")() for i in range(FANOUT_STEPS)]
    fans >> step.override(task_id="join")()


@dag(dag_id="bench_w3_one", schedule=None, start_date=START, catchup=False)
def bench_w3_one() -> None:
    probe.override(task_id="one")()


W1 = bench_w1_chain()
W2 = bench_w2_fanout()
W3 = bench_w3_one()
