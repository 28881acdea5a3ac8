"""Accounts, grants and API tokens: the same functions serve the CLI, the API and the pages.

Every change is audited without the password or token it set; plain tokens and generated
passwords are returned once to the caller and never stored.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Connection

from conveyor.actions.access import Actor, Role
from conveyor.actions.identity import actor_of
from conveyor.actions.runtime import Runtime
from conveyor.errors import AuthenticationError, ConflictError, NotFoundError, ParamError
from conveyor.security.passwords import (
    MIN_PASSWORD_LENGTH,
    generate_password,
    hash_password,
    needs_rehash,
    verify_password,
)
from conveyor.security.tokens import hash_token, new_api_token, password_fingerprint
from conveyor.store import accounts as account_store
from conveyor.store import tokens as token_store
from conveyor.store.events import add_audit
from conveyor.store.tokens import TokenRecord
from conveyor.store.users import UserRecord, count_users, find_user, get_user_by_id

_USER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,127}$")
_ROLES = ", ".join(r.value for r in Role)
FIRST_ADMIN = "admin"


@dataclass(frozen=True)
class Account:
    """An account as shown to people: never its password hash."""

    name: str
    is_admin: bool
    disabled: bool
    grants: tuple[tuple[str, str], ...]

    @classmethod
    def of(cls, record: UserRecord) -> Account:
        """The shown form of a stored account."""
        return cls(record.name, record.is_admin, record.disabled, record.grants)


def _audit(conn: Connection, actor: Actor, action: str, target: str, **detail: object) -> None:
    add_audit(
        conn, actor=actor.name, action=action, target=target, detail=detail, source=actor.source
    )


def _user(conn: Connection, name: str) -> UserRecord:
    record = find_user(conn, name)
    if record is None:
        raise NotFoundError(f"there is no account named {name!r}")
    return record


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ParamError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > 1024:
        raise ParamError("a password may have at most 1024 characters")


def _check_grant(category: str, role: str) -> Role:
    if not category.strip() or len(category) > 200:
        raise ParamError("a grant needs a category name of 1 to 200 characters (or '*')")
    try:
        return Role(role)
    except ValueError:
        raise ParamError(f"there is no role {role[:40]!r}; the roles are {_ROLES}") from None


def add_user(
    rt: Runtime,
    actor: Actor,
    name: str,
    password: str | None = None,
    admin: bool = False,
    grants: Iterable[tuple[str, str]] = (),
) -> tuple[Account, str | None]:
    """Create an account (admins only). Returns it and, when no password was given, the
    generated one-time password to hand over."""
    actor.require_admin("add users")
    if not _USER_NAME.match(name):
        raise ParamError(
            "a user name is 1 to 128 letters, digits, '_', '.', '@' or '-', starting with a "
            "letter or digit"
        )
    wanted = [(category, _check_grant(category, role)) for category, role in grants]
    generated = generate_password() if password is None else None
    chosen = password if password is not None else generated
    assert chosen is not None
    _check_password(chosen)
    with rt.db.write() as conn:
        if find_user(conn, name) is not None:
            raise ConflictError(f"there is already an account named {name!r}")
        user_id = account_store.insert_user(
            conn, name=name, password_hash=hash_password(chosen), is_admin=admin
        )
        for category, role in wanted:
            account_store.add_grant(conn, user_id, category, role.value)
        _audit(conn, actor, "user.add", f"user/{name}", admin=admin, grants=sorted(wanted))
        record = get_user_by_id(conn, user_id)
    assert record is not None
    return Account.of(record), generated


def set_password(rt: Runtime, actor: Actor, name: str, password: str) -> None:
    """Change a password (admins for anyone, a person for themselves); open sessions end."""
    if actor.name != name:
        actor.require_admin("change another user's password")
    _check_password(password)
    with rt.db.write() as conn:
        record = _user(conn, name)
        account_store.set_password_hash(conn, record.id, hash_password(password))
        _audit(conn, actor, "user.passwd", f"user/{name}")


def disable_user(rt: Runtime, actor: Actor, name: str, disabled: bool = True) -> None:
    """Disable (or enable again) an account; its tokens and sessions stop working at once."""
    actor.require_admin("disable users")
    if disabled and name == actor.name:
        raise ConflictError("you may not disable your own account")
    with rt.db.write() as conn:
        record = _user(conn, name)
        account_store.set_disabled(conn, record.id, disabled)
        _audit(conn, actor, "user.disable" if disabled else "user.enable", f"user/{name}")


def grant(rt: Runtime, actor: Actor, user: str, category: str, role: str) -> bool:
    """Give `user` a role in a category ('*' for every category); False if already held."""
    actor.require_admin("grant roles")
    checked = _check_grant(category, role)
    with rt.db.write() as conn:
        record = _user(conn, user)
        added = account_store.add_grant(conn, record.id, category, checked.value)
        if added:
            _audit(conn, actor, "user.grant", f"user/{user}", category=category, role=role)
    return added


def revoke_grant(rt: Runtime, actor: Actor, user: str, category: str, role: str) -> bool:
    """Take a role away; False when the user did not hold it."""
    actor.require_admin("revoke roles")
    with rt.db.write() as conn:
        record = _user(conn, user)
        removed = account_store.remove_grant(conn, record.id, category, role)
        if removed:
            _audit(conn, actor, "user.ungrant", f"user/{user}", category=category, role=role)
    return removed


def list_users(rt: Runtime, actor: Actor) -> list[Account]:
    """Every account with its grants (admins only)."""
    actor.require_admin("list users")
    with rt.db.read() as conn:
        return [Account.of(r) for r in account_store.list_users(conn)]


def create_token(
    rt: Runtime, actor: Actor, user: str, name: str = "default"
) -> tuple[str, TokenRecord]:
    """A new API token for `user` (themselves, or anyone for an admin). The plain token is
    returned once; only its hash is stored."""
    if actor.name != user:
        actor.require_admin("create tokens for other users")
    if not name.strip() or len(name) > 200:
        raise ParamError("a token name has 1 to 200 characters")
    plain = new_api_token()
    with rt.db.write() as conn:
        record = _user(conn, user)
        if record.disabled:
            raise ConflictError(f"the account {user!r} is disabled")
        token = token_store.insert_token(
            conn, user_id=record.id, name=name, token_hash=hash_token(plain)
        )
        _audit(conn, actor, "token.create", f"token/{token.id}", user=user, name=name)
    return plain, token


def list_tokens(rt: Runtime, actor: Actor, user: str | None = None) -> list[TokenRecord]:
    """Tokens of `user` (admins: of everyone when None); a person sees only their own."""
    if not actor.is_admin:
        if user not in (None, actor.name):
            actor.require_admin("list other users' tokens")
        user = actor.name
    with rt.db.read() as conn:
        return token_store.list_tokens(conn, user_name=user)


def revoke_token(rt: Runtime, actor: Actor, token_id: int) -> None:
    """Revoke a token (its owner or an admin); requests carrying it fail from now on."""
    with rt.db.write() as conn:
        token = token_store.find_token(conn, token_id)
        if token is None or (token.user != actor.name and not actor.is_admin):
            # Someone else's token id is reported as absent: ids are not a way to probe.
            raise NotFoundError(f"there is no token {token_id}")
        if not token_store.revoke(conn, token_id):
            raise ConflictError(f"token {token_id} is already revoked")
        _audit(conn, actor, "token.revoke", f"token/{token_id}", user=token.user)


def authenticate_token(rt: Runtime, token: str, source: str = "api") -> Actor:
    """The enabled account a live token belongs to, as an Actor; AuthenticationError else."""
    with rt.db.read() as conn:
        user_id = token_store.user_id_of_live_token(conn, hash_token(token))
        record = get_user_by_id(conn, user_id) if user_id is not None else None
    if record is None or record.disabled:
        raise AuthenticationError("the API token is unknown, revoked or of a disabled account")
    return actor_of(record, source)


def authenticate_password(rt: Runtime, name: str, password: str, source: str = "web") -> Actor:
    """Check a name and password (argon2); AuthenticationError with one vague sentence else."""
    with rt.db.read() as conn:
        record = find_user(conn, name)
    # verify_password runs a full hash even for unknown names: timing tells nothing.
    ok = verify_password(record.password_hash if record else None, password)
    if record is None or record.disabled or not ok:
        raise AuthenticationError("the user name or password is wrong")
    if record.password_hash and needs_rehash(record.password_hash):
        with rt.db.write() as conn:
            account_store.set_password_hash(conn, record.id, hash_password(password))
    return actor_of(record, source)


def session_fingerprint(rt: Runtime, name: str) -> str:
    """What a session cookie of `name` must carry to stay valid (changes with the password)."""
    with rt.db.read() as conn:
        record = _user(conn, name)
    return password_fingerprint(record.password_hash)


def authenticate_session(rt: Runtime, name: str, fingerprint: str, source: str) -> Actor:
    """The Actor of a signed session cookie, if the account is enabled and its password has
    not changed since the session began."""
    with rt.db.read() as conn:
        record = find_user(conn, name)
    if (
        record is None
        or record.disabled
        or password_fingerprint(record.password_hash) != fingerprint
    ):
        raise AuthenticationError("the session has ended; sign in again")
    return actor_of(record, source)


def ensure_first_admin(rt: Runtime) -> str | None:
    """On a store without accounts, create `admin` with a random password and return that
    password (to be printed once); None when accounts already exist."""
    password = generate_password()
    with rt.db.write() as conn:
        if count_users(conn) > 0:
            return None
        account_store.insert_user(
            conn, name=FIRST_ADMIN, password_hash=hash_password(password), is_admin=True
        )
        add_audit(
            conn,
            actor="conveyor",
            action="user.add",
            target=f"user/{FIRST_ADMIN}",
            detail={"admin": True, "first_start": True},
            source="system",
        )
    return password
