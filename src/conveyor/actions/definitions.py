"""Validating and applying definition files: a refused definition stores nothing."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection

from conveyor.actions.access import Actor, Role
from conveyor.actions.runtime import Runtime
from conveyor.definitions.loader import Document
from conveyor.definitions.models import JobDef, LookupDef, StepDef
from conveyor.definitions.uses import resolve_uses
from conveyor.definitions.validation import validate
from conveyor.store import definitions as definition_store
from conveyor.store.events import add_audit


@dataclass(frozen=True)
class Applied:
    kind: str
    name: str
    changed: bool
    version: int | None = None


def check(rt: Runtime, documents: Sequence[Document]) -> None:
    """Validate documents against each other and what the store already holds."""
    with rt.db.read() as conn:
        jobs, steps, lookups = definition_store.latest_definitions(conn)
    validate(documents, known_steps=steps, known_jobs=jobs, known_lookups=lookups)


def apply(rt: Runtime, actor: Actor, documents: Sequence[Document]) -> list[Applied]:
    """Validate, then store every definition in one transaction (all or nothing). A job gets
    a new version only when its definition changed; a job version embeds the reusable steps it
    uses as they are now, so later edits of a step never change a version silently."""
    for document in documents:
        definition = document.definition
        category = definition.category if isinstance(definition, JobDef) else "*"
        if isinstance(definition, JobDef):
            actor.require(Role.EDITOR, category, f"define jobs in {category!r}")
        else:
            actor.require_admin(f"define the shared {definition.kind} {definition.name!r}")
    results: list[Applied] = []
    with rt.db.write() as conn:
        jobs, steps, lookups = definition_store.latest_definitions(conn)
        validate(documents, known_steps=steps, known_jobs=jobs, known_lookups=lookups)
        batch_steps = {
            d.definition.name: d.definition for d in documents if isinstance(d.definition, StepDef)
        }
        all_steps = {**steps, **batch_steps}
        for document in _ordered(documents):
            results.append(_store_one(conn, document, all_steps, actor))
        changed = [r for r in results if r.changed]
        if changed:
            add_audit(
                conn,
                actor=actor.name,
                action="definitions.apply",
                target=",".join(f"{r.kind}/{r.name}" for r in changed)[:300],
                detail={"applied": [r.__dict__ for r in changed]},
                source=actor.source,
            )
    return results


def _ordered(documents: Sequence[Document]) -> list[Document]:
    # Steps and lookups first, so that jobs of the same batch can refer to them.
    def rank(document: Document) -> int:
        return 1 if isinstance(document.definition, JobDef) else 0

    return sorted(documents, key=rank)


def _store_one(
    conn: Connection, document: Document, steps: dict[str, StepDef], actor: Actor
) -> Applied:
    definition = document.definition
    if isinstance(definition, StepDef):
        changed = definition_store.save_step(conn, definition, document.text)
        return Applied("step", definition.name, changed)
    if isinstance(definition, LookupDef):
        changed = definition_store.save_lookup(conn, definition, document.text)
        return Applied("lookup", definition.name, changed)
    resolved = resolve_uses(definition, steps)
    version, changed = definition_store.save_job(conn, resolved, document.text, actor.name)
    return Applied("job", definition.name, changed, version)
