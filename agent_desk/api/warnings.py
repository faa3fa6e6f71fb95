"""Early warning (未诉先办) for supervisors: the active alerts, a scan now, acknowledging an alert."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from fastapi import APIRouter, Body, Depends, FastAPI, Path, Request
from pydantic import Field
from redis.exceptions import RedisError
from sqlalchemy.orm import Session

from agent_desk.api import schemas
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
    found: EarlyWarning = request.app.state.warnings  # set by ``install``
    return found


# ── requests and replies ─────────────────────────────────────────────────────
class AckBody(schemas.Body):
    note: str = Field("", max_length=500, description="处理情况，例如“已通知水务局核查”；可为空")


class Alert(schemas.Reply):
    """一条预警：同一区域、同一时间窗内相似诉求的聚集。只含工单编号，不含个人信息。"""

    id: str = Field(description="预警编号（同一聚集增长时保持不变）")
    rule: str = Field(description="触发的规则代码")
    rule_label: str = Field(description="规则中文名称，例如“乡镇聚集”")
    title: str = Field(description="预警标题，例如“嘉积镇 24小时内 6 件“自来水、发黄”相关诉求”")
    area: str = Field(description="区域（乡镇或区县）代码")
    area_name: str = Field(description="区域名称")
    topic: str = Field(description="聚集工单中最多的诉求事项代码；无事项时为空字符串")
    topic_name: str = Field(description="该诉求事项的名称")
    keywords: list[str] = Field(description="多数工单共有的关键词（共同关键词），按说话顺序")
    count: int = Field(description="聚集的工单数")
    window_hours: int = Field(description="时间窗（小时）")
    first_at: str = Field(description="最早一件工单的受理时间（ISO 8601，省内时间）")
    last_at: str = Field(description="最晚一件工单的受理时间（ISO 8601，省内时间）")
    tickets: list[str] = Field(description="聚集的工单编号")
    raised_at: str | None = Field(description="首次预警的时间（ISO 8601，省内时间）；扫描结果中已确认且未再增长、"
                                              "或未能保存的预警为 null")
    acknowledged_by: str | None = Field(description="确认处理的用户名；未确认时为 null")
    acknowledged_at: str | None = Field(description="确认处理的时间（ISO 8601，省内时间）；未确认时为 null")


class AcknowledgedAlert(Alert):
    note: str = Field(description="确认时填写的处理情况")


class AlertRule(schemas.Reply):
    """一条预警规则（站点配置 warning_rules）。"""

    name: str = Field(description="规则代码")
    label: str = Field(description="规则中文名称，随预警显示")
    area: Literal["town", "county"] = Field(description="聚集的区域：town 乡镇（街道），county 区县")
    window_hours: int = Field(description="时间窗（小时）")
    min_count: int = Field(description="至少多少件相似诉求才预警")
    similarity: float = Field(description="文字相似度阈值（标题与内容的二字词集合的 Jaccard 系数，0 至 1）")
    link_topic: bool = Field(description="同一诉求事项即视为相似")
    link_matter: bool = Field(description="同一诉求（同一市民、事项、地点）即视为相似")


class ActiveAlerts(schemas.Reply):
    items: list[Alert] = Field(description="未确认的预警，最晚一件工单最近的在前")
    rules: list[AlertRule] = Field(description="正在使用的预警规则")


class ScanReply(schemas.Reply):
    items: list[Alert] = Field(description="本次扫描发现的全部预警")
    changed: list[str] = Field(description="本次新发出或有变化的预警编号")
    tickets_scanned: int = Field(description="扫描的工单数")
    stored: bool = Field(description="结果已保存并推送；为 false 表示实时数据（Redis）暂不可用，预警只记入日志")
    elapsed_ms: float = Field(description="扫描耗时（毫秒）")


# ── endpoints ────────────────────────────────────────────────────────────────
@router.get("", summary="当前预警")
def active(who: Principal = Depends(require(*WATCHERS)), warnings: EarlyWarning = Depends(detector)) -> ActiveAlerts:
    """未诉先办：尚未确认处理的预警，以及正在使用的预警规则。新预警与预警撤销也经 WebSocket `/ws/wallboard` 推送
    （`type` 为 alert 或 alert_cleared）。"""
    try:
        items = warnings.store.active()
    except RedisError:
        raise DeskError(503, *UNAVAILABLE) from None
    return ActiveAlerts.model_validate({"items": items, "rules": [rule.model_dump() for rule in warnings.rules]})


@router.post("/scan", summary="立即扫描")
def scan(who: Principal = Depends(require(*WATCHERS)), warnings: EarlyWarning = Depends(detector)) -> ScanReply:
    """按全部规则立即扫描全部区域：保存并推送新的或有变化的预警，撤销聚集已不存在（离开时间窗）的预警。
    平时新工单保存后会自动评估，一般无需手动扫描。"""
    result = warnings.scan()
    return ScanReply(items=[Alert.model_validate(a) for a in result.alerts], changed=[a["id"] for a in result.changed],
                     tickets_scanned=result.tickets, stored=result.stored, elapsed_ms=round(result.elapsed_ms, 1))


@router.post("/{alert_id}/ack", summary="确认处理预警")
def acknowledge(request: Request, alert_id: str = Path(..., pattern=r"^w[0-9a-f]{15}$", description="预警编号"),
                body: AckBody = Body(default_factory=AckBody), who: Principal = Depends(require(*WATCHERS)),
                session: Session = Depends(unit_of_work, scope="function"),
                warnings: EarlyWarning = Depends(detector)) -> AcknowledgedAlert:
    """确认已处理一条预警（可填写处理情况）：预警从当前预警中移除，并记入审计日志。此后同一聚集的工单数超过确认时的
    件数，会再次预警。预警不存在或已被他人确认时返回 404。"""
    try:
        alert = warnings.store.get(alert_id)
        if alert is None:
            raise DeskError(404, "unknown_warning", f"预警“{alert_id}”不存在或已处理")
        # audited first: if the acknowledgement fails, the request fails and the audit entry is rolled back
        audit(session, who, "ack_warning", "warning", alert_id,
              f"{alert['title']}; 工单 {','.join(alert['tickets'])}" + (f"; {body.note}" if body.note else ""),
              client_of(request))
        session.flush()
        alert = warnings.store.acknowledge(alert_id, who.username, dt.datetime.now(dt.UTC), body.note)
    except RedisError:
        raise DeskError(503, *UNAVAILABLE) from None
    if alert is None:  # acknowledged by someone else meanwhile
        raise DeskError(404, "unknown_warning", f"预警“{alert_id}”不存在或已处理")
    return AcknowledgedAlert.model_validate(alert)
