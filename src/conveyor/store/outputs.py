"""Step outputs: written when a step ends, read as the scope of the steps after it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select

from conveyor.store.records import StepRunRecord
from conveyor.store.tables import step_output, step_run


def insert_outputs(conn: Connection, step: StepRunRecord | Any, outputs: Mapping[str, str]) -> None:
    if not outputs:
        return
    conn.execute(
        insert(step_output),
        [
            {
                "step_run_id": step.id,
                "run_id": step.run_id,
                "step_key": step.step_key,
                "item_index": step.item_index,
                "key": key,
                "value": value,
            }
            for key, value in outputs.items()
        ],
    )


_RUN_OUTPUTS = (
    select(
        step_output.c.run_id,
        step_output.c.step_key,
        step_output.c.item_index,
        step_output.c.key,
        step_output.c.value,
    )
    .join(step_run, step_run.c.id == step_output.c.step_run_id)
    .where(
        step_output.c.run_id.in_(bindparam("run_ids", expanding=True)),
        step_run.c.is_current.is_(True),
    )
    .order_by(step_output.c.id)
)


def run_outputs(conn: Connection, run_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """Outputs of the current attempts, by run then step key. A `foreach` step's outputs are
    a list, one mapping per item in item order."""
    found: dict[int, dict[str, Any]] = {run_id: {} for run_id in run_ids}
    items: dict[tuple[int, str], dict[int, dict[str, str]]] = {}
    for run_id, key, index, name, value in conn.execute(_RUN_OUTPUTS, {"run_ids": list(run_ids)}):
        if index is None:
            found[run_id].setdefault(key, {})[name] = value
        else:
            items.setdefault((run_id, key), {}).setdefault(index, {})[name] = value
    for (run_id, key), by_index in items.items():
        # Items without outputs keep their place, so that item i's value is always the i-th.
        found[run_id][key] = [by_index.get(i, {}) for i in range(max(by_index) + 1)]
    return found


def step_run_outputs(conn: Connection, step_run_ids: Sequence[int]) -> dict[int, dict[str, str]]:
    query = select(step_output.c.step_run_id, step_output.c.key, step_output.c.value).where(
        step_output.c.step_run_id.in_(list(step_run_ids))
    )
    found: dict[int, dict[str, str]] = {}
    for step_run_id, key, value in conn.execute(query):
        found.setdefault(step_run_id, {})[key] = value
    return found
