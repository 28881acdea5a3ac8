"""The CLI contract of SPEC section 5, driven through real `conveyor` processes."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

JOBS = """
kind: job
name: hello
category: Demo
params:
  - {name: who, type: string, required: true}
  - {name: count, type: int, default: 1, min: 1, max: 5}
  - {name: fail, type: bool, default: false}
steps:
  - id: greet
    run: |
      echo "hello {who}"
      echo "greeting=hello {who}" >> "$CONVEYOR_OUTPUT"
  - id: check
    needs: [greet]
    run: |
      echo "{steps.greet.outputs.greeting} x{count}"
      if [ "$CONVEYOR_PARAM_FAIL" = "true" ]; then exit 3; fi
---
kind: job
name: gated
category: Demo
steps:
  - id: build
    run: echo built
  - id: approve
    needs: [build]
    manual:
      instructions: "Approve the build"
      fields: [{name: ticket, type: string, required: true}]
  - id: ship
    needs: [approve]
    run: echo "shipping {steps.approve.outputs.ticket}"
---
kind: job
name: slow
category: Demo
steps:
  - id: nap
    run: sleep 30
"""

Cli = Callable[..., Any]


def _applied(cli: Cli, write: Callable[[str, str], Path]) -> None:
    result = cli("apply", str(write("jobs.yaml", JOBS)))
    assert result.code == 0, result.err


def test_validate_reports_every_error_with_file_and_line(
    cli: Cli, write: Callable[[str, str], Path]
) -> None:
    bad = write(
        "bad.yaml",
        "kind: job\nname: broken\nsteps:\n  - id: a\n    run: echo {nope}\n"
        "  - id: b\n    needs: [zzz]\n    run: echo\n",
    )
    result = cli("validate", str(bad))
    assert result.code == 2
    assert f"{bad}:5" in result.err
    assert "nope" in result.err
    assert "zzz" in result.err
    assert result.out == ""
    assert cli("apply", str(bad)).code == 2
    listed = cli("runs", "--json")
    assert json.loads(listed.out) == []


def test_apply_makes_a_new_version_only_when_the_definition_changed(
    cli: Cli, write: Callable[[str, str], Path]
) -> None:
    path = write("jobs.yaml", JOBS)
    first = json.loads(cli("apply", str(path), "--json").out)
    again = json.loads(cli("apply", str(path), "--json").out)
    assert all(item["changed"] for item in first)
    assert not any(item["changed"] for item in again)
    write("jobs.yaml", JOBS.replace("echo built", "echo built again"))
    third = {i["name"]: i for i in json.loads(cli("apply", str(path), "--json").out)}
    assert third["gated"] == {"kind": "job", "name": "gated", "changed": True, "version": 2}
    assert third["hello"]["changed"] is False


def test_run_local_prints_the_id_alone_and_exits_by_outcome(
    cli: Cli, write: Callable[[str, str], Path]
) -> None:
    _applied(cli, write)
    ok = cli("run", "hello", "-p", "who=world", "--local")
    assert ok.code == 0, ok.err
    run_id = int(ok.out.strip())
    status = cli("status", str(run_id), "--json")
    assert status.code == 0
    data = json.loads(status.out)
    assert data["state"] == "succeeded"
    assert {s["step"]: s["outputs"] for s in data["steps"]}["greet"] == {"greeting": "hello world"}
    for key in ("id", "job", "version", "state", "params", "steps"):
        assert key in data
    for key in ("id", "state", "attempt", "exit_code", "outputs", "agent", "started_at"):
        assert key in data["steps"][0]
    failed = cli("run", "hello", "-p", "who=x", "-p", "fail=true", "--local")
    assert failed.code == 1
    assert cli("status", failed.out.strip()).code == 1


def test_a_refused_param_creates_no_run(cli: Cli, write: Callable[[str, str], Path]) -> None:
    _applied(cli, write)
    for args in (["-p", "count=9"], ["-p", "count=abc"], ["-p", "nope=1"], []):
        result = cli("run", "hello", *args, "--local")
        assert result.code == 2, (args, result.err)
        assert result.out == ""
        assert len(result.err.strip().splitlines()) == 1
    assert json.loads(cli("runs", "--json").out) == []


def test_waiting_on_a_person_exits_3_then_approve_lets_it_finish(
    cli: Cli, write: Callable[[str, str], Path]
) -> None:
    _applied(cli, write)
    waiting = cli("run", "gated", "--local")
    assert waiting.code == 3, waiting.err
    run_id = waiting.out.strip()
    assert cli("status", run_id).code == 3
    refused = cli("approve", run_id, "approve")
    assert refused.code == 2
    assert "ticket" in refused.err
    assert cli("approve", run_id, "approve", "-o", "ticket=OPS-1").code == 0
    done = cli("run", "gated", "--local")  # a second run shows the wait again
    assert done.code == 3
    assert cli("status", run_id).code in (0, 7)


def test_timeout_exits_5_and_cancels_a_local_run(
    cli: Cli, write: Callable[[str, str], Path]
) -> None:
    _applied(cli, write)
    timed = cli("run", "slow", "--local", "--timeout", "1")
    assert timed.code == 5
    assert cli("status", timed.out.strip()).code == 4


def test_cancel_from_another_process_stops_the_step(
    cli: Cli,
    write: Callable[[str, str], Path],
    agent_process: Callable[..., Any],
    wait_until: Callable[..., None],
) -> None:
    _applied(cli, write)
    agent_process("--slots", "2")
    run_id = cli("run", "slow").out.strip()
    wait_until(lambda: '"running"' in cli("status", run_id, "--json").out.split('"steps"')[1])
    assert cli("cancel", run_id).code == 0
    wait_until(lambda: cli("status", run_id).code == 4, timeout=15)
    follow = cli("run", "slow", "--wait", "--timeout", "1")
    assert follow.code == 5


def test_global_flags_go_before_or_after_the_command(
    cli: Cli, write: Callable[[str, str], Path], tmp_path: Path
) -> None:
    other = f"sqlite:///{tmp_path / 'other.db'}"
    path = str(write("jobs.yaml", JOBS))
    assert cli("--db", other, "apply", path).code == 0
    assert cli("apply", path, "--db", other).code == 0
    listed = cli("runs", "--json", "--db", other, "--user", "bob")
    assert listed.code == 0
    assert json.loads(listed.out) == []


def test_logs_and_json_listings(cli: Cli, write: Callable[[str, str], Path]) -> None:
    _applied(cli, write)
    run_id = cli("run", "hello", "-p", "who=logs", "--local").out.strip()
    logs = cli("logs", run_id)
    assert "[greet] hello logs" in logs.out
    only = cli("logs", run_id, "--step", "check")
    assert only.out.strip() == "hello logs x1"
    chunks = json.loads(cli("logs", run_id, "--json").out)
    assert {c["step"] for c in chunks} == {"greet", "check"}
    runs = json.loads(cli("runs", "--json").out)
    assert runs[0]["id"] == int(run_id)
    jobs = {j["name"]: j for j in json.loads(cli("jobs", "--json").out)}
    assert jobs["hello"] == {"name": "hello", "category": "Demo", "latest_version": 1}
    assert cli("logs", "999").code == 2


def test_unreachable_store_exits_6_with_one_sentence(cli: Cli) -> None:
    result = cli("runs", "--db", "postgresql://postgres@127.0.0.1:1/none")
    assert result.code == 6
    assert len(result.err.strip().splitlines()) == 1
    assert "Traceback" not in result.err
