"""Approving a manual step inline when `run --local`/`--wait` runs in a terminal."""

from __future__ import annotations

from typing import Any

import typer

from conveyor.cli.app import say
from conveyor.cli.backend import Backend
from conveyor.cli.terminal import safe_for_terminal
from conveyor.errors import ConveyorError


def approve_inline(backend: Backend, run: dict[str, Any]) -> bool:
    """Ask the person at the terminal to decide on the waiting step. Returns True when the
    run can go on, False to leave it waiting (the person declined or may not decide)."""
    waiting = [s for s in run["steps"] if s["state"] == "waiting" and s.get("manual")]
    if not waiting:
        return False
    step = waiting[0]
    manual = step["manual"]
    say(f"\nstep {step['step']} waits on a person:")
    say(safe_for_terminal(manual["instructions"]))
    for item in manual.get("context", []):
        if item["outputs"]:
            say(f"  {item['step']} outputs: {safe_for_terminal(str(item['outputs']))}")
    choice = typer.prompt("approve, reject, or leave waiting? [a/r/l]", default="l", err=True)
    try:
        if choice.lower().startswith("a"):
            fields = {
                f["name"]: typer.prompt(
                    f"  {f['name']}",
                    default=str(f.get("default") or ""),
                    err=True,
                    hide_input=f.get("type") == "secret",
                )
                for f in manual.get("fields", [])
            }
            backend.approve(run["id"], step["step"], fields, None)
            return True
        if choice.lower().startswith("r"):
            reason = typer.prompt("  reason", err=True)
            backend.reject(run["id"], step["step"], reason)
            return True
    except ConveyorError as exc:
        say(f"error: {exc}")
    return False
