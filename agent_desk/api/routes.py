"""Every router of the desk's HTTP API in one list, mounted under ``API_PREFIX`` with its tag and the documented
error responses; the WebSockets beside them; the API document for signed-in users.

The API document (OpenAPI) is served at ``{API_PREFIX}/openapi.json`` to any signed-in user, and published in the
repository as ``docs/openapi.json`` (``hotline desk openapi`` writes it; a test checks it against the app), so
integrators (the province's systems, a WeChat or SMS gateway, a city's portal) build against a reviewed file
without needing an account, while a running center still tells its own version.
"""

from __future__ import annotations

from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.openapi.utils import get_openapi

from agent_desk.api import (
    agents,
    audit,
    auth,
    callbacks,
    calls,
    campaigns,
    knowledge,
    limits,
    reference,
    revisits,
    sockets,
    softphone,
    suggestions,
    supervision,
    tickets,
    transcripts,
    users,
    vocab,
    wallboard,
    warnings,
    worklists,
)
from agent_desk.api.deps import principal
from agent_desk.api.schemas import API_PREFIX, ERRORS, TAGS
from agent_desk.auth.sessions import Principal

ROUTERS = [
    (auth.router, "登录与用户"),
    (users.router, "登录与用户"),
    (tickets.router, "工单"),
    (calls.router, "来电"),
    (transcripts.router, "来电"),
    (callbacks.router, "来电"),
    (revisits.router, "来电"),
    (campaigns.router, "来电"),
    (agents.router, "坐席"),
    (softphone.router, "网页电话"),
    (reference.router, "参考数据"),
    (knowledge.router, "参考数据"),
    (vocab.router, "参考数据"),
    (limits.router, "参考数据"),
    (suggestions.router, "参考数据"),
    (supervision.router, "监督与报表"),
    (wallboard.router, "监督与报表"),
    (warnings.router, "监督与报表"),
    (worklists.router, "监督与报表"),
    (audit.router, "审计"),
]

TITLE = "12345 政务服务便民热线 坐席工作台 API"
VERSION = "1"
DESCRIPTION = (
    "海南 12345 热线坐席工作台的接口。所有接口都需要登录（`POST /auth/login` 取得令牌，之后以 "
    "`Authorization: Bearer <令牌>` 或会话 Cookie 调用），并按角色授权：话务员、平台管理员、承办单位、系统管理员、"
    "渠道接入、审计员。出错时一律返回 JSON：`{\"error\": 代码, \"message\": 中文说明}`（参数不合法时另有 "
    "`fields`）。个人信息按“需要才知道”原则提供并留痕审计。\n\n"
    "其他渠道（网站留言、微信、短信、电子邮件、移动端）接入：以渠道接入（gateway）账号调用 `POST /tickets`，"
    "`channel` 填写渠道，受理结果中的工单编号可供市民查询进度。"
)


def install(app: FastAPI) -> None:
    for router, tag in ROUTERS:
        app.include_router(router, prefix=API_PREFIX, tags=[tag], responses=ERRORS)
    app.include_router(sockets.router)

    @app.get(f"{API_PREFIX}/openapi.json", include_in_schema=False)
    def openapi_document(request: Request, _who: Principal = Depends(principal)) -> dict[str, Any]:
        return document(request.app)


def document(app: FastAPI) -> dict[str, Any]:
    """The API document of ``app`` (cached on the app, as FastAPI does)."""
    if app.openapi_schema is None:
        app.openapi_schema = get_openapi(title=TITLE, version=VERSION, description=DESCRIPTION, routes=app.routes,
                                         tags=TAGS, servers=[{"url": "/", "description": "本中心"}])
    return app.openapi_schema


def published() -> str:
    """The API document as published in the repository (``docs/openapi.json``): stable text, keys sorted."""
    import json

    from agent_desk.app import create_app
    from agent_desk.settings import DeskSettings

    # Nothing is connected to: the app is only asked for its routes (engines and clients connect lazily).
    app = create_app(DeskSettings(database_url="sqlite://", redis_url="redis://127.0.0.1:1/0"), migrate=False)
    try:
        return json.dumps(document(app), ensure_ascii=False, indent=1, sort_keys=True) + "\n"
    finally:
        app.state.db.dispose()
        app.state.redis.close()
