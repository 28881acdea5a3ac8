"""Turning a name (CLI on the database) or an account into an Actor with its grants."""

from __future__ import annotations

from conveyor.actions.access import Actor, Role
from conveyor.actions.runtime import Runtime
from conveyor.errors import AuthenticationError
from conveyor.store.users import UserRecord, count_users, find_user


def actor_of(record: UserRecord, source: str) -> Actor:
    grants: dict[str, set[Role]] = {}
    for category, role in record.grants:
        grants.setdefault(category, set()).add(Role(role))
    return Actor(
        name=record.name,
        source=source,
        is_admin=record.is_admin,
        grants={k: frozenset(v) for k, v in grants.items()},
    )


def local_actor(rt: Runtime, name: str, source: str = "cli") -> Actor:
    """Who a CLI talking straight to the database acts as. Before any account exists, the
    local user is trusted like an admin (they hold the database itself); afterwards the name
    must be an enabled account and its grants apply."""
    with rt.db.read() as conn:
        if count_users(conn) == 0:
            return Actor(name=name, source=source, is_admin=True)
        record = find_user(conn, name)
    if record is None or record.disabled:
        raise AuthenticationError(
            f"there is no enabled account named {name!r}; pass --user NAME or set CONVEYOR_USER"
        )
    return actor_of(record, source)
