"""Ticket use cases: create (from a call or any other channel), act (one lifecycle transition), read, search.

Every function takes the session of one unit of work and the ``Principal`` acting; the API layer only
parses requests and calls these. Rules live in ``lifecycle``; who-may-read-which-ticket (and why) in
``auth.need_to_know``, masking and the audit in ``auth.privacy``: every read here is audited.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any, Literal, NoReturn
from collections.abc import Callable

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session, selectinload

from agent_desk.auth import need_to_know as ntk
from agent_desk.auth.privacy import audit, mask_name, mask_phone
from agent_desk.auth.roles import LIFECYCLE_ROLE, Role
from agent_desk.auth.sessions import Principal
from agent_desk.tickets import transfers
from agent_desk.db import models as m
from agent_desk.errors import DeskError
from agent_desk.settings import PROVINCE_TZ, DeskSettings
from agent_desk.supervision.periods import Day
from agent_desk.tickets import lifecycle as lc
from hotline.reference import topic_names
from hotline.vocab import AppealType
from agent_desk.tickets.status import remember
from agent_desk.tickets.store import UnitCodes, next_number, save, to_domain
from agent_desk.text import ONE_LINE

CHANNELS = ("phone", "web", "wechat", "sms", "email", "app")
APPEAL_TYPES = tuple(AppealType)
APPEAL_LABELS = AppealType.labels()
CHANNEL_LABELS = {"phone": "电话", "web": "网站", "wechat": "微信", "sms": "短信", "email": "电子邮件",
                  "app": "移动端"}


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class TicketDraft(Strict):
    """What an agent saves from the pop, or what another channel submits."""

    channel: Literal["phone", "web", "wechat", "sms", "email", "app"] = "phone"
    call_id: str | None = Field(None, max_length=64, description="HOTLINE_CALL_ID of the call it came from")
    source_line: str | None = Field(None, max_length=16, pattern=r"^\d{3,8}$")
    citizen_name: str = Field("", max_length=64)
    citizen_phone: str = Field("", max_length=32, pattern=r"^[0-9+\-]*$")
    confidential: bool = False
    occurred: str = Field("", max_length=64)
    location: str = Field("", max_length=256)
    location_unit: str | None = Field(None, max_length=64, description="org code of the place (town, district…)")
    title: str = Field(..., min_length=1, max_length=128)
    content: str = Field(..., min_length=1, max_length=20_000)
    demand: str = Field("", max_length=5_000)
    appeal_type: Literal["consultation", "help", "complaint", "suggestion", "other"]
    topic: str = Field("", max_length=64, description="事项分类：分类表（GET /topics）中的代码，或留空")
    urgency: Literal["normal", "urgent", "very_urgent"] = "normal"
    subplatform: str | None = Field(None, max_length=32)
    repeat_of: str | None = Field(None, pattern=r"^\d{14}$", description="the agent links this call to a ticket")
    merge_into: str | None = Field(None, pattern=r"^\d{14}$",
                                   description="并单：保存后并入这张工单（话务员从“可能重复的诉求”中选定）")

    @field_validator("topic")
    @classmethod
    def _known_topic(cls, value: str) -> str:
        """Classifications are chosen from the taxonomy, never typed: free text would reach reports and exports."""
        if value and value not in topic_names():
            raise ValueError(f"事项分类“{value[:20]}”不在分类表中，请从分类表中选择或留空")
        return value


@dataclass(frozen=True)
class Created:
    ticket: m.Ticket
    created: bool              # False: a repeat of a sealed appeal, linked to the existing ticket instead
    linked_to: str | None = None
    merged_into: str | None = None   # 并单 done with the save
    merge_error: str | None = None   # 并单 asked for and refused: the ticket is saved all the same


def matter_key(phone: str, topic: str, location: str) -> str:
    """The same appeal again: same citizen, same topic, same place."""
    raw = "|".join(part.strip() for part in (phone, topic, location))
    return hashlib.sha256(raw.encode()).hexdigest()[:32]


def _now() -> dt.datetime:
    return dt.datetime.now(PROVINCE_TZ)


def create(session: Session, who: Principal, draft: TicketDraft, now: dt.datetime | None = None) -> Created:
    if who.role not in (Role.AGENT, Role.SUPERVISOR, Role.GATEWAY):
        raise DeskError(403, "forbidden_role", "只有话务员、平台人员和渠道接入可以登记工单")
    if who.role == Role.GATEWAY and (draft.channel == "phone" or draft.call_id or draft.repeat_of or draft.merge_into):
        raise DeskError(422, "gateway_channel", "渠道接入只能登记网站、微信、短信、电子邮件或移动端工单")
    now = now or _now()
    units = UnitCodes(session)
    key = matter_key(draft.citizen_phone, draft.topic, draft.location) if draft.citizen_phone else ""
    call = None
    if draft.call_id:
        call = session.scalar(select(m.Call).where(m.Call.call_id == draft.call_id))
        if call is None:
            raise DeskError(404, "unknown_call", f"通话“{draft.call_id}”不存在")
    sealed = _sealed_repeat(session, draft, key)
    if sealed is not None:
        _record_repeat(session, who, sealed, draft, call, now)
        remember(session, sealed.number)
        return Created(sealed, created=False, linked_to=sealed.number)
    try:
        location_unit_id = units.id(draft.location_unit)
    except lc.TransitionError as exc:
        raise DeskError(422, exc.code, exc.message) from None
    domain = lc.Ticket.accept(next_number(session, now), draft.appeal_type, now, who.username, draft.urgency)
    row = m.Ticket(
        number=domain.number, channel=draft.channel, source_line=draft.source_line or (call.line if call else None),
        call=call, citizen_name=draft.citizen_name, citizen_phone=draft.citizen_phone,
        confidential=draft.confidential, occurred=draft.occurred, location=draft.location,
        location_unit_id=location_unit_id, title=draft.title, content=draft.content, demand=draft.demand,
        appeal_type=draft.appeal_type, topic=draft.topic, urgency=draft.urgency,
        subplatform=draft.subplatform or (call.subplatform if call else None), matter_key=key,
        state=domain.state.value, created_by_id=who.user_id, created_at=now, updated_at=now,
    )
    session.add(row)
    save(session, row, domain, units, now)
    if call is not None and call.transfers:
        transfers.copy_to_new_ticket(session, row, call)  # its hand-offs so far belong to the ticket's history
    remember(session, row.number)
    if draft.merge_into:
        # The merge is checked in full before anything is written (lifecycle first): when it is refused (the
        # host was closed meanwhile…) the ticket is saved unmerged and the agent is told why.
        try:
            merge(session, who, row.number, draft.merge_into, "", now)
        except DeskError as exc:
            return Created(row, created=True, merge_error=exc.message)
        return Created(row, created=True, merged_into=draft.merge_into)
    return Created(row, created=True)



# ── 修改工单: edit after save ─────────────────────────────────────────────────
class TicketEdit(Strict):
    """修改工单: the fields sent are the ticket's new values; a field left out stays as it is."""

    title: str | None = Field(None, min_length=1, max_length=128)
    content: str | None = Field(None, min_length=1, max_length=20_000)
    demand: str | None = Field(None, max_length=5_000)
    occurred: str | None = Field(None, max_length=64)
    location: str | None = Field(None, max_length=256)
    subplatform: str | None = Field(None, max_length=32, description="市县分平台代码；空字符串表示未知")
    location_unit: str | None = Field(None, max_length=64,
                                      description="地点所在单位代码（市县、区、镇）；空字符串表示未选")
    topic: str | None = Field(None, max_length=64, description="事项分类代码（分类表），空字符串表示未分类")
    citizen_name: str | None = Field(None, max_length=64)
    citizen_phone: str | None = Field(None, max_length=32, pattern=r"^[0-9+\-]*$")

    @field_validator("topic")
    @classmethod
    def _known_topic(cls, value: str | None) -> str | None:
        return TicketDraft._known_topic(value) if value else value


