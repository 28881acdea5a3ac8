"""Accounts and their grants (admins; a person may change their own password)."""

from __future__ import annotations

from fastapi import APIRouter

from conveyor.actions import accounts
from conveyor.actions.accounts import Account
from conveyor.api.auth import CurrentActor, Rt
from conveyor.api.params import Name
from conveyor.api.schemas import (
    AccountOut,
    ChangedOut,
    GrantIn,
    GrantOut,
    NewAccountOut,
    PasswordIn,
    UserIn,
)

router = APIRouter(prefix="/users", tags=["users"])


def account_out(account: Account) -> AccountOut:
    """The API form of an account."""
    return AccountOut(
        name=account.name,
        is_admin=account.is_admin,
        disabled=account.disabled,
        grants=[GrantOut(category=c, role=r) for c, r in account.grants],
    )


@router.get("", response_model=list[AccountOut])
def list_users(rt: Rt, actor: CurrentActor) -> list[AccountOut]:
    """Every account with its grants."""
    return [account_out(a) for a in accounts.list_users(rt, actor)]


@router.post("", response_model=NewAccountOut, status_code=201)
def add_user(body: UserIn, rt: Rt, actor: CurrentActor) -> NewAccountOut:
    """Create an account; without a password, a one-time password is generated and shown
    only in this answer."""
    account, password = accounts.add_user(
        rt,
        actor,
        body.name,
        body.password,
        body.admin,
        [(g.category, g.role) for g in body.grants],
    )
    return NewAccountOut(user=account_out(account), password=password)


@router.post("/{name}/password", response_model=ChangedOut)
def set_password(name: Name, body: PasswordIn, rt: Rt, actor: CurrentActor) -> ChangedOut:
    """Set a password; the account's open sessions end."""
    accounts.set_password(rt, actor, name, body.password)
    return ChangedOut(changed=True)


@router.post("/{name}/disable", response_model=ChangedOut)
def disable(name: Name, rt: Rt, actor: CurrentActor) -> ChangedOut:
    """Disable an account: its tokens and sessions stop working at once."""
    accounts.disable_user(rt, actor, name, True)
    return ChangedOut(changed=True)


@router.post("/{name}/enable", response_model=ChangedOut)
def enable(name: Name, rt: Rt, actor: CurrentActor) -> ChangedOut:
    """Enable a disabled account again."""
    accounts.disable_user(rt, actor, name, False)
    return ChangedOut(changed=True)


@router.post("/{name}/grants", response_model=ChangedOut)
def grant(name: Name, body: GrantIn, rt: Rt, actor: CurrentActor) -> ChangedOut:
    """Give a role in a category ('*' for all)."""
    return ChangedOut(changed=accounts.grant(rt, actor, name, body.category, body.role))


@router.post("/{name}/grants/revoke", response_model=ChangedOut)
def revoke_grant(name: Name, body: GrantIn, rt: Rt, actor: CurrentActor) -> ChangedOut:
    """Take a role away."""
    return ChangedOut(changed=accounts.revoke_grant(rt, actor, name, body.category, body.role))
