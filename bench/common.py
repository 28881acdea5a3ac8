"""Shared types and small statistics helpers for the harness and the Conveyor workloads."""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

# Admin URL of the local PostgreSQL; workloads create their own scratch databases under it.
DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/test"


@dataclass(frozen=True)
class BenchContext:
    """What the harness hands to every Conveyor workload function.

    A workload reads what it needs and ignores the rest; it must clean up anything it creates
    outside `workdir` (PostgreSQL databases: use `bench.pg.scratch_database`).
    """

    quick: bool  # --quick: fewer repeats and smaller data sets, for a smoke run
    repeats: int  # how many timed repetitions a workload should take its median over
    workdir: Path  # a fresh empty directory, removed by the harness after the workload
    pg_url: str | None  # admin URL of a reachable PostgreSQL, or None when there is none
    floors: dict[str, float] = field(default_factory=dict)  # floor name -> ms, this run's


def median(values: Iterable[float]) -> float:
    data = list(values)
    if not data:
        raise ValueError("median of no samples")
    return statistics.median(data)


def percentile(values: Iterable[float], pct: float) -> float:
    """Nearest-rank percentile: a value that was really observed, never an interpolation."""
    data = sorted(values)
    if not data:
        raise ValueError("percentile of no samples")
    rank = max(1, math.ceil(pct / 100.0 * len(data)))
    return data[rank - 1]


def time_ms(fn: Callable[[], object]) -> float:
    """Wall time of one call, in milliseconds, on the monotonic high-resolution clock."""
    start = time.perf_counter_ns()
    fn()
    return (time.perf_counter_ns() - start) / 1e6


def median_ms(fn: Callable[[], object], n: int, warmup: int = 1) -> tuple[float, list[float]]:
    """Median of `n` timed calls after `warmup` untimed ones (caches, imports, first connect)."""
    for _ in range(warmup):
        fn()
    samples = [time_ms(fn) for _ in range(n)]
    return median(samples), samples


@dataclass
class Column:
    """One engine's figures for one workload: medians, the samples behind them, a note."""

    values: dict[str, float] = field(default_factory=dict)
    samples: dict[str, list[float]] = field(default_factory=dict)
    note: str = ""
    version: str = ""