# What the history calls each editable field (修改内容: names, never the values, which may be personal data).
EDIT_LABELS = {"title": "标题", "content": "诉求内容", "demand": "市民诉求", "occurred": "发生时间", "location": "地点",
               "subplatform": "所属市县", "location_unit": "地点（区、镇）", "topic": "业务分类",
               "citizen_name": "市民姓名", "citizen_phone": "联系电话"}


def edit(session: Session, who: Principal, number: str, change: TicketEdit, client: str = "",
         now: dt.datetime | None = None) -> tuple[m.Ticket, list[str]]:
    """修改工单 by the agent who registered it, before 派单 (``lifecycle.EDITABLE``). Refusals are audited like a
    refused read; the edit is recorded in the history (who, when, which fields) and in the audit log (the field
    names only). Returns the ticket and the fields changed."""
    if who.role != Role.AGENT:
        _refuse(session, who, "ticket", number, "edit", client, 403, "forbidden_role",
                "只有登记工单的话务员可以修改工单")
    row = _find(session, number)
    if row is None:
        _refuse(session, who, "ticket", number, "edit", client, 404, "unknown_ticket", f"工单“{number}”不存在")
    if row.created_by_id != who.user_id:
        _refuse(session, who, "ticket", number, "edit", client, 403, "not_own_ticket", "只能修改本人登记的工单")
    now = now or _now()
    units = UnitCodes(session)
    wanted = change.model_dump(exclude_unset=True)
    if wanted.get("subplatform"):
        known = session.scalar(select(m.OrgUnit.id).where(m.OrgUnit.code == wanted["subplatform"],
                                                          m.OrgUnit.kind == "subplatform"))
        if known is None:
            raise DeskError(422, "unknown_subplatform", f"市县“{wanted['subplatform'][:20]}”不存在")
    new: dict[str, Any] = {}   # column → value, of the fields that change
    for name, value in wanted.items():
        if value is None:
            continue
        if name == "location_unit":
            try:
                unit_id = units.id(value or None)
            except lc.TransitionError as exc:
                raise DeskError(422, exc.code, exc.message) from None
            if unit_id != row.location_unit_id:
                new["location_unit_id"] = unit_id
        elif getattr(row, name) != ((value or None) if name == "subplatform" else value):
            new[name] = (value or None) if name == "subplatform" else value
    changed = [name.removesuffix("_id") for name in new]
    ticket = to_domain(row, units)
    try:   # the lifecycle first: nothing is written when the ticket may no longer be edited
        ticket.edit(tuple(EDIT_LABELS[name] for name in changed), now, who.username, LIFECYCLE_ROLE[who.role])
    except lc.TransitionError as exc:
        if exc.code == "nothing_changed":
            raise DeskError(422, exc.code, exc.message) from None
        _transition_refused(exc)
    for column, value in new.items():
        setattr(row, column, value)
    row.matter_key = matter_key(row.citizen_phone, row.topic, row.location) if row.citizen_phone else ""
    save(session, row, ticket, units, now)
    audit(session, who, "edit_ticket", "ticket", row.number, ",".join(changed), client, "own_ticket")
    remember(session, row.number)
    return row, changed


