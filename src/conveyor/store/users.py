"""Accounts and their grants (who may do what in which category)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, func, select

from conveyor.store.tables import grant, user


@dataclass(frozen=True)
class UserRecord:
    id: int
    name: str
    is_admin: bool
    disabled: bool
    password_hash: str | None
    grants: tuple[tuple[str, str], ...]  # (category, role)


def count_users(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(user)).scalar_one())


def find_user(conn: Connection, name: str) -> UserRecord | None:
    row = conn.execute(select(user).where(user.c.name == name)).mappings().first()
    if row is None:
        return None
    return _with_grants(conn, row)


def get_user_by_id(conn: Connection, user_id: int) -> UserRecord | None:
    row = conn.execute(select(user).where(user.c.id == user_id)).mappings().first()
    return _with_grants(conn, row) if row is not None else None


def _with_grants(conn: Connection, row: object) -> UserRecord:
    data = dict(row)  # type: ignore[call-overload]
    grants = conn.execute(
        select(grant.c.category, grant.c.role)
        .where(grant.c.user_id == data["id"])
        .order_by(grant.c.category, grant.c.role)
    ).all()
    return UserRecord(
        id=data["id"],
        name=data["name"],
        is_admin=bool(data["is_admin"]),
        disabled=bool(data["disabled"]),
        password_hash=data["password_hash"],
        grants=tuple((c, r) for c, r in grants),
    )
