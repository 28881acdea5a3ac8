"""A paused rollout decided from the command line, and a rejected run over the limit."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROLLOUT = """
kind: job
name: roll
params:
  - {name: hosts, type: list, required: true}
  - {name: dir, type: string, required: true}
steps:
  - id: deploy
    foreach: "{hosts}"
    max_parallel: 1
    max_failures: 0
    on_max_failures: pause
    run: |
      case {item} in bad*) test -e {dir}/fixed || exit 1;; esac
      echo "deployed {item}"
---
kind: job
name: single
max_concurrency: 1
on_limit: reject
steps:
  - id: nap
    run: sleep 5
"""


def test_a_paused_rollout_waits_then_retries_the_failed_items(
    cli: Callable[..., Any],
    write: Callable[[str, str], Path],
    agent_process: Callable[..., Any],
    wait_until: Callable[..., None],
    tmp_path: Path,
) -> None:
    assert cli("apply", str(write("roll.yaml", ROLLOUT))).code == 0
    paused = cli("run", "roll", "-p", "hosts=a,bad,c", "-p", f"dir={tmp_path}", "--local")
    assert paused.code == 3, paused.err
    run_id = paused.out.strip()
    items = [s for s in json.loads(cli("status", run_id, "--json").out)["steps"]]
    assert [s["state"] for s in items] == ["succeeded", "failed", "waiting"]
    assert "bad" in (items[2]["waiting_for"] or "")
    assert cli("rollout", run_id, "deploy").code == 2  # no choice made
    (tmp_path / "fixed").write_text("")
    decided = cli("rollout", run_id, "deploy", "--retry-failed")
    assert decided.code == 0, decided.err
    agent_process()
    wait_until(lambda: cli("status", run_id).code == 0, timeout=30)
    logs = cli("logs", run_id, "--step", "deploy").out
    assert [line for line in logs.splitlines() if line.startswith("deployed")] == [
        "deployed a",
        "deployed bad",
        "deployed c",
    ]


def test_a_run_over_a_rejecting_limit_is_refused(
    cli: Callable[..., Any],
    write: Callable[[str, str], Path],
    agent_process: Callable[..., Any],
) -> None:
    assert cli("apply", str(write("roll.yaml", ROLLOUT))).code == 0
    agent_process()
    first = cli("run", "single")
    assert first.code == 0
    refused = cli("run", "single")
    assert refused.code == 2
    assert "max_concurrency" in refused.err
    assert len(json.loads(cli("runs", "--json").out)) == 1
