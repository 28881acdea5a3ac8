"""`conveyor server`: the API and web UI, with an embedded agent unless --no-agent."""

from __future__ import annotations

import logging
import threading
from typing import Annotated

import typer

from conveyor.actions import execution
from conveyor.actions.runtime import Runtime
from conveyor.cli.app import app, guarded, say, state
from conveyor.errors import StoreError

log = logging.getLogger(__name__)


def _sweeper(rt: Runtime, stop: threading.Event) -> threading.Thread:
    """Without an embedded agent the server still declares lost steps (DESIGN: sweep)."""

    def loop() -> None:
        while not stop.wait(rt.settings.heartbeat_seconds * 3):
            try:
                execution.sweep(rt)
            except StoreError as exc:
                log.warning("sweep failed: %s", exc)

    thread = threading.Thread(target=loop, name="sweeper", daemon=True)
    thread.start()
    return thread


@app.command()
@guarded
def server(
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 8080,
    no_agent: Annotated[bool, typer.Option("--no-agent", help="Run no embedded agent.")] = False,
    slots: Annotated[int, typer.Option("--slots", help="Slots of the embedded agent.")] = 4,
    tags: Annotated[str, typer.Option("--tags", help="Tags of the embedded agent.")] = "",
) -> None:
    """Serve the REST API (/api/v1) and the web pages."""
    # Imported here: the other commands need neither the web stack nor password hashing.
    import uvicorn

    from conveyor.actions.accounts import FIRST_ADMIN, ensure_first_admin
    from conveyor.agent.worker import Agent
    from conveyor.api import create_app

    rt = Runtime.open(state.settings)
    password = ensure_first_admin(rt)
    if password:
        say(f"created the first account: user {FIRST_ADMIN!r}, password {password}")
        say("this password is shown only once; change it with `conveyor user passwd admin`")
    stop = threading.Event()
    agent = None
    if no_agent:
        _sweeper(rt, stop)
    else:
        agent = Agent(rt, tags=[t for t in tags.split(",") if t], slots=slots, name="embedded")
        agent.start()
    say(f"serving on http://{host}:{port}/ (API at /api/v1)")
    try:
        uvicorn.run(create_app(rt), host=host, port=port, proxy_headers=True, log_level="info")
    finally:
        stop.set()
        if agent is not None:
            agent.stop(timeout=rt.settings.lease_seconds)
        rt.close()
