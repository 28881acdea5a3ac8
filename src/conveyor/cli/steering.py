"""`approve`, `reject`, `resume`, `cancel`, `retry`, `skip` and `succeed`."""

from __future__ import annotations

from typing import Annotated

import typer

from conveyor.cli.app import app, guarded, say, state
from conveyor.errors import UsageError

RunId = Annotated[int, typer.Argument(help="The run's id.")]
StepId = Annotated[str, typer.Argument(help="The step's id in the job.")]
Outputs = Annotated[
    list[str] | None, typer.Option("-o", "--output", help="FIELD=VALUE (repeatable).")
]


def _pairs(items: list[str] | None) -> dict[str, str]:
    found: dict[str, str] = {}
    for item in items or []:
        name, eq, value = item.partition("=")
        if not eq or not name:
            raise UsageError("each -o takes the form NAME=VALUE")
        found[name] = value
    return found


def _done(run_id: int, what: str, run_state: str) -> None:
    say(f"run {run_id}: {what}; the run is {run_state}")


@app.command()
@guarded
def approve(
    run_id: RunId,
    step: StepId,
    output: Outputs = None,
    reason: Annotated[str | None, typer.Option("--reason", help="Why (kept in the audit).")] = None,
) -> None:
    """Approve (or mark done) a manual step, giving its fields with -o."""
    _done(run_id, f"{step} approved", state.backend.approve(run_id, step, _pairs(output), reason))


@app.command()
@guarded
def reject(
    run_id: RunId,
    step: StepId,
    reason: Annotated[str, typer.Option("--reason", help="Why the step is rejected.")],
) -> None:
    """Reject a manual step: it fails, and so does the run."""
    _done(run_id, f"{step} rejected", state.backend.reject(run_id, step, reason))


@app.command()
@guarded
def resume(
    run_id: RunId,
    force: Annotated[
        list[str] | None,
        typer.Option("--force", help="Re-run this non-restartable step too (repeatable)."),
    ] = None,
) -> None:
    """Re-run a failed or cancelled run from its failed and not-yet-run steps."""
    _done(run_id, "resumed", state.backend.resume(run_id, force or []))


@app.command()
@guarded
def cancel(run_id: RunId) -> None:
    """Cancel a run: its running steps are killed, nothing new starts."""
    _done(run_id, "cancel requested", state.backend.cancel(run_id))


@app.command()
@guarded
def retry(run_id: RunId, step: StepId) -> None:
    """Run a failed, lost or cancelled step again."""
    _done(run_id, f"{step} retried", state.backend.retry(run_id, step))


@app.command()
@guarded
def skip(run_id: RunId, step: StepId) -> None:
    """Skip a step that has not succeeded; its dependants see it as skipped."""
    _done(run_id, f"{step} skipped", state.backend.skip(run_id, step))


@app.command()
@guarded
def succeed(run_id: RunId, step: StepId, output: Outputs = None) -> None:
    """Mark a step succeeded by hand (e.g. a lost step that did its work), with outputs."""
    _done(run_id, f"{step} marked succeeded", state.backend.succeed(run_id, step, _pairs(output)))


@app.command()
@guarded
def rollout(
    run_id: RunId,
    step: StepId,
    remaining: Annotated[
        bool, typer.Option("--remaining", help="Accept the failures; launch the rest.")
    ] = False,
    retry_failed: Annotated[
        bool, typer.Option("--retry-failed", help="Run the failed items again, then the rest.")
    ] = False,
    abort: Annotated[bool, typer.Option("--abort", help="Launch nothing more; fail.")] = False,
) -> None:
    """Decide on a rollout paused by its failures (on_max_failures: pause)."""
    chosen = [m for m, on in (("remaining", remaining), ("retry-failed", retry_failed),
                              ("abort", abort)) if on]  # fmt: skip
    if len(chosen) != 1:
        raise UsageError("choose exactly one of --remaining, --retry-failed or --abort")
    _done(run_id, f"rollout {step}: {chosen[0]}", state.backend.rollout(run_id, step, chosen[0]))
