"""Params, placeholders and outputs through a real agent: values arrive exactly as given."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from conveyor.actions.runtime import Runtime
from conveyor.errors import ParamError
from conveyor.store.tables import job_run, step_run

CHECKED = """
kind: job
name: checked
params:
  - {name: count, type: int, min: 1, max: 5, required: true}
  - {name: name, type: string, pattern: "^[a-z]+$", default: abc}
  - {name: env, type: choice, choices: [staging, prod], default: staging}
steps:
  - {id: a, run: "true"}
"""

HOSTILE = [
    "'; rm -rf ~ #",
    "$(id)",
    "`id`",
    "two\nlines\n",
    "ünïcødé ✓ 日本",
    "{x} and {{y}}",
    '"double" \\back\\ $HOME',
]

ECHO = """
kind: job
name: echo
params:
  - {name: value, type: string, required: true}
  - {name: dir, type: string, required: true}
steps:
  - id: write
    run: printf '%s' {value} > {dir}/argv; printf '%s' "$CONVEYOR_PARAM_VALUE" > {dir}/env
"""


def _count(rt: Runtime, table: object) -> int:
    with rt.db.read() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"count": 0},
        {"count": "many"},
        {"count": 2, "name": "UPPER"},
        {"count": 2, "env": "qa"},
        {"count": 2, "surprise": 1},
    ],
)
def test_refused_params_create_no_run(
    rt: Runtime, apply_yaml: Callable[..., object], submit_run: Callable[..., int], params: dict
) -> None:
    apply_yaml(CHECKED)
    with pytest.raises(ParamError):
        submit_run("checked", params)
    assert _count(rt, job_run) == 0
    assert _count(rt, step_run) == 0


def test_hostile_values_reach_the_process_verbatim(
    tmp_path: Path,
    apply_yaml: Callable[..., object],
    submit_run: Callable[..., int],
    start_agent: Callable[..., object],
    wait_for_state: Callable[..., object],
) -> None:
    apply_yaml(ECHO)
    start_agent(slots=2)
    for index, value in enumerate(HOSTILE):
        folder = tmp_path / f"v{index}"
        folder.mkdir()
        run_id = submit_run("echo", {"value": value, "dir": str(folder)})
        assert wait_for_state(run_id).state == "succeeded"  # type: ignore[attr-defined]
        assert (folder / "argv").read_text(encoding="utf-8") == value
        assert (folder / "env").read_text(encoding="utf-8") == value


OUTPUTS = """
kind: job
name: outputs
steps:
  - id: make
    run: |
      echo "version=1.2.3" >> "$CONVEYOR_OUTPUT"
      echo "url=https://x.example/?a=b&c=d" >> "$CONVEYOR_OUTPUT"
      printf 'notes<<EOF\\nline one\\n$(not run) `nor this`\\nEOF\\n' >> "$CONVEYOR_OUTPUT"
  - id: use
    needs: [make]
    run: |
      printf 'seen<<END\\n%s|%s\\nEND\\n' {steps.make.outputs.version} {steps.make.outputs.notes} \
        >> "$CONVEYOR_OUTPUT"
"""


def test_outputs_flow_between_steps(
    run_job: Callable[..., Any],
    steps_of: Callable[[int], dict],
) -> None:
    finished = run_job(OUTPUTS, "outputs")
    run_id = finished.id
    assert finished.state == "succeeded"
    steps = steps_of(run_id)
    made = steps["make"].outputs
    assert made["version"] == "1.2.3"
    assert made["url"] == "https://x.example/?a=b&c=d"
    assert made["notes"] == "line one\n$(not run) `nor this`"
    assert steps["use"].outputs["seen"] == "1.2.3|line one\n$(not run) `nor this`"
