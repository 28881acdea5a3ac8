"""Server-Sent Events: replay from Last-Event-ID misses no event and no log line."""

from __future__ import annotations

import json
from typing import Any

import pytest
from api_client import Api

from conveyor.actions import accounts
from conveyor.actions.access import SYSTEM
from conveyor.api.routes import events
from conveyor.store import runs as run_store
from conveyor.store.logs import add_log


def parse_sse(text: str) -> list[dict[str, Any]]:
    """The frames of an SSE body: id, event and parsed data (comments dropped)."""
    frames = []
    for block in text.split("\n\n"):
        fields: dict[str, Any] = {}
        for line in block.splitlines():
            if line.startswith(":") or ": " not in line:
                continue
            key, _, value = line.partition(": ")
            fields[key] = value
        if "event" in fields:
            fields["data"] = json.loads(fields["data"])
            frames.append(fields)
    return frames


def _log_lines(api: Api, run_id: int, lines: list[str]) -> None:
    # What an agent does: log chunks, each in its own transaction.
    for line in lines:
        with api.rt.db.write() as conn:
            step = run_store.current_step_runs(conn, run_id)[0]
            add_log(conn, step_run_id=step.id, run_id=run_id, text=line)


def test_replay_from_any_event_id_misses_nothing(api: Api) -> None:
    run_id = api.submit()
    lines = [f"line {i}\n" for i in range(12)]
    _log_lines(api, run_id, lines)
    reject = api.client.post(
        f"/api/v1/runs/{run_id}/steps/approve/reject",
        json={"reason": "no"},
        headers=api.as_("approver"),
    )
    assert reject.json()["state"] == "failed"
    url = f"/api/v1/runs/{run_id}/events"
    response = api.client.get(url, headers=api.as_("viewer"))
    assert response.headers["content-type"].startswith("text/event-stream")
    frames = parse_sse(response.text)
    assert frames[-1]["event"] == "end"
    texts = [f["data"]["text"] for f in frames if f["event"] == "log"]
    assert texts[:12] == lines
    assert any(f["event"] == "run" and f["data"]["data"].get("state") == "failed" for f in frames)
    everything = [(f["event"], f["data"].get("id")) for f in frames]
    # Reconnect after each frame in turn: the rest arrives, exactly.
    for index, frame in enumerate(frames[:-1]):
        again = api.client.get(url, headers={**api.as_("viewer"), "Last-Event-ID": frame["id"]})
        rest = [(f["event"], f["data"].get("id")) for f in parse_sse(again.text)]
        assert rest == everything[index + 1 :], frame["id"]
    by_query = api.client.get(f"{url}?after={frames[3]['id']}", headers=api.as_("viewer"))
    assert len(parse_sse(by_query.text)) == len(frames) - 4


def test_live_run_stream_without_follow_ends(api: Api) -> None:
    run_id = api.submit()
    _log_lines(api, run_id, ["one\n"])
    url = f"/api/v1/runs/{run_id}/events?follow=false"
    frames = parse_sse(api.client.get(url, headers=api.as_("viewer")).text)
    assert frames[-1]["event"] == "log"
    assert frames[-1]["id"].endswith(f":{frames[-1]['data']['id']}")
    bad = api.client.get(url, headers={**api.as_("viewer"), "Last-Event-ID": "x:y"})
    assert bad.status_code == 422


def test_system_stream_shows_only_visible_runs(api: Api) -> None:
    api.submit()
    url = "/api/v1/events?follow=false"
    seen = parse_sse(api.client.get(url, headers=api.as_("viewer")).text)
    assert seen
    assert {f["data"]["run_id"] for f in seen} == {1} or len(
        {f["data"]["run_id"] for f in seen}
    ) == 1
    hidden = parse_sse(api.client.get(url, headers=api.as_("outsider")).text)
    assert hidden == []
    last = seen[-1]["id"]
    after = api.client.get(url, headers={**api.as_("viewer"), "Last-Event-ID": last})
    assert parse_sse(after.text) == []


def test_revoking_a_token_ends_its_open_stream(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(events, "HEARTBEAT_SECONDS", 0.2)
    run_id = api.submit()
    token = api.tokens["viewer"]
    seen: list[str] = []
    with api.client.stream(
        "GET", f"/api/v1/runs/{run_id}/events", headers=api.as_("viewer")
    ) as response:
        assert response.status_code == 200
        for line in response.iter_lines():
            seen.append(line)
            if line.startswith(": keepalive") and len(seen) < 200:
                record = next(t for t in accounts.list_tokens(api.rt, SYSTEM) if t.user == "viewer")
                accounts.revoke_token(api.rt, SYSTEM, record.id)
            if line == "event: error" or len(seen) > 400:
                break
    assert "event: error" in seen
    assert token not in "\n".join(seen)
