"""The screen pop: what an agent's browser shows the moment the call is answered.

Published on the Redis channel ``hotline:pop:<user id>``; the desk's WebSocket forwards it to that agent's
open pages. Kinds: ``pop`` (a call was answered: caller, line, city, prefill, the caller's tickets with open
matters first), ``prefill`` (the live transcript moved on while the call is up) and ``turn`` (one speaker turn of
the call's transcript, also to supervisors listening: ``agent_desk.calls.transcript``) and ``warning`` (something
about the call the agent must know while talking: its recording cannot be written, or stopped being written). A pop
also lists the warnings already known for its call (``warnings``, from the call's ``recording_fault``), so the
agent's page shows them again after a reload (``/api/calls/current``).
"""

from __future__ import annotations

import json
import time
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from agent_desk.auth.need_to_know import agent_grant
from agent_desk.db import models as m
from agent_desk.tickets import lifecycle as lc
from hotline.contracts.prefill import Prefill
from agent_desk.tickets.service import open_for_phone, summary

CHANNEL = "hotline:pop:{user_id}"

# What a ``warning`` says to the agent, by kind: the agent's page shows the message as it comes.
WARNINGS = {
    "recording_failed": "录音失败：本次通话无法录音（录音存储已满或不可用），请做好通话记录，并报告班长。",
    "recording_interrupted": "录音中断：本次通话的录音已停止写入（录音存储已满或不可用），录音不完整，"
                             "请做好通话记录，并报告班长。",
}
# The call's ``recording_fault`` → the warning its agent is shown.
FAULT_WARNINGS = {"failed": "recording_failed", "interrupted": "recording_interrupted"}


def channel_for(user_id: int) -> str:
    return CHANNEL.format(user_id=user_id)


def build(session: Session, call: m.Call, prefill: Prefill | None, line_names: dict[str, str],
          city_names: dict[str, str]) -> dict[str, Any]:
    tickets = caller_tickets(session, call)
    return {
        "type": "pop",
        "sent_at": time.time(),
        "call": {
            "call_id": call.call_id, "caller": call.caller or "", "line": call.line or "",
            "line_name": line_names.get(call.line or "", ""), "line_class": call.line_class or "",
            "queue": call.queue or "", "subplatform": call.subplatform or "",
            "city": city_names.get(call.subplatform or "", ""),
            "answered_at": call.answered_at.isoformat() if call.answered_at else None,
        },
        "prefill": prefill.to_dict() if prefill is not None else None,
        # The agent talks to this caller: their own tickets are shown with the contact (the pop is audited).
        "tickets": [summary(t, unmasked=True) | {"open": lc.State(t.state) in lc.OPEN_STATES} for t in tickets],
        "warnings": [warning(call.call_id, FAULT_WARNINGS[call.recording_fault])]
        if call.recording_fault in FAULT_WARNINGS else [],
    }


def caller_tickets(session: Session, call: m.Call) -> list[m.Ticket]:
    """The caller's tickets this agent may see (need_to_know): another agent's 保密 ticket is left out."""
    if call.agent_user_id is None:
        return []
    return [t for t in open_for_phone(session, call.caller or "")
            if agent_grant(call.agent_user_id, t, call, by_number=False) is not None]


def warning(call_id: str, kind: str) -> dict[str, Any]:
    """A ``warning`` about the agent's call (``kind``: a key of ``WARNINGS``)."""
    return {"type": "warning", "sent_at": time.time(), "call_id": call_id, "kind": kind, "message": WARNINGS[kind]}


def audit_detail(message: dict[str, Any]) -> str:
    """What a pop showed, for its audit row: the caller and the numbers of the tickets listed."""
    return json.dumps({"shown": "caller,tickets", "numbers": [t["number"] for t in message["tickets"]]})


def encode(message: dict[str, Any]) -> str:
    return json.dumps(message, ensure_ascii=False, default=str)


def agent_user(session: Session, extension: str) -> int | None:
    return session.scalar(select(m.User.id).where(m.User.extension == extension, m.User.active.is_(True)))
