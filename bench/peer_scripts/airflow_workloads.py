# mypy: ignore-errors
# (run by the peers' venv: prefect, luigi, airflow are not installed where mypy runs)
"""Airflow peer: W1-W3 run with `dag.test()` (in-process, no scheduler).

`dag.test()` is Airflow's own single-process runner: it needs the metadata database (SQLite in
AIRFLOW_HOME) and the DAGs serialized, both prepared by `setup`, but no scheduler, API server or
DAG processor, so it is the lower bound of an Airflow run of these DAGs. A real deployment adds
the scheduler loop and a process per task on top.

Usage: airflow_workloads.py {setup,w1,w2,w3} --tmp DIR [--repeat N] [--warmup N]
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from _peer_common import collect, emit, ms_since, parse_args

DAGS_DIR = Path(__file__).resolve().parent / "airflow_dags"


def setup() -> None:
    airflow_bin = str(Path(sys.executable).parent / "airflow")
    subprocess.run([airflow_bin, "db", "migrate"], check=True, capture_output=True)
    subprocess.run([airflow_bin, "dags", "reserialize"], check=True, capture_output=True)


def main() -> None:
    args = parse_args(("setup", "w1", "w2", "w3"))
    os.environ["BENCH_PROBE_DIR"] = args.tmp  # read by bench_dags at import
    if args.workload == "setup":
        setup()
        return
    import airflow

    sys.path.insert(0, str(DAGS_DIR))
    import bench_dags

    dag = {"w1": bench_dags.W1, "w2": bench_dags.W2, "w3": bench_dags.W3}[args.workload]

    def once(_: int) -> dict[str, float]:
        submit_ns = time.time_ns()
        start = time.perf_counter_ns()
        dag_run = dag.test()
        wall = ms_since(start)
        if str(dag_run.state) != "success":
            raise RuntimeError(f"airflow {args.workload} ended in {dag_run.state}")
        if args.workload != "w3":
            return {"wall_ms": wall}
        started_ns = int(bench_dags.PROBE_FILE.read_text())
        return {"to_start_ms": (started_ns - submit_ns) / 1e6, "to_done_ms": wall}

    samples = collect(once, args.repeat, args.warmup)
    note = "in-process dag.test(), no scheduler; tasks run one at a time (W2 slots unused)"
    emit("airflow", airflow.__version__, args.workload, samples, note)


if __name__ == "__main__":
    main()
