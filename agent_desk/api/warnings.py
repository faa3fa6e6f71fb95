"""Early warning (未诉先办) for supervisors: the active alerts, a scan now, acknowledging an alert."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Body, Depends, FastAPI, Path, Request
from pydantic import BaseModel, ConfigDict, Field
from redis.exceptions import RedisError
from sqlalchemy.orm import Session

from agent_desk.api.deps import client_of, require, unit_of_work
from agent_desk.auth.privacy import audit
from agent_desk.auth.roles import WATCHERS
from agent_desk.auth.sessions import Principal
from agent_desk.errors import DeskError
from agent_desk.supervision.warnings import EarlyWarning

router = APIRouter(prefix="/warnings")
UNAVAILABLE = ("warnings_unavailable", "预警数据暂时无法读取（Redis 无法连接），请稍后重试")


def install(app: FastAPI) -> None:
    """The detector on ``app.state.warnings``, its hooks on the app's sessions (the lifespan starts/stops it)."""
    settings = app.state.settings
    app.state.warnings = EarlyWarning(app.state.db.sessions, app.state.redis, settings.warning_rules)
    app.state.warnings.install(app.state.db.sessions)


def detector(request: Request) -> EarlyWarning:
    return request.app.state.warnings


class AckBody(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    note: str = Field("", max_length=500, description="what was done, e.g. 已通知水务局核查")


@router.get("")
def active(who: Principal = Depends(require(*WATCHERS)), warnings: EarlyWarning = Depends(detector)) -> dict:
    try:
        items = warnings.store.active()
    except RedisError:
        raise DeskError(503, *UNAVAILABLE) from None
    return {"items": items, "rules": [rule.model_dump() for rule in warnings.rules]}


@router.post("/scan")
def scan(who: Principal = Depends(require(*WATCHERS)), warnings: EarlyWarning = Depends(detector)) -> dict:
    result = warnings.scan()
    return {"items": result.alerts, "changed": [a["id"] for a in result.changed], "tickets_scanned": result.tickets,
            "stored": result.stored, "elapsed_ms": round(result.elapsed_ms, 1)}


@router.post("/{alert_id}/ack")
def acknowledge(request: Request, alert_id: str = Path(..., pattern=r"^w[0-9a-f]{15}$"),
                body: AckBody = Body(default_factory=AckBody), who: Principal = Depends(require(*WATCHERS)),
                session: Session = Depends(unit_of_work, scope="function"), warnings: EarlyWarning = Depends(detector)) -> dict:
    try:
        alert = warnings.store.get(alert_id)
        if alert is None:
            raise DeskError(404, "unknown_warning", f"预警“{alert_id}”不存在或已处理")
        # audited first: if the acknowledgement fails, the request fails and the audit entry is rolled back
        audit(session, who, "ack_warning", "warning", alert_id,
              f"{alert['title']}; 工单 {','.join(alert['tickets'])}" + (f"; {body.note}" if body.note else ""),
              client_of(request))
        session.flush()
        alert = warnings.store.acknowledge(alert_id, who.username, dt.datetime.now(dt.timezone.utc), body.note)
    except RedisError:
        raise DeskError(503, *UNAVAILABLE) from None
    if alert is None:  # acknowledged by someone else meanwhile
        raise DeskError(404, "unknown_warning", f"预警“{alert_id}”不存在或已处理")
    return alert
