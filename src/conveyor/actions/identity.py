"""Turning a name (CLI on the database) or an account into an Actor with its grants."""

from __future__ import annotations

from conveyor.actions.access import Actor, Role
from conveyor.actions.runtime import Runtime
from conveyor.errors import AuthenticationError
from conveyor.store.users import UserRecord, find_user


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
    """Who a CLI talking straight to the database acts as. Whoever holds the database's
    credentials can change anything in it, so a name that is no account acts as a trusted
    local operator (admin). A name that is an account gets exactly that account's grants, so
    `--user bob` is held to bob's roles and four-eyes rules; a disabled account is refused."""
    with rt.db.read() as conn:
        record = find_user(conn, name)
    if record is None:
        return Actor(name=name, source=source, is_admin=True)
    if record.disabled:
        raise AuthenticationError(f"the account {name!r} is disabled")
    return actor_of(record, source)
