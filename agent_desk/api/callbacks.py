"""未接来电回拨: the callback worklist, one task, the 回拨 button (from a task or a ticket) and the result.

Agents and supervisors only. The citizen's number is shown to supervisors (平台) and masked for agents, who never
need it: 回拨 takes a task id or a ticket number, never a number, and the desk dials what the task or ticket
holds. Every read of tasks and every call is audited.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

from fastapi import APIRouter, Depends, Path, Request
from pydantic import Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from agent_desk.api.deps import client_of, require, telephony, unit_of_work
from agent_desk.api.schemas import Body, Reply
from agent_desk.api.supervision import period
from agent_desk.auth import need_to_know as ntk
from agent_desk.auth.privacy import audit
from agent_desk.auth.roles import Role
from agent_desk.auth.sessions import Principal
from agent_desk.callbacks import store, texts
from agent_desk.callbacks.dialer import Dialer, new_out_id
from agent_desk.callbacks.revisit import record_opt_out
from agent_desk.callbacks.rules import AGENT_OUTCOMES, CallbackPolicy, Outcome, TaskState, work_order
from agent_desk.db import models as m
from agent_desk.errors import DeskError
from agent_desk.supervision.periods import Period
from agent_desk.telephony.link import TelephonyLink
from agent_desk.telephony.recording import recording_path
from hotline.privacy import mask_phone

router = APIRouter(prefix="/callbacks")
READERS = (Role.AGENT, Role.SUPERVISOR)
TASK_ID = Path(..., ge=1, le=2**31 - 1, description="回拨任务编号")
OUT_ID = Path(..., pattern=r"^cb-[0-9a-f]{20}$", description="回拨通话编号")
NUMBER = Path(..., pattern=r"^\d{14}$", description="工单编号")
# Grants under which an agent may have a ticket's citizen called: the agent's own business with it. A number read
# out on a call (number_on_call) shows the ticket masked and is no reason to phone its citizen.
CALLABLE_GRANTS = frozenset({"own_ticket", "own_call", "current_caller", "platform"})


# ── what the endpoints answer ────────────────────────────────────────────────
class CallRow(Reply):
    out_id: str
    started_at: str
    agent: str = Field(description="回拨坐席的分机")
    status: str = Field(description="ringing_agent（坐席话机振铃）/ dialing（正在拨打市民）/ connected / ended")
    outcome: str | None
    outcome_label: str | None
    dial_status: str
    counted: bool = Field(description="是否计入回拨次数")
    recording: bool = Field(description="有录音")
    ticket: str | None = Field(description="关联工单编号")


class TaskItem(Reply):
    id: int
    caller: str = Field(description="来电号码（平台人员明文，话务员脱敏）")
    caller_masked: bool
    line: str | None = Field(description="来电热线号码")
    line_name: str
    city: str = Field(description="市县名称")
    missed_calls: int = Field(description="未接通来电次数（同一来电人合并为一个任务）")
    first_missed_at: str
    last_missed_at: str
    wait_seconds: int = Field(description="最长一次的等待时长（秒）")
    due_at: str = Field(description="回拨时限（免打扰时段不计）")
    overdue: bool
    remaining_seconds: int = Field(description="距时限的秒数，超时为负")
    priority: int
    attempts: int
    max_attempts: int
    next_attempt_at: str | None = Field(description="按重拨规则下次可拨的时间")
    state: str
    state_label: str
    outcome: str | None
    outcome_label: str | None
    callable: bool = Field(description="现在可以回拨")
    refusal: str | None = Field(description="现在不能回拨的原因（中文）")
    transcript: str = Field(description="市民在语音导航/排队中已说的内容（话务员看到的号码已脱敏）")
    ticket: str | None


class OutcomeChoice(Reply):
    code: str
    label: str


class Worklist(Reply):
    items: list[TaskItem]
    outcomes: list[OutcomeChoice] = Field(description="坐席可登记的回拨结果（POST /callbacks/{id}/outcome）")
    quiet_now: bool = Field(description="当前处于免打扰时段")
    quiet_hours: str = Field(description="免打扰时段，如 21:00–08:00")
    target_minutes: int


class TaskDetail(TaskItem):
    calls: list[CallRow]


class CallStarted(Reply):
    out_id: str
    status: str
    number: str = Field(description="被叫号码（已脱敏）")
    message: str


class CoverageReport(Reply):
    period: str
    tasks: int = Field(description="有未接来电的来电人数（每人一个回拨任务）")
    missed_calls: int
    contacted: int = Field(description="已联系上（回拨接通，或市民再次来电已接通）")
    contacted_within_target: int
    rate: float | None = Field(description="回拨率：时限内联系上的人数 / 任务数；无任务时为空")
    given_up: int = Field(description="多次未接通")
    invalid_number: int
    pending: int = Field(description="尚未完成")
    attempts: int = Field(description="拨打市民的次数")
    target_minutes: int


class OutcomeBody(Body):
    outcome: Outcome = Field(description="reached / resolved / ticket_created / refused / invalid_number / "
                                         "no_answer / busy")
    ticket_number: str | None = Field(None, pattern=r"^\d{14}$", description="已受理工单时填写工单编号")


class CallbackOptOutBody(Body):
    reason: str = Field(min_length=1, max_length=500, description="市民的原话或坐席的说明（记入不再回拨登记）")


class OptedOut(TaskItem):
    message: str


# ── helpers ──────────────────────────────────────────────────────────────────
def _policy(request: Request) -> CallbackPolicy:
    return request.app.state.settings.callbacks


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _dialer(request: Request) -> Dialer:
    state = request.app.state
    dialer = getattr(state, "callback_dialer", None)
    if dialer is None:
        dialer = state.callback_dialer = Dialer(state.db, state.settings.callbacks)
    return dialer


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value else None


def _item(request: Request, session: Session, who: Principal, row: m.CallbackTask, now: dt.datetime) -> dict[str, Any]:
    policy, app = _policy(request), request.app.state
    unmasked = who.role == Role.SUPERVISOR
    due = policy.due_at(row.first_missed_at)
    refusal = store.callable_refusal(row, policy, now)
    words = str((row.prefill or {}).get("transcript", "")).strip()
    ticket = session.get(m.Ticket, row.ticket_id) if row.ticket_id is not None else None
    return {
        "id": row.id, "caller": row.caller if unmasked else mask_phone(row.caller), "caller_masked": not unmasked,
        "line": row.line, "line_name": app.line_names.get(row.line or "", ""),
        "city": app.city_names.get(row.subplatform or "", ""), "missed_calls": row.missed_calls,
        "first_missed_at": row.first_missed_at.isoformat(), "last_missed_at": row.last_missed_at.isoformat(),
        "wait_seconds": row.longest_wait_seconds, "due_at": due.isoformat(),
        "overdue": row.state in store.LIVE_STATES and now > due,
        "remaining_seconds": int((due - now).total_seconds()), "priority": row.priority, "attempts": row.attempts,
        "max_attempts": policy.attempts, "next_attempt_at": _iso(row.next_attempt_at), "state": row.state,
        "state_label": texts.STATE_LABELS[TaskState(row.state)], "outcome": row.outcome,
        "outcome_label": texts.OUTCOME_LABELS[Outcome(row.outcome)] if row.outcome else None,
        "callable": refusal is None, "refusal": refusal[1] if refusal else None,
        "transcript": words if unmasked else ntk.mask_numbers(words),
        "ticket": ticket.number if ticket is not None else None,
    }


def _call_row(session: Session, row: m.CallbackCall) -> CallRow:
    ticket = session.get(m.Ticket, row.ticket_id) if row.ticket_id is not None else None
    return CallRow(out_id=row.out_id, started_at=row.started_at.isoformat(), agent=row.agent_extension,
                   status=row.status, outcome=row.outcome,
                   outcome_label=texts.OUTCOME_LABELS[Outcome(row.outcome)] if row.outcome else None,
                   dial_status=row.dial_status, counted=row.counted, recording=bool(row.recording),
                   ticket=ticket.number if ticket is not None else None)


def _reason(who: Principal) -> str:
    return "platform" if who.role == Role.SUPERVISOR else "callback_worklist"


def _start(request: Request, link: TelephonyLink, placed: store.Placed, who: Principal) -> CallStarted:
    assert who.extension is not None   # store refused an agent without one
    _dialer(request).start(link.ami, placed.call.out_id, who.extension, placed.number)
    return CallStarted(out_id=placed.call.out_id, status=placed.call.status, number=mask_phone(placed.number),
                       message="正在呼叫您的话机，接起后将拨打市民（来电显示 12345）")


def _recording(request: Request, out_id: str) -> str | None:
    directory = request.app.state.settings.recordings_dir
    return recording_path(directory, out_id) if directory else None


# ── endpoints ────────────────────────────────────────────────────────────────
@router.get("", summary="回拨任务列表")
def worklist(request: Request, who: Principal = Depends(require(*READERS)),
             session: Session = Depends(unit_of_work, scope="function")) -> Worklist:
    """待回拨和回拨中的任务：超时的在前，再按优先级（多次来电、久等）和时间先后。读取留痕。"""
    now, policy = _now(), _policy(request)
    rows = store.live_tasks(session, now)
    items = sorted((_item(request, session, who, row, now) for row in rows),
                   key=lambda i: work_order(i["overdue"], i["priority"],
                                            dt.datetime.fromisoformat(i["first_missed_at"])))
    audit(session, who, "read_personal_data", "callback_tasks", "worklist",
          ",".join(str(i["id"]) for i in items)[:2000], client_of(request), _reason(who))
    return Worklist(items=[TaskItem.model_validate(i) for i in items], quiet_now=policy.is_quiet(now),
                    outcomes=[OutcomeChoice(code=o.value, label=texts.OUTCOME_LABELS[o]) for o in AGENT_OUTCOMES],
                    quiet_hours=f"{policy.quiet_start:%H:%M}–{policy.quiet_end:%H:%M}",
                    target_minutes=policy.target_minutes)


@router.get("/coverage", summary="未接来电回拨率")
def coverage(request: Request, when: Period = Depends(period), who: Principal = Depends(require(Role.SUPERVISOR)),
             session: Session = Depends(unit_of_work, scope="function")) -> CoverageReport:
    """按首次未接来电的时间统计：有未接来电的来电人数、联系上的人数、在回拨时限内联系上的人数与回拨率。不含个人信息。"""
    found = store.coverage(session, when.start_utc, when.end_utc, _policy(request))
    return CoverageReport(period=when.label, tasks=found.tasks, missed_calls=found.missed_calls,
                          contacted=found.contacted, contacted_within_target=found.contacted_within_target,
                          rate=found.rate, given_up=found.given_up, invalid_number=found.invalid_number,
                          pending=found.pending, attempts=found.attempts,
                          target_minutes=_policy(request).target_minutes)


@router.get("/calls/{out_id}", summary="回拨通话状态")
def call_state(out_id: str = OUT_ID, who: Principal = Depends(require(*READERS)),
               session: Session = Depends(unit_of_work, scope="function")) -> CallRow:
    """一次回拨通话的进展：话务员只能查看本人的回拨。"""
    row = store.call_by_out_id(session, out_id)
    if row is None or (who.role == Role.AGENT and row.agent_user_id != who.user_id):
        raise DeskError(404, "unknown_callback_call", texts.UNKNOWN_CALL.format(id=out_id))
    return _call_row(session, row)


@router.get("/{task_id}", summary="回拨任务详情")
def read(request: Request, task_id: int = TASK_ID, who: Principal = Depends(require(*READERS)),
         session: Session = Depends(unit_of_work, scope="function")) -> TaskDetail:
    """一个回拨任务及其回拨通话记录。读取留痕。"""
    now = _now()
    row = store.task(session, task_id)
    item = _item(request, session, who, row, now)
    calls = [_call_row(session, c) for c in store.calls_of(session, task_id=row.id)]
    audit(session, who, "read_personal_data", "callback_task", str(row.id), "caller,transcript", client_of(request),
          _reason(who))
    return TaskDetail.model_validate({**item, "calls": calls})


@router.post("/{task_id}/call", summary="回拨（任务）", status_code=202)
async def call_task(request: Request, task_id: int = TASK_ID, who: Principal = Depends(require(*READERS)),
                    link: TelephonyLink = Depends(telephony)) -> CallStarted:
    """先呼叫坐席本人的话机，坐席接起后经中继拨打市民，来电显示 12345，全程录音。免打扰时段、未到重拨时间、
    号码无效或任务已被他人回拨时拒绝（409/422）。"""
    following = set(_dialer(request).following)

    def place() -> store.Placed:
        now, out_id = _now(), new_out_id()
        with request.app.state.db.session() as session:
            row = store.task(session, task_id)
            placed = store.claim(session, row, who, out_id, _policy(request), now, _recording(request, out_id),
                                 following)
            audit(session, who, "callback_call", "callback_task", str(row.id),
                  f"{out_id} {mask_phone(placed.number)}", client_of(request), _reason(who))
            return placed   # committed here: the call row exists before Asterisk can report on it

    return _start(request, link, await asyncio.to_thread(place), who)


@router.post("/tickets/{number}/call", summary="回拨（工单）", status_code=202)
async def call_ticket(request: Request, number: str = NUMBER, who: Principal = Depends(require(*READERS)),
                      link: TelephonyLink = Depends(telephony)) -> CallStarted:
    """回拨工单上的市民：只能回拨本人受理、本人接听、当前来电人或平台可见的工单。"""
    following = set(_dialer(request).following)

    def place() -> store.Placed | None:
        now, out_id = _now(), new_out_id()
        with request.app.state.db.session() as session:
            ticket = session.scalar(select(m.Ticket).where(m.Ticket.number == number))
            if ticket is None:
                raise DeskError(404, "unknown_ticket", texts.UNKNOWN_TICKET.format(number=number))
            grant = ntk.ticket_grant(session, who, ticket, by_number=True)
            if grant is None or grant.reason not in CALLABLE_GRANTS:
                audit(session, who, "call_denied", "ticket", number, "callback", client_of(request),
                      grant.audit_reason if grant else "")
                return None   # the refusal is audited (committed), then answered
            placed = store.ticket_call(session, ticket, who, out_id, _policy(request), now,
                                       _recording(request, out_id), following)
            audit(session, who, "callback_call", "ticket", number, f"{out_id} {mask_phone(placed.number)}",
                  client_of(request), grant.audit_reason)
            return placed

    placed = await asyncio.to_thread(place)
    if placed is None:
        raise DeskError(403, "ticket_not_callable", texts.TICKET_REFUSED)
    return _start(request, link, placed, who)


@router.post("/{task_id}/outcome", summary="登记回拨结果")
def record_outcome(request: Request, body: OutcomeBody, task_id: int = TASK_ID,
                   who: Principal = Depends(require(*READERS)),
                   session: Session = Depends(unit_of_work, scope="function")) -> TaskItem:
    """市民接通后登记结果：已联系上、通话中已解决、已受理工单（填工单编号）、拒绝回访；号码无效也可在无法拨打时登记。"""
    if body.outcome not in AGENT_OUTCOMES:
        raise DeskError(422, "outcome_not_agents",
                        texts.OUTCOME_NOT_AGENTS.format(label=texts.OUTCOME_LABELS[body.outcome]))
    now = _now()
    row = store.task(session, task_id)
    ticket = None
    if body.ticket_number:
        ticket = session.scalar(select(m.Ticket).where(m.Ticket.number == body.ticket_number))
        if ticket is None:
            raise DeskError(422, "unknown_ticket", texts.UNKNOWN_TICKET.format(number=body.ticket_number))
    store.record_outcome(session, who, row, body.outcome, ticket, _policy(request), now)
    audit(session, who, "callback_outcome", "callback_task", str(row.id), body.outcome.value, client_of(request),
          _reason(who))
    session.flush()
    return TaskItem.model_validate(_item(request, session, who, row, now))


@router.post("/{task_id}/opt-out", summary="登记市民要求不再回拨")
def opt_out(request: Request, body: CallbackOptOutBody, task_id: int = TASK_ID,
            who: Principal = Depends(require(*READERS)),
            session: Session = Depends(unit_of_work, scope="function")) -> OptedOut:
    """市民要求不再回拨：任务以此结果关闭，登记进不再回访名单（智能回访也不再外呼该号码），此后该号码的未接来电不再
    生成回拨任务。正在回拨中的任务需通话结束后再登记。"""
    now = _now()
    row = store.task(session, task_id)
    store.opt_out(session, who, row, now)
    if record_opt_out(session, row.caller, None, store.OPT_OUT_SOURCE, body.reason, who.user_id, now) is None:
        raise DeskError(422, "number_empty", texts.NUMBER_REFUSED["empty"])
    audit(session, who, "callback_opt_out", "callback_task", str(row.id), body.reason[:200], client_of(request),
          _reason(who))
    session.flush()
    return OptedOut.model_validate(_item(request, session, who, row, now) | {"message": texts.CALLBACK_OPTED_OUT})
