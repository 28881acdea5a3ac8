"""Sign-in, sign-out and the overview page.

Sessions are signed cookies (HMAC with a key derived from CONVEYOR_SECRET_KEY) carrying a
fingerprint of the password hash, so a password change or a disabled account ends them at
once. Every form carries a CSRF token tied to the session, or before sign-in to a pre-session
cookie.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader
from starlette.concurrency import run_in_threadpool

from conveyor.actions import accounts, queries
from conveyor.actions.access import Actor
from conveyor.actions.queries import iso_time
from conveyor.actions.runtime import Runtime
from conveyor.errors import AuthenticationError
from conveyor.security.tokens import (
    CSRF_FIELD,
    CSRF_HEADER,
    PRESESSION_COOKIE,
    SESSION_COOKIE,
    Session,
    Signer,
)

router = APIRouter(include_in_schema=False)

_templates = Environment(
    loader=FileSystemLoader(Path(__file__).with_name("templates")),
    autoescape=True,  # every name, description and log line is escaped, always
)
_templates.filters["time"] = iso_time
_PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'; form-action 'self'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}

Text = Annotated[str, Form(max_length=1024)]


def _page(name: str, status: int = 200, **context: Any) -> HTMLResponse:
    body = _templates.get_template(name).render(**context)
    return HTMLResponse(body, status_code=status, headers=_PAGE_HEADERS)


def _signer(request: Request) -> Signer:
    found: Signer = request.app.state.signer
    return found


def _rt(request: Request) -> Runtime:
    rt: Runtime = request.app.state.rt
    return rt


def _source(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _cookie(response: Response, request: Request, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/",
    )


def _session(request: Request) -> tuple[Session, Actor] | None:
    session = _signer(request).read_session(request.cookies.get(SESSION_COOKIE))
    if session is None:
        return None
    try:
        actor = accounts.authenticate_session(
            _rt(request), session.user, session.fingerprint, _source(request)
        )
    except AuthenticationError:
        return None
    return session, actor


def _login_form(request: Request, error: str | None = None, status: int = 200) -> Response:
    nonce = request.cookies.get(PRESESSION_COOKIE) or secrets.token_urlsafe(16)
    response = _page(
        "login.html",
        status,
        csrf=_signer(request).csrf_token(nonce),
        csrf_field=CSRF_FIELD,
        error=error,
    )
    _cookie(response, request, PRESESSION_COOKIE, nonce, 3600)
    return response


@router.get("/login", response_class=HTMLResponse)
async def login_page(request: Request) -> Response:
    """The sign-in form."""
    if await run_in_threadpool(_session, request) is not None:
        return RedirectResponse("/", status_code=303)
    return _login_form(request)


@router.post("/login", response_class=HTMLResponse)
async def login(
    request: Request, username: Text, password: Text, csrf_token: Text = ""
) -> Response:
    """Check the CSRF token and the password (argon2); start a session."""
    signer = _signer(request)
    if not signer.check_csrf(request.cookies.get(PRESESSION_COOKIE), csrf_token):
        return _login_form(request, "The form expired; please sign in again.", 403)
    rt = _rt(request)
    if "\x00" in username + password:
        return _login_form(request, "the user name or password is wrong", 401)
    try:
        actor = await run_in_threadpool(
            accounts.authenticate_password, rt, username, password, _source(request)
        )
        fingerprint = await run_in_threadpool(accounts.session_fingerprint, rt, actor.name)
    except AuthenticationError as exc:
        return _login_form(request, str(exc), 401)
    response = RedirectResponse("/", status_code=303)
    _cookie(
        response,
        request,
        SESSION_COOKIE,
        signer.sign_session(actor.name, fingerprint),
        int(signer.max_age),
    )
    response.delete_cookie(PRESESSION_COOKIE, path="/")
    return response


@router.post("/logout")
async def logout(request: Request, csrf_token: Text = "") -> Response:
    """End the session (the form must carry the session's CSRF token)."""
    found = await run_in_threadpool(_session, request)
    token = csrf_token or request.headers.get(CSRF_HEADER)
    if found is None or not _signer(request).check_csrf(found[0].nonce, token):
        return _page("login.html", 403, error="That request was refused.", csrf="", csrf_field="")
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


def _overview(rt: Runtime, actor: Actor) -> dict[str, Any]:
    return {
        "jobs": queries.jobs(rt, actor),
        "runs": queries.list_runs(rt, actor, limit=20),
    }


@router.get("/", response_class=HTMLResponse)
async def index(request: Request) -> Response:
    """Jobs and recent runs the signed-in person may see."""
    found = await run_in_threadpool(_session, request)
    if found is None:
        return RedirectResponse("/login", status_code=303)
    session, actor = found
    context = await run_in_threadpool(_overview, _rt(request), actor)
    return _page(
        "index.html",
        user=actor.name,
        csrf=_signer(request).csrf_token(session.nonce),
        csrf_field=CSRF_FIELD,
        **context,
    )
