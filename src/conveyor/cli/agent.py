"""`conveyor agent` and `conveyor agents`."""

from __future__ import annotations

import signal
import threading
from types import FrameType
from typing import Annotated

import typer

from conveyor.actions.runtime import Runtime
from conveyor.cli.app import app, emit_json, guarded, say, state
from conveyor.errors import UsageError


def _tags(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


@app.command()
@guarded
def agent(
    tags: Annotated[str, typer.Option("--tags", help="Comma-separated tags this agent has.")] = "",
    slots: Annotated[int, typer.Option("--slots", help="Steps run at once.")] = 4,
    name: Annotated[str | None, typer.Option("--name", help="Shown in lists.")] = None,
) -> None:
    """Run an agent: claim ready steps whose `on` tags it has and run them, until stopped.
    SIGTERM or Ctrl-C stops claiming and lets running steps finish; a second one kills them."""
    if state.settings.server_url and not state.settings.db_url:
        raise UsageError("an agent needs the database: set CONVEYOR_DB")
    if slots < 1:
        raise UsageError("--slots must be at least 1")
    from conveyor.agent.worker import Agent

    rt = Runtime.open(state.settings)
    worker = Agent(rt, tags=_tags(tags), slots=slots, name=name)
    stop = threading.Event()
    signals = {"count": 0}

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        signals["count"] += 1
        stop.set()
        if signals["count"] > 1:
            worker.stop(timeout=0, kill=True)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    worker.start()
    say(f"agent {worker.name} (id {worker.id}) tags={','.join(worker.tags) or '-'} slots={slots}")
    while not stop.wait(1.0):
        pass
    say("stopping: waiting for running steps to finish")
    worker.stop(timeout=state.settings.lease_seconds)
    rt.close()


@app.command()
@guarded
def agents(json_out: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List agents and when they last heartbeated."""
    found = state.backend.agents()
    if json_out:
        emit_json(found)
        return
    for a in found:
        tags = ",".join(a["tags"]) or "-"
        typer.echo(f"{a['id']:>4}  {a['name']:<30} {a['state']:<8} tags={tags} slots={a['slots']}")
