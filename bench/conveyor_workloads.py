"""Conveyor's side of W1-W6, loaded by the harness (bench/conveyor.py); see docs/benchmarks.md.

Every figure is taken against a store of its own: SQLite in `ctx.workdir`, or a PostgreSQL
scratch database (`bench.pg.scratch_database`). "Submit" is `time.time()` / `time.time_ns()`
read just before `conveyor.actions.submit.submit`; "done" is the run's `job_run.ended_at`, which
the engine stamps from the database clock in the transaction that ends the run. Both clocks are
the machine's wall clock (same host), so the waiter's own polling never adds to the figure.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import func, insert, select, text

from bench.common import BenchContext, median, percentile
from bench.pg import scratch_database
from bench.workloads import CHAIN_STEPS, FANOUT_SLOTS, FANOUT_STEPS
from conveyor.actions import queries
from conveyor.actions.access import Actor
from conveyor.actions.definitions import apply
from conveyor.actions.runtime import Runtime
from conveyor.actions.submit import submit
from conveyor.agent.worker import Agent
from conveyor.config import Settings
from conveyor.definitions.loader import load_text
from conveyor.store import claims
from conveyor.store.logs import log_size
from conveyor.store.tables import event, job, job_run, job_version, step_output, step_run

REPO = Path(__file__).resolve().parents[1]
ACTOR = Actor(name="bench", is_admin=True)
Result = dict[str, float | str]
RUN_TIMEOUT_S = 300.0


# -- shared helpers ---------------------------------------------------------------------------


def _sqlite_url(workdir: Path, name: str) -> str:
    return f"sqlite:///{workdir / name}"


def _settings(db_url: str, workdir: Path, **changes: Any) -> Settings:
    return Settings(
        db_url=db_url,
        secret_key="bench",
        key_file=workdir / "key",
        user="bench",
        **changes,
    )


@contextmanager
def _runtime(db_url: str, workdir: Path, **changes: Any) -> Iterator[Runtime]:
    rt = Runtime.open(_settings(db_url, workdir, **changes))
    try:
        yield rt
    finally:
        rt.close()


@contextmanager
def _agent(rt: Runtime, slots: int, name: str = "bench") -> Iterator[Agent]:
    worker = Agent(rt, slots=slots, name=name)
    worker.start()
    try:
        yield worker
    finally:
        worker.stop(timeout=10.0, kill=True)


def _apply(rt: Runtime, yaml_text: str) -> None:
    apply(rt, ACTOR, load_text(yaml_text, "bench.yaml"))


def _chain_yaml(name: str, steps: int) -> str:
    lines = [f"kind: job\nname: {name}\ncategory: Bench\nsteps:"]
    for i in range(steps):
        needs = f", needs: [s{i - 1:03d}]" if i else ""
        lines.append(f"  - {{id: s{i:03d}, argv: ['true']{needs}}}")
    return "\n".join(lines) + "\n"


def _fanout_yaml(name: str, steps: int) -> str:
    lines = [f"kind: job\nname: {name}\ncategory: Bench\nsteps:"]
    lines += [f"  - {{id: s{i:03d}, argv: ['true']}}" for i in range(steps)]
    needs = ", ".join(f"s{i:03d}" for i in range(steps))
    lines.append(f"  - {{id: join, argv: ['true'], needs: [{needs}]}}")
    return "\n".join(lines) + "\n"


PROBE_YAML = """\
kind: job
name: probe
category: Bench
steps:
  - {id: probe, argv: [date, "+%s%N"]}
"""

BIG_LOG_BYTES = 100_000_000
BIG_LOG_YAML = """\
kind: job
name: biglog
category: Bench
steps:
  - id: print
    run: |
      head -c 100000000 /dev/zero | tr '\\0' 'x' | fold -w 100
