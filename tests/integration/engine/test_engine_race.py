"""Two agents with their own connections race for many ready steps: each runs exactly once."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import select

from conveyor.actions.runtime import Runtime
from conveyor.store.tables import step_run

RUNS = 40
STEPS = ("a", "b", "c", "d", "e")

WIDE = """
kind: job
name: wide
params:
  - {name: ledger, type: string, required: true}
steps:
""" + "".join(
    f"  - {{id: {key}, run: 'echo {{run.id}} \"$CONVEYOR_STEP_ID\" >> {{ledger}}'}}\n"
    for key in STEPS
)


def test_every_step_runs_exactly_once_with_two_racing_agents(
    tmp_path: Path,
    rt: Runtime,
    make_runtime: Callable[..., Runtime],
    apply_yaml: Callable[..., object],
    submit_run: Callable[..., int],
    start_agent: Callable[..., object],
    wait_for_state: Callable[..., object],
) -> None:
    ledger = tmp_path / "ledger"
    apply_yaml(WIDE)
    runs = [submit_run("wide", {"ledger": str(ledger)}) for _ in range(RUNS)]
    start_agent(runtime=make_runtime(), name="one", slots=4)
    start_agent(runtime=make_runtime(), name="two", slots=4)
    for run_id in runs:
        assert wait_for_state(run_id, timeout=120).state == "succeeded"  # type: ignore[attr-defined]
    lines = Counter(ledger.read_text().splitlines())
    expected = {f"{run_id} {key}" for run_id in runs for key in STEPS}
    assert set(lines) == expected
    assert set(lines.values()) == {1}
    with rt.db.read() as conn:
        rows = conn.execute(select(step_run.c.attempt, step_run.c.agent_id)).all()
    assert len(rows) == RUNS * len(STEPS)
    assert {attempt for attempt, _ in rows} == {1}
    assert len({agent for _, agent in rows}) == 2  # both agents took a share


WIDE_JOIN = (
    """
kind: job
name: widejoin
params:
  - {name: ledger, type: string, required: true}
steps:
"""
    + "".join(f"  - {{id: s{i}, run: 'echo s{i} >> {{ledger}}'}}\n" for i in range(200))
    + "  - {id: join, needs: ["
    + ", ".join(f"s{i}" for i in range(200))
    + "], run: 'echo join >> {ledger}'}\n"
)


def test_a_join_of_200_branches_runs_once_after_all(
    tmp_path: Path,
    make_runtime: Callable[..., Runtime],
    apply_yaml: Callable[..., object],
    submit_run: Callable[..., int],
    start_agent: Callable[..., object],
    wait_for_state: Callable[..., object],
) -> None:
    ledger = tmp_path / "ledger"
    apply_yaml(WIDE_JOIN)
    run_id = submit_run("widejoin", {"ledger": str(ledger)})
    start_agent(runtime=make_runtime(), slots=4)
    start_agent(runtime=make_runtime(), slots=4)
    assert wait_for_state(run_id, timeout=120).state == "succeeded"  # type: ignore[attr-defined]
    lines = ledger.read_text().splitlines()
    assert sorted(lines) == sorted([f"s{i}" for i in range(200)] + ["join"])
    assert lines[-1] == "join"
