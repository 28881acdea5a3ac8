"""Lookups: named queries of the metadata repository that yield param values (SPEC section 2).

Values of the lookup's own params fill its placeholders without ever becoming code: SQL gets
them as bound parameters, a command as shell-quoted words, an HTTP URL percent-encoded.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Mapping
from threading import Lock
from typing import Any
from urllib.parse import quote

import httpx

from conveyor.actions.access import Actor
from conveyor.actions.runtime import Runtime
from conveyor.definitions.models import HttpSource, LookupDef
from conveyor.definitions.params import check_values
from conveyor.definitions.templates import Ref, parse_template, render, shell_quote
from conveyor.errors import AccessDenied, StoreError, UsageError
from conveyor.store import definitions as definition_store
from conveyor.store.lookup_sql import run_query

MAX_VALUES = 1000
TIMEOUT_SECONDS = 10.0
Scalar = str | int | float | bool

_cache: dict[tuple[str, str, str], tuple[float, list[Scalar]]] = {}
_cache_lock = Lock()


class LookupFailed(StoreError):
    """The metadata repository behind a lookup could not answer."""


def resolve(
    rt: Runtime, actor: Actor, name: str, params: Mapping[str, Any] | None = None
) -> list[Scalar]:
    """The values of lookup `name` given values of its params; cached for its cache_seconds."""
    if not actor.is_admin and not actor.grants:
        raise AccessDenied(f"user {actor.name!r} may not use lookups: it holds no role")
    with rt.db.read() as conn:
        lookup = definition_store.get_lookup(conn, name)
    values = check_values(lookup.params, dict(params or {}))
    key = (rt.db.url, name, json.dumps(values, sort_keys=True, default=str))
    now = time.monotonic()
    with _cache_lock:
        cached = _cache.get(key)
    if cached is not None and cached[0] > now:
        return cached[1]
    found = _normalise(_evaluate(lookup, _texts(values)))
    with _cache_lock:
        _cache[key] = (now + lookup.cache_seconds, found)
    return found


def _texts(values: Mapping[str, Any]) -> dict[str, str]:
    def text(value: Any) -> str:
        if isinstance(value, list):
            return ",".join(str(v) for v in value)
        return "" if value is None else str(value)

    return {k: text(v) for k, v in values.items()}


def _evaluate(lookup: LookupDef, values: dict[str, str]) -> list[Any]:
    if lookup.values is not None:
        return list(lookup.values)
    if lookup.sql is not None:
        return run_query(lookup.sql.url, lookup.sql.query, values, MAX_VALUES)
    if lookup.command is not None:
        return _command(_fill(lookup.command, values, shell_quote))
    assert lookup.http is not None
    return _http(lookup.http, values)


def _fill(template: str, values: dict[str, str], quote_value: Any) -> str:
    def resolve_ref(ref: Ref) -> str:
        if ref.text not in values:
            raise UsageError(f"the lookup has no param {ref.text!r} for its placeholder")
        return str(quote_value(values[ref.text]))

    return render(parse_template(template), resolve_ref)


def _command(command: str) -> list[Any]:
    try:
        done = subprocess.run(
            ["/bin/sh", "-c", command],
            capture_output=True,
            text=True,
            timeout=TIMEOUT_SECONDS,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise LookupFailed(f"the lookup command did not finish: {type(exc).__name__}") from exc
    if done.returncode != 0:
        raise LookupFailed(f"the lookup command failed with exit code {done.returncode}")
    return _parse_text(done.stdout)


def _http(source: HttpSource, values: dict[str, str]) -> list[Any]:
    url = _fill(source.url, values, lambda v: quote(v, safe=""))
    headers = {k: _fill(v, values, lambda v: quote(v, safe=" ")) for k, v in source.headers.items()}
    try:
        response = httpx.get(url, headers=headers, timeout=TIMEOUT_SECONDS)
        response.raise_for_status()
    except httpx.HTTPError as exc:
        raise LookupFailed(f"the lookup's HTTP call failed: {type(exc).__name__}") from exc
    try:
        data = response.json()
    except ValueError:
        return _parse_text(response.text)
    return _at_path(data, source.path)


def _at_path(data: Any, path: str | None) -> list[Any]:
    """Walk a dotted path; `*` maps the rest of the path over a list (`items.*.name`)."""
    parts = path.split(".") if path else []
    current: list[Any] = [data]
    for part in parts:
        step: list[Any] = []
        for node in current:
            if part == "*" and isinstance(node, list):
                step.extend(node)
            elif isinstance(node, dict) and part in node:
                step.append(node[part])
            elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
                step.append(node[int(part)])
        current = step
    if len(current) == 1 and isinstance(current[0], list):
        return list(current[0])
    return current


def _parse_text(output: str) -> list[Any]:
    """A JSON array, else one value per non-empty line."""
    stripped = output.strip()
    if stripped.startswith("["):
        try:
            parsed = json.loads(stripped)
        except ValueError:
            parsed = None
        if isinstance(parsed, list):
            return parsed
    return [line.strip() for line in stripped.splitlines() if line.strip()]


def _normalise(values: list[Any]) -> list[Scalar]:
    """Scalars only (other values as JSON text), no duplicates, at most MAX_VALUES."""
    seen: dict[Scalar, None] = {}
    for value in values[: MAX_VALUES * 2]:
        if value is None:
            continue
        if not isinstance(value, str | int | float | bool):
            value = json.dumps(value, sort_keys=True, default=str)
        seen.setdefault(value, None)
    return list(seen)[:MAX_VALUES]
