"""`conveyor run`, `runs`, `status` and `logs`."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml

from conveyor.cli.app import EXIT_TIMEOUT, app, emit_json, guarded, say, state
from conveyor.cli.follow import STATE_EXIT, follow, is_terminal, step_label
from conveyor.cli.inline import approve_inline
from conveyor.cli.local import LocalRun
from conveyor.cli.terminal import safe_for_terminal
from conveyor.definitions.params import parse_cli_assignments
from conveyor.errors import UsageError

JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]
RunId = Annotated[int, typer.Argument(help="The run's id.")]


def _params_file(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise UsageError(f"the params file {path} cannot be read: {exc}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise UsageError(f"the params file {path} must hold a mapping of param names to values")
    return {str(k): v for k, v in data.items()}


@app.command()
@guarded
def run(
    job: Annotated[str, typer.Argument(help="The job's name.")],
    param: Annotated[
        list[str] | None, typer.Option("-p", "--param", help="NAME=VALUE (repeatable).")
    ] = None,
    file: Annotated[
        Path | None, typer.Option("-f", "--file", help="A YAML or JSON file of param values.")
    ] = None,
    wait: Annotated[bool, typer.Option("--wait", help="Follow the run to its end.")] = False,
    local: Annotated[
        bool, typer.Option("--local", help="Run here with an embedded agent; no server needed.")
    ] = False,
    slots: Annotated[int, typer.Option("--slots", help="Slots of the --local agent.")] = 4,
    timeout: Annotated[
        float | None, typer.Option("--timeout", help="Give up waiting after this many seconds.")
    ] = None,
) -> None:
    """Submit a run and print its id alone on stdout."""
    if local:
        with LocalRun(state.settings, slots=slots) as runner:
            code, run_id = _submit_and_follow(runner.backend, job, param, file, True, timeout)
            if code == EXIT_TIMEOUT:
                # Nobody would run the rest once this process is gone: cancel, resumable later.
                runner.backend.cancel(run_id)
                say(f"run {run_id} cancelled: --local stops with its process (resume it later)")
        raise typer.Exit(code)
    code, _ = _submit_and_follow(state.backend, job, param, file, wait, timeout)
    raise typer.Exit(code)


def _submit_and_follow(
    backend: Any,
    job: str,
    param: list[str] | None,
    file: Path | None,
    wait: bool,
    timeout: float | None,
) -> tuple[int, int]:
    values = _params_file(file)
    if param:
        values.update(parse_cli_assignments(param, backend.job_params(job)))
    created = backend.submit(job, values)
    typer.echo(created["id"])
    say(f"run {created['id']} of {created['job']} (version {created['version']}) submitted")
    if not wait:
        return 0, created["id"]
    inline = (lambda run: approve_inline(backend, run)) if is_terminal() else None
    return follow(backend, created["id"], timeout=timeout, on_waiting=inline), created["id"]


@app.command()
@guarded
def runs(
    job: Annotated[str | None, typer.Option("--job", help="Only runs of this job.")] = None,
    run_state: Annotated[
        list[str] | None, typer.Option("--state", help="Only runs in this state (repeatable).")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", help="How many, newest first.")] = 20,
    json_out: JsonFlag = False,
) -> None:
    """List recent runs."""
    found = state.backend.runs(job=job, states=run_state or [], limit=limit)
    if json_out:
        emit_json(found)
        return
    typer.echo(f"{'ID':>6}  {'JOB':<28} {'VER':>3}  {'STATE':<10} {'SUBMITTER':<14} CREATED")
    for r in found:
        typer.echo(
            f"{r['id']:>6}  {r['job'][:28]:<28} {r['version']:>3}  {r['state']:<10} "
            f"{r['submitter'][:14]:<14} {r['created_at']}"
        )


@app.command()
@guarded
def status(
    run_id: RunId,
    json_out: JsonFlag = False,
    history: Annotated[bool, typer.Option("--history", help="Show every attempt.")] = False,
) -> None:
    """Show a run and its steps; the exit code tells its state (0 succeeded, 1 failed,
    3 waiting on a person, 4 cancelled, 7 still queued or running)."""
    found = state.backend.run(run_id, history=history)
    if json_out:
        emit_json(found)
    else:
        _print_status(found)
    raise typer.Exit(STATE_EXIT[found["state"]])


def _print_status(found: dict[str, Any]) -> None:
    typer.echo(
        f"run {found['id']}: {found['job']} version {found['version']} — {found['state']}"
        f" (by {found['submitter']})"
    )
    if found["params"]:
        shown = ", ".join(f"{k}={v}" for k, v in found["params"].items())
        typer.echo(f"params: {shown}")
    for step in found["steps"]:
        exit_code = "" if step["exit_code"] is None else f" exit {step['exit_code']}"
        attempt = f" attempt {step['attempt']}" if step["attempt"] > 1 else ""
        error = f" — {step['error']}" if step.get("error") else ""
        typer.echo(f"  {step_label(step):<24} {step['state']:<10}{attempt}{exit_code}{error}")
        for key, value in step["outputs"].items():
            typer.echo(f"      {key} = {value}")
        if step.get("manual"):
            typer.echo(f"      instructions: {step['manual']['instructions']}")


@app.command()
@guarded
def logs(
    run_id: RunId,
    step: Annotated[str | None, typer.Option("--step", help="Only this step.")] = None,
    follow_logs: Annotated[
        bool, typer.Option("--follow", "-F", help="Keep printing until the run ends.")
    ] = False,
    json_out: JsonFlag = False,
) -> None:
    """Print a run's log (every step, or one with --step)."""
    backend = state.backend
    after, collected = 0, []
    while True:
        chunks = backend.logs(run_id, step=step, after=after, limit=1000)
        for chunk in chunks:
            after = chunk["id"]
            if json_out:
                collected.append(chunk)
            else:
                _print_chunk(chunk, prefix=step is None)
        if len(chunks) == 1000:
            continue
        if not follow_logs or backend.run(run_id)["state"] in ("succeeded", "failed", "cancelled"):
            if follow_logs and backend.logs(run_id, step=step, after=after, limit=1):
                continue
            break
        time.sleep(0.2)
    if json_out:
        emit_json(collected)


def _print_chunk(chunk: dict[str, Any], *, prefix: bool) -> None:
    text = chunk["text"]
    if prefix:
        label = step_label(chunk)
        text = "".join(f"[{label}] {line}\n" for line in text.splitlines())
    typer.echo(safe_for_terminal(text) if sys.stdout.isatty() else text, nl=False)