def _sealed_repeat(session: Session, draft: TicketDraft, key: str) -> m.Ticket | None:
    """The ticket a new appeal joins instead of opening one: a sealed appeal (最终处理意见: named by the agent,
    or the same citizen, topic and place), or the open ticket the agent chose to link the call to."""
    if draft.repeat_of:
        row = session.scalar(select(m.Ticket).where(m.Ticket.number == draft.repeat_of))
        if row is None:
            raise DeskError(404, "unknown_ticket", f"工单“{draft.repeat_of}”不存在")
        # The agent links the call to the caller's open matter, or to a sealed one; a closed, unsealed
        # ticket is a finished matter, so the new appeal is a new ticket.
        return row if row.final_opinion or lc.State(row.state) in lc.OPEN_STATES else None
    if not key:
        return None
    return session.scalar(select(m.Ticket).where(m.Ticket.matter_key == key, m.Ticket.final_opinion != "")
                          .order_by(m.Ticket.id.desc()).limit(1))


def _record_repeat(session: Session, who: Principal, row: m.Ticket, draft: TicketDraft, call: m.Call | None,
                   now: dt.datetime) -> None:
    units = UnitCodes(session)
    domain = to_domain(row, units)
    domain.history.append(lc.Event(now, who.username, LIFECYCLE_ROLE[who.role], "repeat_linked", domain.state,
                                   domain.state, {"channel": draft.channel, "call_id": draft.call_id,
                                                  "final_opinion": row.final_opinion}))
    save(session, row, domain, units, now)


# ── transitions ──────────────────────────────────────────────────────────────
class _Reason(Strict):
    reason: str = Field("", max_length=2000)


class RefuseBody(Strict):
    reason: lc.OutOfScope
    explanation: str = Field(..., max_length=2000)


class ResolveBody(Strict):
    answer: str = Field(..., max_length=5000)
    knowledge_ref: str = Field("", max_length=64)


class DispatchBody(Strict):
    host_unit: str = Field(..., min_length=1, max_length=64)
    co_units: list[str] = Field(default_factory=list, max_length=10)


class ReturnBody(Strict):
    reason: str = Field(..., max_length=2000)
    legal_basis: str = Field(..., max_length=2000)


class ConsultBody(Strict):
    units: list[str] = Field(..., min_length=2, max_length=10)


class SettleBody(Strict):
    decided_unit: str = Field(..., min_length=1, max_length=64)
    co_units: list[str] = Field(default_factory=list, max_length=10)


class ReplyBody(Strict):
    content: str = Field(..., max_length=10_000)


