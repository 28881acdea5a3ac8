"""Argument parsing, the start probe and the one-line JSON output shared by the peer scripts.

Runs under the peers' virtualenv, so it imports nothing from the Conveyor harness.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Callable

CHAIN_STEPS = 40  # W1
FANOUT_STEPS = 100  # W2, then one join
FANOUT_SLOTS = 2  # W2


def probe_start_ns() -> int:
    """Run `date +%s%N` and return what it printed: the wall clock when the step's process ran.

    The same probe is used for every engine, so "submit -> step process started" means the same
    thing everywhere; it is on CLOCK_REALTIME, hence compared with time.time_ns().
    """
    out = subprocess.run(["date", "+%s%N"], check=True, capture_output=True, text=True).stdout
    return int(out.strip())


def run_true() -> None:
    subprocess.run(["true"], check=True)


def parse_args(workloads: tuple[str, ...]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("workload", choices=workloads)
    parser.add_argument("--repeat", type=int, default=3, help="timed repetitions in-process")
    parser.add_argument("--warmup", type=int, default=1, help="untimed repetitions first")
    parser.add_argument("--tmp", required=True, help="a scratch directory for state and markers")
    return parser.parse_args()


def collect(
    once: Callable[[int], dict[str, float]], repeat: int, warmup: int
) -> dict[str, list[float]]:
    """Call `once(i)` warmup+repeat times; keep the samples of the timed calls only."""
    samples: dict[str, list[float]] = {}
    for i in range(warmup + repeat):
        result = once(i)
        if i >= warmup:
            for key, value in result.items():
                samples.setdefault(key, []).append(value)
    return samples


def emit(
    peer: str, version: str, workload: str, samples: dict[str, list[float]], note: str
) -> None:
    # Peers log to stdout/stderr freely; the harness takes the last line starting with this tag.
    record = {
        "peer": peer,
        "version": version,
        "workload": workload,
        "samples": samples,
        "note": note,
    }
    sys.stdout.write("BENCH-RESULT " + json.dumps(record) + "\n")
    sys.stdout.flush()


def ms_since(start_ns: int) -> float:
    return (time.perf_counter_ns() - start_ns) / 1e6
