"""Run and step run states (SPEC section 4) and which of them are final."""

from __future__ import annotations

from enum import StrEnum


class RunState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    WAITING = "waiting"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_final(self) -> bool:
        return self in FINAL_RUN_STATES


class StepState(StrEnum):
    PENDING = "pending"
    READY = "ready"
    RUNNING = "running"
    WAITING = "waiting"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"
    LOST = "lost"

    @property
    def is_final(self) -> bool:
        return self in FINAL_STEP_STATES

    @property
    def is_done_ok(self) -> bool:
        """Dependants may go on after this state."""
        return self in (StepState.SUCCEEDED, StepState.SKIPPED)


FINAL_RUN_STATES = frozenset({RunState.SUCCEEDED, RunState.FAILED, RunState.CANCELLED})
FINAL_STEP_STATES = frozenset(
    {
        StepState.SUCCEEDED,
        StepState.FAILED,
        StepState.SKIPPED,
        StepState.CANCELLED,
        StepState.LOST,
    }
)
ACTIVE_STEP_STATES = frozenset({StepState.READY, StepState.RUNNING, StepState.WAITING})
BROKEN_STEP_STATES = frozenset({StepState.FAILED, StepState.LOST, StepState.CANCELLED})

# Exit codes of `run --wait`, `run --local` and `status` (SPEC section 5).
EXIT_CODES = {
    RunState.SUCCEEDED: 0,
    RunState.FAILED: 1,
    RunState.WAITING: 3,
    RunState.CANCELLED: 4,
}
