"""A PostgreSQL restart in the middle of a run: agents reconnect and the run completes."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

CHAIN = """
kind: job
name: chain
steps:
  - id: s1
    run: echo 1 >> {marks}; sleep 0.5
  - id: s2
    needs: [s1]
    run: echo 2 >> {marks}; sleep 1
  - id: s3
    needs: [s2]
    run: echo 3 >> {marks}; sleep 1
  - id: s4
    needs: [s3]
    run: echo 4 >> {marks}
  - id: s5
    needs: [s4]
    run: echo 5 >> {marks}
"""


def _restart_postgres() -> None:
    version = sorted(os.listdir("/etc/postgresql"))[-1]
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "restart"],
        check=True,
        timeout=60,
        capture_output=True,
    )


def test_agents_ride_out_a_postgres_restart(
    db_url: str,
    cli: Callable[..., Any],
    write: Callable[[str, str], Path],
    agent_process: Callable[..., subprocess.Popen[str]],
    wait_until: Callable[..., None],
    tmp_path: Path,
) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("a PostgreSQL restart means nothing to SQLite")
    if not os.path.isdir("/etc/postgresql"):
        pytest.skip("this machine's PostgreSQL is not managed by pg_ctlcluster")
    marks = tmp_path / "marks"
    assert cli("apply", str(write("chain.yaml", CHAIN.format(marks=marks)))).code == 0
    agent_process("--name", "survivor")
    run_id = cli("run", "chain").out.strip()
    wait_until(lambda: marks.exists() and "2" in marks.read_text().split())
    _restart_postgres()
    wait_until(lambda: cli("status", run_id).code == 0, timeout=90, interval=0.5)
    assert marks.read_text().split() == ["1", "2", "3", "4", "5"]
