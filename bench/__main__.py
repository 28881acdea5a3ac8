"""`python -m bench [--quick] [--only W1,W3] [--no-peers] [--json out.json]`.

Measures the floors, runs the Conveyor workloads (bench/conveyor_workloads.py, when present)
and the peers (Prefect, Luigi, Airflow) in the same run, and prints one table.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import sys
import tempfile
import time
from pathlib import Path

from bench import conveyor, floors, machine, peers, pg, report
from bench.common import DEFAULT_PG_URL, Column
from bench.workloads import BY_ID, WORKLOADS, derive


def _log(message: str) -> None:
    # Progress goes to stderr so stdout carries the table alone.
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer repeats, smaller data")
    parser.add_argument("--only", default="", help="comma-separated workloads, e.g. W1,W3")
    parser.add_argument("--no-peers", action="store_true", help="skip Prefect/Luigi/Airflow")
    parser.add_argument("--json", type=Path, help="also write every figure and sample here")
    parser.add_argument("--pg-url", default=DEFAULT_PG_URL, help="admin URL of PostgreSQL")
    args = parser.parse_args(argv)
    wanted = {w.strip().upper() for w in args.only.split(",") if w.strip()}
    unknown = wanted - set(BY_ID)
    if unknown:
        parser.error(f"unknown workload(s) {', '.join(sorted(unknown))}; known: W1 ... W6")
    args.only = wanted or set(BY_ID)
    return args


def main(argv: list[str] | None = None) -> int:
    args = _parse(sys.argv[1:] if argv is None else argv)
    started = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    pg_problem = pg.reachable(args.pg_url)
    pg_url = None if pg_problem else args.pg_url
    if pg_problem:
        _log(pg_problem)

    _log("floors")
    floor_list = floors.measure_all(args.pg_url, args.quick, pg_problem)
    floor_values = {f.key: f.value_ms for f in floor_list if f.value_ms is not None}

    results: report.Results = {report.CONVEYOR: {}}
    module, why = conveyor.load()
    for workload in WORKLOADS:
        if workload.id not in args.only:
            continue
        if module is None:
            results[report.CONVEYOR][workload.id] = Column(note=why)
            continue
        _log(f"conveyor {workload.id}")
        results[report.CONVEYOR][workload.id] = conveyor.run_workload(
            module, workload.id, args.quick, pg_url, floor_values
        )

    if not args.no_peers:
        state = Path(tempfile.mkdtemp(prefix="bench-peers-"))
        try:
            results.update(peers.run_peers(args.only, args.quick, state, _log))
        finally:
            shutil.rmtree(state, ignore_errors=True)

    for cols in results.values():
        for workload_id, col in cols.items():
            derive(workload_id, col.values, floor_values)

    info = machine.describe(pg_url)
    report.render(info, floor_list, results, args.only, sys.stdout)
    if args.json:
        report.write_json(args.json, started, info, floor_list, results, sys.argv)
        _log(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
