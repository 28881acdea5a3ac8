"""Live views: batches of events and log chunks after a cursor, for Server-Sent Events.

A run's stream carries two cursors, the last event id and the last log chunk id, because log
chunks have their own sequence; a client that reconnects with both misses nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from conveyor.actions.access import Actor, Role
from conveyor.actions.runtime import Runtime
from conveyor.security.crypto import SecretKeyError
from conveyor.security.masking import Masker
from conveyor.store import catalog
from conveyor.store import runs as run_store
from conveyor.store.events import events_after
from conveyor.store.logs import read_logs
from conveyor.store.records import EventRecord, LogChunk

BATCH = 500


@dataclass(frozen=True)
class Batch:
    """What happened after a cursor; `done` when the run is final and all of it was sent."""

    events: list[EventRecord] = field(default_factory=list)
    logs: list[LogChunk] = field(default_factory=list)
    steps: Mapping[int, str] = field(default_factory=dict)
    done: bool = False


def masker_of(rt: Runtime, secret_params: str | None) -> Masker:
    """A masker over a run's secret values (agents mask already; this is the second wall)."""
    try:
        values = rt.box.open(secret_params)
    except SecretKeyError:
        return Masker(())
    return Masker(str(v) for v in _flatten(values.values()))


def _flatten(values: Any) -> list[Any]:
    flat: list[Any] = []
    for value in values:
        flat.extend(value if isinstance(value, list) else [value])
    return flat


def check_run_visible(rt: Runtime, actor: Actor, run_id: int) -> None:
    """Raise NotFoundError or AccessDenied unless `actor` may watch run `run_id`."""
    with rt.db.read() as conn:
        run = run_store.get_run(conn, run_id)
    actor.require(Role.VIEWER, run.category, "see runs")


def run_batch(rt: Runtime, run_id: int, after_event: int, after_log: int) -> Batch:
    """Events and log chunks of one run after the cursors, secrets masked. The run's state is
    read first, so that a final state seen here means every event before it is visible."""
    with rt.db.read() as conn:
        run = run_store.get_run(conn, run_id)
        events = events_after(conn, after_id=after_event, run_id=run_id, limit=BATCH)
        logs = read_logs(conn, run_id, after_id=after_log, limit=BATCH)
        steps = {r.id: r.step_key for r in run_store.all_step_runs(conn, run_id)} if logs else {}
    masker = masker_of(rt, run.secret_params)
    events = [_masked_event(masker, e) for e in events]
    logs = [_masked_log(masker, chunk) for chunk in logs]
    done = run.state.is_final and len(events) < BATCH and len(logs) < BATCH
    return Batch(events=events, logs=logs, steps=steps, done=done)


def system_batch(rt: Runtime, actor: Actor, after_event: int) -> tuple[int, list[EventRecord]]:
    """Events of the whole system after a cursor that `actor` may see, secrets masked.
    Returns the new cursor too: hidden events move it on as well."""
    with rt.db.read() as conn:
        events = events_after(conn, after_id=after_event, limit=BATCH)
        owners = catalog.run_owners(conn, [e.run_id for e in events if e.run_id is not None])
    cursor = events[-1].id if events else after_event
    shown: list[EventRecord] = []
    maskers: dict[int, Masker] = {}
    for event in events:
        owner = owners.get(event.run_id) if event.run_id is not None else None
        if owner is None:
            if actor.is_admin:
                shown.append(event)
            continue
        if not actor.has(Role.VIEWER, owner.category):
            continue
        if owner.run_id not in maskers:
            maskers[owner.run_id] = masker_of(rt, owner.secret_params)
        shown.append(_masked_event(maskers[owner.run_id], event))
    return cursor, shown


def _masked_event(masker: Masker, event: EventRecord) -> EventRecord:
    if not masker:
        return event
    return EventRecord(
        id=event.id,
        run_id=event.run_id,
        step_run_id=event.step_run_id,
        kind=event.kind,
        data=masker.mask_value(dict(event.data)),
        created_at=event.created_at,
    )


def _masked_log(masker: Masker, chunk: LogChunk) -> LogChunk:
    if not masker:
        return chunk
    return LogChunk(
        id=chunk.id,
        step_run_id=chunk.step_run_id,
        run_id=chunk.run_id,
        created_at=chunk.created_at,
        text=masker.mask(chunk.text),
    )
