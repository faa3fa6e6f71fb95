"""Calls for agents: the current call (pop again after a reload), one call's record, and the pop WebSocket."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import FileResponse
from redis.exceptions import RedisError
from sqlalchemy import select
from sqlalchemy.orm import Session

from agent_desk.api.deps import client_of, require, telephony, unit_of_work
from agent_desk.auth.need_to_know import current_call
from agent_desk.auth.privacy import audit, mask_phone
from agent_desk.auth.roles import Role
from agent_desk.auth.sessions import Principal
from agent_desk.calls import handoff, pop
from agent_desk.db import models as m
from agent_desk.errors import DeskError
from agent_desk.telephony import recording as recordings
from agent_desk.telephony.link import TelephonyLink
from hotline.contracts import ContractMismatch
from hotline.contracts import prefill as prefill_contract
from hotline.contracts.prefill import Prefill

log = logging.getLogger(__name__)
router = APIRouter()


@router.get("/calls/current")
def current(request: Request, who: Principal = Depends(require(Role.AGENT)),
            session: Session = Depends(unit_of_work, scope="function")) -> dict:
    """The call this agent is on (or ended in the last minutes), as a pop: the page shows it after a reload."""
    call = current_call(session, who.user_id)
    if call is None:
        return {"type": "idle"}
    prefill = Prefill.model_validate(call.prefill) if call.prefill else None   # as stored when answered
    try:
        raw = request.app.state.redis.get(prefill_contract.key(call.call_id))
        prefill = Prefill.decode(raw) if raw else prefill
    except RedisError:
        pass
    except ContractMismatch as exc:
        log.error("prefill of %s not shown: %s", call.call_id, exc)
    app = request.app.state
    message = pop.build(session, call, prefill, app.line_names, app.city_names)
    audit(session, who, "read_personal_data", "call", call.call_id, pop.audit_detail(message), client_of(request),
          f"current_caller call={call.call_id}")
    return message


@router.get("/calls/transfer-targets")  # before /api/calls/{call_id}, which would take the path
def transfer_targets(who: Principal = Depends(require(Role.AGENT, Role.SUPERVISOR)),
                     link: TelephonyLink = Depends(telephony)) -> dict:
    return handoff.targets(link)


CALL_ID = Path(..., pattern=r"^[0-9A-Za-z.\-_]{1,64}$")


@router.get("/calls/{call_id}")
def read(request: Request, call_id: str = CALL_ID,
         who: Principal = Depends(require(Role.AGENT, Role.SUPERVISOR)), session: Session = Depends(unit_of_work, scope="function")):
    call = _visible_call(session, who, call_id)
    if call.caller:
        reason = "platform" if who.role == Role.SUPERVISOR else "own_call"
        audit(session, who, "read_personal_data", "call", call_id, "caller", client_of(request), reason)
    return {
        "call_id": call.call_id, "line": call.line, "line_class": call.line_class, "caller": call.caller,
        "caller_masked": mask_phone(call.caller or ""), "queue": call.queue, "subplatform": call.subplatform,
        "agent": call.agent_extension, "started_at": _iso(call.started_at), "queued_at": _iso(call.queued_at),
        "answered_at": _iso(call.answered_at), "ended_at": _iso(call.ended_at), "outcome": call.outcome,
        "hangup_cause": call.hangup_cause, "recording": call.recording, "prefill": call.prefill,
        "survey_result": call.survey_result, "transfers": call.transfers,
        "tickets": [t.number for t in session.scalars(select(m.Ticket).where(m.Ticket.call_id == call.id))],
    }


# ── hand-offs: the agent's transfer buttons ─────────────────────────────────
@router.post("/calls/current/transfer")
async def transfer(body: handoff.TransferRequest, request: Request, who: Principal = Depends(require(Role.AGENT)),
                   link: TelephonyLink = Depends(telephony)) -> dict:
    """三方转接 / 保留坐席 / 一键转接 / 紧急联动 / 转坐席 / 咨询转 / 转队列 of the agent's current call."""
    app = request.app.state
    return await handoff.transfer(link, app.db, app.settings, app.handoffs, who, body, client_of(request))


@router.post("/calls/current/transfer/leave")
async def leave_conference(request: Request, who: Principal = Depends(require(Role.AGENT)),
                           link: TelephonyLink = Depends(telephony)) -> dict:
    return await handoff.leave(link, request.app.state.handoffs, who)


@router.post("/calls/current/transfer/{step}")
async def finish_consultation(request: Request, step: str = Path(..., pattern=r"^(complete|cancel)$"),
                              who: Principal = Depends(require(Role.AGENT)),
                              link: TelephonyLink = Depends(telephony)) -> dict:
    return await handoff.finish_attended(link, request.app.state.handoffs, who, complete=step == "complete")


@router.post("/calls/current/hangup")
async def hang_up(who: Principal = Depends(require(Role.AGENT)), link: TelephonyLink = Depends(telephony)) -> dict:
    return await handoff.hang_up_agent_leg(link, who)


# ── recordings ───────────────────────────────────────────────────────────────
@router.get("/calls/{call_id}/recording")
def recording(request: Request, call_id: str = CALL_ID,
              who: Principal = Depends(require(Role.AGENT, Role.SUPERVISOR)), session: Session = Depends(unit_of_work, scope="function")):
    """The call's recording (WAV) for supervisors (质检) and the agent who answered it; every play is audited."""
    call = _visible_call(session, who, call_id)
    path = recordings.host_file(request.app.state.settings, call.recording)
    if path is None:
        raise DeskError(404, "no_recording", "该通话没有录音")
    audit(session, who, "play_recording", "call", call_id, str(call.recording), client_of(request))
    return FileResponse(path, media_type="audio/wav", filename=f"{call_id}.wav")


def _visible_call(session: Session, who: Principal, call_id: str) -> m.Call:
    """A call for supervisors, or for the agent who answered it; 404 otherwise (no hint that it exists)."""
    call = session.scalar(select(m.Call).where(m.Call.call_id == call_id))
    if call is None or (who.role == Role.AGENT and call.agent_user_id != who.user_id):
        raise DeskError(404, "unknown_call", f"通话“{call_id}”不存在")
    return call


def _iso(value) -> str | None:
    return value.isoformat() if value else None
