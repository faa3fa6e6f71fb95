"""回访工作台: the tickets waiting for their callback (待回访) with the unit's reply, and a ticket's 回拨 calls.

Read-only. The verdict itself is recorded through the ticket's lifecycle action ``callback``
(``POST /tickets/{number}/actions/callback``) and the call through ``POST /callbacks/tickets/{number}/call``.
Agents see the 待回访 tickets need-to-know lets them read (their own tickets and calls); supervisors (平台) the
whole province. The citizen's number is always masked here: nobody dials by hand, 回拨 takes the ticket number.
Every read is audited with the ticket numbers returned and the reason.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import Field
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from agent_desk.api.deps import client_of, require, unit_of_work
from agent_desk.api.schemas import Reply
from agent_desk.api.supervision import period
from agent_desk.auth import need_to_know as ntk
from agent_desk.auth.privacy import audit
from agent_desk.auth.roles import Role
from agent_desk.auth.sessions import Principal
from agent_desk.callbacks import store, texts
from agent_desk.callbacks.rules import Outcome
from agent_desk.db import models as m
from agent_desk.errors import DeskError
from agent_desk.names import Names
from agent_desk.supervision import revisits as figures_of
from agent_desk.supervision.periods import Period
from agent_desk.supervision.worklists import _entered_state
from agent_desk.tickets import lifecycle as lc
from hotline.privacy import mask_phone

router = APIRouter(prefix="/revisits")
READERS = (Role.AGENT, Role.SUPERVISOR)
LEADERS = (Role.SUPERVISOR, Role.ADMIN)
NUMBER = Path(..., pattern=r"^\d{14}$", description="工单编号")
ANSWERS = ("reply", "resolve_directly", "host_reply")   # the events that carry the answer the citizen is asked about
MAX_ITEMS = 200


class RevisitItem(Reply):
    """一张待回访的工单：工单、承办单位的答复和回拨情况（号码脱敏）。"""

    number: str
    title: str
    content: str = Field(description="诉求内容")
    state: str
    state_label: str
    host_unit_name: str | None = Field(description="主办单位名称")
    citizen_name: str = Field(description="市民姓名（保密工单不显示）")
    caller_masked: str = Field(description="联系电话（脱敏）；回拨按工单编号拨打，不需要号码")
    callable: bool = Field(description="工单上有联系电话")
    reply: str = Field(description="承办单位的答复（或直接办结的答复）")
    replied_by: str | None = Field(description="答复单位或坐席")
    replied_at: str | None
    waiting_since: str = Field(description="进入待回访的时间（ISO 8601）")
    calls: int = Field(description="已回拨次数")


class RevisitList(Reply):
    items: list[RevisitItem] = Field(description="等待最久的在前")
    total: int = Field(description="可见的待回访工单总数")


class TicketCall(Reply):
    """工单上的一次回拨通话。"""

    out_id: str
    started_at: str
    ended_at: str | None
    agent: str = Field(description="回拨坐席的分机")
    agent_name: str
    status: str = Field(description="ringing_agent / dialing / connected / ended")
    status_label: str
    outcome: str | None
    outcome_label: str | None
    recording: bool


class TicketCalls(Reply):
    number: str
    items: list[TicketCall]


STATUS_LABELS = {"ringing_agent": "振铃您的话机", "dialing": "正在呼叫市民", "connected": "通话中",
                 "ended": "已结束"}


def _answers(session: Session, ids: list[int]) -> dict[int, m.TicketEvent]:
    """The latest answer event of each ticket in ``ids``."""
    latest: dict[int, m.TicketEvent] = {}
    if not ids:
        return latest
    rows = session.scalars(select(m.TicketEvent).where(m.TicketEvent.ticket_id.in_(ids),
                                                       m.TicketEvent.action.in_(ANSWERS))
                           .order_by(m.TicketEvent.ticket_id, m.TicketEvent.seq))
    for row in rows:
        latest[row.ticket_id] = row
    return latest


def _answer_text(event: m.TicketEvent | None) -> str:
    if event is None:
        return ""
    data = event.data or {}
    return str(data.get("content") or data.get("answer") or "")


@router.get("", summary="待回访工单列表")
def revisit_list(request: Request, limit: int = Query(50, ge=1, le=MAX_ITEMS, description="列出的件数"),
                 who: Principal = Depends(require(*READERS)),
                 session: Session = Depends(unit_of_work, scope="function")) -> RevisitList:
    """待回访（awaiting_callback）的工单，等待最久的在前：工单、承办单位的答复、已回拨次数。话务员只看到本人受理或
    接听的工单，平台看到全省。号码一律脱敏。读取留痕（列出的工单编号）。"""
    scope = ntk.search_scope(session, who, None, None)
    where = [m.Ticket.state == lc.State.AWAITING_CALLBACK.value, scope.clause]
    since = _entered_state().label("since")
    total = session.scalar(select(func.count()).select_from(m.Ticket).where(*where)) or 0
    found = session.execute(select(m.Ticket, since).where(*where).order_by(since, m.Ticket.id).limit(limit)).all()
    tickets = [row[0] for row in found]
    answers = _answers(session, [t.id for t in tickets])
    calls = dict(session.execute(select(m.CallbackCall.ticket_id, func.count()).where(
        m.CallbackCall.ticket_id.in_([t.id for t in tickets])).group_by(m.CallbackCall.ticket_id)).all())
    units = {u.id: u.name for u in session.scalars(select(m.OrgUnit).where(
        m.OrgUnit.id.in_({t.host_unit_id for t in tickets if t.host_unit_id is not None})))}
    names = Names(session)
    items: list[dict[str, Any]] = []
    for ticket, entered in found:
        answer = answers.get(ticket.id)
        items.append({
            "number": ticket.number, "title": ticket.title, "content": ticket.content, "state": ticket.state,
            "state_label": lc.STATE_LABELS[lc.State(ticket.state)],
            "host_unit_name": units.get(ticket.host_unit_id) if ticket.host_unit_id is not None else None,
            "citizen_name": "" if ticket.confidential else ticket.citizen_name,
            "caller_masked": mask_phone(ticket.citizen_phone) if ticket.citizen_phone else "",
            "callable": bool(ticket.citizen_phone), "reply": _answer_text(answer),
            "replied_by": None if answer is None else names.person(answer.actor)
            if answer.action == "resolve_directly" else units.get(ticket.host_unit_id or 0),
            "replied_at": answer.at.isoformat() if answer is not None else None,
            "waiting_since": entered.isoformat(),
            "calls": calls.get(ticket.id, 0),
        })
    audit(session, who, "read_revisits", "worklist", "revisits",
          json.dumps({"numbers": [i["number"] for i in items], "limit": limit}, ensure_ascii=False),
          client_of(request), scope.reason)
    return RevisitList(items=[RevisitItem.model_validate(i) for i in items], total=total)


@router.get("/tickets/{number}/calls", summary="工单的回拨通话")
def ticket_calls(request: Request, number: str = NUMBER, who: Principal = Depends(require(*READERS)),
                 session: Session = Depends(unit_of_work, scope="function")) -> TicketCalls:
    """工单上的回拨通话（时间、坐席、进展、结果），用于工单的办理记录。按工单的查阅权限（need-to-know）；读取留痕。"""
    ticket = session.scalar(select(m.Ticket).where(m.Ticket.number == number))
    grant = ntk.ticket_grant(session, who, ticket, by_number=True) if ticket is not None else None
    if ticket is None or grant is None:
        raise DeskError(404, "unknown_ticket", texts.UNKNOWN_TICKET.format(number=number))
    rows = store.calls_of(session, ticket_id=ticket.id)
    names = {u.id: u.display_name or u.username for u in session.scalars(select(m.User).where(
        m.User.id.in_({r.agent_user_id for r in rows})))}
    items = [TicketCall(out_id=r.out_id, started_at=r.started_at.isoformat(),
                        ended_at=r.ended_at.isoformat() if r.ended_at else None, agent=r.agent_extension,
                        agent_name=names.get(r.agent_user_id, ""), status=r.status,
                        status_label=STATUS_LABELS.get(r.status, r.status), outcome=r.outcome,
                        outcome_label=texts.OUTCOME_LABELS[Outcome(r.outcome)] if r.outcome else None,
                        recording=bool(r.recording)) for r in rows]
    audit(session, who, "read_ticket_calls", "ticket", number, ",".join(i.out_id for i in items)[:2000],
          client_of(request), grant.audit_reason)
    return TicketCalls(number=number, items=items)


class CoverageFigures(Reply):
    tasks: int = Field(description="有未接来电的来电人数（每人一个回拨任务，按首次未接来电的时间）")
    missed_calls: int
    contacted: int = Field(description="已联系上（回拨接通，或市民再次来电已接通）")
    contacted_within_target: int
    rate: float | None = Field(description="未接来电回拨率：时限内联系上的人数 / 任务数；无任务时为空")
    pending: int
    target_minutes: int


class VerdictMix(Reply):
    """一个承办单位（或合计）的回访情况。"""

    key: str = Field(description="单位代码；direct 为平台直接办结，total 为合计")
    name: str
    reached: int = Field(description="周期内进入待回访的工单数")
    verdicts: int = Field(description="其中已登记回访结果的")
    unverdicted: int
    rate: float | None = Field(description="回访率：已回访 / 进入待回访")
    satisfied: int
    basically_satisfied: int
    unsatisfied: int
    solved: int
    unsolved: int
    satisfaction: float | None = Field(description="回访满意率：（满意 + 基本满意）/ 已回访")


class RevisitFigures(Reply):
    period: str
    coverage: CoverageFigures
    total: VerdictMix
    units: list[VerdictMix] = Field(description="按承办单位，进入待回访多的在前")


@router.get("/figures", summary="回拨率、回访率与回访结果（按承办单位）")
def revisit_figures(request: Request, when: Period = Depends(period), who: Principal = Depends(require(*LEADERS)),
                    session: Session = Depends(unit_of_work, scope="function")) -> RevisitFigures:
    """统计周期内：未接来电回拨率（时限内联系上 / 有未接来电的来电人），回访率（已登记回访结果 / 进入待回访的工单）与
    回访结果（满意、基本满意、不满意；已解决、未解决），按承办单位。只含数量与比率，不含个人信息。"""
    found = figures_of.figures(session, when, request.app.state.settings.callbacks)
    audit(session, who, "report", "report", "revisits", when.label, client_of(request))
    return RevisitFigures.model_validate(found.to_json())
