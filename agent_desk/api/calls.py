"""Calls for agents: the current call (the pop again after a reload, or the agent's own 回拨 in progress), one call's
record, the call's recording, and the agent's hand-off buttons (transfers, emergency linkage, ending the call). The
pop WebSocket is in ``sockets``."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any, Literal

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import FileResponse
from pydantic import Field
from redis.exceptions import RedisError
from sqlalchemy import select
from sqlalchemy.orm import Session

from agent_desk.api.deps import client_of, require, telephony, unit_of_work
from agent_desk.api.schemas import Reply
from agent_desk.api.tickets import TicketSummary
from agent_desk.api.transcripts import TranscriptTurn
from agent_desk.auth.need_to_know import current_call
from agent_desk.auth.privacy import audit, mask_phone
from agent_desk.auth.roles import Role
from agent_desk.auth.sessions import Principal
from agent_desk.callbacks import store as callbacks
from agent_desk.calls import handoff, pop, transcript
from agent_desk.db import models as m
from agent_desk.errors import DeskError
from agent_desk.telephony import recording as recordings
from agent_desk.telephony.link import TelephonyLink
from hotline.contracts import ContractMismatch
from hotline.contracts import prefill as prefill_contract
from hotline.contracts.prefill import Prefill

log = logging.getLogger(__name__)
router = APIRouter()


# ── what the endpoints answer ────────────────────────────────────────────────
class PopCall(Reply):
    call_id: str
    caller: str = Field(description="来电号码（坐席正在服务的市民，明文；读取留痕）")
    line: str = Field(description="来电热线号码（12345 或并入的 123xx）")
    line_name: str
    line_class: str
    queue: str
    subplatform: str
    city: str = Field(description="市县名称")
    answered_at: str | None


class PopTicket(TicketSummary):
    open: bool = Field(description="未办结")


class CallWarning(Reply):
    """坐席通话中必须知道的情况（录音失败、录音中断），页面以告警显示。"""

    type: Literal["warning"]
    sent_at: float = Field(description="生成时间（Unix 秒）")
    call_id: str
    kind: Literal[tuple(pop.WARNINGS)] = Field(  # type: ignore[valid-type]
        description="recording_failed（录音失败：接听时录音无法写入）/ recording_interrupted（录音中断：通话中录音停止"
                    "写入，录音不完整）")
    message: str = Field(description="给坐席看的中文提示")


class Pop(Reply):
    """弹屏：坐席接起来电时推送（/ws/desk），刷新页面后由 GET /calls/current 取回。"""

    type: Literal["pop"]
    sent_at: float = Field(description="推送时间（Unix 秒）")
    call: PopCall
    prefill: Prefill | None = Field(description="语音预填（IVR 阶段市民所述的转写与要素）")
    tickets: list[PopTicket] = Field(description="来电人的工单，未办结的在前")
    warnings: list[CallWarning] = Field(description="该通话已知的告警（录音失败或中断）；刷新页面后仍会返回")


class CallbackInProgress(Reply):
    """坐席本人正在进行的回拨（刷新页面后由 GET /calls/current 取回，此前的转写一并返回）。"""

    type: Literal["callback"]
    out_id: str = Field(description="回拨通话编号（转写以此编号推送）")
    status: str = Field(description="ringing_agent（坐席话机振铃）/ dialing（正在拨打市民）/ connected（通话中）")
    started_at: str
    citizen_answered_at: str | None
    task_id: int | None = Field(description="回拨任务编号（从未接来电回拨时）")
    ticket: str | None = Field(description="关联工单编号")
    number: str = Field(description="被叫号码（已脱敏：坐席回拨不需要看到号码）")
    turns: list[TranscriptTurn] = Field(description="到目前为止的通话转写，按说话先后排列")


class Idle(Reply):
    type: Literal["idle"] = "idle"


RecordingFault = Literal[(*pop.FAULT_WARNINGS, None)]  # type: ignore[valid-type]
RECORDING_FAULT = ("录音故障：failed 录音失败（接听时无法写入，没有录音）、"
                   "interrupted 录音中断（通话中停止写入，录音不完整）；没有故障为 null")


class CallRecord(Reply):
    call_id: str
    line: str | None
    line_class: str | None
    caller: str | None
    caller_masked: str
    queue: str | None
    subplatform: str | None
    agent: str | None = Field(description="接听坐席的分机")
    started_at: str | None
    queued_at: str | None
    answered_at: str | None
    ended_at: str | None
    outcome: str | None = Field(description="answered / abandoned / ivr_only …")
    hangup_cause: str | None
    recording: str | None
    recording_fault: RecordingFault = Field(description=RECORDING_FAULT)
    prefill: dict[str, Any] | None
    survey_result: str | None = Field(description="来电满意度评价结果")
    transfers: list[dict[str, Any]] | None = Field(description="转接与紧急联动记录")
    tickets: list[str] = Field(description="由此通话受理或关联的工单编号")


class TargetLine(Reply):
    number: str
    name: str
    department: str


class TargetQueue(Reply):
    name: str
    label: str


class TransferTargets(Reply):
    sub_centers: list[TargetLine] = Field(description="三方转接的分中心（12360、12366、12305 …）")
    retained_seats: list[TargetLine] = Field(description="保留坐席（12348、12333）")
    one_key: list[TargetLine] = Field(description="一键转接（961017 …）")
    emergency: list[TargetLine] = Field(description="紧急联动（110、119、120、122）")
    queues: list[TargetQueue]


class Handoff(Reply):
    """一次转接的结果（与 HotlineTransfer 事件的字段对应）。"""

    call_id: str
    kind: str
    target: str
    target_name: str
    department: str
    trunk: str
    outcome: str = Field(description="connected / no_answer / busy / failed …")
    started_at: float
    ended_at: float
    answered_at: float | None
    bridged_at: float | None
    dial_status: str
    fallback: str = Field(description="未接通时的去向：agent（市民留在坐席）、queue:<队列>")
    conference: str
    far_channel: str
    agent: str
    agent_stayed: bool
    detail: str
    id: str
    connected: bool
    setup_seconds: float | None


class TransferReply(Reply):
    result: Handoff
    ticket: str | None = Field(description="分中心未接通时派出的工单编号")
    message: str
    pending: Literal["leave", "complete_or_cancel"] | None = Field(
        description="坐席接下来的一步：退出三方通话，或完成/取消咨询转")


class LeftConference(Reply):
    remaining: list[str] = Field(description="仍在三方会议中的通道")
    message: str


class Finished(Reply):
    result: Handoff | None = None
    message: str


class Message(Reply):
    message: str


@router.get("/calls/current", summary="当前通话（弹屏）")
def current(request: Request, who: Principal = Depends(require(Role.AGENT)),
            session: Session = Depends(unit_of_work, scope="function")) -> Pop | CallbackInProgress | Idle:
    """坐席当前的通话，以弹屏的形式返回（页面刷新后据此恢复）；没有来电而本人的回拨正在进行时 type 为 callback（号码
    脱敏，附到目前为止的转写）；都没有时 type 为 idle。读取留痕。"""
    call = current_call(session, who.user_id)
    if call is None:
        return _callback_in_progress(request, session, who) or Idle()
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
    return Pop.model_validate(message)


def _callback_in_progress(request: Request, session: Session, who: Principal) -> CallbackInProgress | None:
    """The agent's own 回拨 not yet ended (one at a time: the dialer refuses a second), with its turns so far.

    A row older than ``STALE_CALL`` is one the desk never heard the end of (``store.release_stale`` ends it): not
    shown. An inbound call answered meanwhile wins (the caller above asks for it first)."""
    now = dt.datetime.now(dt.UTC)
    row = session.scalar(select(m.CallbackCall).where(
        m.CallbackCall.agent_user_id == who.user_id, m.CallbackCall.ended_at.is_(None),
        m.CallbackCall.started_at > now - callbacks.STALE_CALL).order_by(m.CallbackCall.started_at.desc()).limit(1))
    if row is None:
        return None
    task = session.get(m.CallbackTask, row.task_id) if row.task_id is not None else None
    ticket = session.get(m.Ticket, row.ticket_id) if row.ticket_id is not None else None
    number = task.caller if task is not None else (ticket.citizen_phone if ticket is not None else "")
    streamed = []
    try:   # what the relay may not have stored yet
        streamed = transcript.read_stream(request.app.state.redis, row.out_id)
    except (RedisError, OSError) as exc:
        log.warning("transcript stream of %s not read: %s", row.out_id, exc)
    turns = transcript.merged(transcript.stored_turns(session, row.out_id), streamed)
    # the agent who placed the call reads its transcript in full (need_to_know.callback_transcript_grant)
    audit(session, who, "read_personal_data", "call", row.out_id, f"current_callback turns={len(turns)}",
          client_of(request), "own_callback")
    return CallbackInProgress(
        type="callback", out_id=row.out_id, status=row.status, started_at=row.started_at.isoformat(),
        citizen_answered_at=_iso(row.citizen_answered_at), task_id=row.task_id,
        ticket=ticket.number if ticket is not None else None, number=mask_phone(number or ""),
        turns=[TranscriptTurn(speaker=t.speaker, seq=t.seq, phase=t.phase, status=t.status, text=t.text,
                              start=t.start, end=t.end, engine=t.engine, at=t.at) for t in turns])


@router.get("/calls/transfer-targets", summary="可转接的对象")  # before /calls/{call_id}, which would take the path
def transfer_targets(who: Principal = Depends(require(Role.AGENT, Role.SUPERVISOR)),
                     link: TelephonyLink = Depends(telephony)) -> TransferTargets:
    """号码规划中可以转接的分中心、保留坐席、一键转接、紧急联动号码和队列。"""
    return TransferTargets.model_validate(handoff.targets(link))


CALL_ID = Path(..., pattern=r"^[0-9A-Za-z.\-_]{1,64}$")


@router.get("/calls/{call_id}", summary="通话记录")
def read(request: Request, call_id: str = CALL_ID, who: Principal = Depends(require(Role.AGENT, Role.SUPERVISOR)),
         session: Session = Depends(unit_of_work, scope="function")) -> CallRecord:
    """一次通话的记录：平台人员可查所有通话，话务员只能查本人接听的通话。读取来电号码留痕。"""
    call = _visible_call(session, who, call_id)
    if call.caller:
        reason = "platform" if who.role == Role.SUPERVISOR else "own_call"
        audit(session, who, "read_personal_data", "call", call_id, "caller", client_of(request), reason)
    return CallRecord.model_validate({
        "call_id": call.call_id, "line": call.line, "line_class": call.line_class, "caller": call.caller,
        "caller_masked": mask_phone(call.caller or ""), "queue": call.queue, "subplatform": call.subplatform,
        "agent": call.agent_extension, "started_at": _iso(call.started_at), "queued_at": _iso(call.queued_at),
        "answered_at": _iso(call.answered_at), "ended_at": _iso(call.ended_at), "outcome": call.outcome,
        "hangup_cause": call.hangup_cause, "recording": call.recording, "recording_fault": call.recording_fault,
        "prefill": call.prefill,
        "survey_result": call.survey_result, "transfers": call.transfers,
        "tickets": [t.number for t in session.scalars(select(m.Ticket).where(m.Ticket.call_id == call.id))],
    })


# ── hand-offs: the agent's transfer buttons ─────────────────────────────────
@router.post("/calls/current/transfer", summary="转接当前通话")
async def transfer(body: handoff.TransferRequest, request: Request, who: Principal = Depends(require(Role.AGENT)),
                   link: TelephonyLink = Depends(telephony)) -> TransferReply:
    """三方转接、转保留坐席、一键转接、紧急联动、转坐席（直接/咨询）、转队列。分中心未接通或忙时，市民仍与坐席通话，
    工单派给该分中心的部门（ticket）。"""
    app = request.app.state
    return TransferReply.model_validate(
        await handoff.transfer(link, app.db, app.settings, app.handoffs, who, body, client_of(request)))


@router.post("/calls/current/transfer/leave", summary="退出三方通话")
async def leave_conference(request: Request, who: Principal = Depends(require(Role.AGENT)),
                           link: TelephonyLink = Depends(telephony)) -> LeftConference:
    """坐席退出三方通话，市民与分中心（或紧急联动方）继续通话。"""
    return LeftConference.model_validate(await handoff.leave(link, request.app.state.handoffs, who))


@router.post("/calls/current/transfer/{step}", summary="完成或取消咨询转接")
async def finish_consultation(request: Request, step: str = Path(..., pattern=r"^(complete|cancel)$"),
                              who: Principal = Depends(require(Role.AGENT)),
                              link: TelephonyLink = Depends(telephony)) -> Finished:
    """complete：把市民交给被咨询的坐席；cancel：回到与市民的通话。"""
    return Finished.model_validate(
        await handoff.finish_attended(link, request.app.state.handoffs, who, complete=step == "complete"))


@router.post("/calls/current/hangup", summary="结束通话")
async def hang_up(who: Principal = Depends(require(Role.AGENT)), link: TelephonyLink = Depends(telephony)) -> Message:
    """只挂断坐席一侧，市民随后进入满意度评价。"""
    return Message.model_validate(await handoff.hang_up_agent_leg(link, who))


# ── recordings ───────────────────────────────────────────────────────────────
@router.get("/calls/{call_id}/recording", summary="通话录音", response_class=FileResponse,
            responses={200: {"content": {"audio/wav": {}}, "description": "WAV 录音文件"}})
def recording(request: Request, call_id: str = CALL_ID,
              who: Principal = Depends(require(Role.AGENT, Role.SUPERVISOR)),
              session: Session = Depends(unit_of_work, scope="function")) -> FileResponse:
    """通话录音（WAV），供平台人员质检和接听坐席回听；每次播放留痕。"""
    call = _visible_call(session, who, call_id)
    path = recordings.host_file(request.app.state.settings, call.recording)
    if path is None and call.recording and not recordings.readable_here(request.app.state.settings, call.recording):
        raise DeskError(404, "recording_elsewhere",   # a cluster node's spool this desk's machine does not see
                        "该通话的录音保存在另一台电话节点上，本坐席系统无法读取；请通知管理员为坐席系统挂载该节点的录音目录")
    if path is None and call.recording:   # answered, so recorded, but nothing readable was written
        raise DeskError(404, "recording_unavailable",
                        "该通话的录音不可用：录音没有写入（录音盘已满或写入失败），请通知管理员")
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


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value else None
