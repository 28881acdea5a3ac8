"""The workloads W1-W6: their metrics, and the figures derived from them and the floors."""

from __future__ import annotations

from dataclasses import dataclass

CHAIN_STEPS = 40  # W1; keep equal to peer_scripts/_peer_common.py
FANOUT_STEPS = 100  # W2, then one join
FANOUT_SLOTS = 2
# W2's critical path on 2 slots: 100 steps in 50 rounds, then the join.
FANOUT_CRITICAL_PATH = FANOUT_STEPS // FANOUT_SLOTS + 1


@dataclass(frozen=True)
class Metric:
    key: str
    label: str
    unit: str
    derived: bool = False  # computed by the harness, not reported by the workload


@dataclass(frozen=True)
class Workload:
    id: str
    title: str
    metrics: tuple[Metric, ...]
    peers: bool  # whether Prefect/Luigi/Airflow run it too


WORKLOADS: tuple[Workload, ...] = (
    Workload(
        "W1",
        f"chain of {CHAIN_STEPS} steps, each `true`",
        (
            Metric("wall_ms", "submit -> done", "ms"),
            Metric("overhead_per_step_ms", f"wall/{CHAIN_STEPS} - process start", "ms", True),
            Metric("command_ms", "whole command, fresh process", "ms"),
        ),
        peers=True,
    ),
    Workload(
        "W2",
        f"{FANOUT_STEPS} independent steps then a join, {FANOUT_SLOTS} slots",
        (
            Metric("wall_ms", "submit -> done", "ms"),
            Metric(
                "overhead_per_step_ms",
                f"wall/{FANOUT_CRITICAL_PATH} - process start",
                "ms",
                True,
            ),
        ),
        peers=True,
    ),
    Workload(
        "W3",
        "one run of one step, executor already waiting",
        (
            Metric("to_start_ms", "submit -> step process started", "ms"),
            Metric("to_done_ms", "submit -> run succeeded", "ms"),
        ),
        peers=True,
    ),
    Workload(
        "W4",
        "1,000 runs of a 5-step job, 4 agents, PostgreSQL",
        (
            Metric("steps_per_s", "steps per second", "1/s"),
            Metric("claim_p50_ms", "claim latency p50", "ms"),
            Metric("claim_p99_ms", "claim latency p99", "ms"),
        ),
        peers=False,
    ),
    Workload(
        "W5",
        "claim with 100,000 finished and 10,000 queued step runs",
        (
            Metric("claim_p50_empty_ms", "claim p50, empty store", "ms"),
            Metric("claim_p50_history_ms", "claim p50, with history", "ms"),
            Metric("claim_p99_history_ms", "claim p99, with history", "ms"),
            Metric("claim_growth", "p50 with history / p50 empty", "x", True),
        ),
        peers=False,
    ),
    Workload(
        "W6",
        "one step printing 100 MB of log",
        (
            Metric("wall_ms", "submit -> done", "ms"),
            Metric("log_mb_per_s", "log throughput", "MB/s"),
            Metric("peak_rss_mb", "agent peak RSS", "MB"),
        ),
        peers=False,
    ),
)

BY_ID = {w.id: w for w in WORKLOADS}


def derive(workload_id: str, values: dict[str, float], floors: dict[str, float]) -> None:
    """Add the derived metrics of one column in place, where their inputs exist."""
    start = floors.get("process_start_ms")
    wall = values.get("wall_ms")
    if workload_id == "W1" and wall is not None and start is not None:
        values["overhead_per_step_ms"] = wall / CHAIN_STEPS - start
    elif workload_id == "W2" and wall is not None and start is not None:
        values["overhead_per_step_ms"] = wall / FANOUT_CRITICAL_PATH - start
    elif workload_id == "W5":
        empty = values.get("claim_p50_empty_ms")
        history = values.get("claim_p50_history_ms")
        if empty and history is not None:
            values["claim_growth"] = history / empty
