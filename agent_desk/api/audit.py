"""The audit log for the 审计员 (auditor): ``GET /api/audit`` as JSON, or ``?format=csv`` to export.

Only the auditor reads it. Administrators manage users and could otherwise watch who watches them, so they
are refused like everyone else (separation of duties). Each read of the log is itself written to the log.
Filters: ``user`` (username), ``action``, ``ticket`` (a ticket number: its reads and the searches that
returned it), ``since`` / ``until`` (ISO time), keyset paging with ``before_id``.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session

from agent_desk.api.deps import client_of, require, unit_of_work
from agent_desk.api.schemas import Reply
from agent_desk.auth.need_to_know import REASON_LABELS
from agent_desk.auth.privacy import audit
from agent_desk.auth.roles import Role
from agent_desk.auth.sessions import Principal
from agent_desk.db.models import AuditEntry
from agent_desk.exports import csv_bytes
from agent_desk.settings import PROVINCE_TZ

router = APIRouter()
COLUMNS = ("id", "at", "username", "role", "action", "object_type", "object_id", "reason", "reason_label", "detail",
           "client")
HEADERS = ("编号", "时间", "用户", "角色", "操作", "对象类型", "对象", "理由", "理由说明", "详情", "来源地址")


class AuditQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    user: str | None = Field(None, max_length=64)
    action: str | None = Field(None, pattern=r"^[a-z_]{1,32}$")
    ticket: str | None = Field(None, pattern=r"^\d{14}$")
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    before_id: int | None = Field(None, ge=1, le=2**31 - 1)   # a database integer
    limit: int = Field(100, ge=1, le=5000)
    format: Literal["json", "csv"] = "json"


class AuditRow(Reply):
    id: int
    at: str
    username: str
    role: str
    action: str = Field(description="操作，例如 read_personal_data、read_denied、search_tickets、create_user")
    object_type: str
    object_id: str
    reason: str = Field(description="理由代码（及通话编号）")
    reason_label: str
    detail: str
    client: str = Field(description="来源地址")


class AuditPage(Reply):
    items: list[AuditRow]
    next_before_id: int | None


@router.get("/audit", summary="审计日志", response_model=AuditPage,
            responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}},
                             "description": "JSON；format=csv 时为 CSV 文件（UTF-8，带 BOM，公式已中和）"}})
def read_log(request: Request, query: AuditQuery = Depends(), who: Principal = Depends(require(Role.AUDITOR)),
             session: Session = Depends(unit_of_work, scope="function")) -> AuditPage | Response:
    """审计员查阅、导出审计日志（谁、何时、对什么、为什么）。管理员无权查阅。每次查阅本身也记入日志。"""
    rows = session.scalars(_statement(query).limit(query.limit + 1)).all()
    page = rows[: query.limit]
    filters = query.model_dump(mode="json", exclude_defaults=True)
    audit(session, who, "read_audit_log", "audit_log", query.format,
          json.dumps(filters, ensure_ascii=False, sort_keys=True), client_of(request), "auditor")
    items = [_item(r) for r in page]
    if query.format == "csv":
        disposition = 'attachment; filename="hotline-audit-log.csv"'
        return Response(_csv(items), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": disposition, "Cache-Control": "no-store"})
    return AuditPage(items=[AuditRow.model_validate(i) for i in items],
                     next_before_id=page[-1].id if len(rows) > query.limit else None)


def _statement(query: AuditQuery) -> Select:
    stmt = select(AuditEntry).order_by(AuditEntry.id.desc())
    if query.user:
        stmt = stmt.where(AuditEntry.username == query.user)
    if query.action:
        stmt = stmt.where(AuditEntry.action == query.action)
    if query.ticket:  # a single read names it in object_id; a search lists it in detail
        stmt = stmt.where(or_(AuditEntry.object_id == query.ticket, AuditEntry.detail.contains(query.ticket)))
    if query.since:
        stmt = stmt.where(AuditEntry.at >= _aware(query.since))
    if query.until:
        stmt = stmt.where(AuditEntry.at < _aware(query.until))
    if query.before_id:
        stmt = stmt.where(AuditEntry.id < query.before_id)
    return stmt


def _aware(value: dt.datetime) -> dt.datetime:
    """A time without a zone is the province's (the columns refuse naive values)."""
    return value.replace(tzinfo=PROVINCE_TZ) if value.tzinfo is None else value


def _item(row: AuditEntry) -> dict:
    code = row.reason.split(" ", 1)[0]
    return {"id": row.id, "at": row.at.isoformat(), "username": row.username, "role": row.role,
            "action": row.action, "object_type": row.object_type, "object_id": row.object_id,
            "reason": row.reason, "reason_label": REASON_LABELS.get(code, ""), "detail": row.detail,
            "client": row.client}


def _csv(items: list[dict]) -> bytes:
    """Like the reports: UTF-8 with a BOM, no cell a spreadsheet would run as a formula."""
    return csv_bytes([HEADERS, *([item[c] for c in COLUMNS] for item in items)])
