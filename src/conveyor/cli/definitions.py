"""`conveyor validate` and `conveyor apply`."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from conveyor.actions import definitions as definition_actions
from conveyor.cli.app import app, emit_json, guarded, say, state
from conveyor.cli.backend import LocalBackend
from conveyor.definitions.loader import Document, load_paths
from conveyor.definitions.validation import validate as validate_documents

Paths = Annotated[list[Path], typer.Argument(help="Definition files or folders of *.yaml files.")]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]


def _store_exists() -> bool:
    url = state.settings.db_url
    if not url.startswith("sqlite:///"):
        return True
    return os.path.exists(url[len("sqlite:///") :])


@app.command()
@guarded
def validate(paths: Paths, json_out: JsonFlag = False) -> None:
    """Check definition files and print every error with its file and line."""
    documents = load_paths(paths)
    backend = state.backend
    if isinstance(backend, LocalBackend) and _store_exists():
        definition_actions.check(backend.rt, documents)
    else:
        validate_documents(documents)
    _report(documents, json_out)


def _report(documents: list[Document], json_out: bool) -> None:
    if json_out:
        emit_json(
            {
                "valid": True,
                "definitions": [
                    {"kind": d.definition.kind, "name": d.definition.name, "source": d.source}
                    for d in documents
                ],
            }
        )
    files = len({d.source for d in documents})
    say(f"ok: {len(documents)} definition(s) in {files} file(s)")


@app.command()
@guarded
def apply(paths: Paths, json_out: JsonFlag = False) -> None:
    """Validate definition files and store them; a changed job gets a new version."""
    documents = load_paths(paths)
    applied = state.backend.apply(documents)
    if json_out:
        emit_json(applied)
        return
    for item in applied:
        version = f" version {item['version']}" if item.get("version") else ""
        change = "applied" if item["changed"] else "unchanged"
        say(f"{item['kind']} {item['name']}:{version} {change}")


@app.command()
@guarded
def jobs(json_out: JsonFlag = False) -> None:
    """List the jobs you may see, by category, with their latest version."""
    found = state.backend.jobs()
    if json_out:
        emit_json(found)
        return
    for job in found:
        typer.echo(f"{job['category'][:24]:<24}  {job['name']:<32} v{job['latest_version']}")
