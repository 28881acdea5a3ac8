"""Deciding what happens next in a run, from the states of its job steps. No I/O here."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from conveyor.engine.graph import Graph
from conveyor.engine.states import (
    ACTIVE_STEP_STATES,
    BROKEN_STEP_STATES,
    RunState,
    StepState,
)


def next_moves(
    graph: Graph,
    states: Mapping[str, StepState],
    should_run: Callable[[str], bool],
) -> dict[str, StepState]:
    """Pending steps whose needs are all done become READY, or SKIPPED when a need was skipped
    (propagation as in GitHub Actions) or their `when` is false. A step with a failed need stays
    pending: it is "not yet run", which is what `resume` picks up again."""
    current = dict(states)
    moves: dict[str, StepState] = {}
    changed = True
    while changed:
        changed = False
        for key in graph.keys:
            if current.get(key) != StepState.PENDING:
                continue
            needs = [current.get(need, StepState.PENDING) for need in graph.needs[key]]
            if not all(state.is_done_ok for state in needs):
                continue
            if StepState.SKIPPED in needs or not should_run(key):
                moves[key] = current[key] = StepState.SKIPPED
                changed = True
            else:
                moves[key] = current[key] = StepState.READY
    return moves


def run_state(states: Iterable[StepState], *, cancel_requested: bool = False) -> RunState:
    """The state a run is in given its job steps' states: live while anything can still move."""
    seen = set(states)
    if seen & ACTIVE_STEP_STATES:
        if seen & {StepState.READY, StepState.RUNNING}:
            return RunState.RUNNING
        return RunState.WAITING
    if cancel_requested:
        return RunState.CANCELLED
    if seen & BROKEN_STEP_STATES or StepState.PENDING in seen:
        return RunState.FAILED
    return RunState.SUCCEEDED


def aggregate(states: Iterable[StepState]) -> StepState:
    """One job step's state from the states of its items (a `foreach` makes several)."""
    seen = set(states)
    if not seen:
        return StepState.PENDING
    if len(seen) == 1:
        return next(iter(seen))
    for live in (StepState.RUNNING, StepState.READY, StepState.WAITING, StepState.PENDING):
        if live in seen:
            return StepState.RUNNING if live != StepState.WAITING else live
    for broken in (StepState.LOST, StepState.FAILED, StepState.CANCELLED):
        if broken in seen:
            return broken
    return StepState.SUCCEEDED
