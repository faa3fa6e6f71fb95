"""The desk's web pages (Simplified Chinese; plain HTML, CSS and JavaScript from ``agent_desk/web/static``).

``install(app)`` last in ``create_app``: its static mount at ``/`` answers every path no API route took
(FastAPI cannot include a router whose only mount is ``/``, hence a function rather than a router).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException
from starlette.types import Message, Receive, Scope, Send

STATIC = Path(__file__).resolve().parent.parent / "web" / "static"


class Pages(StaticFiles):
    """Static files that are never cached stale (the desk is updated in place) and never framed."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or path == "/api" or path.startswith(("/api/", "/ws/")):
            # Unknown API paths keep answering the API's JSON 404, whatever the method.
            raise HTTPException(status_code=404)

        async def headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                extra = [(b"cache-control", b"no-cache"), (b"x-frame-options", b"DENY"),
                         (b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"same-origin"),
                         (b"content-security-policy",
                          b"default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; "
                          b"style-src 'self'; script-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
                          b"form-action 'self'")]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await super().__call__(scope, receive, headers)


def install(app: FastAPI) -> None:
    app.mount("/", Pages(directory=STATIC, html=True), name="pages")
