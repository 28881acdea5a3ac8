"""The server's app factory: the REST API under /api/v1 and the web pages, on one Runtime."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, FastAPI, Request

from conveyor import __version__
from conveyor.actions.runtime import Runtime
from conveyor.api import errors
from conveyor.api.auth import CurrentActor
from conveyor.api.routes import (
    agents,
    audit,
    events,
    jobs,
    locks,
    logs,
    lookups,
    runs,
    steps,
    tokens,
    users,
)
from conveyor.api.schemas import HealthOut
from conveyor.security.crypto import load_or_create_key
from conveyor.security.tokens import Signer
from conveyor.web import pages

API_PREFIX = "/api/v1"
_ROUTERS = (jobs, runs, steps, logs, events, lookups, agents, locks, audit, users, tokens)


def create_app(rt: Runtime, *, secret_key: str | None = None) -> FastAPI:
    """The ASGI app serving `rt`'s store. Session cookies and CSRF tokens are signed with keys
    derived from `secret_key` (default: the Runtime's CONVEYOR_SECRET_KEY or key file)."""
    key = secret_key or load_or_create_key(rt.settings.secret_key, rt.settings.key_file)
    app = FastAPI(
        title="Conveyor",
        version=__version__,
        description="Jobs, runs, steps, logs and live events of a Conveyor server.",
        # Served by the authenticated route below: no document without credentials.
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    app.state.rt = rt
    app.state.signer = Signer(key)
    errors.install(app)
    api = APIRouter(prefix=API_PREFIX, responses=errors.ERROR_RESPONSES)

    @api.get("/health", response_model=HealthOut, tags=["server"])
    def health() -> HealthOut:
        """Liveness only: answers without credentials and says nothing else."""
        return HealthOut(status="ok")

    @api.get("/openapi.json", include_in_schema=False)
    def openapi(request: Request, actor: CurrentActor) -> dict[str, Any]:
        """The OpenAPI document of this API."""
        return request.app.openapi()  # type: ignore[no-any-return]

    for module in _ROUTERS:
        api.include_router(module.router)
    app.include_router(api)
    app.include_router(pages.router)
    return app
