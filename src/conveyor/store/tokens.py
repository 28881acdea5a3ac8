"""API tokens: only their SHA-256 is stored; a revoked token stops working at once."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, insert, select, update

from conveyor.store.db import db_now
from conveyor.store.tables import api_token, user


@dataclass(frozen=True)
class TokenRecord:
    """A token as listed to people: never its value, nor its hash."""

    id: int
    user: str
    name: str
    created_at: float
    revoked_at: float | None
    last_used_at: float | None


def _select() -> Any:
    return select(
        api_token.c.id,
        user.c.name.label("user"),
        api_token.c.name,
        api_token.c.created_at,
        api_token.c.revoked_at,
        api_token.c.last_used_at,
    ).join(user, user.c.id == api_token.c.user_id)


def _record(row: Any) -> TokenRecord:
    return TokenRecord(
        id=row.id,
        user=row.user,
        name=row.name,
        created_at=row.created_at,
        revoked_at=row.revoked_at,
        last_used_at=row.last_used_at,
    )


def insert_token(conn: Connection, *, user_id: int, name: str, token_hash: str) -> TokenRecord:
    """Store a new token by its hash; returns its record."""
    token_id = conn.execute(
        insert(api_token)
        .values(user_id=user_id, name=name, token_hash=token_hash, created_at=db_now())
        .returning(api_token.c.id)
    ).scalar_one()
    return get_token(conn, int(token_id))


def get_token(conn: Connection, token_id: int) -> TokenRecord:
    """The token with this id (a KeyError-free lookup: the caller checked it exists)."""
    return _record(conn.execute(_select().where(api_token.c.id == token_id)).one())


def find_token(conn: Connection, token_id: int) -> TokenRecord | None:
    """The token with this id, or None."""
    row = conn.execute(_select().where(api_token.c.id == token_id)).first()
    return _record(row) if row is not None else None


def user_id_of_live_token(conn: Connection, token_hash: str) -> int | None:
    """The account a live (not revoked) token belongs to, or None."""
    query = select(api_token.c.user_id).where(
        api_token.c.token_hash == token_hash, api_token.c.revoked_at.is_(None)
    )
    found = conn.execute(query).scalar()
    return int(found) if found is not None else None


def list_tokens(conn: Connection, *, user_name: str | None = None) -> list[TokenRecord]:
    """Tokens (of one user, or all), oldest first; revoked ones included."""
    query = _select().order_by(api_token.c.id)
    if user_name is not None:
        query = query.where(user.c.name == user_name)
    return [_record(row) for row in conn.execute(query)]


def revoke(conn: Connection, token_id: int) -> bool:
    """Revoke a live token; False when it was already revoked."""
    changed = conn.execute(
        update(api_token)
        .where(api_token.c.id == token_id, api_token.c.revoked_at.is_(None))
        .values(revoked_at=db_now())
    ).rowcount
    return bool(changed)