"""


class _Watcher:
    """Reads a run's state and end time over a raw driver connection of its own: about 20 us a
    look on SQLite, so polling every `interval` costs the engine's threads next to nothing."""

    def __init__(self, db_url: str) -> None:
        self.sqlite: sqlite3.Connection | None = None
        self.pg: Any = None
        if db_url.startswith("sqlite:///"):
            self.sqlite = sqlite3.connect(db_url[len("sqlite:///") :], isolation_level=None)
        else:
            self.pg = psycopg.connect(db_url, autocommit=True)

    def end(self, run_id: int) -> tuple[str, float | None]:
        query = "SELECT state, ended_at FROM job_run WHERE id = "
        if self.sqlite is not None:
            row = self.sqlite.execute(query + "?", (run_id,)).fetchone()
        else:
            row = self.pg.execute(query + "%s", (run_id,)).fetchone()
        return str(row[0]), row[1]

    def wait(self, run_id: int, interval: float = 0.002, timeout: float = RUN_TIMEOUT_S) -> float:
        """The run's ended_at (epoch s) once it ends; raises unless it succeeded."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state, ended_at = self.end(run_id)
            if ended_at is not None and state in ("succeeded", "failed", "cancelled"):
                if state != "succeeded":
                    raise RuntimeError(f"run {run_id} ended {state}")
                return float(ended_at)
            time.sleep(interval)
        raise RuntimeError(f"run {run_id} did not end within {timeout:g} s")

    def close(self) -> None:
        if self.sqlite is not None:
            self.sqlite.close()
        if self.pg is not None:
            self.pg.close()


@contextmanager
def _watcher(db_url: str) -> Iterator[_Watcher]:
    watcher = _Watcher(db_url)
    try:
        yield watcher
    finally:
        watcher.close()


def _timed_runs(rt: Runtime, db_url: str, job_name: str, repeats: int) -> list[float]:
    """submit -> run ended (ms) for `repeats` runs after one untimed warm-up run."""
    samples: list[float] = []
    with _watcher(db_url) as watcher:
        for i in range(repeats + 1):
            start = time.time()
            run = submit(rt, ACTOR, job_name, {})
            ended = watcher.wait(run.id)
            if i:
                samples.append((ended - start) * 1000.0)
    return samples


def _conveyor_bin() -> str:
    local = REPO / ".venv" / "bin" / "conveyor"
    return str(local if local.exists() else Path(sys.executable).parent / "conveyor")


def _cli_env(db_url: str, workdir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        CONVEYOR_DB=db_url,
        CONVEYOR_SECRET_KEY="bench",
        CONVEYOR_KEY_FILE=str(workdir / "key"),
        CONVEYOR_USER="bench",
    )
    return env


def _stop_process(proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# -- W1 chain of 40 ---------------------------------------------------------------------------


def _chain_wall(db_url: str, workdir: Path, repeats: int) -> list[float]:
    with _runtime(db_url, workdir) as rt:
        _apply(rt, _chain_yaml("chain", CHAIN_STEPS))
        with _agent(rt, slots=4):
            return _timed_runs(rt, db_url, "chain", repeats)


def w1(ctx: BenchContext) -> Result:
    url = _sqlite_url(ctx.workdir, "w1.db")
    result: Result = {"wall_ms": median(_chain_wall(url, ctx.workdir, ctx.repeats))}
    start = ctx.floors.get("process_start_ms")

    # The whole command: interpreter, imports, store open, embedded agent, the 40 steps, exit.
    env = _cli_env(url, ctx.workdir)
    command = [_conveyor_bin(), "run", "chain", "--local"]
    times: list[float] = []
    for i in range(ctx.repeats + 1):
        t0 = time.perf_counter_ns()
        proc = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
        elapsed = (time.perf_counter_ns() - t0) / 1e6
        if proc.returncode != 0:
            raise RuntimeError(f"conveyor run --local exited {proc.returncode}: {proc.stderr}")
        if i:
            times.append(elapsed)
    result["command_ms"] = median(times)

    note = (
        f"SQLite in-process, an Agent (4 slots) already waiting; steps are `argv: [true]`; "
        f"wall = job_run.ended_at - time.time() before submit, median of {ctx.repeats} after "
        f"a warm-up; command_ms = `conveyor run chain --local` via subprocess"
    )
    if ctx.pg_url is not None:
        with scratch_database(ctx.pg_url, "bench_w1") as pg_url:
            pg_wall = median(_chain_wall(pg_url, ctx.workdir, ctx.repeats))
        result["pg_wall_ms"] = pg_wall
        if start is not None:
            result["pg_overhead_per_step_ms"] = pg_wall / CHAIN_STEPS - start
        note += "; pg_* the same on PostgreSQL (agent LISTENs)"
    result["note"] = note
    return result


# -- W2 fan-out of 100 then a join ------------------------------------------------------------


def w2(ctx: BenchContext) -> Result:
    url = _sqlite_url(ctx.workdir, "w2.db")
    with _runtime(url, ctx.workdir) as rt:
        _apply(rt, _fanout_yaml("fanout", FANOUT_STEPS))
        with _agent(rt, slots=FANOUT_SLOTS):
            samples = _timed_runs(rt, url, "fanout", ctx.repeats)
    return {
        "wall_ms": median(samples),
        "note": f"SQLite in-process, an Agent with {FANOUT_SLOTS} slots already waiting",
    }


# -- W3 submit -> step started ----------------------------------------------------------------


def _probe_latency(db_url: str, workdir: Path, repeats: int) -> tuple[list[float], list[float]]:
    to_start: list[float] = []
    to_done: list[float] = []
    with _runtime(db_url, workdir) as rt, _agent(rt, slots=4), _watcher(db_url) as watcher:
        _apply(rt, PROBE_YAML)
        for i in range(repeats + 1):
            time.sleep(0.05)  # the agent is idle, waiting, as it would be on a quiet server
            submit_ns = time.time_ns()
            run = submit(rt, ACTOR, "probe", {})
            ended = watcher.wait(run.id)
            chunks = queries.logs(rt, ACTOR, run.id)
            printed_ns = int("".join(c.text for c in chunks).split()[0])
            if i:
                to_start.append((printed_ns - submit_ns) / 1e6)
                to_done.append(ended * 1000.0 - submit_ns / 1e6)
    return to_start, to_done


def w3(ctx: BenchContext) -> Result:
    repeats = max(ctx.repeats, 5)
    url = _sqlite_url(ctx.workdir, "w3.db")
    to_start, to_done = _probe_latency(url, ctx.workdir, repeats)
    result: Result = {"to_start_ms": median(to_start), "to_done_ms": median(to_done)}
    note = (
        f"SQLite in-process, an idle Agent waiting; the step is `argv: [date, +%s%N]` "
        f"(its printed time read back from the stored log); to_done = job_run.ended_at; "
        f"median of {repeats}"
    )
    if ctx.pg_url is not None:
        with scratch_database(ctx.pg_url, "bench_w3") as pg_url:
            pg_start, pg_done = _probe_latency(pg_url, ctx.workdir, repeats)
        result["pg_to_start_ms"] = median(pg_start)
        result["pg_to_done_ms"] = median(pg_done)
        note += "; pg_* the same on PostgreSQL"
    result["note"] = note
    return result


# -- W4 throughput, 4 agents on PostgreSQL ----------------------------------------------------

W4_AGENTS = 4
W4_SLOTS = 4
W4_STEPS = 5


def w4(ctx: BenchContext) -> Result:
    if ctx.pg_url is None:
        return {"note": "not run: PostgreSQL is not reachable"}
    runs = 200 if ctx.quick else 1000
    with scratch_database(ctx.pg_url, "bench_w4") as url, _runtime(url, ctx.workdir) as rt:
        _apply(rt, _chain_yaml("five", W4_STEPS))
        for _ in range(runs):
            submit(rt, ACTOR, "five", {})
        env = _cli_env(url, ctx.workdir)
        agents = [
            subprocess.Popen(
                [_conveyor_bin(), "agent", "--slots", str(W4_SLOTS), "--name", f"bench-{i}"],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for i in range(W4_AGENTS)
        ]
        try:
            _wait_all_ended(rt, RUN_TIMEOUT_S)
        finally:
            for proc in agents:
                _stop_process(proc)
        return _w4_figures(rt, runs, ctx.quick)


def _wait_all_ended(rt: Runtime, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    live = select(func.count()).where(job_run.c.ended_at.is_(None))
    while time.monotonic() < deadline:
        with rt.db.read() as conn:
            if conn.execute(live).scalar_one() == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"W4 runs did not all end within {timeout:g} s")


def _w4_figures(rt: Runtime, runs: int, quick: bool) -> Result:
    with rt.db.read() as conn:
        rows = conn.execute(
            select(
                step_run.c.id,
                step_run.c.run_id,
                step_run.c.step_key,
                step_run.c.attempt,
                step_run.c.state,
                step_run.c.started_at,
                step_run.c.ended_at,
            )
        ).all()
        events = conn.execute(
            select(event.c.run_id, event.c.step_run_id, event.c.data).where(event.c.kind == "step")
        ).all()
        failed_runs = conn.execute(
            select(func.count()).where(job_run.c.state != "succeeded")
        ).scalar_one()
    # No step ran twice: one row per (run, step), each attempt 1, each succeeded, and exactly
    # one "succeeded" step event per step run (a finish with a stale token writes none).
    keys = {(r.run_id, r.step_key) for r in rows}
    done_events: dict[int, int] = {}
    for e in events:
        if e.data.get("state") == "succeeded" and e.step_run_id is not None:
            done_events[e.step_run_id] = done_events.get(e.step_run_id, 0) + 1
    problems = []
    if len(rows) != runs * W4_STEPS or len(keys) != len(rows):
        problems.append(f"{len(rows)} step runs for {runs} runs x {W4_STEPS} steps")
    if any(r.attempt != 1 or r.state != "succeeded" for r in rows):
        problems.append("a step run with attempt > 1 or not succeeded")
    if failed_runs:
        problems.append(f"{failed_runs} runs did not succeed")
    if any(done_events.get(r.id) != 1 for r in rows):
        problems.append("a step run without exactly one 'succeeded' event")
    if problems:
        raise RuntimeError("W4 check failed: " + "; ".join(problems))
    first = min(float(r.started_at) for r in rows)
    last = max(float(r.ended_at) for r in rows)
    # Claim latency: a dependent step (s001..s004) becomes ready in the transaction that ends
    # the step it needs, so from that step's ended_at to the dependent's started_at, both
    # stamped by the database clock (the finish and the claim statements).
    ended_at = {(r.run_id, r.step_key): float(r.ended_at) for r in rows}
    latencies = [
        (float(r.started_at) - ended_at[(r.run_id, f"s{int(r.step_key[1:]) - 1:03d}")]) * 1000.0
        for r in rows
        if r.step_key != "s000"
    ]
    return {
        "steps_per_s": len(rows) / (last - first),
        "claim_p50_ms": median(latencies),
        "claim_p99_ms": percentile(latencies, 99),
        "step_runs": float(len(rows)),
        "note": (
            f"{runs} runs{' (--quick; 1,000 in the full run)' if quick else ''} of a chain of "
            f"{W4_STEPS} `true` steps submitted first, then {W4_AGENTS} `conveyor agent "
            f"--slots {W4_SLOTS}` subprocesses; steps/s = step runs / (last ended_at - first "
            f"started_at); claim latency = the needed step's ended_at -> the dependent's "
            f"started_at (it becomes ready as its need ends; roots are left out); "
            f"checked in the store: one attempt per step, one 'succeeded' event each"
        ),
    }


# -- W5 claim with history --------------------------------------------------------------------

W5_STEPS = 10


def _insert_runs(
    conn: Any, job_id: int, version_id: int, runs: int, state: str, step_state: str
) -> None:
    """`runs` runs of the 10-step job, each with its 10 step runs (and outputs when finished)."""
    now = time.time()
    finished = step_state == "succeeded"
    batch = 1000
    for offset in range(0, runs, batch):
        count = min(batch, runs - offset)
        run_rows: list[dict[str, Any]] = [
            {
                "job_id": job_id,
                "job_version_id": version_id,
                "state": state,
                "params": {},
                "submitter": "bench",
                "cancel_requested": False,
                "created_at": now - 3600,
                "started_at": now - 3600,
                "ended_at": now - 3500 if finished else None,
            }
            for _ in range(count)
        ]
        run_ids = list(conn.execute(insert(job_run).returning(job_run.c.id), run_rows).scalars())
        step_rows = [
            {
                "run_id": run_id,
                "step_key": f"s{i:03d}",
                "attempt": 1,
                "is_current": True,
                "state": step_state,
                "tags_key": "",
                "agent_id": 1 if finished else None,
                "not_before": 0.0,
                "created_at": now - 3600,
                "started_at": now - 3590 if finished else None,
                "ended_at": now - 3580 if finished else None,
                "exit_code": 0 if finished else None,
            }
            for run_id in run_ids
            for i in range(W5_STEPS)
        ]
        step_ids = list(
            conn.execute(insert(step_run).returning(step_run.c.id), step_rows).scalars()
        )
        if finished:
            outputs = [
                {
                    "step_run_id": sid,
                    "run_id": row["run_id"],
                    "step_key": row["step_key"],
                    "key": "out",
                    "value": "x",
                }
                for sid, row in zip(step_ids, step_rows, strict=True)
            ]
            conn.execute(insert(step_output), outputs)


def _claim_samples(rt: Runtime, n: int) -> list[float]:
    samples: list[float] = []
    for i in range(n + 5):
        t0 = time.perf_counter_ns()
        with rt.db.write() as conn:
            got = claims.claim(conn, agent_id=1, keys=[""], limit=1, lease=30.0)
        elapsed = (time.perf_counter_ns() - t0) / 1e6
        if len(got) != 1:
            raise RuntimeError("W5: the claim found no ready step run")
        if i >= 5:
            samples.append(elapsed)
    return samples


def _view_samples(rt: Runtime, run_id: int, n: int) -> list[float]:
    samples: list[float] = []
    for i in range(n + 3):
        t0 = time.perf_counter_ns()
        queries.run_view(rt, ACTOR, run_id)
        if i >= 3:
            samples.append((time.perf_counter_ns() - t0) / 1e6)
    return samples


def _claim_history(db_url: str, workdir: Path, quick: bool) -> dict[str, float]:
    finished_runs = 1_000 if quick else 10_000  # x 10 step runs each
    queued_runs = 100 if quick else 1_000
    n = 50 if quick else 300
    per_phase_runs = (n + 5) // W5_STEPS + 1
    out: dict[str, float] = {}
    with _runtime(db_url, workdir) as rt:
        _apply(rt, _chain_yaml("ten", W5_STEPS))
        page_run = submit(rt, ACTOR, "ten", {}).id  # the run whose page is timed
        with rt.db.read() as conn:
            job_id, version_id = conn.execute(
                select(job.c.id, job_version.c.id).join(
                    job_version, job_version.c.job_id == job.c.id
                )
            ).one()
        is_pg = not rt.db.is_sqlite

        def phase(runs: int, step_state: str, run_state: str) -> None:
            with rt.db.write() as conn:
                _insert_runs(conn, job_id, version_id, runs, run_state, step_state)
            if is_pg:
                with rt.db.write() as conn:  # what autovacuum does shortly after a bulk load
                    conn.execute(text("ANALYZE"))

        phase(per_phase_runs, "ready", "running")
        empty = _claim_samples(rt, n)
        out["claim_p50_empty_ms"] = median(empty)
        out["run_view_empty_ms"] = median(_view_samples(rt, page_run, n // 5))

        phase(finished_runs, "succeeded", "succeeded")
        phase(per_phase_runs, "ready", "running")
        out["claim_p50_finished_only_ms"] = median(_claim_samples(rt, n))

        phase(queued_runs, "ready", "running")
        history = _claim_samples(rt, n)
        out["claim_p50_history_ms"] = median(history)
        out["claim_p99_history_ms"] = percentile(history, 99)
        out["run_view_history_ms"] = median(_view_samples(rt, page_run, n // 5))
    return out


def w5(ctx: BenchContext) -> Result:
    result: Result = dict(_claim_history(_sqlite_url(ctx.workdir, "w5.db"), ctx.workdir, ctx.quick))
    counts = "10,000 finished and 1,000 queued (--quick)" if ctx.quick else "100,000 / 10,000"
    note = (
        f"claims.claim(limit=1) timed with its write transaction, SQLite; empty = only "
        f"~{(50 if ctx.quick else 300) + 5} ready rows; finished_only = + the finished step runs "
        f"(with one output each); history = + the queued ones ({counts}); run_view = one "
        f"10-step run's page"
    )
    if ctx.pg_url is not None:
        with scratch_database(ctx.pg_url, "bench_w5") as pg_url:
            for key, value in _claim_history(pg_url, ctx.workdir, ctx.quick).items():
                result["pg_" + key] = value
        note += "; pg_* the same on PostgreSQL (ANALYZE after each bulk insert)"
    result["note"] = note
    return result


# -- W6 100 MB of log -------------------------------------------------------------------------

W6_LOG_LIMIT = 128 * 1024 * 1024


def _vm(pid: int, field: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024.0  # kB -> MB (MiB)
    raise RuntimeError(f"no {field} in /proc/{pid}/status")


def w6(ctx: BenchContext) -> Result:
    repeats = 1 if ctx.quick else 3
    url = _sqlite_url(ctx.workdir, "w6.db")
    with _runtime(url, ctx.workdir) as rt:
        _apply(rt, BIG_LOG_YAML)
        env = _cli_env(url, ctx.workdir)
        env["CONVEYOR_LOG_LIMIT_BYTES"] = str(W6_LOG_LIMIT)  # the default 64 MiB would truncate
        agent = subprocess.Popen(
            [_conveyor_bin(), "agent", "--slots", "1", "--name", "bench-w6"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        walls: list[float] = []
        pages: list[float] = []
        stored: list[int] = []
        try:
            _wait_agent(rt)
            idle_rss = _vm(agent.pid, "VmRSS")
            with _watcher(url) as watcher:
                for _ in range(repeats):
                    start = time.time()
                    run = submit(rt, ACTOR, "biglog", {})
                    ended = watcher.wait(run.id, interval=0.01)
                    walls.append((ended - start) * 1000.0)
                    stored.append(_stored_log(rt, run.id))
                    pages.extend(_page_times(rt, run.id))
            peak_rss = _vm(agent.pid, "VmHWM")
        finally:
            _stop_process(agent)
    # 100-char lines and their newlines; fold adds none after the last line (no newline in).
    expected = BIG_LOG_BYTES + BIG_LOG_BYTES // 100 - 1
    if any(size != expected for size in stored):
        raise RuntimeError(f"W6: stored log lengths {stored}, expected {expected}")
    wall = median(walls)
    return {
        "wall_ms": wall,
        "log_mb_per_s": expected / 1e6 / (wall / 1000.0),
        "peak_rss_mb": peak_rss,
        "idle_rss_mb": idle_rss,
        "log_page_1000_ms": median(pages),
        "note": (
            f"SQLite; the agent is a separate process (`conveyor agent --slots 1` with "
            f"CONVEYOR_LOG_LIMIT_BYTES=128 MiB: the default 64 MiB would truncate) "
            f"sampled via /proc VmHWM (MiB) over all {repeats} runs; every run's stored log "
            f"checked at {expected:,} characters; page = queries.logs(limit=1000), all pages"
        ),
    }


def _wait_agent(rt: Runtime, timeout: float = 30.0) -> None:
    from conveyor.store.tables import agent

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with rt.db.read() as conn:
            if conn.execute(select(func.count()).select_from(agent)).scalar_one():
                return
        time.sleep(0.05)
    raise RuntimeError("W6: the agent process did not register")


def _stored_log(rt: Runtime, run_id: int) -> int:
    with rt.db.read() as conn:
        step_run_id = conn.execute(
            select(step_run.c.id).where(step_run.c.run_id == run_id)
        ).scalar_one()
        return log_size(conn, step_run_id)


def _page_times(rt: Runtime, run_id: int) -> list[float]:
    samples: list[float] = []
    after = 0
    while True:
        t0 = time.perf_counter_ns()
        chunks = queries.logs(rt, ACTOR, run_id, after_id=after, limit=1000)
        elapsed = (time.perf_counter_ns() - t0) / 1e6
        if not chunks:
            return samples
        if len(chunks) == 1000:
            samples.append(elapsed)
        after = chunks[-1].id
