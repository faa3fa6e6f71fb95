"""Need-to-know: may this principal read this ticket, and why. Every ticket read path asks here.

The rule (README, "The agent desk" → Privacy):

- 话务员 (agent) reads a ticket only when it has business with it:
  - ``own_ticket``: the agent created (受理) it;
  - ``own_call``: the ticket is linked to a call the agent answered;
  - ``current_caller``: the citizen of the ticket is the caller of the agent's live call (the pop's list);
  - ``number_on_call``: while on a live call, the agent looks the ticket up by its exact 14-digit number
    (the caller reads it out). The live call is named in the audit row.
  A 保密 (confidential) ticket is read only under ``own_ticket`` / ``own_call``: never by another agent,
  whatever the caller or the number. Searching by phone is allowed only for the current caller's number.
  Anything else: a single read is refused (403), a list leaves the ticket out.
- 平台 (supervisor) reads the whole province (``platform``).
- 承办单位 (unit) reads the tickets it hosts or co-hosts (``host_unit`` / ``co_unit``), 保密 ones included
  (it must handle them) but with the contact masked.
- 系统管理员 (admin), 渠道接入 (gateway) and 审计员 (auditor) read no ticket at all.

The contact (name, phone) is unmasked under ``own_ticket``, ``own_call``, ``current_caller`` (the agent talks
to that citizen), ``platform``, and a unit's non-confidential ticket; never under ``number_on_call`` (whoever
reads out a number is not necessarily the citizen). Callers audit every read with the grant's reason.

A call's live transcript (``transcript_grant``) follows the same rule: the agent who answered the call reads it
(``own_call``, unmasked: it heard every word), supervisors read every call (``platform``), a unit reads the
transcript of a call linked to a ticket it hosts or co-hosts (``host_unit`` / ``co_unit``) with the numbers said
in it masked (``mask_numbers``: it handles the matter, it does not need the numbers); nobody else. A search over
transcripts is a list: always masked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, false, or_, select, true
from sqlalchemy.orm import Session

from agent_desk.auth.roles import Role
from agent_desk.auth.sessions import Principal
from agent_desk.db import models as m
from hotline.privacy import mask_phone

NUMBER_DIGITS = 14

REASON_LABELS = {
    "own_ticket": "本人受理的工单",
    "own_call": "本人接听来电的工单",
    "own_callback": "本人拨出的回拨",
    "current_caller": "当前来电人的工单",
    "number_on_call": "通话中按来电人报出的工单号查询",
    "platform": "平台全省查阅",
    "host_unit": "本单位承办的工单",
    "co_unit": "本单位协办的工单",
    "own_unit": "本单位承办或协办的工单",
}

REFUSED_MESSAGE = ("无权查看该工单：话务员只能查看本人受理或接听的工单、当前来电人的工单，"
                   "或在通话中按来电人报出的工单号查询")
PHONE_REFUSED_MESSAGE = "话务员只能按当前来电号码查询工单"
ROLE_REFUSED_MESSAGE = "该角色不能查看工单内容"
CASE_READERS = (Role.AGENT, Role.SUPERVISOR, Role.UNIT)


@dataclass(frozen=True)
class Grant:
    """Why a ticket may be read, and whether its contact is shown."""

    reason: str
    unmasked: bool
    call_id: str | None = None  # the live call that justified it (current_caller / number_on_call)

    @property
    def audit_reason(self) -> str:
        return self.reason + (f" call={self.call_id}" if self.call_id else "")


def reads_cases(who: Principal) -> bool:
    """Admins, gateways and auditors see no case data at all."""
    return who.role in CASE_READERS


def current_call(session: Session, user_id: int) -> m.Call | None:
    """The agent's live call: its latest answered call, if that has not ended."""
    call = session.scalar(select(m.Call).where(m.Call.agent_user_id == user_id, m.Call.answered_at.is_not(None))
                          .order_by(m.Call.answered_at.desc()).limit(1))
    return call if call is not None and call.ended_at is None else None


def ticket_grant(session: Session, who: Principal, row: m.Ticket, *, by_number: bool) -> Grant | None:
    """The grant for one ticket, or None (refused). ``by_number``: looked up by its exact number."""
    if who.role == Role.SUPERVISOR:
        return Grant("platform", True)
    if who.role == Role.UNIT:
        return _unit_grant(who, row)
    if who.role == Role.AGENT:
        return agent_grant(who.user_id, row, current_call(session, who.user_id), by_number=by_number)
    return None


def _unit_grant(who: Principal, row: m.Ticket) -> Grant | None:
    if who.unit_id is None:
        return None
    if row.host_unit_id == who.unit_id:
        return Grant("host_unit", not row.confidential)
    if who.unit_id in row.co_unit_ids:
        return Grant("co_unit", not row.confidential)
    return None