class CallbackBody(Strict):
    result: lc.Satisfaction
    solved: bool
    reason: str = Field("", max_length=2000, description="不满意原因（回访结果为不满意时由回访页面必填）")


class AppealBody(Strict):
    category: lc.Exclusion
    reason: str = Field(..., max_length=2000)


class BasisBody(Strict):
    basis: str = Field(..., max_length=2000)


class OpinionBody(Strict):
    opinion: str = Field(..., max_length=5000)


class NoteBody(Strict):
    note: str = Field(..., min_length=1, max_length=2000)


class EscalateBody(Strict):
    to: lc.Level
    reason: str = Field(..., min_length=1, max_length=2000)


@dataclass(frozen=True)
class Action:
    body: type[BaseModel] | None
    run: Callable[..., None]   # (ticket, body, ctx) → None


@dataclass(frozen=True)
class Ctx:
    now: dt.datetime
    actor: str
    role: lc.Role
    unit: str | None
    settings: DeskSettings


ACTIONS: dict[str, Action] = {
    "refuse": Action(RefuseBody, lambda t, b, c: t.refuse(b.reason, b.explanation, c.now, c.actor, c.role)),
    "resolve_directly": Action(ResolveBody, lambda t, b, c: t.resolve_directly(b.answer, c.now, c.actor, c.role,
                                                                                b.knowledge_ref)),
    "dispatch": Action(DispatchBody, lambda t, b, c: t.dispatch(b.host_unit, c.now, c.actor, c.role,
                                                                c.settings.calendar, tuple(b.co_units))),
    "sign": Action(None, lambda t, b, c: t.sign(c.unit, c.now, c.actor)),
    "request_return": Action(ReturnBody, lambda t, b, c: t.request_return(
        c.unit, b.reason, b.legal_basis, c.now, c.actor, c.settings.return_window)),
    "approve_return": Action(None, lambda t, b, c: t.approve_return(c.now, c.actor, c.role)),
    "reject_return": Action(_Reason, lambda t, b, c: t.reject_return(b.reason, c.now, c.actor, c.role)),
    "start_consultation": Action(ConsultBody, lambda t, b, c: t.start_consultation(tuple(b.units), c.now, c.actor,
                                                                                  c.role)),
    "settle_consultation": Action(SettleBody, lambda t, b, c: t.settle_consultation(
        b.decided_unit, c.now, c.actor, c.role, tuple(b.co_units))),
    "reply": Action(ReplyBody, lambda t, b, c: t.reply(c.unit, b.content, c.now, c.actor)),
    "approve_reply": Action(None, lambda t, b, c: t.approve_reply(c.now, c.actor, c.role)),
    "reject_reply": Action(_Reason, lambda t, b, c: t.reject_reply(b.reason, c.now, c.actor, c.role)),
    "callback": Action(CallbackBody, lambda t, b, c: t.callback(b.result, b.solved, c.now, c.actor, c.role,
                                                                b.reason.strip())),
    "appeal": Action(AppealBody, lambda t, b, c: t.appeal(c.unit, b.category, b.reason, c.now, c.actor)),
    "approve_appeal": Action(BasisBody, lambda t, b, c: t.approve_appeal(b.basis, c.now, c.actor, c.role)),
    "reject_appeal": Action(_Reason, lambda t, b, c: t.reject_appeal(b.reason, c.now, c.actor, c.role)),
    "reopen": Action(_Reason, lambda t, b, c: t.reopen(b.reason, c.now, c.actor, c.role)),
    "close_unsatisfied": Action(None, lambda t, b, c: t.close_unsatisfied(c.now, c.actor, c.role)),
    "seal_final_opinion": Action(OpinionBody, lambda t, b, c: t.seal_final_opinion(b.opinion, c.now, c.actor,
                                                                                  c.role)),
    "supervise": Action(NoteBody, lambda t, b, c: t.supervise(b.note, c.now, c.actor, c.role)),
    "escalate": Action(EscalateBody, lambda t, b, c: t.escalate(b.to, b.reason, c.now, c.actor, c.role)),
}
UNIT_ACTIONS = frozenset({"sign", "request_return", "reply", "appeal"})


