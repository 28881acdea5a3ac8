"""The one table from the error tree to HTTP statuses, and the handlers that apply it.

Every error answer is `{"error": "<one sentence>"}`; a definition error adds its problems.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from conveyor.errors import (
    AccessDenied,
    AuthenticationError,
    ConflictError,
    ConveyorError,
    DefinitionError,
    NotFoundError,
    ParamError,
    StoreError,
    UsageError,
)
from conveyor.security.tokens import SESSION_COOKIE

log = logging.getLogger(__name__)

STATUS_OF: dict[type[ConveyorError], int] = {
    AuthenticationError: 401,
    AccessDenied: 403,
    NotFoundError: 404,
    ConflictError: 409,
    ParamError: 422,
    DefinitionError: 422,
    UsageError: 422,
    StoreError: 503,
}

# Documented on every route, so that the OpenAPI document lists the error shapes.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"description": "Who are you? No, bad or revoked credentials."},
    403: {"description": "Not allowed: the role is missing, or four-eyes, or no CSRF token."},
    404: {"description": "No such job, run, step, lookup, user or token."},
    409: {"description": "The action does not fit the current state."},
    422: {"description": "Bad input: a param, a definition or the request itself."},
}


def status_of(exc: ConveyorError) -> int:
    """The status of the nearest class in the exception's hierarchy that the table names."""
    for cls in type(exc).__mro__:
        if cls in STATUS_OF:
            return STATUS_OF[cls]
    return 500


def error_response(status: int, message: str, **extra: Any) -> JSONResponse:
    """The error body every failure answers with (`WWW-Authenticate` on 401)."""
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse({"error": message, **extra}, status_code=status, headers=headers)


async def _conveyor_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ConveyorError)
    status = status_of(exc)
    if status >= 500:
        log.warning("%s %s: %s", request.method, request.url.path, exc)
    extra: dict[str, Any] = {}
    if isinstance(exc, DefinitionError):
        extra["problems"] = [
            {"file": p.source, "line": p.line, "message": p.message} for p in exc.problems
        ]
    return error_response(status, str(exc), **extra)


def _anonymous(request: Request) -> bool:
    return request.url.path.startswith("/api/") and not (
        "authorization" in request.headers or SESSION_COOKIE in request.cookies
    )


def _where(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "the request body"


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    if _anonymous(request):
        # Bad input from someone unknown is first of all an unknown caller.
        return error_response(401, "sign in, or send an API token: Authorization: Bearer TOKEN")
    errors = exc.errors()
    if not errors:
        return error_response(422, "the request is malformed")
    first = errors[0]
    # The input is left out on purpose: it may hold a secret.
    reason = str(first.get("msg", "is invalid")).removeprefix("Value error, ")
    message = f"{_where(tuple(first.get('loc', ())))}: {reason}"
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return error_response(422, message + more)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    return JSONResponse(
        {"error": str(exc.detail)}, status_code=exc.status_code, headers=exc.headers
    )


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    # The request boundary: log the traceback, answer one sentence without internals.
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return error_response(500, "the server failed on this request; see its log")


def install(app: FastAPI) -> None:
    """Register the handlers on `app`."""
    app.add_exception_handler(ConveyorError, _conveyor_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
