"""智能回访 campaigns (supervisors), the 人工回访复核 worklist and 不再回访 (agents and supervisors).

The contract the supervisor's campaign page is built against: ``GET/POST /campaigns``, ``GET /campaigns/{id}``,
``POST /campaigns/{id}/pause|resume``, ``GET /campaigns/{id}/items``; ``POST /callbacks/opt-outs``. Numbers are
always masked here (nobody needs them: the desk dials what the ticket holds); every read of items is audited.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Request
from pydantic import Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from agent_desk.api.deps import client_of, require, unit_of_work
from agent_desk.api.schemas import Body, Reply
from agent_desk.auth import need_to_know as ntk
from agent_desk.auth.privacy import audit
from agent_desk.auth.roles import Role
from agent_desk.auth.sessions import Principal
from agent_desk.callbacks import campaign as cp
from agent_desk.callbacks import texts
from agent_desk.callbacks.revisit import record_opt_out
from agent_desk.callbacks.rules import CallbackPolicy
from agent_desk.db import models as m
from agent_desk.errors import DeskError
from agent_desk.tickets import lifecycle as lc
from hotline.privacy import mask_phone

router = APIRouter()
CAMPAIGN_ID = Path(..., ge=1, le=2**31 - 1, description="回访任务编号")
CLOCK = r"^([01]\d|2[0-3]):[0-5]\d$"


class Progress(Reply):
    total: int
    pending: int = Field(description="待呼叫（含结果未知、等待重呼）")
    calling: int
    done: int
    reached: int = Field(description="市民已接听")
    satisfied: int
    basically_satisfied: int
    unsatisfied: int
    unsolved: int
    no_answer: int
    opted_out: int
    to_agent: int


class Campaign(Reply):
    id: int
    name: str
    state: Literal["running", "paused", "finished"]
    state_label: str
    created_at: str
    created_by_name: str
    max_channels: int
    attempts: int
    window_start: str
    window_end: str
    in_window: bool = Field(description="现在处于外呼时段内（且不在免打扰时段）")
    progress: Progress


class Campaigns(Reply):
    items: list[Campaign]


class CampaignItem(Reply):
    ticket_number: str
    caller_masked: str = Field(description="市民号码（脱敏）")
    state: str
    attempts: int
    outcome: str | None
    outcome_label: str | None
    verdict: str | None
    verdict_label: str | None
    updated_at: str


class CampaignItems(Reply):
    items: list[CampaignItem]


class ReviewItem(Reply):
    ticket_number: str
    title: str
    caller_masked: str
    campaign_id: int
    digits: str = Field(description="市民在智能回访中的按键")
    said: str = Field(description="语音回答：语音识别听到的市民回答（按作答顺序，以“ / ”分隔，号码已脱敏）；"
                                   "只按键时为空")
    outcome: str | None
    outcome_label: str | None
    verdict: str | None
    verdict_label: str | None
    updated_at: str


class Reviews(Reply):
    items: list[ReviewItem]


class NewCampaign(Body):
    name: str = Field(min_length=1, max_length=64)
    ticket_numbers: list[Annotated[str, Field(pattern=r"^\d{14}$")]] | None = Field(
        None, max_length=5000, description="为空则为当前全部待回访工单")
    max_channels: int = Field(ge=1, le=1000)
    attempts: int = Field(ge=1, le=10)
    window_start: str = Field(pattern=CLOCK)
    window_end: str = Field(pattern=CLOCK)


class OptOutBody(Body):
    ticket_number: str = Field(pattern=r"^\d{14}$")
    reason: str = Field(min_length=1, max_length=500)


class OptOut(Reply):
    ticket_number: str
    caller_masked: str
    message: str


def _policy(request: Request) -> CallbackPolicy:
    return request.app.state.settings.callbacks


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _campaign(request: Request, session: Session, row: m.RevisitCampaign, now: dt.datetime) -> Campaign:
    creator = session.get(m.User, row.created_by_id)
    return Campaign(id=row.id, name=row.name, state=row.state,
                    state_label=texts.CAMPAIGN_STATE_LABELS[row.state], created_at=row.created_at.isoformat(),
                    created_by_name=creator.display_name if creator else "", max_channels=row.max_channels,
                    attempts=row.attempts, window_start=row.window_start, window_end=row.window_end,
                    in_window=cp.in_window(now, row.window_start, row.window_end, _policy(request)),
                    progress=Progress(**cp.progress(cp.items(session, row.id))))


def _labels(outcome: str | None, verdict: str | None) -> dict[str, Any]:
    return {"outcome": outcome, "outcome_label": texts.ITEM_OUTCOME_LABELS.get(outcome) if outcome else None,
            "verdict": verdict, "verdict_label": texts.VERDICT_LABELS.get(verdict) if verdict else None}


@router.get("/campaigns", summary="智能回访任务列表")
def list_campaigns(request: Request, who: Principal = Depends(require(Role.SUPERVISOR)),
                   session: Session = Depends(unit_of_work, scope="function")) -> Campaigns:
    """全部智能回访任务及进度（不含个人信息）。"""
    now = _now()
    rows = session.scalars(select(m.RevisitCampaign).order_by(m.RevisitCampaign.id.desc()).limit(200)).all()
    return Campaigns(items=[_campaign(request, session, row, now) for row in rows])


@router.post("/campaigns", summary="新建智能回访任务", status_code=201)
def create_campaign(request: Request, body: NewCampaign, who: Principal = Depends(require(Role.SUPERVISOR)),
                    session: Session = Depends(unit_of_work, scope="function")) -> Campaign:
    """以当前全部待回访工单（或指定工单）新建任务，立即按外呼时段、免打扰时段和最大并发数开始外呼。
    号码无效、已申请不再回访或已在其他任务中的工单记为已完成，不外呼。"""
    now = _now()
    plan = cp.Plan(name=body.name, ticket_numbers=body.ticket_numbers, max_channels=body.max_channels,
                   attempts=body.attempts, window_start=body.window_start, window_end=body.window_end)
    row = cp.create(session, plan, who.user_id, _policy(request), now)
    audit(session, who, "revisit_campaign_create", "revisit_campaign", str(row.id), body.name, client_of(request),
          "platform")
    return _campaign(request, session, row, now)


@router.get("/campaigns/{campaign_id}", summary="智能回访任务")
def read_campaign(request: Request, campaign_id: int = CAMPAIGN_ID, who: Principal = Depends(require(Role.SUPERVISOR)),
                  session: Session = Depends(unit_of_work, scope="function")) -> Campaign:
    return _campaign(request, session, cp.get(session, campaign_id), _now())


def _set_state(request: Request, session: Session, who: Principal, campaign_id: int, state: str) -> Campaign:
    row = cp.get(session, campaign_id)
    cp.set_state(session, row, state)
    audit(session, who, f"revisit_campaign_{state}", "revisit_campaign", str(row.id), "", client_of(request),
          "platform")
    return _campaign(request, session, row, _now())


@router.post("/campaigns/{campaign_id}/pause", summary="暂停智能回访任务")
def pause(request: Request, campaign_id: int = CAMPAIGN_ID, who: Principal = Depends(require(Role.SUPERVISOR)),
          session: Session = Depends(unit_of_work, scope="function")) -> Campaign:
    """暂停后不再发起新的呼叫；正在进行的通话照常结束并记录。"""
    return _set_state(request, session, who, campaign_id, cp.PAUSED)


@router.post("/campaigns/{campaign_id}/resume", summary="继续智能回访任务")
def resume(request: Request, campaign_id: int = CAMPAIGN_ID, who: Principal = Depends(require(Role.SUPERVISOR)),
           session: Session = Depends(unit_of_work, scope="function")) -> Campaign:
    return _set_state(request, session, who, campaign_id, cp.RUNNING)


@router.get("/campaigns/{campaign_id}/items", summary="智能回访任务明细")
def campaign_items(request: Request, campaign_id: int = CAMPAIGN_ID,
                   who: Principal = Depends(require(Role.SUPERVISOR)),
                   session: Session = Depends(unit_of_work, scope="function")) -> CampaignItems:
    """每张工单的外呼状态、次数、结果与回访结论（号码脱敏）。读取留痕。"""
    row = cp.get(session, campaign_id)
    items = []
    for item in cp.items(session, row.id):
        ticket = session.get(m.Ticket, item.ticket_id)
        assert ticket is not None
        items.append(CampaignItem(ticket_number=ticket.number, caller_masked=mask_phone(item.caller),
                                  state=item.state, attempts=item.attempts, updated_at=item.updated_at.isoformat(),
                                  **_labels(item.outcome, item.verdict)))
    audit(session, who, "read_personal_data", "revisit_campaign", str(row.id), "items", client_of(request), "platform")
    return CampaignItems(items=items)


@router.get("/revisits/reviews", summary="人工回访复核")
def reviews(request: Request, who: Principal = Depends(require(Role.AGENT, Role.SUPERVISOR)),
            session: Session = Depends(unit_of_work, scope="function")) -> Reviews:
    """智能回访中市民表示未解决、不满意或转人工、且工单仍待回访的：由坐席回访并登记结论（不满意时写明原因）。读取留痕。"""
    rows = session.execute(
        select(m.RevisitItem, m.Ticket).join(m.Ticket, m.RevisitItem.ticket_id == m.Ticket.id)
        .where(m.RevisitItem.needs_review.is_(True), m.Ticket.state == lc.State.AWAITING_CALLBACK.value)
        .order_by(m.RevisitItem.updated_at).limit(500)).all()
    said = _said(session, [item for item, _ticket in rows])
    items = [ReviewItem(ticket_number=ticket.number, title=ticket.title, caller_masked=mask_phone(item.caller),
                        campaign_id=item.campaign_id, digits=item.digits, said=said.get(item.id, ""),
                        updated_at=item.updated_at.isoformat(), **_labels(item.outcome, item.verdict))
             for item, ticket in rows]
    audit(session, who, "read_personal_data", "revisit_reviews", "worklist",
          ",".join(i.ticket_number for i in items)[:2000], client_of(request),
          "platform" if who.role == Role.SUPERVISOR else "revisit_review")
    return Reviews(items=items)


def _said(session: Session, items: list[m.RevisitItem]) -> dict[int, str]:
    """What the speech engine heard of each item's answers (item id → text, numbers masked: a list shows them
    masked, as transcript search does), from the ticket's history: the ``revisit_call`` note that carries the
    call's answers, of the item's last call (``out_id``), or the latest when the item names none. Read from the
    history rather than copied onto the item: the note is where the verdict was recorded; no migration needed."""
    if not items:
        return {}
    notes: dict[int, list[dict[str, Any]]] = {}
    for ticket_id, data in session.execute(
            select(m.TicketEvent.ticket_id, m.TicketEvent.data)
            .where(m.TicketEvent.ticket_id.in_({i.ticket_id for i in items}), m.TicketEvent.action == "revisit_call")
            .order_by(m.TicketEvent.ticket_id, m.TicketEvent.seq.desc())):
        if isinstance(data, dict) and "result" in data:   # the note of a call the citizen answered keys/voice in
            notes.setdefault(ticket_id, []).append(data)
    found = {}
    for item in items:
        answered = notes.get(item.ticket_id, [])
        if item.out_id:   # that call's own note only: another campaign's call of the ticket is not this verdict
            answered = [d for d in answered if d.get("out_id") == item.out_id]
        note = answered[0] if answered else None
        if note is not None and note.get("said"):
            found[item.id] = ntk.mask_numbers(str(note["said"]))
    return found


@router.post("/callbacks/opt-outs", summary="登记不再回访", status_code=201)
def opt_out(request: Request, body: OptOutBody, who: Principal = Depends(require(Role.AGENT, Role.SUPERVISOR)),
            session: Session = Depends(unit_of_work, scope="function")) -> OptOut:
    """市民要求不再回访：该工单的号码此后不再被智能回访外呼，原因记入工单办理记录。话务员只能登记本人可见的工单。"""
    ticket = session.scalar(select(m.Ticket).where(m.Ticket.number == body.ticket_number))
    if ticket is None:
        raise DeskError(404, "unknown_ticket", texts.UNKNOWN_TICKET.format(number=body.ticket_number))
    grant = ntk.ticket_grant(session, who, ticket, by_number=True)
    if grant is None:
        raise DeskError(404, "unknown_ticket", texts.UNKNOWN_TICKET.format(number=body.ticket_number))
    row = record_opt_out(session, "", ticket, "agent", body.reason, who.user_id, _now())
    if row is None:
        raise DeskError(422, "number_empty", texts.NUMBER_REFUSED["empty"])
    audit(session, who, "revisit_opt_out", "ticket", ticket.number, body.reason[:200], client_of(request),
          grant.audit_reason)
    return OptOut(ticket_number=ticket.number, caller_masked=mask_phone(row.caller), message=texts.OPTED_OUT)
