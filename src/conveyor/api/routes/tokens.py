"""API tokens: create (shown once), list, revoke (effective at once)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from conveyor.actions import accounts
from conveyor.actions.queries import iso_time
from conveyor.api.auth import CurrentActor, Rt
from conveyor.api.params import MAX_ID
from conveyor.api.schemas import ChangedOut, NewTokenOut, TokenIn, TokenOut
from conveyor.store.tokens import TokenRecord

router = APIRouter(prefix="/tokens", tags=["tokens"])

TokenId = Annotated[int, Path(ge=1, le=MAX_ID)]


def token_out(token: TokenRecord) -> TokenOut:
    """The API form of a token record (never the token)."""
    return TokenOut(
        id=token.id,
        user=token.user,
        name=token.name,
        created_at=iso_time(token.created_at),
        revoked_at=iso_time(token.revoked_at),
    )


@router.get("", response_model=list[TokenOut])
def list_tokens(
    rt: Rt, actor: CurrentActor, user: Annotated[str | None, Query(max_length=128)] = None
) -> list[TokenOut]:
    """Your tokens; an admin sees everyone's (or one user's with `user`)."""
    return [token_out(t) for t in accounts.list_tokens(rt, actor, user)]


@router.post("", response_model=NewTokenOut, status_code=201)
def create_token(body: TokenIn, rt: Rt, actor: CurrentActor) -> NewTokenOut:
    """A new token for yourself (or, for an admin, for `user`); the token is shown only here."""
    plain, record = accounts.create_token(rt, actor, body.user or actor.name, body.name)
    return NewTokenOut(token=plain, record=token_out(record))


@router.post("/{token_id}/revoke", response_model=ChangedOut)
def revoke_token(token_id: TokenId, rt: Rt, actor: CurrentActor) -> ChangedOut:
    """Revoke a token: requests carrying it are refused from now on."""
    accounts.revoke_token(rt, actor, token_id)
    return ChangedOut(changed=True)