def act(session: Session, who: Principal, settings: DeskSettings, number: str, action: str, payload: dict[str, Any],
        now: dt.datetime | None = None) -> m.Ticket:
    """One lifecycle transition; DeskError 404/403/409/422 with a Chinese message when it is not allowed."""
    spec = ACTIONS.get(action)
    if spec is None:
        raise DeskError(404, "unknown_action", f"未知操作“{action}”")
    if who.role not in LIFECYCLE_ROLE:
        raise DeskError(403, "forbidden_role", "该角色不能办理工单")
    if (action in UNIT_ACTIONS) != (who.role == Role.UNIT):
        raise DeskError(403, "forbidden_role", f"角色“{who.role.value}”无权执行“{lc.ACTION_LABELS[action]}”")
    try:
        body = spec.body.model_validate(payload) if spec.body else None
    except ValidationError as exc:
        fields = "、".join(".".join(str(p) for p in e["loc"]) or "请求体" for e in exc.errors())
        raise DeskError(422, "invalid_request", f"请求内容不合法：{fields}") from None
    if spec.body is None and payload:
        raise DeskError(422, "unexpected_body", "此操作不需要参数")
    row = _load(session, number)
    if who.role == Role.UNIT and ntk.ticket_grant(session, who, row, by_number=True) is None:
        raise DeskError(404, "unknown_ticket", f"工单“{number}”不存在")
    if who.role == Role.AGENT and ntk.ticket_grant(session, who, row, by_number=True) is None:
        # An agent acts only on a ticket it may read (need-to-know): not on another agent's case.
        _refuse(session, who, "ticket", number, f"action {action}", "", 403, "forbidden_ticket", ntk.REFUSED_MESSAGE)
    now = now or _now()
    units = UnitCodes(session)
    domain = to_domain(row, units)
    before = domain.state
    try:
        spec.run(domain, body, Ctx(now, who.username, LIFECYCLE_ROLE[who.role], who.unit_code, settings))
        save(session, row, domain, units, now)
        remember(session, row.number)
        if domain.merged and domain.state != before and domain.state in FOLLOWED_STATES:
            _reach_merged(session, row, domain, units, now, who.username)
    except lc.TransitionError as exc:
        _transition_refused(exc)
    return row


def _transition_refused(exc: lc.TransitionError) -> NoReturn:
    status = 403 if exc.code in ("forbidden_role", "not_host_unit") else 409
    if exc.code == "unknown_unit":
        status = 422
    raise DeskError(status, exc.code, exc.message) from None


# ── 并单 merge ─────────────────────────────────────────────────────────────────
# How the host's answer reaches every merged citizen: when the host's reply is approved or it is resolved directly
# (→ 待回访), or it is refused, each ticket merged into it and still waiting (已并单) follows it in the same unit of
# work: the reply is copied into its history (``host_reply``) and it goes to 待回访 itself, so the callback list
# holds one entry per citizen and each verdict is recorded on that citizen's own ticket (``callback``).
FOLLOWED_STATES = frozenset({lc.State.AWAITING_CALLBACK, lc.State.REFUSED})


class MergeBody(Strict):
    host: str = Field(..., pattern=r"^\d{14}$", description="主工单编号：本工单并入这张工单，随它办理")
    reason: str = Field("", max_length=2000, description="并单说明（可选）")


class UnmergeBody(Strict):
    reason: str = Field(..., min_length=1, max_length=2000, description="撤销并单的理由（必填，记入审计）")


def merge(session: Session, who: Principal, number: str, host_number: str, reason: str,
          now: dt.datetime | None = None) -> m.Ticket:
    """并单: ticket ``number`` is merged into ``host_number`` (agents: a ticket they may act on, still 已受理;
    the platform: any open ticket not yet answered). Both histories record it."""
    if who.role not in (Role.AGENT, Role.SUPERVISOR):
        raise DeskError(403, "forbidden_role", "只有话务员和平台人员可以并单")
    row = _load(session, number)
    if who.role == Role.AGENT and ntk.ticket_grant(session, who, row, by_number=True) is None:
        _refuse(session, who, "ticket", number, "action merge", "", 403, "forbidden_ticket", ntk.REFUSED_MESSAGE)
    host_row = _find(session, host_number)
    if host_row is None:
        raise DeskError(404, "unknown_ticket", f"主工单“{host_number}”不存在")
    now = now or _now()
    units = UnitCodes(session)
    ticket, host = to_domain(row, units), to_domain(host_row, units)
    try:
        ticket.merge_into(host, reason, now, who.username, LIFECYCLE_ROLE[who.role])
    except lc.TransitionError as exc:
        _transition_refused(exc)
    row.merged_into_id, row.merged_at = host_row.id, now
    save(session, row, ticket, units, now)
    save(session, host_row, host, units, now)
    remember(session, row.number)
    remember(session, host_row.number)
    return row


