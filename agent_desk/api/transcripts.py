"""A call's live transcript (speaker turns), and the supervisors' search over stored transcripts.

Who reads what is ``need_to_know.transcript_grant`` (for an agent's 回拨, read by its ``out_id``:
``callback_transcript_grant``): the agent who answered (placed) the call and supervisors in full, a unit
handling a ticket of the call with the numbers said masked; a search result is a list, always masked. Every read,
every search and every refused attempt is written to the audit log with its reason.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from typing import Any, NoReturn

from fastapi import APIRouter, Depends, Path, Request
from pydantic import BaseModel, ConfigDict, Field
from redis.exceptions import RedisError
from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from agent_desk.api.deps import client_of, principal, unit_of_work
from agent_desk.api.schemas import Reply
from agent_desk.auth import need_to_know as ntk
from agent_desk.auth.privacy import audit
from agent_desk.auth.roles import Role
from agent_desk.auth.sessions import Principal
from agent_desk.calls import transcript
from agent_desk.db import models as m
from agent_desk.errors import DeskError
from agent_desk.text import ONE_LINE
from agent_desk.settings import PROVINCE_TZ
from agent_desk.supervision.periods import Day
from hotline.contracts.transcript import Phase, Speaker, Status, Turn

log = logging.getLogger(__name__)
router = APIRouter()

CALL_ID = Path(..., pattern=r"^[0-9A-Za-z.\-_]{1,64}$", description="通话编号（HOTLINE_CALL_ID）")
SEARCHERS_MESSAGE = "只有平台管理员可以检索通话转写"


class TranscriptTurn(Reply):
    speaker: Speaker = Field(description="说话人代码（词表 speakers）：citizen 市民，agent 坐席")
    seq: int = Field(description="该说话人的第几句（从 0 起）")
    phase: Phase = Field(description="waiting：排队时所述（描述诉求）；conversation：通话中（词表 turn_phases）")
    status: Status = Field(description="ok 已转写；shed 转写繁忙未转写；lost 转写中断；no_engine 未配置语音识别"
                                       "（词表 turn_statuses）")
    text: str = Field(description="所说内容；status 不是 ok 时为空")
    start: float = Field(description="从本通话开始采集起算的秒数：这句话开始")
    end: float = Field(description="这句话结束（秒）")
    engine: str = Field(description="语音识别引擎")
    at: str = Field(description="写入时间（ISO 8601）")


class Transcript(Reply):
    """一次通话的实时转写，按说话先后排列（按“需要才知道”原则提供，读取留痕）。"""

    call_id: str
    live: bool = Field(description="通话仍在进行，转写还会继续（新的语句经 /ws/desk 推送）")
    masked: bool = Field(description="文本中的电话号码等是否已脱敏")
    turns: list[TranscriptTurn]
    access_reason: str = Field(description="本次可以查看的理由代码")
    access_reason_label: str


class TranscriptQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    # no control characters: PostgreSQL refuses a NUL in text outright (a 500, not an answer)
    q: str = Field("", max_length=64, pattern=ONE_LINE, description="所说内容包含的文字")
    speaker: Speaker | None = Field(None, description="只查市民（citizen）或坐席（agent）所说")
    phase: Phase | None = Field(None, description="只查排队时所述（waiting）或通话中（conversation）")
    call_id: str | None = Field(None, pattern=r"^[0-9A-Za-z.\-_]{1,64}$", description="只查这一通话")
    said_from: Day | None = Field(None, description="起始日期（含，北京时间）")
    said_to: Day | None = Field(None, description="截止日期（含，北京时间）")
    before_id: int | None = Field(None, ge=1, le=2**31 - 1, description="翻页：只返回编号小于它的结果")
    limit: int = Field(20, ge=1, le=100)


class TranscriptHit(Reply):
    id: int = Field(description="翻页用：下一页传 before_id")
    call_id: str
    speaker: Speaker
    seq: int
    phase: Phase
    status: Status
    text: str = Field(description="所说内容（号码已脱敏）")
    at: str


class TranscriptPage(Reply):
    """检索结果，最新的在前；文本中的号码一律脱敏，查看全文请打开该通话的转写。"""

    items: list[TranscriptHit]
    next_before_id: int | None = Field(description="还有下一页时，下一页的 before_id")


@router.get("/calls/{call_id}/transcript", summary="通话转写")
def read(request: Request, call_id: str = CALL_ID, who: Principal = Depends(principal),
         session: Session = Depends(unit_of_work, scope="function")) -> Transcript:
    """一次通话中市民与坐席各自所说的内容（含排队时所述），按说话先后排列；通话进行中时包括刚转写的语句。接听坐席和平台
    管理员可查看全文；承办单位只能查看其承办或协办工单所关联通话的转写，其中的电话号码等已脱敏。坐席回拨市民的通话以
    回拨编号（out_id）查看，拨出的坐席可查看全文。每次查看（包括被拒绝的尝试）都记入审计日志。"""
    client = client_of(request)
    if not ntk.reads_cases(who):
        _refuse(session, who, "call", call_id, client, 403, "forbidden_role", ntk.ROLE_REFUSED_MESSAGE)
    call: m.Call | m.CallbackCall | None = session.scalar(select(m.Call).where(m.Call.call_id == call_id))
    grant = ntk.transcript_grant(session, who, call) if isinstance(call, m.Call) else None
    if call is None:   # an agent's 回拨: transcribed under its out_id
        call = transcript.callback_call(session, call_id)
        grant = ntk.callback_transcript_grant(session, who, call) if call is not None else None
    if call is None or grant is None:   # no hint that another agent's or unit's call exists
        _refuse(session, who, "call", call_id, client, 404, "unknown_call", f"通话“{call_id}”不存在")
    streamed: list[Turn] = []
    if call.ended_at is None or _recent(call.ended_at):   # what the desk may not have stored yet
        try:
            streamed = transcript.read_stream(request.app.state.redis, call_id)
        except (RedisError, OSError) as exc:
            log.warning("transcript stream of %s not read: %s", call_id, exc)
    turns = transcript.merged(transcript.stored_turns(session, call_id), streamed)
    shown = [_shown(t, grant.unmasked) for t in turns]
    audit(session, who, "read_personal_data", "call", call_id,
          _json({"shown": "transcript", "turns": len(shown), "masked": not grant.unmasked}), client,
          grant.audit_reason)
    return Transcript(call_id=call_id, live=call.ended_at is None, masked=not grant.unmasked, turns=shown,
                      access_reason=grant.reason, access_reason_label=ntk.REASON_LABELS[grant.reason])


@router.get("/transcripts", summary="检索通话转写")
def search(request: Request, query: TranscriptQuery = Depends(), who: Principal = Depends(principal),
           session: Session = Depends(unit_of_work, scope="function")) -> TranscriptPage:
    """平台管理员按所说内容、说话人、阶段、日期检索已保存的通话转写，最新的在前，按 before_id 翻页。结果中的号码一律
    脱敏。每次检索（条件、返回的通话）都记入审计日志；其他角色返回 403（同样留痕）。"""
    client = client_of(request)
    filters = query.model_dump(mode="json", exclude_defaults=True)
    if who.role != Role.SUPERVISOR:
        _refuse(session, who, "transcript_search", "search", client, 403, "forbidden_role", SEARCHERS_MESSAGE,
                _json({"filters": filters}))
    stmt: Select[Any] = select(m.CallTurn).order_by(m.CallTurn.id.desc())
    if query.q:
        stmt = stmt.where(m.CallTurn.text.like(f"%{_escape_like(query.q)}%", escape="\\"))
    for column, value in ((m.CallTurn.speaker, query.speaker), (m.CallTurn.phase, query.phase),
                          (m.CallTurn.call_id, query.call_id)):
        if value is not None:
            stmt = stmt.where(column == value)
    if query.said_from:
        stmt = stmt.where(m.CallTurn.at >= _midnight(query.said_from))
    if query.said_to:
        stmt = stmt.where(m.CallTurn.at < _midnight(query.said_to + dt.timedelta(days=1)))
    if query.before_id:
        stmt = stmt.where(m.CallTurn.id < query.before_id)
    rows = session.scalars(stmt.limit(query.limit + 1)).all()
    page = rows[: query.limit]
    audit(session, who, "search_transcripts", "transcript_search", "search",
          _json({"filters": filters, "calls": sorted({r.call_id for r in page})}), client, "platform")
    return TranscriptPage(items=[TranscriptHit(id=r.id, call_id=r.call_id, speaker=r.speaker,
                                               seq=r.seq, phase=r.phase, status=r.status,
                                               text=ntk.mask_numbers(r.text), at=r.at.isoformat()) for r in page],
                          next_before_id=page[-1].id if len(rows) > query.limit else None)


def _shown(turn: Turn, unmasked: bool) -> TranscriptTurn:
    return TranscriptTurn(speaker=turn.speaker, seq=turn.seq, phase=turn.phase, status=turn.status,
                          text=turn.text if unmasked else ntk.mask_numbers(turn.text), start=turn.start, end=turn.end,
                          engine=turn.engine, at=turn.at)


def _refuse(session: Session, who: Principal, object_type: str, object_id: str, client: str, status: int, code: str,
            message: str, detail: str = "") -> NoReturn:
    """Audit a refused read and answer it; committed here, since the unit of work rolls back on the error."""
    audit(session, who, "read_denied", object_type, object_id, detail or message, client, code)
    session.commit()
    raise DeskError(status, code, message)


def _recent(ended_at: dt.datetime) -> bool:
    return dt.datetime.now(dt.UTC) - ended_at < dt.timedelta(seconds=transcript.AFTER_HANGUP_SECONDS)


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=PROVINCE_TZ)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)
