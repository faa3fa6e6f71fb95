"""Every failure answers JSON ``{"error": code, "message": 中文, ...}`` with a 4xx status; never a bare 500.

Two database conflicts that a request can meet however careful its handler is (a unique value taken at the
same moment, a ticket changed by someone else since it was read) answer 409; a database that cannot be reached
(stopped, restarting) answers 503 with ``Retry-After`` (the transaction rolled back: nothing saved, retry); anything
else unexpected answers a JSON 500 with a Chinese message and its traceback in the log (the last resort: the causes
are fixed where they are found). Every API response says ``Cache-Control: no-store``: most carry personal data, and no
browser, proxy or shared computer should keep a copy.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from agent_desk.api.schemas import API_PREFIX
from agent_desk.errors import DeskError

log = logging.getLogger(__name__)

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
_HTTP_MESSAGES = {404: "请求的地址不存在", 405: "不支持该请求方法", 413: "请求内容过大", 400: "请求格式错误"}


def _field_errors(exc: RequestValidationError) -> list[dict]:
    out = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
        out.append({"field": where, "problem": err.get("msg", ""), "type": err.get("type", "")})
    return out


def install(app: FastAPI) -> None:
    @app.exception_handler(DeskError)
    async def desk_error(_request: Request, exc: DeskError) -> JSONResponse:
        return JSONResponse({"error": exc.code, "message": exc.message}, status_code=exc.status, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        fields = _field_errors(exc)
        names = "、".join(f["field"] for f in fields if f["field"]) or "请求体"
        return JSONResponse({"error": "invalid_request", "message": f"请求内容不合法：{names}", "fields": fields},
                            status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = _HTTP_MESSAGES.get(exc.status_code, str(exc.detail))
        return JSONResponse({"error": f"http_{exc.status_code}", "message": message}, status_code=exc.status_code,
                            headers=getattr(exc, "headers", None))

    @app.exception_handler(IntegrityError)
    async def taken(request: Request, exc: IntegrityError) -> JSONResponse:
        log.warning("%s %s: conflict in the database: %s", request.method, request.url.path, exc.orig)
        return JSONResponse({"error": "conflict",
                             "message": "数据与已有记录冲突（例如编号或分机号已被占用），请检查后重试"},
                            status_code=409)

    @app.exception_handler(OperationalError)
    async def database_down(request: Request, exc: OperationalError) -> JSONResponse:
        # The database stopped or unreachable (a restart, the network): the transaction rolled back, so nothing
        # was half saved; the user is told so and to retry (the pool's pre-ping reconnects once it is back).
        log.error("%s %s: database unavailable: %s", request.method, request.url.path, exc.orig)
        return JSONResponse({"error": "database_unavailable",
                             "message": "数据库暂时无法连接，本次操作未保存，请稍后重试"},
                            status_code=503, headers={**NO_STORE, "Retry-After": "5"})

    @app.exception_handler(StaleDataError)
    async def stale(request: Request, _exc: StaleDataError) -> JSONResponse:
        log.info("%s %s: changed by someone else meanwhile", request.method, request.url.path)
        return JSONResponse({"error": "changed_meanwhile", "message": "数据已被他人修改，请刷新后重试"},
                            status_code=409)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        # Starlette runs this outermost (ServerErrorMiddleware) and re-raises afterwards: the server logs too.
        log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
        return JSONResponse({"error": "internal_error",
                             "message": "服务器内部错误，请稍后重试；如仍失败请联系系统管理员"},
                            status_code=500, headers=NO_STORE)


class NoStore:
    """``Cache-Control: no-store`` on every response under the API prefix (personal data is never cached)."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope.get("path", "").startswith(API_PREFIX):
            await self.app(scope, receive, send)
            return

        async def marked(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", [])
                           if k.lower() not in (b"cache-control", b"pragma")]
                headers += [(k.lower().encode(), v.encode()) for k, v in NO_STORE.items()]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, marked)


class BodyLimit:
    """Refuses request bodies over ``limit`` bytes with 413 before anything parses them."""

    def __init__(self, app: ASGIApp, limit: int):
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            await _too_large(send)
            return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise _TooLarge
            return message

        try:
            await self.app(scope, limited, send)
        except _TooLarge:
            await _too_large(send)


class _TooLarge(Exception):
    pass


async def _too_large(send: Send) -> None:
    body = '{"error":"too_large","message":"请求内容过大"}'.encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"cache-control", b"no-store")]})
    await send({"type": "http.response.body", "body": body})
