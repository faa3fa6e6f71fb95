"""Application factory of the agent desk. Settings are built once by the caller and passed in.

``create_app`` wires the database (migrated to head on start), Redis (status projection, live call state,
screen pops), the API routers and the Simplified-Chinese web pages.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from agent_desk.api import pages, routes
from agent_desk.api import warnings as warnings_api
from agent_desk.api.errors import BodyLimit, NoStore, install as install_errors
from agent_desk.auth import limits
from agent_desk.calls.handoff import Handoffs
from agent_desk.db.migrate import upgrade
from agent_desk.db.session import Database
from agent_desk.learning.retrain import retrainer_for
from agent_desk.settings import DeskSettings
from agent_desk.tickets.status import StatusProjection

__all__ = ["DeskSettings", "create_app"]


def create_app(settings: DeskSettings, *, migrate: bool = True) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if migrate:
            upgrade(settings.database_url)
        app.state.warnings.start()  # 未诉先办: one full scan in the background
        if app.state.retrainer is not None:
            app.state.retrainer.start()  # suggestion models: retrained in the background when due
        sweeping = asyncio.create_task(limits.sweep_periodically(app.state.db, settings), name="login-limits-sweep")
        yield
        sweeping.cancel()
        await asyncio.gather(sweeping, return_exceptions=True)
        if app.state.retrainer is not None:
            app.state.retrainer.stop()
        app.state.warnings.stop()
        app.state.db.dispose()
        app.state.redis.close()

    app = FastAPI(title="12345 坐席工作台", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    app.state.settings = settings
    app.state.line_names, app.state.city_names = settings.line_names, settings.city_names
    app.state.db = Database(settings.database_url)
    app.state.telephony = None  # a TelephonyLink once the AMI listener is connected (``hotline run``)
    app.state.handoffs = Handoffs()  # transfers waiting for the agent's next step
    app.state.redis = settings.sync_redis()
    StatusProjection(app.state.redis).install(app.state.db.sessions)
    warnings_api.install(app)  # early-warning detection after ticket commits (never inside them)
    app.state.retrainer = retrainer_for(settings, app.state.db.sessions)  # None: no models folder set
    install_errors(app)

    routes.install(app)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    pages.install(app)  # last: its static mount at / answers every path no route above took
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes)
    app.add_middleware(NoStore)   # outermost but for the last-resort 500, which sets it itself
    return app
