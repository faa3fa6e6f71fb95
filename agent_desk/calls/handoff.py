"""What the agent's transfer buttons do: find the agent's live call, hand it off over AMI
(``agent_desk.telephony.transfers``), record the hand-off on the call and its tickets, and when a sub-center
does not answer, dispatch a ticket to that sub-center instead (the citizen stays with the agent).

Three-way transfers where the agent stays, and attended transfers, leave a pending step per agent (leave the
conference; complete or cancel the consultation), kept in this desk process (``Handoffs``).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from agent_desk.auth.privacy import audit
from agent_desk.auth.sessions import Principal
from agent_desk.calls import transfers as record
from agent_desk.db import models as m
from agent_desk.db.session import Database
from agent_desk.errors import DeskError
from agent_desk.settings import DeskSettings
from agent_desk.telephony import transfers as tx
from agent_desk.telephony.link import TelephonyLink
from agent_desk.tickets import service
from agent_desk.tickets.service import TicketDraft
from hotline.numberplan import LineClass

log = logging.getLogger(__name__)

Kind = Literal["three_way", "retained_seat", "one_key", "emergency", "blind", "attended", "queue"]
SUB_CENTER_FAILURES = frozenset({tx.Outcome.NO_ANSWER, tx.Outcome.BUSY, tx.Outcome.FAILED})
_FAILURE_WORDS = {tx.Outcome.NO_ANSWER: "无人接听", tx.Outcome.BUSY: "忙线", tx.Outcome.FAILED: "线路不通"}


class TransferRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    kind: Kind
    target: str = Field("", max_length=48, pattern=r"^[0-9A-Za-z_-]*$",
                        description="line number, agent extension or queue; one-key may leave it empty")
    agent_stays: bool = True              # three-way / emergency: the agent stays in the conference
    ticket: str | None = Field(None, pattern=r"^\d{14}$", description="the call's ticket, if already saved")
    draft: TicketDraft | None = None      # the agent's unsaved form: saved and dispatched if a sub-center fails


@dataclass
class Pending:
    call: tx.LiveCall
    result: tx.TransferResult


@dataclass
class Handoffs:
    """The per-agent next step of a hand-off in progress (user id → Pending)."""

    pending: dict[int, Pending] = field(default_factory=dict)


def targets(link: TelephonyLink) -> dict[str, list[dict[str, str]]]:
    """What the agent may hand a call to, from the number plan."""
    plan = link.plan

    def lines(*classes: LineClass) -> list[dict[str, str]]:
        return [{"number": line.number, "name": line.name, "department": getattr(line, "department", "")}
                for line in plan.lines_of(*classes) if getattr(line, "trunk", None)]

    return {
        "sub_centers": lines(LineClass.SUB_CENTER), "retained_seats": lines(LineClass.DUAL_RETAINED),
        "one_key": lines(LineClass.ONE_KEY_TRANSFER), "emergency": lines(LineClass.EMERGENCY),
        "queues": [{"name": name, "label": queue.name} for name, queue in plan.all_queues().items()],
    }


async def live_call(link: TelephonyLink, who: Principal) -> tx.LiveCall:
    if not who.extension:
        raise DeskError(409, "no_extension", "当前账号未绑定分机，无法操作通话")
    call = await tx.agent_call(link.ami, who.extension)
    if call is None:
        raise DeskError(409, "no_live_call", "当前没有进行中的通话")
    return call


async def transfer(link: TelephonyLink, db: Database, settings: DeskSettings, handoffs: Handoffs,
                   who: Principal, body: TransferRequest, client: str) -> dict[str, Any]:
    call = await live_call(link, who)
    try:
        result = await _run(link, call, body)
    except tx.TransferError as exc:
        raise DeskError(422, "invalid_target", f"转接目标“{body.target}”不可用：{exc}") from None
    in_conference = (result.kind in (tx.TransferKind.THREE_WAY, tx.TransferKind.EMERGENCY)
                     and result.outcome == tx.Outcome.BRIDGED and result.agent_stayed)
    consulting = result.kind == tx.TransferKind.ATTENDED and result.outcome == tx.Outcome.CONSULTING
    if in_conference or consulting:
        handoffs.pending[who.user_id] = Pending(call, result)
    ticket = await asyncio.to_thread(_record, db, settings, who, call, result, body, client)
    return {"result": result.as_dict(), "ticket": ticket, "message": message(result, ticket),
            "pending": _pending_step(handoffs.pending.get(who.user_id))}


async def _run(link: TelephonyLink, call: tx.LiveCall, body: TransferRequest) -> tx.TransferResult:
    ami, plan, target = link.ami, link.plan, body.target
    if body.kind == "three_way":
        tx.transfer_line(plan, target, LineClass.SUB_CENTER)
        return await tx.three_way_transfer(ami, call, target, plan=plan, agent_stays=body.agent_stays)
    if body.kind == "emergency":
        return await tx.emergency_linkage(ami, call, target, plan=plan, agent_stays=body.agent_stays)
    if body.kind == "retained_seat":
        return await tx.retained_seat_transfer(ami, call, target, plan=plan)
    if body.kind == "one_key":
        return await tx.one_key_transfer(ami, call, plan=plan, target=target or None)
    if body.kind == "queue":
        return await tx.transfer_to_queue(ami, call, target, plan=plan)
    if not target.isdigit():
        raise tx.TransferError("an agent extension is digits")
    if body.kind == "blind":
        return await tx.blind_transfer(ami, call, target)
    return await tx.attended_transfer(ami, call, target)


def _record(db: Database, settings: DeskSettings, who: Principal, call: tx.LiveCall, result: tx.TransferResult,
            body: TransferRequest, client: str) -> str | None:
    """The hand-off on the call and its tickets; a failed sub-center transfer becomes a dispatched ticket."""
    now = dt.datetime.now(dt.UTC)
    ticket = None
    with db.session() as session:
        record.record(session, call.call_id, result.event_fields(), now)
        audit(session, who, "transfer", "call", call.call_id,
              f"{result.kind.value} → {result.target}: {result.outcome.value}", client)
    if result.kind == tx.TransferKind.THREE_WAY and result.outcome in SUB_CENTER_FAILURES:
        ticket = _dispatch_to_sub_center(db, settings, who, call, result, body)
    return ticket


def _dispatch_to_sub_center(db: Database, settings: DeskSettings, who: Principal, call: tx.LiveCall,
                            result: tx.TransferResult, body: TransferRequest) -> str:
    """派单 to the sub-center's department: the agent's saved ticket, or its unsaved form, or a ticket drafted
    from the call (line, caller, live transcript). Each step commits on its own, so a refused dispatch leaves
    the saved ticket for the agent to finish by hand."""
    with db.session() as session:
        unit = session.scalar(select(m.OrgUnit).where(m.OrgUnit.name == result.department))
        if unit is None:
            raise DeskError(409, "unknown_sub_center_unit",
                            f"{result.target_name}未接通，但组织架构中没有“{result.department}”，请手工派单")
        unit_code = unit.code
        number = body.ticket
        if number is None:
            draft = body.draft or _draft_from_call(session, call, result)
            created = service.create(session, who, draft.model_copy(update={"call_id": call.call_id}))
            number = created.ticket.number
            if not created.created:
                return number  # a repeat of a sealed appeal: linked, nothing to dispatch
    with db.session() as session:
        service.act(session, who, settings, number, "dispatch", {"host_unit": unit_code})
    return number


def _draft_from_call(session: Session, call: tx.LiveCall, result: tx.TransferResult) -> TicketDraft:
    row = session.scalar(select(m.Call).where(m.Call.call_id == call.call_id))
    prefill = (row.prefill if row else None) or {}
    said = (prefill.get("transcript") or "").strip()
    appeal = prefill.get("appeal_type") or "consultation"
    return TicketDraft(
        channel="phone", call_id=call.call_id, source_line=(row.line if row else None) or None,
        citizen_phone=(row.caller if row else "") or "", appeal_type=appeal if appeal in (
            "consultation", "help", "complaint", "suggestion", "other") else "consultation",
        title=f"转{result.target}{result.target_name}未接通，转派分中心办理"[:128],
        content=(said or "市民来电，需由分中心办理；三方转接未接通，按规定派单至分中心。")[:20_000],
        subplatform=(row.subplatform if row else None),
    )


async def leave(link: TelephonyLink, handoffs: Handoffs, who: Principal) -> dict[str, Any]:
    """The agent leaves the three-way conference; the citizen and the far end stay connected."""
    pending = handoffs.pending.get(who.user_id)
    if pending is None or pending.result.kind not in (tx.TransferKind.THREE_WAY, tx.TransferKind.EMERGENCY):
        raise DeskError(409, "no_conference", "当前没有进行中的三方通话")
    remaining = await tx.agent_leaves(link.ami, pending.call, pending.result)
    handoffs.pending.pop(who.user_id, None)
    return {"remaining": remaining, "message": f"您已退出三方通话，市民与{pending.result.target_name}继续通话"}


async def finish_attended(link: TelephonyLink, handoffs: Handoffs, who: Principal, complete: bool) -> dict[str, Any]:
    pending = handoffs.pending.get(who.user_id)
    if pending is None or pending.result.kind != tx.TransferKind.ATTENDED:
        raise DeskError(409, "no_consultation", "当前没有进行中的咨询转接")
    handoffs.pending.pop(who.user_id, None)
    if not complete:
        await tx.cancel_attended_transfer(link.ami, pending.call)
        return {"message": "已取消转接，您已回到与市民的通话"}
    result = await tx.complete_attended_transfer(link.ami, pending.call, pending.result)
    return {"result": result.as_dict(), "message": message(result, None)}


async def hang_up_agent_leg(link: TelephonyLink, who: Principal) -> dict[str, Any]:
    """End the call from the desk by hanging up the agent's leg only: the citizen's Queue() continues into the
    post-call survey, as when the agent hangs up the softphone."""
    call = await live_call(link, who)
    await link.ami.hangup(call.agent_channel)
    return {"message": "通话已结束，市民将进入满意度评价"}


def message(result: tx.TransferResult, ticket: str | None) -> str:
    name = result.target_name or result.target
    outcome = result.outcome
    if outcome == tx.Outcome.BRIDGED:
        return f"已与{name}建立三方通话" + ("" if result.agent_stayed else "，您已退出")
    if outcome == tx.Outcome.ANSWERED:
        return f"已转接至{name}"
    if outcome == tx.Outcome.QUEUED:
        return f"市民已转入“{name}”排队"
    if outcome == tx.Outcome.CONSULTING:
        return f"正在与{name}协商，可“完成转接”或“取消转接”"
    if outcome == tx.Outcome.CITIZEN_GONE:
        return "市民已挂机，转接未完成"
    why = _FAILURE_WORDS.get(outcome, "未接通")
    if result.fallback.startswith("queue:"):
        return f"{name}{why}，市民已回到12345排队"
    text = f"{name}{why}，市民仍与您通话"
    if ticket:
        text += f"；已生成工单{ticket}并派至{result.department}"
    return text


def _pending_step(pending: Pending | None) -> str | None:
    if pending is None:
        return None
    return "complete_or_cancel" if pending.result.kind == tx.TransferKind.ATTENDED else "leave"