def unmerge(session: Session, who: Principal, number: str, reason: str, now: dt.datetime | None = None,
            client: str = "") -> m.Ticket:
    """撤销并单, by the platform only, with a reason: the ticket goes back to 已受理; both histories and the audit
    log say who, when and why."""
    if who.role != Role.SUPERVISOR:
        raise DeskError(403, "forbidden_role", "只有平台管理员可以撤销并单")
    row = _load(session, number)
    if row.merged_into_id is None:
        raise DeskError(409, "not_merged", f"工单{number}未并单")
    host_row = session.get(m.Ticket, row.merged_into_id)
    assert host_row is not None   # a foreign key
    now = now or _now()
    units = UnitCodes(session)
    ticket, host = to_domain(row, units), to_domain(host_row, units)
    try:
        ticket.unmerge(host, reason, now, who.username, LIFECYCLE_ROLE[who.role])
    except lc.TransitionError as exc:
        _transition_refused(exc)
    row.merged_into_id, row.merged_at = None, None
    save(session, row, ticket, units, now)
    save(session, host_row, host, units, now)
    audit(session, who, "unmerge", "ticket", row.number, _json({"host": host_row.number, "reason": reason}), client,
          "platform")
    remember(session, row.number)
    remember(session, host_row.number)
    return row


def _reach_merged(session: Session, host_row: m.Ticket, host: lc.Ticket, units: UnitCodes, now: dt.datetime,
                  actor: str) -> None:
    waiting = session.scalars(select(m.Ticket).where(m.Ticket.merged_into_id == host_row.id,
                                                     m.Ticket.state == lc.State.MERGED.value)
                              .order_by(m.Ticket.id)
                              .options(selectinload(m.Ticket.events), selectinload(m.Ticket.co_units))).all()
    for row in waiting:
        ticket = to_domain(row, units)
        ticket.follow_host(host, now, actor)
        save(session, row, ticket, units, now)
        remember(session, row.number)


def merge_links(session: Session, row: m.Ticket) -> dict[str, Any]:
    """The ticket view's 并单 links: the host it is merged into, the tickets merged into it (numbers only)."""
    host = (session.scalar(select(m.Ticket.number).where(m.Ticket.id == row.merged_into_id))
            if row.merged_into_id is not None else None)
    merged = list(session.scalars(select(m.Ticket.number).where(m.Ticket.merged_into_id == row.id)
                                  .order_by(m.Ticket.id)))
    return {"merged_into": host, "merged_tickets": merged}


def _find(session: Session, number: str) -> m.Ticket | None:
    return session.scalar(select(m.Ticket).where(m.Ticket.number == number)
                          .options(selectinload(m.Ticket.events), selectinload(m.Ticket.co_units)))


def _load(session: Session, number: str) -> m.Ticket:
    row = _find(session, number)
    if row is None:
        raise DeskError(404, "unknown_ticket", f"工单“{number}”不存在")
    return row


def _refuse(session: Session, who: Principal, object_type: str, object_id: str, detail: str, client: str,
            status: int, code: str, message: str) -> NoReturn:
    """Audit a refused read and answer it. The refusal is committed here because the unit of work rolls back
    on the error that follows, and an attempt that leaves no trace is what the audit is for."""
    audit(session, who, "read_denied", object_type, object_id, detail or message, client, code)
    session.commit()
    raise DeskError(status, code, message)


# ── reading ──────────────────────────────────────────────────────────────────
def detail(session: Session, who: Principal, number: str, client: str = "") -> dict[str, Any]:
    """The whole ticket with its history, for those with a need to know (``auth.need_to_know``); every read and
    every refused attempt is audited with its reason. The contact is unmasked only when the grant says so."""
    if not ntk.reads_cases(who):
        _refuse(session, who, "ticket", number, "", client, 403, "forbidden_role", ntk.ROLE_REFUSED_MESSAGE)
    row = _find(session, number)
    if row is None:  # audited too: walking the sequential numbers shows in the log
        _refuse(session, who, "ticket", number, "", client, 404, "unknown_ticket", f"工单“{number}”不存在")
    grant = ntk.ticket_grant(session, who, row, by_number=True)
    if grant is None and who.role == Role.UNIT:  # another unit's ticket: no hint that it exists
        _refuse(session, who, "ticket", number, "非本单位承办或协办的工单", client, 404, "unknown_ticket",
                f"工单“{number}”不存在")
    if grant is None:
        _refuse(session, who, "ticket", number, "", client, 403, "forbidden_ticket", ntk.REFUSED_MESSAGE)
    unmasked = grant.unmasked
    shown = "content,location,history" + (",citizen_name,citizen_phone" if unmasked else "")
    audit(session, who, "read_personal_data", "ticket", row.number, shown, client, grant.audit_reason)
    out = summary(row, unmasked=unmasked)
    units = UnitCodes(session)
    out.update(
        occurred=row.occurred, location=row.location, content=row.content, demand=row.demand,
        location_unit=units.code(row.location_unit_id),
        location_unit_name=_unit_name(session, row.location_unit_id),
        confidential=row.confidential, urgency=row.urgency, channel=row.channel,
        call_id=row.call.call_id if row.call else None, recording=row.call.recording if row.call else None,
        recording_fault=row.call.recording_fault if row.call else None,
        host_unit=units.code(row.host_unit_id), co_units=[units.code(i) for i in row.co_unit_ids],
        co_unit_names=[unit.name for unit in (session.get(m.OrgUnit, i) for i in row.co_unit_ids) if unit is not None],
        level=row.level, satisfaction=row.satisfaction, solved=row.solved, excluded=row.excluded,
        exclusion_basis=row.exclusion_basis, refusal=row.refusal, final_opinion=row.final_opinion,
        closed_on_time=row.closed_on_time, supervisions=row.supervisions, returns=row.returns,
        history=[{"seq": e.seq, "at": e.at.isoformat(), "actor": e.actor, "role": e.role, "action": e.action,
                  "action_label": lc.ACTION_LABELS.get(e.action, e.action), "from_state": e.from_state,
                  "to_state": e.to_state, "data": e.data} for e in row.events],
        allowed_actions=allowed_actions(row, who),
        **merge_links(session, row),
        access_reason=grant.reason, access_reason_label=ntk.REASON_LABELS[grant.reason],
    )
    return out


