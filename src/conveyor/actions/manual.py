"""Manual steps: approve (with field values, possibly as one of a quorum) or reject."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection

from conveyor.actions.access import Actor, Role
from conveyor.actions.advance import Advancer
from conveyor.actions.reopen import step_rows
from conveyor.actions.runtime import Runtime
from conveyor.actions.versions import load_job
from conveyor.definitions.models import ManualDef
from conveyor.definitions.params import check_values
from conveyor.engine.states import RunState, StepState
from conveyor.errors import AccessDenied, ConflictError
from conveyor.store import approvals as approval_store
from conveyor.store import outputs as output_store
from conveyor.store import runs as run_store
from conveyor.store.db import db_now
from conveyor.store.events import add_audit, add_event
from conveyor.store.logs import add_log
from conveyor.store.records import RunRecord, StepRunRecord

_ROLES = frozenset(r.value for r in Role)


def _waiting(
    conn: Connection, run_id: int, step_key: str
) -> tuple[RunRecord, StepRunRecord, ManualDef]:
    run = run_store.get_run(conn, run_id, for_update=True)
    rows = step_rows(conn, run, step_key)
    manual = load_job(conn, run.job_version_id).steps[step_key].manual
    if manual is None:
        raise ConflictError(f"step {step_key!r} of run {run_id} is not a manual step")
    waiting = [r for r in rows if r.state == StepState.WAITING]
    if not waiting:
        state = rows[0].state.value if rows else "absent"
        raise ConflictError(f"step {step_key!r} of run {run_id} is {state}, not waiting")
    return run, waiting[0], manual


def check_approver(actor: Actor, run: RunRecord, manual: ManualDef) -> None:
    """May this person decide on this step? Role or named users, and four-eyes."""
    rule = manual.approvers
    if rule is None:
        actor.require(Role.OPERATOR, run.category, "complete manual steps")
        return
    if rule.not_submitter and actor.name == run.submitter:
        raise AccessDenied(
            f"user {actor.name!r} submitted run {run.id} and this step needs someone else "
            "to approve it (four-eyes)"
        )
    by_name = actor.name in rule.users
    role = Role(rule.role) if rule.role in _ROLES and rule.role is not None else Role.APPROVER
    by_role = (rule.role is not None or not rule.users) and actor.has(role, run.category)
    if not (by_name or by_role or actor.is_admin):
        who = f"the {role.value} role in {run.category!r}" if rule.role or not rule.users else ""
        named = f"one of {', '.join(rule.users)}" if rule.users else ""
        need = " or ".join(part for part in (who, named) if part)
        raise AccessDenied(f"user {actor.name!r} may not approve this step: it needs {need}")


def approve(
    rt: Runtime,
    actor: Actor,
    run_id: int,
    step_key: str,
    fields: Mapping[str, Any],
    reason: str | None = None,
) -> RunState:
    """Record an approval; once the quorum is met the step succeeds with the fields (plus
    `approved_by` and `reason`) as its outputs and the run goes on."""
    with rt.db.write() as conn:
        run, row, manual = _waiting(conn, run_id, step_key)
        check_approver(actor, run, manual)
        earlier = [
            a for a in approval_store.of_step_run(conn, row.id) if a["decision"] == "approve"
        ]
        if any(a["actor"] == actor.name for a in earlier):
            raise ConflictError(f"user {actor.name!r} already approved this step")
        merged: dict[str, Any] = {}
        for previous in earlier:
            merged.update({k: v for k, v in previous["fields"].items() if v is not None})
        merged.update({k: v for k, v in fields.items() if v not in (None, "")})
        needed = manual.approvers.count if manual.approvers else 1
        done = len(earlier) + 1 >= needed
        checked = check_values(manual.fields, merged, what="field") if done else dict(merged)
        if not done:
            _check_types_only(manual, fields)
        approval_store.add(
            conn,
            step_run_id=row.id,
            actor=actor.name,
            decision="approve",
            fields=_shown(manual, fields),
            reason=reason,
        )
        add_audit(
            conn,
            actor=actor.name,
            action="step.approve",
            target=f"run/{run.id}/{step_key}",
            detail={
                "fields": _shown(manual, checked),
                "reason": reason,
                "approvals": len(earlier) + 1,
                "needed": needed,
            },
            source=actor.source,
        )
        add_log(
            conn,
            step_run_id=row.id,
            run_id=run.id,
            text=f"[conveyor] approved by {actor.name} ({len(earlier) + 1}/{needed})"
            + (f": {reason}" if reason else "")
            + "\n",
        )
        if not done:
            add_event(
                conn,
                "step",
                {"step": step_key, "state": "waiting", "approvals": len(earlier) + 1},
                run_id=run.id,
            )
            return run.state
        approvers = [a["actor"] for a in earlier] + [actor.name]
        # Secret fields are masked like secret params: outputs are shown everywhere.
        outputs = {k: _text(v) for k, v in _shown(manual, checked).items() if v is not None}
        outputs["approved_by"] = ",".join(approvers)
        if reason:
            outputs["reason"] = reason
        run_store.set_step_runs(conn, [row.id], state=StepState.SUCCEEDED.value, ended_at=db_now())
        output_store.insert_outputs(conn, row, outputs)
        add_event(conn, "step", {"step": step_key, "state": "succeeded"}, run_id=run.id)
        return Advancer(rt, conn).advance(run.id)


def reject(rt: Runtime, actor: Actor, run_id: int, step_key: str, reason: str) -> RunState:
    """Reject the step: it fails with the reason, and so does the run."""
    if not reason.strip():
        raise ConflictError("a rejection needs a reason")
    with rt.db.write() as conn:
        run, row, manual = _waiting(conn, run_id, step_key)
        check_approver(actor, run, manual)
        approval_store.add(
            conn,
            step_run_id=row.id,
            actor=actor.name,
            decision="reject",
            fields={},
            reason=reason,
        )
        error = f"rejected by {actor.name}: {reason}"
        run_store.set_step_runs(
            conn, [row.id], state=StepState.FAILED.value, ended_at=db_now(), error=error
        )
        output_store.insert_outputs(conn, row, {"rejected_by": actor.name, "reason": reason})
        add_log(conn, step_run_id=row.id, run_id=run.id, text=f"[conveyor] {error}\n")
        add_audit(
            conn,
            actor=actor.name,
            action="step.reject",
            target=f"run/{run.id}/{step_key}",
            detail={"reason": reason},
            source=actor.source,
        )
        add_event(conn, "step", {"step": step_key, "state": "failed"}, run_id=run.id)
        return Advancer(rt, conn).advance(run.id)


def _check_types_only(manual: ManualDef, fields: Mapping[str, Any]) -> None:
    defs = [f.model_copy(update={"required": False}) for f in manual.fields]
    check_values(defs, fields, what="field")


def _shown(manual: ManualDef, values: Mapping[str, Any]) -> dict[str, Any]:
    secret = {f.name for f in manual.fields if f.type == "secret"}
    return {k: ("***" if k in secret else v) for k, v in values.items()}


def _text(value: Any) -> str:
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
