"""A supervisor's work queues (待办): what waits on the platform now, each counted in SQL with its oldest items.

The queues (the definitions where the rules are silent):

- ``review`` 答复待审核: state 已答复 (``replied``): the unit answered, the platform approves or sends it back.
- ``returns`` 退单待审核: state 退单申请中 (``return_requested``): the platform agrees or refuses the 退单.
- ``callbacks`` 待回访: state 待回访 (``awaiting_callback``): a merged ticket reached by its host's reply is there
  too, because each citizen is called back on their own ticket.
- ``overdue`` 超期: the unit is handling it past its deadline: states of ``lifecycle.UNIT_HANDLING`` with
  ``due_at`` before now, not merged, the same definition as 管 (``views.process``); oldest = the earliest deadline.
- ``escalated`` 已升级: open tickets escalated above 镇（街道） (``level`` county, city or province), not merged.
- ``warnings`` 预警: the active early warnings (未诉先办, kept in Redis by ``supervision.warnings``), the earliest
  raised first; ``None`` when Redis cannot be read (the other queues are still answered).

"Waiting since" of a state queue is the latest history event that moved the ticket into its current state (the
reply, the 退单 request, the approval …); of ``escalated`` the last 升级. Every count is one ``COUNT(*)`` over the
ticket table with the queue's condition and the reader's scope (``need_to_know.search_scope``); the items are the
``limit`` oldest, read with their unit's name in one query per queue. No ticket row is loaded to count.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import Session, aliased

from agent_desk.db import models as m
from agent_desk.db.base import UtcDateTime
from agent_desk.tickets import lifecycle as lc

T = m.Ticket
HANDLING = sorted(s.value for s in lc.UNIT_HANDLING)
OPEN = sorted(s.value for s in lc.OPEN_STATES)
MAX_ITEMS = 20


def _entered_state() -> ColumnElement[dt.datetime]:
    """When the ticket entered its current state (its creation when the history says nothing)."""
    e = aliased(m.TicketEvent)
    entered = (select(func.max(e.at))
               .where(e.ticket_id == T.id, e.to_state == T.state,
                      or_(e.from_state.is_(None), e.from_state != e.to_state))
               .correlate(T).scalar_subquery())
    return func.coalesce(entered, T.created_at, type_=UtcDateTime())


def _escalated_at() -> ColumnElement[dt.datetime]:
    e = aliased(m.TicketEvent)
    last = (select(func.max(e.at)).where(e.ticket_id == T.id, e.action == "escalate")
            .correlate(T).scalar_subquery())
    return func.coalesce(last, T.created_at, type_=UtcDateTime())


def _due() -> ColumnElement[dt.datetime]:
    return func.coalesce(T.due_at, T.created_at, type_=UtcDateTime())


@dataclass(frozen=True)
class Queue:
    key: str
    label: str
    description: str
    where: Callable[[dt.datetime], list[ColumnElement[bool]]]
    since: Callable[[], ColumnElement[dt.datetime]]
    list_filter: dict[str, str] | None   # the 工单查询 filters that list all of it (None: no filter does)


def _state(state: lc.State) -> Callable[[dt.datetime], list[ColumnElement[bool]]]:
    return lambda _now: [T.state == state.value]


QUEUES = (
    Queue("review", "答复待审核", "承办单位已答复，待平台审核通过或退回", _state(lc.State.REPLIED), _entered_state,
          {"state": lc.State.REPLIED.value}),
    Queue("returns", "退单待审核", "承办单位申请退单，待平台同意或驳回", _state(lc.State.RETURN_REQUESTED),
          _entered_state, {"state": lc.State.RETURN_REQUESTED.value}),
    Queue("callbacks", "待回访", "已办结待回访市民（含随主工单答复的并单工单）", _state(lc.State.AWAITING_CALLBACK),
          _entered_state, {"state": lc.State.AWAITING_CALLBACK.value}),
    # 超期 compares the deadline through coalesce(): SQLite (no ANALYZE) would otherwise walk the due_at index over
    # a year of deadlines instead of the few handling states (bench/worklists.py: 207 → 50 ms over 100k tickets).
    Queue("overdue", "超期工单", "承办单位办理中且已超过办理时限，最早到期的在前",
          lambda now: [T.state.in_(HANDLING), _due() < now, T.due_at.is_not(None), T.merged_into_id.is_(None)],
          _due, {"overdue": "true"}),
    Queue("escalated", "已升级", "升级至县（区）、市或省处理的在办工单",
          lambda _now: [T.state.in_(OPEN), T.level != lc.Level.TOWN.value, T.merged_into_id.is_(None)], _escalated_at,
          None),
)
WARNINGS = ("warnings", "预警", "未诉先办：同一区域短时间内相似诉求的聚集，待确认处理")


def work_queues(session: Session, scope: ColumnElement[bool], alerts: list[dict[str, Any]] | None,
                limit: int = 5, now: dt.datetime | None = None) -> dict[str, Any]:
    """Every queue: its count and its ``limit`` oldest items (``alerts``: the active warnings, None when unreadable)."""
    now = now or dt.datetime.now(dt.UTC)
    limit = max(1, min(limit, MAX_ITEMS))
    queues = [_ticket_queue(session, queue, scope, limit, now) for queue in QUEUES]
    queues.append(_warning_queue(alerts, limit))
    return {"generated_at": now.isoformat(), "queues": queues}


def _ticket_queue(session: Session, queue: Queue, scope: ColumnElement[bool], limit: int,
                  now: dt.datetime) -> dict[str, Any]:
    where = and_(scope, *queue.where(now))
    count = session.scalar(select(func.count()).select_from(T).where(where)) or 0
    since = queue.since().label("since")
    rows = session.execute(select(T.number, T.title, T.state, T.due_at, m.OrgUnit.name, since)
                           .join(m.OrgUnit, m.OrgUnit.id == T.host_unit_id, isouter=True)
                           .where(where).order_by(since, T.id).limit(limit)).all()
    items = []
    for number, title, state, due, unit, waited in rows:
        handling = lc.State(state) in lc.UNIT_HANDLING
        items.append({"number": number, "warning_id": None, "title": title, "state": state,
                      "state_label": lc.STATE_LABELS[lc.State(state)], "host_unit_name": unit,
                      "since": waited.isoformat(), "due_at": due.isoformat() if due else None,
                      "overdue": bool(due is not None and handling and due < now)})
    return {"key": queue.key, "label": queue.label, "description": queue.description, "count": int(count),
            "available": True, "note": None, "list_filter": queue.list_filter, "items": items}


def _warning_queue(alerts: list[dict[str, Any]] | None, limit: int) -> dict[str, Any]:
    key, label, description = WARNINGS
    if alerts is None:
        return {"key": key, "label": label, "description": description, "count": None, "available": False,
                "note": "预警数据暂时无法读取（Redis 无法连接），请稍后刷新", "list_filter": None, "items": []}
    oldest = sorted(alerts, key=lambda a: (a.get("raised_at") or a["first_at"], a["id"]))[:limit]
    items = [{"number": None, "warning_id": a["id"], "title": a["title"], "state": None, "state_label": None,
              "host_unit_name": None, "since": a.get("raised_at") or a["first_at"], "due_at": None, "overdue": False}
             for a in oldest]
    return {"key": key, "label": label, "description": description, "count": len(alerts), "available": True,
            "note": None, "list_filter": None, "items": items}
