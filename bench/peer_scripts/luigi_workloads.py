# mypy: ignore-errors
# (run by the peers' venv: prefect, luigi, airflow are not installed where mypy runs)
"""Luigi peer: W1 (chain of 40), W2 (100 then a join, 2 workers), W3 (one task), local scheduler.

Tasks mark completion with a file target, the idiomatic Luigi way; that also works across the
forked worker processes Luigi uses when workers > 1.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Any

import luigi
from _peer_common import (
    CHAIN_STEPS,
    FANOUT_SLOTS,
    FANOUT_STEPS,
    collect,
    emit,
    ms_since,
    parse_args,
    probe_start_ns,
    run_true,
)

MARKERS = Path(tempfile.gettempdir())  # replaced by --tmp in main()


class _Step(luigi.Task):  # type: ignore[misc]
    run_id = luigi.Parameter()
    index = luigi.IntParameter()

    def output(self) -> Any:
        return luigi.LocalTarget(str(MARKERS / str(self.run_id) / self.task_id))

    def _done(self) -> None:
        path = Path(self.output().path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()


class ChainStep(_Step):
    def requires(self) -> Any:
        return ChainStep(run_id=self.run_id, index=self.index - 1) if self.index > 0 else []

    def run(self) -> None:
        run_true()
        self._done()


class FanStep(_Step):
    def run(self) -> None:
        run_true()
        self._done()


class Join(_Step):
    def requires(self) -> Any:
        return [FanStep(run_id=self.run_id, index=i) for i in range(FANOUT_STEPS)]

    def run(self) -> None:
        run_true()
        self._done()


class Probe(_Step):
    def run(self) -> None:
        # Written where the parent can read it: with workers=1 this is the same process anyway.
        (MARKERS / f"{self.run_id}.start").write_text(str(probe_start_ns()))
        self._done()


def _build(task: luigi.Task, workers: int) -> None:
    ok = luigi.build(
        [task], local_scheduler=True, workers=workers, detailed_summary=False, log_level="WARNING"
    )
    if not ok:
        raise RuntimeError(f"luigi build of {task} failed")


def main() -> None:
    global MARKERS
    args = parse_args(("w1", "w2", "w3"))
    MARKERS = Path(args.tmp)

    def once(i: int) -> dict[str, float]:
        run_id = f"r{os.getpid()}-{i}"
        if args.workload == "w1":
            start = time.perf_counter_ns()
            _build(ChainStep(run_id=run_id, index=CHAIN_STEPS - 1), workers=1)
            return {"wall_ms": ms_since(start)}
        if args.workload == "w2":
            start = time.perf_counter_ns()
            _build(Join(run_id=run_id, index=FANOUT_STEPS), workers=FANOUT_SLOTS)
            return {"wall_ms": ms_since(start)}
        submit_ns = time.time_ns()
        start = time.perf_counter_ns()
        _build(Probe(run_id=run_id, index=0), workers=1)
        done_ms = ms_since(start)
        started_ns = int((MARKERS / f"{run_id}.start").read_text())
        return {"to_start_ms": (started_ns - submit_ns) / 1e6, "to_done_ms": done_ms}

    samples = collect(once, args.repeat, args.warmup)
    note = "in-process, local scheduler" + (
        f", workers={FANOUT_SLOTS} (forked processes)" if args.workload == "w2" else ""
    )
    emit("luigi", luigi.__version__, args.workload, samples, note)


if __name__ == "__main__":
    main()
