"""Peers: Prefect, Luigi (and Airflow when it installs) in virtualenvs of their own.

The peers never share the project's venv: their pins would fight Conveyor's. Each workload is a
script in bench/peer_scripts/ run by the peer venv's python in a subprocess; it prints a
`BENCH-RESULT {json}` line with its samples and the harness takes the medians.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench.common import Column, median

BENCH_DIR = Path(__file__).resolve().parent
SCRIPTS = BENCH_DIR / "peer_scripts"
PEERS_VENV = BENCH_DIR / ".venv-peers"  # gitignored
# Airflow pins much of what Prefect pins, differently, so it gets a venv of its own (inside the
# gitignored folder so nothing needs adding to .gitignore).
AIRFLOW_VENV = PEERS_VENV / "airflow"
PEER_PINS = {"prefect": "3.9.1", "luigi": "3.8.1"}
AIRFLOW_PINS = {"apache-airflow": "3.3.2"}
INSTALL_TIMEOUT_S = {"peers": 900, "airflow": 300}  # Airflow: only if it installs in minutes
SCRIPT_TIMEOUT_S = 900
RESULT_TAG = "BENCH-RESULT "

Log = Callable[[str], None]


PeerResults = dict[str, dict[str, Column]]  # peer -> workload id -> column


def _python(venv: Path) -> Path:
    return venv / "bin" / "python"


def _installed(venv: Path, pins: dict[str, str]) -> bool:
    py = _python(venv)
    if not py.exists():
        return False
    code = (
        "import importlib.metadata as m, sys; print(' '.join(m.version(n) for n in sys.argv[1:]))"
    )
    proc = subprocess.run([str(py), "-c", code, *pins], capture_output=True, text=True)
    return proc.returncode == 0 and proc.stdout.split() == list(pins.values())


def ensure_venv(venv: Path, pins: dict[str, str], timeout_s: int, log: Log) -> str | None:
    """Create `venv` and pip install the pins from the registry; None when ready, else why not."""
    if _installed(venv, pins):
        return None
    specs = [f"{name}=={version}" for name, version in pins.items()]
    log(f"installing {' '.join(specs)} into {venv} (once; takes a minute or two)")
    start = time.monotonic()
    try:
        if not _python(venv).exists():
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
        subprocess.run(
            [str(_python(venv)), "-m", "pip", "install", "--quiet", *specs],
            check=True,
            timeout=timeout_s,
            capture_output=True,
            text=True,
        )
    except subprocess.TimeoutExpired:
        return f"pip install {' '.join(specs)} did not finish within {timeout_s} s"
    except subprocess.CalledProcessError as exc:
        tail = (exc.stderr or "").strip().splitlines()[-1:] or ["(no output)"]
        return f"pip install {' '.join(specs)} failed: {tail[0]}"
    log(f"installed in {time.monotonic() - start:.0f} s")
    return None


def peer_env(state: Path) -> dict[str, str]:
    """Environment for every peer process: no telemetry, all state under `state`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "AIRFLOW"))}
    for key in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME"):
        env.pop(key, None)
    (state / "luigi.cfg").touch()
    env.update(
        {
            "DO_NOT_TRACK": "1",
            "SCARF_ANALYTICS": "false",
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_HOME": str(state / "prefect"),
            "PREFECT_LOGGING_LEVEL": "WARNING",
            "PREFECT_CLOUD_ENABLE_ORCHESTRATION_TELEMETRY": "false",
            "AIRFLOW_HOME": str(state / "airflow"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_FOLDER": str(SCRIPTS / "airflow_dags"),
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
            "LUIGI_CONFIG_PATH": str(state / "luigi.cfg"),
            "PYTHONDONTWRITEBYTECODE": "1",
        }
    )
    return env


@dataclass
class ScriptRun:
    records: list[dict[str, object]]
    elapsed_ms: float
    problem: str | None


def run_script(python: Path, script: str, args: list[str], env: dict[str, str]) -> ScriptRun:
    start = time.perf_counter_ns()
    try:
        proc = subprocess.run(
            [str(python), str(SCRIPTS / script), *args],
            env=env,
            cwd=SCRIPTS,
            capture_output=True,
            text=True,
            timeout=SCRIPT_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired:
        return ScriptRun([], 0.0, f"{script} {' '.join(args)} timed out")
    elapsed = (time.perf_counter_ns() - start) / 1e6
    records = [
        json.loads(line[len(RESULT_TAG) :])
        for line in proc.stdout.splitlines()
        if line.startswith(RESULT_TAG)
    ]
    problem = None
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
        problem = f"{script} {' '.join(args)} exited {proc.returncode}: {last[:200]}"
    return ScriptRun(records, elapsed, problem)


def _absorb(results: PeerResults, run: ScriptRun, fallback: tuple[str, str]) -> None:
    """Fold a script's records (or its failure) into the results."""
    if run.problem and not run.records:
        peer, workload = fallback
        results.setdefault(peer, {}).setdefault(workload, Column()).note = run.problem
        return
    for record in run.records:
        peer, workload = str(record["peer"]), str(record["workload"]).upper()
        col = results.setdefault(peer, {}).setdefault(workload, Column())
        samples: dict[str, list[float]] = record["samples"]  # type: ignore[assignment]
        col.samples.update(samples)
        col.values.update({k: median(v) for k, v in samples.items() if v})
        col.note = str(record.get("note", ""))
        col.version = str(record.get("version", ""))


def _whole_command(
    results: PeerResults, peer: str, python: Path, script: str, env: dict[str, str], runs: int
) -> None:
    # The figure a user waits for at a prompt: interpreter, imports, engine start, one W1 run.
    times: list[float] = []
    for _ in range(runs):
        run = run_script(python, script, ["w1", "--repeat", "1", "--warmup", "0", *_tmp(env)], env)
        if run.problem:
            col = results.setdefault(peer, {}).setdefault("W1", Column())
            col.note = (col.note + "; " if col.note else "") + "whole command: " + run.problem
            return
        times.append(run.elapsed_ms)
    col = results.setdefault(peer, {}).setdefault("W1", Column())
    col.samples["command_ms"] = times
    col.values["command_ms"] = median(times)


def _tmp(env: dict[str, str]) -> list[str]:
    return ["--tmp", env["BENCH_PEER_TMP"]]


def run_peers(only: set[str], quick: bool, state: Path, log: Log) -> PeerResults:
    """Install (once) and run every peer on the workloads in `only` that peers take part in."""
    results: PeerResults = {}
    wanted: list[str] = [w for w in ("W1", "W2", "W3") if w in only]
    if not wanted:
        return results
    env = peer_env(state)
    env["BENCH_PEER_TMP"] = str(state)
    repeat = ["--repeat", "2" if quick else "5", "--warmup", "1"]
    command_runs = 1 if quick else 3

    problem = ensure_venv(PEERS_VENV, PEER_PINS, INSTALL_TIMEOUT_S["peers"], log)
    if problem:
        for peer in ("prefect", "prefect-served", "luigi"):
            results[peer] = {w: Column(note=problem) for w in wanted}
    else:
        py = _python(PEERS_VENV)
        for peer, script in (("luigi", "luigi_workloads.py"), ("prefect", "prefect_workloads.py")):
            for workload in wanted:
                log(f"{peer} {workload}")
                run = run_script(py, script, [workload.lower(), *repeat, *_tmp(env)], env)
                _absorb(results, run, (peer, workload))
            if "W1" in wanted:
                log(f"{peer} W1 whole command x{command_runs}")
                _whole_command(results, peer, py, script, env, command_runs)
        log("prefect-served W1-W3 (starts a prefect server; about a minute)")
        run = run_script(py, "prefect_served.py", ["all", *repeat, *_tmp(env)], env)
        _absorb(results, run, ("prefect-served", "W1"))
        for workload in ("W1", "W2", "W3"):
            if workload not in wanted:
                results.get("prefect-served", {}).pop(workload, None)

    _run_airflow(results, wanted, repeat, command_runs, env, log)
    return results


def _run_airflow(
    results: PeerResults,
    wanted: list[str],
    repeat: list[str],
    command_runs: int,
    env: dict[str, str],
    log: Log,
) -> None:
    problem = ensure_venv(AIRFLOW_VENV, AIRFLOW_PINS, INSTALL_TIMEOUT_S["airflow"], log)
    py = _python(AIRFLOW_VENV)
    if problem is None:
        log("airflow setup (db migrate, dags reserialize)")
        problem = run_script(py, "airflow_workloads.py", ["setup", *_tmp(env)], env).problem
    if problem:
        results["airflow"] = {w: Column(note=problem) for w in wanted}
        return
    for workload in wanted:
        log(f"airflow {workload}")
        run = run_script(py, "airflow_workloads.py", [workload.lower(), *repeat, *_tmp(env)], env)
        _absorb(results, run, ("airflow", workload))
    if "W1" in wanted:
        log(f"airflow W1 whole command x{command_runs}")
        _whole_command(results, "airflow", py, "airflow_workloads.py", env, command_runs)
