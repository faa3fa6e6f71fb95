"""The supervisor's home (待办): GET /worklists, the work queues with their counts and oldest items."""

from __future__ import annotations

import json
from typing import Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import Field
from redis.exceptions import RedisError
from sqlalchemy.orm import Session

from agent_desk.api.deps import client_of, require, unit_of_work
from agent_desk.api.schemas import Reply
from agent_desk.auth import need_to_know as ntk
from agent_desk.auth.privacy import audit
from agent_desk.auth.roles import Role
from agent_desk.auth.sessions import Principal
from agent_desk.supervision import worklists

router = APIRouter()


class WorkItem(Reply):
    """队列中的一项：一张工单（不含个人信息），或一条预警。"""

    number: str | None = Field(description="工单编号；预警为 null")
    warning_id: str | None = Field(description="预警编号；工单为 null")
    title: str
    state: str | None = Field(description="工单状态代码（词表 ticket_states）；预警为 null")
    state_label: str | None
    host_unit_name: str | None = Field(description="主办单位名称")
    since: str = Field(description="开始等待的时间（ISO 8601）：进入当前状态、最近一次升级、办理时限（超期）"
                                   "或预警发出的时间")
    due_at: str | None = Field(description="办理时限（ISO 8601）")
    overdue: bool = Field(description="承办期间已超过办理时限")


class WorkQueue(Reply):
    key: Literal["review", "returns", "callbacks", "overdue", "escalated", "warnings"] = Field(
        description="review 答复待审核、returns 退单待审核、callbacks 待回访、overdue 超期、escalated 已升级、"
                    "warnings 预警")
    label: str
    description: str
    count: int | None = Field(description="件数；数据暂时无法读取时为 null")
    available: bool = Field(description="false：该队列的数据暂时无法读取（见 note）")
    note: str | None
    list_filter: dict[str, str] | None = Field(
        description="在“工单查询”中列出该队列全部工单的查询条件；无对应条件时为 null")
    items: list[WorkItem] = Field(description="等待最久的在前")


class WorkQueues(Reply):
    generated_at: str = Field(description="统计时间（ISO 8601）")
    queues: list[WorkQueue]


@router.get("/worklists", summary="我的待办（工作队列）")
def work_queues(request: Request, limit: int = Query(5, ge=1, le=worklists.MAX_ITEMS, description="每个队列列出的件数"),
                who: Principal = Depends(require(Role.SUPERVISOR)),
                session: Session = Depends(unit_of_work, scope="function")) -> WorkQueues:
    """平台管理员的待办：答复待审核、退单待审核、待回访、超期、已升级、预警，各自的件数和等待最久的几项（只含工单编号、
    标题、状态、主办单位和时间，不含市民信息）。件数在数据库中统计；每次读取记入审计日志（列出的工单编号）。"""
    scope = ntk.search_scope(session, who, None, None)
    try:
        alerts = request.app.state.warnings.store.active()
    except RedisError:
        alerts = None   # the ticket queues are still answered; the page says the warnings cannot be read
    found = worklists.work_queues(session, scope.clause, alerts, limit)
    shown = [item["number"] for queue in found["queues"] for item in queue["items"] if item["number"]]
    audit(session, who, "read_worklists", "worklist", "supervisor",
          json.dumps({"numbers": shown, "limit": limit}, ensure_ascii=False), client_of(request), scope.reason)
    return WorkQueues.model_validate(found)
