"""Live events as Server-Sent Events: replay from a cursor, then follow the store.

A run's stream has ids `<event_id>:<log_id>` because log chunks have their own sequence;
`Last-Event-ID` (or `?after=`) resumes both, so a reconnecting client misses no event and no
log line. The system stream's ids are plain event ids.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from conveyor.actions import live
from conveyor.actions.access import Actor
from conveyor.actions.queries import iso_time
from conveyor.actions.runtime import Runtime
from conveyor.api.auth import CurrentActor, Rt, current_actor
from conveyor.api.params import RunId
from conveyor.errors import ConveyorError, UsageError
from conveyor.store.records import EventRecord, LogChunk

router = APIRouter(tags=["events"])

POLL_SECONDS = 0.2
HEARTBEAT_SECONDS = 15.0
_SSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/event-stream": {}}, "description": "A stream of events."}
}
_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}

Cursor = Annotated[str | None, Query(max_length=40, description="Replay after this event id.")]
Follow = Annotated[bool, Query(description="Keep the stream open for new events.")]
LastEventId = Annotated[str | None, Header(max_length=40)]


def parse_cursor(raw: str | None) -> tuple[int, int]:
    """`"12:40"` -> (12, 40); `"12"` -> (12, 0); None -> (0, 0)."""
    if not raw:
        return 0, 0
    event, _, log = raw.partition(":")
    try:
        cursor = int(event or 0), int(log or 0)
    except ValueError:
        raise UsageError(f"the event id {raw[:40]!r} is not '<event>' or '<event>:<log>'") from None
    if min(cursor) < 0:
        raise UsageError("an event id is never negative")
    return cursor


def frame(event_id: str, kind: str, data: dict[str, Any]) -> str:
    """One SSE message; JSON keeps the data on one line, so no line can end the frame early."""
    body = json.dumps(data, separators=(",", ":"), default=str)
    return f"id: {event_id}\nevent: {kind}\ndata: {body}\n\n"


def event_data(event: EventRecord) -> dict[str, Any]:
    """The JSON data of an event frame."""
    return {
        "id": event.id,
        "run_id": event.run_id,
        "step_run_id": event.step_run_id,
        "kind": event.kind,
        "data": dict(event.data),
        "created_at": iso_time(event.created_at),
    }


def log_data(chunk: LogChunk, step: str | None) -> dict[str, Any]:
    """The JSON data of a log frame."""
    return {
        "id": chunk.id,
        "step_run_id": chunk.step_run_id,
        "step": step,
        "created_at": iso_time(chunk.created_at),
        "text": chunk.text,
    }


async def _idle(request: Request, last_beat: float) -> tuple[bool, float, str | None]:
    """Wait a poll interval; returns (client gone, new beat time, heartbeat comment or None)."""
    if await request.is_disconnected():
        return True, last_beat, None
    now = time.monotonic()
    if now - last_beat >= HEARTBEAT_SECONDS:
        # Who may read is checked again at each keepalive: a revoked token or a disabled
        # account ends its open streams too (AuthenticationError ends the stream as an event).
        await run_in_threadpool(current_actor, request, None, None)
        return False, now, ": keepalive\n\n"
    await asyncio.sleep(POLL_SECONDS)
    return False, last_beat, None


async def _guarded(stream: Callable[[], AsyncIterator[str]]) -> AsyncIterator[str]:
    # Once streaming began the status is sent: report a failure as a last event instead.
    try:
        async for chunk in stream():
            yield chunk
    except ConveyorError as exc:
        yield frame("", "error", {"error": str(exc)})


def _run_stream(
    request: Request, rt: Runtime, run_id: int, cursor: tuple[int, int], follow: bool
) -> Callable[[], AsyncIterator[str]]:
    async def stream() -> AsyncIterator[str]:
        after_event, after_log = cursor
        beat = time.monotonic()
        yield "retry: 2000\n\n"
        while True:
            batch = await run_in_threadpool(live.run_batch, rt, run_id, after_event, after_log)
            for event in batch.events:
                after_event = event.id
                yield frame(f"{after_event}:{after_log}", event.kind, event_data(event))
            for chunk in batch.logs:
                after_log = chunk.id
                step = batch.steps.get(chunk.step_run_id)
                yield frame(f"{after_event}:{after_log}", "log", log_data(chunk, step))
            if batch.done:
                yield frame(f"{after_event}:{after_log}", "end", {"run_id": run_id})
                return
            if batch.events or batch.logs:
                continue
            if not follow:
                return
            gone, beat, comment = await _idle(request, beat)
            if gone:
                return
            if comment:
                yield comment

    return stream


def _system_stream(
    request: Request, rt: Runtime, actor: Actor, after: int, follow: bool
) -> Callable[[], AsyncIterator[str]]:
    async def stream() -> AsyncIterator[str]:
        cursor = after
        beat = time.monotonic()
        yield "retry: 2000\n\n"
        while True:
            moved, events = await run_in_threadpool(live.system_batch, rt, actor, cursor)
            for event in events:
                yield frame(str(event.id), event.kind, event_data(event))
            if moved != cursor:
                cursor = moved
                continue
            if not follow:
                return
            gone, beat, comment = await _idle(request, beat)
            if gone:
                return
            if comment:
                yield comment

    return stream


def _streaming(stream: Callable[[], AsyncIterator[str]]) -> StreamingResponse:
    return StreamingResponse(_guarded(stream), media_type="text/event-stream", headers=_HEADERS)


@router.get("/runs/{run_id}/events", response_class=StreamingResponse, responses=_SSE)
async def run_events(
    request: Request,
    run_id: RunId,
    rt: Rt,
    actor: CurrentActor,
    after: Cursor = None,
    follow: Follow = True,
    last_event_id: LastEventId = None,
) -> StreamingResponse:
    """A run's events and log chunks (`event: log`), replayed after the cursor, then live
    until the run is final (`event: end`). Secrets are masked."""
    cursor = parse_cursor(last_event_id or after)
    await run_in_threadpool(live.check_run_visible, rt, actor, run_id)
    return _streaming(_run_stream(request, rt, run_id, cursor, follow))


@router.get("/events", response_class=StreamingResponse, responses=_SSE)
async def system_events(
    request: Request,
    rt: Rt,
    actor: CurrentActor,
    after: Cursor = None,
    follow: Follow = True,
    last_event_id: LastEventId = None,
) -> StreamingResponse:
    """Every event of runs the caller may see, replayed after the cursor, then live."""
    cursor, _ = parse_cursor(last_event_id or after)
    return _streaming(_system_stream(request, rt, actor, cursor, follow))
