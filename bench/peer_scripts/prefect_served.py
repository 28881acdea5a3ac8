# mypy: ignore-errors
# (run by the peers' venv: prefect, luigi, airflow are not installed where mypy runs)
"""Prefect peer with its server running and a deployment served by `flow.serve`-style runner.

This is the setting closest to Conveyor's "an agent is already waiting": `prefect server start`
runs in the background on a free port, a runner serves the three flows as deployments, and each
sample is a `run_deployment` trigger, timed to the task's process start (the probe) and to the
moment the caller sees the flow run finished.

Usage: prefect_served.py all --tmp DIR [--repeat N] [--warmup N]; the `serve` mode is internal.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from _peer_common import collect, emit, ms_since, parse_args

HERE = Path(__file__).resolve().parent
# The runner's default poll is 10 s; 1 s is the smallest its integer setting takes. The figure
# is therefore a best case for Prefect: with defaults a trigger waits up to 10 s more.
POLL_SECONDS = "1"
RUN_POLL_INTERVAL_S = 0.02  # how often run_deployment asks the API whether the run finished
DEPLOYMENTS = {"w1": "bench-w1-chain/w1", "w2": "bench-w2-fanout/w2", "w3": "bench-w3-one/w3"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_healthy(url: str, proc: subprocess.Popen[bytes], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"prefect server exited early with code {proc.returncode}")
        try:
            with urllib.request.urlopen(url + "/health", timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"prefect server not healthy within {timeout_s:.0f} s")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    # Each child was started in a session of its own, so this reaches its children (uvicorn,
    # flow-run processes) and nothing else.
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def serve() -> None:
    from prefect import serve as prefect_serve
    from prefect_flows import w1_chain, w2_fanout, w3_one

    prefect_serve(
        w1_chain.to_deployment(name="w1"),
        w2_fanout.to_deployment(name="w2"),
        w3_one.to_deployment(name="w3"),
        print_starting_message=False,
    )


def _wait_deployments(timeout_s: float) -> None:
    from prefect.client.orchestration import get_client

    deadline = time.monotonic() + timeout_s
    with get_client(sync_client=True) as client:
        for name in DEPLOYMENTS.values():
            while True:
                try:
                    client.read_deployment_by_name(name)
                    break
                except Exception:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.2)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "serve":
        serve()
        return
    args = parse_args(("all",))
    tmp = Path(args.tmp)
    port = _free_port()
    api = f"http://127.0.0.1:{port}/api"
    env = dict(os.environ)
    env["PREFECT_UI_ENABLED"] = "false"
    env["PREFECT_RUNNER_POLL_FREQUENCY"] = POLL_SECONDS
    prefect_bin = str(Path(sys.executable).parent / "prefect")
    with (tmp / "server.log").open("wb") as log:
        server = subprocess.Popen(
            [prefect_bin, "server", "start", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    runner: subprocess.Popen[bytes] | None = None
    try:
        _wait_healthy(api, server, timeout_s=180)
        env["PREFECT_API_URL"] = api
        os.environ["PREFECT_API_URL"] = api  # before prefect is imported below
        with (tmp / "runner.log").open("wb") as log:
            runner = subprocess.Popen(
                [sys.executable, str(HERE / "prefect_served.py"), "serve"],
                env=env,
                cwd=HERE,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        _wait_deployments(timeout_s=120)
        _measure(tmp, args.repeat, args.warmup)
    finally:
        if runner is not None:
            _stop(runner)
        _stop(server)


def _measure(tmp: Path, repeat: int, warmup: int) -> None:
    import prefect
    from prefect.deployments import run_deployment

    note = (
        f"prefect server + served deployment (runner poll {POLL_SECONDS} s, default 10 s); "
        "each flow run in a new process; trigger = run_deployment"
    )

    def trigger(workload: str, parameters: dict[str, str]) -> float:
        start = time.perf_counter_ns()
        flow_run = run_deployment(
            DEPLOYMENTS[workload],
            parameters=parameters,
            timeout=None,
            poll_interval=RUN_POLL_INTERVAL_S,
            as_subflow=False,
        )
        elapsed = ms_since(start)
        if flow_run.state is None or not flow_run.state.is_completed():
            raise RuntimeError(f"{workload} flow run ended in {flow_run.state}")
        return elapsed

    for workload in ("w1", "w2"):
        samples = collect(lambda _, w=workload: {"wall_ms": trigger(w, {})}, repeat, warmup)
        emit("prefect-served", prefect.__version__, workload, samples, note)

    def one(i: int) -> dict[str, float]:
        probe = tmp / f"probe-{i}"
        submit_ns = time.time_ns()
        done_ms = trigger("w3", {"probe_file": str(probe)})
        started_ns = int(probe.read_text())
        return {"to_start_ms": (started_ns - submit_ns) / 1e6, "to_done_ms": done_ms}

    emit("prefect-served", prefect.__version__, "w3", collect(one, repeat, warmup), note)


if __name__ == "__main__":
    main()
