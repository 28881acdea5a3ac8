# mypy: ignore-errors
# (run by the peers' venv: prefect, luigi, airflow are not installed where mypy runs)
"""Prefect peer, in-process (ephemeral API): W1-W3 timed around the flow call.

The harness also runs this file with --repeat 1 --warmup 0 and times the whole process, which
is the "whole command" figure (interpreter start, imports, the ephemeral API, one flow run).
"""

from __future__ import annotations

import time

import prefect
from _peer_common import collect, emit, ms_since, parse_args
from prefect_flows import w1_chain, w2_fanout, w3_one


def main() -> None:
    args = parse_args(("w1", "w2", "w3"))

    def once(_: int) -> dict[str, float]:
        if args.workload == "w1":
            start = time.perf_counter_ns()
            w1_chain()
            return {"wall_ms": ms_since(start)}
        if args.workload == "w2":
            start = time.perf_counter_ns()
            w2_fanout()
            return {"wall_ms": ms_since(start)}
        submit_ns = time.time_ns()
        start = time.perf_counter_ns()
        started_ns = w3_one()
        return {"to_start_ms": (started_ns - submit_ns) / 1e6, "to_done_ms": ms_since(start)}

    samples = collect(once, args.repeat, args.warmup)
    emit(
        "prefect",
        prefect.__version__,
        args.workload,
        samples,
        "in-process flow call, ephemeral API",
    )


if __name__ == "__main__":
    main()
