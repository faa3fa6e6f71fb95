"""Application factory of the agent desk. Settings are built once by the caller and passed in."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import FastAPI


@dataclass(frozen=True)
class DeskSettings:
    database_url: str
    redis_url: str


def create_app(settings: DeskSettings) -> FastAPI:
    app = FastAPI(title="12345 坐席工作台", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.settings = settings

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
