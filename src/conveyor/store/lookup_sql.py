"""SQL lookups: a query of a metadata database, with every value passed as a bound parameter."""

from __future__ import annotations

from collections.abc import Mapping
from threading import Lock
from typing import Any

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.pool import NullPool

from conveyor.definitions.templates import Ref, parse_template
from conveyor.errors import StoreError
from conveyor.store.db import normalize_url

_engines: dict[str, Engine] = {}
_lock = Lock()


def _engine(url: str) -> Engine:
    with _lock:
        found = _engines.get(url)
        if found is None:
            # No pool: lookups are rare and the metadata database is not ours to hold open.
            found = create_engine(normalize_url(url), poolclass=NullPool)
            _engines[url] = found
        return found


def to_bound_sql(query: str) -> tuple[str, list[str]]:
    """Turn `{name}` placeholders into `:name` bind markers. Literal colons are escaped so
    that text such as `'10:30'` or `::int` is never mistaken for a parameter."""
    parts: list[str] = []
    names: list[str] = []
    for part in parse_template(query).parts:
        if isinstance(part, Ref):
            bind = "p_" + part.text.replace(".", "_").replace("-", "_")
            parts.append(":" + bind)
            names.append(part.text)
        else:
            parts.append(part.replace(":", "\\:"))
    return "".join(parts), names


def run_query(url: str, query: str, values: Mapping[str, Any], limit: int) -> list[Any]:
    """The first column of the query's rows (at most `limit`), values bound by name."""
    sql, names = to_bound_sql(query)
    binds = {"p_" + n.replace(".", "_").replace("-", "_"): values[n] for n in names}
    try:
        with _engine(url).connect() as conn:
            result = conn.execute(text(sql), binds)
            return [row[0] for row in result.fetchmany(limit)]
    except (SQLAlchemyError, ArgumentError, ValueError) as exc:
        raise StoreError(f"the lookup's database query failed: {type(exc).__name__}") from exc