def _unit_name(session: Session, unit_id: int | None) -> str | None:
    unit = session.get(m.OrgUnit, unit_id) if unit_id is not None else None
    return unit.name if unit is not None else None


def summary(row: m.Ticket, unmasked: bool = False) -> dict[str, Any]:
    now = dt.datetime.now(dt.UTC)
    state = lc.State(row.state)
    return {
        "number": row.number, "title": row.title, "appeal_type": row.appeal_type,
        "appeal_label": APPEAL_LABELS[row.appeal_type], "topic": row.topic, "state": row.state,
        "state_label": lc.STATE_LABELS[state], "source_line": row.source_line, "subplatform": row.subplatform,
        "channel_label": CHANNEL_LABELS.get(row.channel, row.channel),
        "citizen_name": row.citizen_name if unmasked else mask_name(row.citizen_name),
        "citizen_phone": row.citizen_phone if unmasked else mask_phone(row.citizen_phone),
        "contact_masked": not unmasked,
        "host_unit_name": row.host_unit.name if row.host_unit else None,
        "created_at": row.created_at.isoformat(), "due_at": row.due_at.isoformat() if row.due_at else None,
        "overdue": bool(row.due_at and state in lc.UNIT_HANDLING and now > row.due_at),
    }


def allowed_actions(row: m.Ticket, who: Principal) -> list[str]:
    """Actions this user could try now (the lifecycle still has the last word)."""
    role = LIFECYCLE_ROLE.get(who.role)
    if role is None:
        return []
    probe = {
        lc.State.ACCEPTED: ["dispatch", "resolve_directly", "refuse"],
        lc.State.DISPATCHED: ["sign", "request_return", "start_consultation"],
        lc.State.SIGNED: ["reply", "request_return", "start_consultation"],
        lc.State.RETURN_REQUESTED: ["approve_return", "reject_return", "start_consultation"],
        lc.State.RETURNED: ["dispatch"],
        lc.State.CONSULTATION: ["settle_consultation"],
        lc.State.REPLIED: ["approve_reply", "reject_reply"],
        lc.State.AWAITING_CALLBACK: ["callback"],
        lc.State.UNSATISFIED: ["appeal", "reopen", "close_unsatisfied"],
        lc.State.APPEALED: ["approve_appeal", "reject_appeal"],
        lc.State.CLOSED: [] if row.final_opinion else ["seal_final_opinion"],
        lc.State.REFUSED: [],
        lc.State.MERGED: ["unmerge"],
    }[lc.State(row.state)]
    if lc.State(row.state) in lc.OPEN_STATES:
        probe = probe + ["supervise", "escalate"]
    if row.merged_into_id is not None:   # 并单: a merged ticket follows its host
        probe = [a for a in probe if a in lc.MERGED_ALLOWED]
    elif lc.State(row.state) in lc.MERGEABLE.get(role, ()):
        probe = probe + ["merge"]
    is_unit = who.role == Role.UNIT
    allowed = [a for a in probe if (a in UNIT_ACTIONS) == is_unit]
    if role == lc.Role.AGENT:
        allowed = [a for a in allowed if a in ("dispatch", "resolve_directly", "refuse", "callback", "merge")]
    return allowed


