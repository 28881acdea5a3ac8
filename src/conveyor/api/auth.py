"""Who is calling: a bearer token, or the web session cookie (then state changes need CSRF).

Every API route depends on `current_actor`, so no route is reachable anonymously unless it
is declared without it (only the health check is).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer

from conveyor.actions.access import Actor
from conveyor.actions.accounts import authenticate_session, authenticate_token
from conveyor.actions.runtime import Runtime
from conveyor.errors import AccessDenied, AuthenticationError, UsageError
from conveyor.security.tokens import CSRF_HEADER, SESSION_COOKIE, Signer

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# Declared for the OpenAPI document; the checks themselves are below.
_bearer = HTTPBearer(auto_error=False, description="An API token: `conveyor token create`.")
_cookie = APIKeyCookie(name=SESSION_COOKIE, auto_error=False, description="The UI's session.")


def runtime(request: Request) -> Runtime:
    """The Runtime the app was created with."""
    rt: Runtime = request.app.state.rt
    return rt


def signer(request: Request) -> Signer:
    """The signer of session cookies and CSRF tokens."""
    found: Signer = request.app.state.signer
    return found


def client_source(request: Request) -> str:
    """Where a request came from, for the audit trail: the client's address."""
    return request.client.host if request.client else "unknown"


def current_actor(
    request: Request,
    _bearer_creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    _cookie_value: Annotated[str | None, Depends(_cookie)],
) -> Actor:
    """The caller as an Actor, or AuthenticationError (401). A cookie session must send its
    CSRF token on every state-changing request; a bearer token needs none, since browsers
    never attach it by themselves."""
    rt = runtime(request)
    source = client_source(request)
    header = request.headers.get("authorization")
    if header is not None:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthenticationError("the Authorization header must read 'Bearer TOKEN'")
        actor = authenticate_token(rt, token.strip(), source)
        _refuse_nul(request)
        return actor
    session = signer(request).read_session(request.cookies.get(SESSION_COOKIE))
    if session is None:
        raise AuthenticationError(
            "sign in, or send an API token in the header 'Authorization: Bearer TOKEN'"
        )
    actor = authenticate_session(rt, session.user, session.fingerprint, source)
    _refuse_nul(request)
    if request.method not in SAFE_METHODS and not signer(request).check_csrf(
        session.nonce, request.headers.get(CSRF_HEADER)
    ):
        raise AccessDenied(f"this request needs your session's CSRF token in {CSRF_HEADER}")
    return actor


def _refuse_nul(request: Request) -> None:
    # No database column holds a NUL: refuse it here rather than as a store failure.
    texts = [*request.path_params.values(), *(v for _, v in request.query_params.multi_items())]
    if any("\x00" in str(text) for text in [request.url.path, *texts]):
        raise UsageError("the request's path or query holds a NUL character")


CurrentActor = Annotated[Actor, Depends(current_actor)]
Rt = Annotated[Runtime, Depends(runtime)]
