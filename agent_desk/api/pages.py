"""The desk's web pages (Simplified Chinese; plain HTML, CSS and JavaScript from ``agent_desk/web/static``).

``install(app)`` last in ``create_app``: its static mount at ``/`` answers every path no API route took
(FastAPI cannot include a router whose only mount is ``/``, hence a function rather than a router).

An address that is no page answers 404 with the Chinese 页面不存在 page (``404.html``) to a browser (a request that
accepts HTML); anything else asking for it (an API client, a script) gets the API's JSON 404, as every ``/api``
path does.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException
from starlette.responses import Response
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

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)   # html mode: a missing page is 404.html, status 404
        if response.status_code == 404 and not _wants_html(scope):
            raise HTTPException(status_code=404)
        return response


def _wants_html(scope: Scope) -> bool:
    accept = dict(scope.get("headers", [])).get(b"accept", b"")
    return b"text/html" in accept.lower()


def install(app: FastAPI) -> None:
    app.mount("/", Pages(directory=STATIC, html=True), name="pages")