class SearchQuery(Strict):
    q: str = Field("", max_length=64, pattern=ONE_LINE, description="words in the title or content")
    number: str | None = Field(None, pattern=r"^\d{1,14}$")
    phone: str | None = Field(None, pattern=r"^[0-9+\-]{3,32}$")
    state: lc.State | None = None
    appeal_type: Literal["consultation", "help", "complaint", "suggestion", "other"] | None = None
    topic: str | None = Field(None, max_length=64, pattern=ONE_LINE)
    subplatform: str | None = Field(None, max_length=32, pattern=ONE_LINE)
    host_unit: str | None = Field(None, max_length=64, pattern=ONE_LINE)
    overdue: bool | None = None
    created_from: Day | None = None
    created_to: Day | None = None
    before_id: int | None = Field(None, ge=1, le=2**31 - 1, description="keyset paging: ids below this one")
    limit: int = Field(20, ge=1, le=100)


def search(session: Session, who: Principal, query: SearchQuery, client: str = "") -> dict[str, Any]:
    """Newest first, keyset-paged, masked, limited to what ``need_to_know`` lets this user read; one audit row
    per request names the filters, the numbers returned and the reason."""
    filters = query.model_dump(mode="json", exclude_defaults=True)
    if not ntk.reads_cases(who):
        _refuse(session, who, "ticket_search", "search", _json({"filters": filters}), client, 403, "forbidden_role",
                ntk.ROLE_REFUSED_MESSAGE)
    scope = ntk.search_scope(session, who, query.number, query.phone)
    if scope.refused:
        _refuse(session, who, "ticket_search", "search", _json({"filters": filters}), client, 403,
                "forbidden_filter", scope.refused)
    stmt: Select[m.Ticket] = (select(m.Ticket).options(selectinload(m.Ticket.host_unit)).where(scope.clause)
                    .order_by(m.Ticket.id.desc()))
    if query.number:
        if len(query.number) == 14:
            stmt = stmt.where(m.Ticket.number == query.number)
        else:  # a prefix (a day, a month) as a range, so the unique index serves it
            stmt = stmt.where(m.Ticket.number.between(query.number.ljust(14, "0"), query.number.ljust(14, "9")))
    if query.phone:
        stmt = stmt.where(m.Ticket.citizen_phone == query.phone)
    for column, value in ((m.Ticket.state, query.state), (m.Ticket.appeal_type, query.appeal_type),
                          (m.Ticket.topic, query.topic), (m.Ticket.subplatform, query.subplatform)):
        if value is not None:
            stmt = stmt.where(column == (value.value if isinstance(value, lc.State) else value))
    if query.host_unit:
        stmt = stmt.where(m.Ticket.host_unit_id == select(m.OrgUnit.id).where(m.OrgUnit.code == query.host_unit)
                          .scalar_subquery())
    if query.overdue:
        stmt = stmt.where(m.Ticket.due_at < dt.datetime.now(dt.UTC),
                          m.Ticket.state.in_([s.value for s in lc.UNIT_HANDLING]))
    if query.created_from:
        stmt = stmt.where(m.Ticket.created_at >= _local_midnight(query.created_from))
    if query.created_to:
        stmt = stmt.where(m.Ticket.created_at < _local_midnight(query.created_to + dt.timedelta(days=1)))
    if query.q:
        like = f"%{_escape_like(query.q)}%"
        stmt = stmt.where(or_(m.Ticket.title.like(like, escape="\\"), m.Ticket.content.like(like, escape="\\")))
    if query.before_id:
        stmt = stmt.where(m.Ticket.id < query.before_id)
    rows = session.scalars(stmt.limit(query.limit + 1)).all()
    page = rows[: query.limit]
    audit(session, who, "search_tickets", "ticket_search", "search",
          _json({"numbers": [r.number for r in page], "filters": filters}), client, scope.reason)
    return {"items": [summary(r) | {"id": r.id} for r in page],
            "next_before_id": page[-1].id if len(rows) > query.limit else None}


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _local_midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=PROVINCE_TZ)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def open_for_phone(session: Session, phone: str, limit: int = 10) -> list[m.Ticket]:
    """A caller's tickets, open ones first (the pop offers a repeat caller's open matter first)."""
    if not phone:
        return []
    rows = session.scalars(select(m.Ticket).options(selectinload(m.Ticket.host_unit))
                           .where(m.Ticket.citizen_phone == phone).order_by(m.Ticket.id.desc()).limit(limit)).all()
    return sorted(rows, key=lambda r: lc.State(r.state) not in lc.OPEN_STATES)
