"""Manual steps: approvals with fields, rejection, four-eyes, quorums, roles and the audit."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import insert, select

from conveyor.actions import manual
from conveyor.actions.access import Actor
from conveyor.actions.identity import local_actor
from conveyor.actions.runtime import Runtime
from conveyor.errors import AccessDenied, ConflictError, ParamError
from conveyor.store.db import db_now
from conveyor.store.tables import approval, audit_event, grant, user

RELEASE = """
kind: job
name: release
category: Ops
steps:
  - id: approve
    manual:
      instructions: "Ship it?"
      approvers: {role: approver, not_submitter: true, count: COUNT}
      fields:
        - {name: ticket, type: string, required: true, pattern: "^T-[0-9]+$"}
        - {name: hosts, type: int, min: 1}
  - id: use
    needs: [approve]
    run: printf 'seen=%s\\n' {steps.approve.outputs.ticket} >> "$CONVEYOR_OUTPUT"
"""


@pytest.fixture
def people(rt: Runtime) -> Callable[[str], Actor]:
    """Accounts written straight into the store: alice operates Ops, bob and carol approve
    there, dave approves elsewhere. Returns the Actor the CLI would build for a name."""
    grants = {
        "alice": [("Ops", "operator")],
        "bob": [("Ops", "approver")],
        "carol": [("Ops", "approver"), ("Ops", "operator")],
        "dave": [("Other", "approver")],
    }
    with rt.db.write() as conn:
        for name, held in grants.items():
            user_id = conn.execute(
                insert(user)
                .values(name=name, is_admin=False, created_at=db_now())
                .returning(user.c.id)
            ).scalar_one()
            for category, role in held:
                conn.execute(insert(grant).values(user_id=user_id, category=category, role=role))
    return lambda name: local_actor(rt, name)


@pytest.fixture
def release(
    apply_yaml: Callable[..., object], submit_run: Callable[..., int], people: Callable[..., Actor]
) -> Callable[..., int]:
    """Apply the release job with a quorum of `count` and submit a run as alice."""

    def start(count: int = 1) -> int:
        apply_yaml(RELEASE.replace("COUNT", str(count)))
        return submit_run("release", {}, people("alice"))

    return start


def _rows(rt: Runtime, table: Any) -> list[dict[str, Any]]:
    with rt.db.read() as conn:
        return [dict(r) for r in conn.execute(select(table).order_by(table.c.id)).mappings()]


def test_approved_fields_become_outputs_downstream(
    rt: Runtime,
    release: Callable[..., int],
    people: Callable[[str], Actor],
    start_agent: Callable[..., object],
    wait_for_state: Callable[..., Any],
    steps_of: Callable[[int], dict],
) -> None:
    run_id = release()
    start_agent()
    assert wait_for_state(run_id, {"waiting"}).state == "waiting"
    manual.approve(rt, people("bob"), run_id, "approve", {"ticket": "T-42", "hosts": "3"})
    assert wait_for_state(run_id).state == "succeeded"
    steps = steps_of(run_id)
    assert steps["approve"].outputs == {"ticket": "T-42", "hosts": "3", "approved_by": "bob"}
    assert steps["use"].outputs == {"seen": "T-42"}
    audit = [a for a in _rows(rt, audit_event) if a["action"] == "step.approve"]
    assert [(a["actor"], a["target"]) for a in audit] == [("bob", f"run/{run_id}/approve")]
    assert audit[0]["detail"]["fields"]["ticket"] == "T-42"


def test_reject_fails_the_run_with_the_reason(
    rt: Runtime,
    release: Callable[..., int],
    people: Callable[[str], Actor],
    wait_for_state: Callable[..., Any],
    steps_of: Callable[[int], dict],
) -> None:
    run_id = release()
    assert manual.reject(rt, people("bob"), run_id, "approve", "not today") == "failed"
    assert wait_for_state(run_id).state == "failed"
    steps = steps_of(run_id)
    assert steps["approve"].state == "failed"
    assert "not today" in (steps["approve"].error or "")
    assert steps["use"].state == "pending"
    audit = [(a["actor"], a["action"]) for a in _rows(rt, audit_event)]
    assert ("bob", "step.reject") in audit


@pytest.mark.parametrize(
    ("who", "fields", "error"),
    [
        ("alice", {"ticket": "T-1"}, AccessDenied),  # the submitter: four-eyes
        ("carol", {}, ParamError),  # missing the required ticket
        ("bob", {"ticket": "nope"}, ParamError),  # pattern
        ("bob", {"ticket": "T-1", "hosts": 0}, ParamError),  # min
        ("bob", {"ticket": "T-1", "extra": "x"}, ParamError),  # unknown field
        ("dave", {"ticket": "T-1"}, AccessDenied),  # approver of another category
    ],
)
def test_refused_approvals_change_nothing(
    rt: Runtime,
    release: Callable[..., int],
    people: Callable[[str], Actor],
    steps_of: Callable[[int], dict],
    who: str,
    fields: dict[str, Any],
    error: type[Exception],
) -> None:
    run_id = release()
    audit_before = _rows(rt, audit_event)
    with pytest.raises(error):
        manual.approve(rt, people(who), run_id, "approve", fields)
    assert steps_of(run_id)["approve"].state == "waiting"
    assert _rows(rt, approval) == []
    assert _rows(rt, audit_event) == audit_before


def test_a_plain_operator_may_neither_approve_nor_reject(
    rt: Runtime, release: Callable[..., int], people: Callable[[str], Actor]
) -> None:
    run_id = release()
    admin_free = Actor(name="eve", grants={"Ops": frozenset()})
    for actor in (people("alice"), admin_free):
        with pytest.raises(AccessDenied):
            manual.reject(rt, actor, run_id, "approve", "no")
    assert _rows(rt, approval) == []


def test_a_quorum_needs_distinct_people(
    rt: Runtime,
    release: Callable[..., int],
    people: Callable[[str], Actor],
    steps_of: Callable[[int], dict],
) -> None:
    run_id = release(count=2)
    manual.approve(rt, people("bob"), run_id, "approve", {"ticket": "T-7"})
    assert steps_of(run_id)["approve"].state == "waiting"
    with pytest.raises(ConflictError):
        manual.approve(rt, people("bob"), run_id, "approve", {"ticket": "T-7"})
    manual.approve(rt, people("carol"), run_id, "approve", {})
    outputs = steps_of(run_id)["approve"].outputs
    assert steps_of(run_id)["approve"].state == "succeeded"
    assert outputs["approved_by"] == "bob,carol"
    assert outputs["ticket"] == "T-7"
    assert [a["actor"] for a in _rows(rt, approval)] == ["bob", "carol"]