def agent_grant(user_id: int, row: m.Ticket, live_call: m.Call | None, *, by_number: bool) -> Grant | None:
    """An agent's grant given its live call (None when not on a call); the pop passes the call it builds."""
    if row.created_by_id == user_id:
        return Grant("own_ticket", True)
    if row.call is not None and row.call.agent_user_id == user_id:
        return Grant("own_call", True)
    if row.confidential or live_call is None:
        return None
    if live_call.caller and row.citizen_phone == live_call.caller:
        return Grant("current_caller", True, live_call.call_id)
    if by_number:
        return Grant("number_on_call", False, live_call.call_id)
    return None


# ── lists and searches ───────────────────────────────────────────────────────
@dataclass(frozen=True)
class Scope:
    """What a search may return: a WHERE clause over tickets, and the reason written to the audit row."""

    clause: ColumnElement[bool]
    reason: str
    refused: str | None = None  # a Chinese message when the search itself is not allowed


def search_scope(session: Session, who: Principal, number: str | None, phone: str | None) -> Scope:
    if who.role == Role.SUPERVISOR:
        return Scope(true(), "platform")
    if who.role == Role.UNIT:
        if phone:
            return Scope(false(), "own_unit", "承办单位不能按来电号码查询")
        co = select(m.TicketCoUnit.ticket_id).where(m.TicketCoUnit.unit_id == who.unit_id)
        return Scope(or_(m.Ticket.host_unit_id == who.unit_id, m.Ticket.id.in_(co)), "own_unit")
    if who.role == Role.AGENT:
        return _agent_scope(session, who.user_id, number, phone)
    return Scope(false(), "", ROLE_REFUSED_MESSAGE)


def _agent_scope(session: Session, user_id: int, number: str | None, phone: str | None) -> Scope:
    live = current_call(session, user_id)
    caller = live.caller if live is not None else None
    if phone and phone != caller:
        return Scope(false(), "", PHONE_REFUSED_MESSAGE)
    answered = select(m.Call.id).where(m.Call.agent_user_id == user_id)
    mine = or_(m.Ticket.created_by_id == user_id, m.Ticket.call_id.in_(answered))
    reasons, others = ["own_ticket", "own_call"], []
    if caller:
        others.append(m.Ticket.citizen_phone == caller)
        reasons.append("current_caller")
    if live is not None and number and len(number) == NUMBER_DIGITS:
        others.append(m.Ticket.number == number)
        reasons.append("number_on_call")
    if not others:
        return Scope(mine, ",".join(reasons))
    assert live is not None   # every reason beyond the agent's own tickets comes from its live call
    suffix = f" call={live.call_id}"
    return Scope(or_(mine, and_(m.Ticket.confidential.is_(False), or_(*others))), ",".join(reasons) + suffix)


# ── a call's transcript ──────────────────────────────────────────────────────
# What reads as a number someone could call or identify a person by: seven or more digits (spaces or hyphens
# between them, an ID card's final X), or seven or more spoken Chinese digits (幺三八…).
_DIGIT_RUN = re.compile(r"(?<![0-9])[0-9](?:[0-9 \-]*[0-9])?[Xx]?(?![0-9])")
_DATE = re.compile(r"(19|20)[0-9]{2}-[0-9]{1,2}-[0-9]{1,2}")   # 2024-06-01 is a date, not a number to hide
_CN_DIGIT_RUN = re.compile(r"[零〇洞一幺二两三四五六七八九]{7,}")


def mask_numbers(text: str) -> str:
    """``text`` with every phone-like number masked as ``hotline.privacy.mask_phone`` masks a caller's number."""
    def one(match: re.Match[str]) -> str:
        run = match.group()
        digits = re.sub(r"[ \-]", "", run)
        return mask_phone(digits) if len(digits) >= 7 and not _DATE.fullmatch(run) else run
    return _CN_DIGIT_RUN.sub(lambda match: mask_phone(match.group()), _DIGIT_RUN.sub(one, text))


def transcript_grant(session: Session, who: Principal, call: m.Call) -> Grant | None:
    """Why ``who`` may read the transcript of ``call`` (``unmasked``: the numbers said are shown), or None."""
    if who.role == Role.SUPERVISOR:
        return Grant("platform", True)
    if who.role == Role.AGENT:
        return Grant("own_call", True) if call.agent_user_id == who.user_id else None
    if who.role == Role.UNIT and who.unit_id is not None:
        tickets = session.scalars(select(m.Ticket).where(m.Ticket.call_id == call.id)).all()
        for ticket in tickets:
            grant = _unit_grant(who, ticket)
            if grant is not None:
                return Grant(grant.reason, False)
    return None


def callback_transcript_grant(session: Session, who: Principal, call: m.CallbackCall) -> Grant | None:
    """Why ``who`` may read the transcript of the 回拨 ``call`` (an agent's outbound call), or None: the agent who
    placed it and supervisors in full, the unit handling the ticket it was made for with the numbers masked."""
    if who.role == Role.SUPERVISOR:
        return Grant("platform", True)
    if who.role == Role.AGENT:
        return Grant("own_callback", True) if call.agent_user_id == who.user_id else None
    if who.role == Role.UNIT and call.ticket_id is not None:
        ticket = session.get(m.Ticket, call.ticket_id)
        grant = _unit_grant(who, ticket) if ticket is not None else None
        return Grant(grant.reason, False) if grant is not None else None
    return None
