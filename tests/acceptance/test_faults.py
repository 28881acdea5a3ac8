"""Crashes lose nothing: real agent processes killed, paused and restarted mid-run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

FAST_LEASE = {"CONVEYOR_LEASE_SECONDS": "3", "CONVEYOR_HEARTBEAT_SECONDS": "0.5"}

JOB = """
kind: job
name: long
steps:
  - id: work
    restartable: {restartable}
    run: |
      echo "$CONVEYOR_ATTEMPT" >> {marks}/work
      sleep {seconds}
      echo finished
  - id: after
    needs: [work]
    run: echo after >> {marks}/after
"""


def _apply(cli: Callable[..., Any], write: Callable[[str, str], Path], tmp_path: Path,
           *, restartable: bool = True, seconds: float = 3) -> None:  # fmt: skip
    marks = tmp_path / "marks"
    marks.mkdir(exist_ok=True)
    text = JOB.format(restartable=str(restartable).lower(), marks=marks, seconds=seconds)
    assert cli("apply", str(write("long.yaml", text))).code == 0


def _status(cli: Callable[..., Any], run_id: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(cli("status", run_id, "--json", "--history").out)
    return data


def _step(data: dict[str, Any], key: str) -> dict[str, Any]:
    return next(s for s in data["steps"] if s["step"] == key)


def _lines(path: Path) -> list[str]:
    return path.read_text().split() if path.exists() else []


@pytest.fixture
def fast(cli_env: dict[str, str]) -> dict[str, str]:
    cli_env.update(FAST_LEASE)
    return cli_env


def test_sigkill_mid_step_reruns_a_restartable_step_on_another_agent(
    fast: dict[str, str], cli: Callable[..., Any], write: Callable[[str, str], Path],
    agent_process: Callable[..., subprocess.Popen[str]], wait_until: Callable[..., None],
    tmp_path: Path,
) -> None:  # fmt: skip
    _apply(cli, write, tmp_path)
    first = agent_process("--name", "first", "--slots", "1")
    run_id = cli("run", "long").out.strip()
    wait_until(lambda: _lines(tmp_path / "marks" / "work") == ["1"])
    os.killpg(first.pid, signal.SIGKILL)
    agent_process("--name", "second")
    wait_until(lambda: cli("status", run_id).code == 0, timeout=40)
    history = [
        (s["attempt"], s["state"]) for s in _status(cli, run_id)["steps"] if s["step"] == "work"
    ]
    assert history == [(1, "lost"), (2, "succeeded")]
    assert _lines(tmp_path / "marks" / "after") == ["after"]


def test_sigkill_mid_step_fails_the_run_when_the_step_is_not_restartable(
    fast: dict[str, str], cli: Callable[..., Any], write: Callable[[str, str], Path],
    agent_process: Callable[..., subprocess.Popen[str]], wait_until: Callable[..., None],
    tmp_path: Path,
) -> None:  # fmt: skip
    _apply(cli, write, tmp_path, restartable=False)
    first = agent_process("--name", "first", "--slots", "1")
    run_id = cli("run", "long").out.strip()
    wait_until(lambda: _lines(tmp_path / "marks" / "work") == ["1"])
    os.killpg(first.pid, signal.SIGKILL)
    agent_process("--name", "second")
    wait_until(lambda: cli("status", run_id).code == 1, timeout=40)
    assert _step(_status(cli, run_id), "work")["state"] == "lost"
    assert _lines(tmp_path / "marks" / "work") == ["1"]
    refused = cli("resume", run_id)
    assert refused.code == 2
    assert "--force" in refused.err
    assert cli("succeed", run_id, "work").code == 0
    wait_until(lambda: cli("status", run_id).code == 0, timeout=20)
    assert _lines(tmp_path / "marks" / "work") == ["1"]


def test_an_agent_killed_before_its_first_heartbeat_loses_the_step_by_its_lease(
    fast: dict[str, str], cli: Callable[..., Any], write: Callable[[str, str], Path],
    agent_process: Callable[..., subprocess.Popen[str]], wait_until: Callable[..., None],
    tmp_path: Path,
) -> None:  # fmt: skip
    _apply(cli, write, tmp_path, seconds=3)
    silent = agent_process("--name", "silent", env={"CONVEYOR_HEARTBEAT_SECONDS": "600"})
    run_id = cli("run", "long").out.strip()
    wait_until(lambda: _lines(tmp_path / "marks" / "work") == ["1"])
    os.killpg(silent.pid, signal.SIGKILL)
    agent_process("--name", "rescuer")
    wait_until(lambda: cli("status", run_id).code == 0, timeout=40)
    work = [s for s in _status(cli, run_id)["steps"] if s["step"] == "work"]
    assert [(s["attempt"], s["state"]) for s in work] == [(1, "lost"), (2, "succeeded")]


def test_sigterm_lets_the_running_step_finish_and_a_new_agent_goes_on(
    cli: Callable[..., Any], write: Callable[[str, str], Path],
    agent_process: Callable[..., subprocess.Popen[str]], wait_until: Callable[..., None],
    tmp_path: Path,
) -> None:  # fmt: skip
    _apply(cli, write, tmp_path, seconds=1.5)
    first = agent_process("--name", "first")
    run_id = cli("run", "long").out.strip()
    wait_until(lambda: _lines(tmp_path / "marks" / "work") == ["1"])
    first.send_signal(signal.SIGTERM)
    assert first.wait(timeout=30) == 0
    data = _status(cli, run_id)
    assert _step(data, "work")["state"] == "succeeded"
    assert _step(data, "after")["state"] in ("pending", "ready")
    agent_process("--name", "second")
    wait_until(lambda: cli("status", run_id).code == 0, timeout=30)
    assert _lines(tmp_path / "marks" / "work") == ["1"]
    assert _lines(tmp_path / "marks" / "after") == ["after"]


def test_a_paused_agent_past_its_lease_has_its_late_writes_refused(
    fast: dict[str, str], cli: Callable[..., Any], write: Callable[[str, str], Path],
    agent_process: Callable[..., subprocess.Popen[str]], wait_until: Callable[..., None],
    tmp_path: Path,
) -> None:  # fmt: skip
    _apply(cli, write, tmp_path, seconds=6)
    paused = agent_process("--name", "paused", "--slots", "1")
    run_id = cli("run", "long").out.strip()
    wait_until(lambda: _lines(tmp_path / "marks" / "work") == ["1"])
    os.kill(paused.pid, signal.SIGSTOP)
    agent_process("--name", "healthy")
    wait_until(lambda: _lines(tmp_path / "marks" / "work") == ["1", "2"], timeout=30)
    os.kill(paused.pid, signal.SIGCONT)
    wait_until(lambda: cli("status", run_id).code == 0, timeout=40)
    work = [s for s in _status(cli, run_id)["steps"] if s["step"] == "work"]
    assert [(s["attempt"], s["state"]) for s in work] == [(1, "lost"), (2, "succeeded")]
    assert work[1]["agent"] == "healthy"
