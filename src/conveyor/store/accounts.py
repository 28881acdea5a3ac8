"""Writing accounts and grants; reading them is in `users.py`."""

from __future__ import annotations

from sqlalchemy import Connection, delete, insert, select, update

from conveyor.store.db import db_now
from conveyor.store.tables import grant, user
from conveyor.store.users import UserRecord, find_user


def insert_user(conn: Connection, *, name: str, password_hash: str | None, is_admin: bool) -> int:
    """A new enabled account; the caller checked that the name is free."""
    query = (
        insert(user)
        .values(name=name, password_hash=password_hash, is_admin=is_admin, created_at=db_now())
        .returning(user.c.id)
    )
    return int(conn.execute(query).scalar_one())


def set_password_hash(conn: Connection, user_id: int, password_hash: str) -> None:
    """Store a new password hash (made by security.passwords)."""
    conn.execute(update(user).where(user.c.id == user_id).values(password_hash=password_hash))


def set_disabled(conn: Connection, user_id: int, disabled: bool) -> None:
    """Disable or enable an account."""
    conn.execute(update(user).where(user.c.id == user_id).values(disabled=disabled))


def set_admin(conn: Connection, user_id: int, is_admin: bool) -> None:
    """Make an account an admin, or not."""
    conn.execute(update(user).where(user.c.id == user_id).values(is_admin=is_admin))


def add_grant(conn: Connection, user_id: int, category: str, role: str) -> bool:
    """Give a role in a category; False when the user already held it."""
    held = conn.execute(
        select(grant.c.id).where(
            grant.c.user_id == user_id, grant.c.category == category, grant.c.role == role
        )
    ).first()
    if held is not None:
        return False
    conn.execute(insert(grant).values(user_id=user_id, category=category, role=role))
    return True


def remove_grant(conn: Connection, user_id: int, category: str, role: str) -> bool:
    """Take a role away; False when the user did not hold it."""
    removed = conn.execute(
        delete(grant).where(
            grant.c.user_id == user_id, grant.c.category == category, grant.c.role == role
        )
    ).rowcount
    return bool(removed)


def list_users(conn: Connection) -> list[UserRecord]:
    """Every account with its grants, by name."""
    names = conn.execute(select(user.c.name).order_by(user.c.name)).scalars().all()
    found = [find_user(conn, name) for name in names]
    return [record for record in found if record is not None]
