"""Resuming failed runs: succeeded steps are kept (not re-run), their outputs reused, the job
version pinned, secrets still delivered; non-restartable steps need force."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from conveyor.actions import steering
from conveyor.actions.access import Actor
from conveyor.actions.runtime import Runtime
from conveyor.errors import ConflictError

FLAKY = """
kind: job
name: flaky
params:
  - {name: dir, type: string, required: true}
  - {name: token, type: secret, required: true}
steps:
  - id: first
    run: echo run >> {dir}/first.count; echo "val=v-$$" >> "$CONVEYOR_OUTPUT"
  - id: second
    needs: [first]
    RESTARTABLE
    run: |
      echo run >> {dir}/second.count
      echo "token is $CONVEYOR_PARAM_TOKEN"
      test -f {dir}/fixed || exit 1
      printf '%s' "$CONVEYOR_PARAM_TOKEN" > {dir}/token
      echo got={steps.first.outputs.val} >> "$CONVEYOR_OUTPUT"
"""


@pytest.fixture
def flaky_run(
    tmp_path: Path,
    apply_yaml: Callable[..., object],
    submit_run: Callable[..., int],
    start_agent: Callable[..., object],
    wait_for_state: Callable[..., Any],
) -> Callable[..., int]:
    """Apply the flaky job, start an agent, submit a run and wait for it to fail."""

    def start(restartable: bool = True) -> int:
        apply_yaml(FLAKY.replace("RESTARTABLE", f"restartable: {str(restartable).lower()}"))
        start_agent()
        run_id = submit_run("flaky", {"dir": str(tmp_path), "token": "s3cr3t-value"})
        assert wait_for_state(run_id).state == "failed"
        return run_id

    return start


def _lines(path: Path) -> int:
    return len(path.read_text().splitlines())


def test_resume_keeps_succeeded_steps_version_and_secret(
    tmp_path: Path,
    rt: Runtime,
    admin: Actor,
    flaky_run: Callable[..., int],
    apply_yaml: Callable[..., object],
    wait_for_state: Callable[..., Any],
    steps_of: Callable[[int], dict],
    log_of: Callable[..., str],
) -> None:
    run_id = flaky_run()
    first_val = steps_of(run_id)["first"].outputs["val"]
    changed = FLAKY.replace("RESTARTABLE", "restartable: true").replace("exit 1", "exit 7")
    assert apply_yaml(changed)[0].version == 2
    (tmp_path / "fixed").touch()
    steering.resume(rt, admin, run_id)
    done = wait_for_state(run_id)
    assert done.state == "succeeded"
    assert done.version == 1
    assert _lines(tmp_path / "first.count") == 1
    assert _lines(tmp_path / "second.count") == 2
    assert steps_of(run_id)["second"].outputs == {"got": first_val}
    assert steps_of(run_id)["second"].attempt == 2
    assert (tmp_path / "token").read_text() == "s3cr3t-value"
    logs = log_of(run_id)
    assert "token is ***" in logs
    assert "s3cr3t-value" not in logs


def test_retry_runs_the_failed_step_again(
    tmp_path: Path,
    rt: Runtime,
    admin: Actor,
    flaky_run: Callable[..., int],
    wait_for_state: Callable[..., Any],
    view: Callable[..., Any],
) -> None:
    run_id = flaky_run()
    (tmp_path / "fixed").touch()
    steering.retry(rt, admin, run_id, "second")
    assert wait_for_state(run_id).state == "succeeded"
    history = [(s.step, s.attempt, s.state) for s in view(run_id, history=True).steps]
    assert history == [
        ("first", 1, "succeeded"),
        ("second", 1, "failed"),
        ("second", 2, "succeeded"),
    ]
    with pytest.raises(ConflictError):
        steering.retry(rt, admin, run_id, "second")


CHAIN = """
kind: job
name: chain
steps:
  - {id: broken, run: "exit 1"}
  - {id: after, needs: [broken], run: 'echo saw={steps.broken.outputs.val} >> "$CONVEYOR_OUTPUT"'}
"""


def test_skip_makes_dependants_skip_too(
    run_job: Callable[..., Any],
    rt: Runtime,
    admin: Actor,
    wait_for_state: Callable[..., Any],
    steps_of: Callable[[int], dict],
) -> None:
    finished = run_job(CHAIN, "chain")
    run_id = finished.id
    assert finished.state == "failed"
    steering.skip(rt, admin, run_id, "broken")
    assert wait_for_state(run_id).state == "succeeded"
    assert {k: s.state for k, s in steps_of(run_id).items()} == {
        "broken": "skipped",
        "after": "skipped",
    }


def test_mark_succeeded_gives_outputs_to_dependants(
    run_job: Callable[..., Any],
    rt: Runtime,
    admin: Actor,
    wait_for_state: Callable[..., Any],
    steps_of: Callable[[int], dict],
) -> None:
    finished = run_job(CHAIN, "chain")
    run_id = finished.id
    assert finished.state == "failed"
    steering.mark_succeeded(rt, admin, run_id, "broken", {"val": "by hand; $(id)"})
    assert wait_for_state(run_id).state == "succeeded"
    assert steps_of(run_id)["after"].outputs == {"saw": "by hand; $(id)"}


def test_resume_refuses_non_restartable_steps_unless_forced(
    tmp_path: Path,
    rt: Runtime,
    admin: Actor,
    flaky_run: Callable[..., int],
    wait_for_state: Callable[..., Any],
    steps_of: Callable[[int], dict],
) -> None:
    run_id = flaky_run(restartable=False)
    (tmp_path / "fixed").touch()
    with pytest.raises(ConflictError, match="not restartable"):
        steering.resume(rt, admin, run_id)
    assert steps_of(run_id)["second"].attempt == 1
    assert wait_for_state(run_id).state == "failed"
    steering.resume(rt, admin, run_id, force=["second"])
    assert wait_for_state(run_id).state == "succeeded"
    assert _lines(tmp_path / "first.count") == 1
