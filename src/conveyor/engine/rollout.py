"""What a rollout (`foreach`) does next: batches, max_parallel, max_failures, after-batch checks.

Pure: it sees the states of the items (by item index) and of the after-batch checks (by batch
number) and says which items to launch, which check to run, or why the rollout is halted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from conveyor.engine.states import BROKEN_STEP_STATES, StepState

FAILED_ITEM_STATES = frozenset({StepState.FAILED, StepState.LOST})
_LAUNCHED = frozenset({StepState.READY, StepState.RUNNING})


@dataclass(frozen=True)
class RolloutRules:
    max_parallel: int | None = None
    batch_size: int | None = None
    max_failures: int | None = None
    has_check: bool = False


@dataclass(frozen=True)
class RolloutPlan:
    """`launch`: item indexes to make ready now; `check`: the batch whose after-batch check must
    run now; `halted`: why nothing more may launch (None while the rollout may go on)."""

    launch: tuple[int, ...] = ()
    check: int | None = None
    halted: str | None = None
    failed: tuple[int, ...] = ()


def batches(indexes: Sequence[int], batch_size: int | None) -> list[list[int]]:
    """Item indexes cut into batches, in item order; without batch_size, one batch of all."""
    ordered = sorted(indexes)
    size = batch_size or len(ordered) or 1
    return [ordered[start : start + size] for start in range(0, len(ordered), size)]


def plan_rollout(
    items: Mapping[int, StepState], checks: Mapping[int, StepState], rules: RolloutRules
) -> RolloutPlan:
    """The next move of a rollout. Failures within max_failures do not stop it (the step still
    ends failed); more failures, or a failed check, halt it."""
    failed = tuple(sorted(i for i, state in items.items() if state in FAILED_ITEM_STATES))
    bad_checks = sorted(b for b, state in checks.items() if state in BROKEN_STEP_STATES)
    if bad_checks:
        halted = f"the after_batch check of batch {bad_checks[0] + 1} failed"
        return RolloutPlan(halted=halted, failed=failed)
    if rules.max_failures is not None and len(failed) > rules.max_failures:
        halted = f"{len(failed)} item(s) failed, more than max_failures {rules.max_failures}"
        return RolloutPlan(halted=halted, failed=failed)
    for number, batch in enumerate(batches(list(items), rules.batch_size)):
        if not all(items[i].is_final for i in batch):
            return RolloutPlan(launch=_fill(batch, items, rules.max_parallel), failed=failed)
        if not rules.has_check:
            continue
        check = checks.get(number)
        if check is None or check == StepState.PENDING:
            return RolloutPlan(check=number, failed=failed)
        if not check.is_done_ok:
            return RolloutPlan(failed=failed)  # the check is going: the next batch waits
    return RolloutPlan(failed=failed)


def _fill(
    batch: list[int], items: Mapping[int, StepState], max_parallel: int | None
) -> tuple[int, ...]:
    active = sum(items[i] in _LAUNCHED for i in batch)
    room = (max_parallel or len(batch)) - active
    pending = [i for i in batch if items[i] == StepState.PENDING]
    return tuple(pending[: max(0, room)])
