"""The REST API: `create_app(rt)` builds the server's ASGI app."""

from conveyor.api.app import create_app

__all__ = ["create_app"]
