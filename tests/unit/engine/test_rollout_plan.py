"""The rollout plan: batches, max_parallel, max_failures and after-batch checks, without I/O."""

from __future__ import annotations

from conveyor.engine.rollout import RolloutRules, batches, plan_rollout
from conveyor.engine.states import StepState

P, R, S, F = StepState.PENDING, StepState.RUNNING, StepState.SUCCEEDED, StepState.FAILED


def _items(*states: StepState) -> dict[int, StepState]:
    return dict(enumerate(states))


def test_batches_cut_items_in_order() -> None:
    assert batches([4, 0, 2, 1, 3], 2) == [[0, 1], [2, 3], [4]]
    assert batches([1, 0], None) == [[0, 1]]


def test_max_parallel_counts_what_is_going() -> None:
    plan = plan_rollout(_items(R, S, P, P, P), {}, RolloutRules(max_parallel=2))
    assert plan.launch == (2,)


def test_the_next_batch_waits_for_the_whole_previous_one() -> None:
    rules = RolloutRules(batch_size=2)
    assert plan_rollout(_items(S, R, P, P), {}, rules).launch == ()
    assert plan_rollout(_items(S, S, P, P), {}, rules).launch == (2, 3)


def test_a_check_runs_after_each_batch_and_holds_the_next() -> None:
    rules = RolloutRules(batch_size=2, has_check=True)
    assert plan_rollout(_items(S, S, P), {}, rules).check == 0
    assert plan_rollout(_items(S, S, P), {0: R}, rules).launch == ()
    assert plan_rollout(_items(S, S, P), {0: S}, rules).launch == (2,)
    assert plan_rollout(_items(S, S, S), {0: S}, rules).check == 1


def test_failures_past_the_limit_or_a_failed_check_halt() -> None:
    assert plan_rollout(_items(F, P), {}, RolloutRules(max_failures=1)).halted is None
    halted = plan_rollout(_items(F, F, P), {}, RolloutRules(max_failures=1))
    assert halted.halted == "2 item(s) failed, more than max_failures 1"
    assert halted.failed == (0, 1)
    checked = plan_rollout(_items(S, P), {0: F}, RolloutRules(batch_size=1, has_check=True))
    assert checked.halted == "the after_batch check of batch 1 failed"
