"""Callback tasks in the database: made from missed calls, closed by a later answered call, worked with 回拨.

Every function takes the caller's session and its clock (``now``); nothing here commits. The call tracker calls
``missed_call`` / ``caller_answered`` inside the unit of work that stores the call, within a savepoint, so a fault
here never costs the call record (``agent_desk.calls.tracker``).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from agent_desk.auth.roles import LIFECYCLE_ROLE, Role
from agent_desk.auth.sessions import Principal
from agent_desk.callbacks import texts
from agent_desk.callbacks.rules import (AGENT_OUTCOMES, CONSUMES_ATTEMPT, FINAL, CallbackPolicy, Outcome, TaskState,
                                        check_number, priority)
from agent_desk.db import models as m
from agent_desk.errors import DeskError
from agent_desk.tickets import lifecycle as lc
from agent_desk.tickets.store import append_note
from hotline.privacy import mask_phone

log = logging.getLogger(__name__)

LIVE_STATES = (TaskState.OPEN.value, TaskState.DIALING.value)
# A call the desk started but never heard the end of (the desk restarted mid-call, AMI lost): after this long its
# task is callable again, and the call is recorded as failed (no attempt used).
STALE_CALL = dt.timedelta(hours=2)
ORPHANED = dt.timedelta(minutes=2)   # an agent's unfinished call no process follows, after this: a restart left it
# The opt-out store's source for a refusal marked on a callback task (市民要求不再回拨). Only this source stops
# tasks for later missed calls: 不再回访 (key 9 on a 回访, or marked for a ticket) refuses satisfaction calls, and a
# citizen who said so may still want a missed call returned. Campaigns skip every source.
OPT_OUT_SOURCE = "callback"


def caller_key(raw: str | None) -> str:
    """The number a task is kept under: the dialable form when there is one (``+8613…`` and ``13…`` are one
    caller), else the caller ID as it came (a foreign or odd number still gets its task, shown as not callable)."""
    check = check_number(raw)
    return check.digits if check.refused is None else (raw or "").strip()


def _wait_seconds(call: m.Call) -> int:
    start = call.arrived_at or call.started_at
    end = call.ended_at or start
    return max(0, int((end - start).total_seconds()))


def _has_words(prefill: dict[str, Any] | None) -> bool:
    return bool(prefill and str(prefill.get("transcript", "")).strip())


# ── from the call tracker ────────────────────────────────────────────────────
def missed_call(session: Session, call: m.Call, now: dt.datetime) -> m.CallbackTask | None:
    """A call that ended before any agent answered: a new task for its caller, or one more missed call on the
    caller's open task (three missed calls are one task). None for a call without a caller number."""
    key = caller_key(call.caller)
    if not key:
        log.info("missed call %s has no caller number: no callback task", call.call_id)
        return None
    if refuses_callbacks(session, key):
        log.info("missed call %s: its caller asked not to be called back (市民要求不再回拨): no task", call.call_id)
        return None
    task = _open_task(session, key)
    if task is None:
        task = _new_task(session, key, call)
        if task is not None:
            return task
        task = _open_task(session, key)   # another writer opened it a moment ago
        assert task is not None, "open_caller refused the insert, so its task exists"
    if call.call_id in (task.first_call_id, task.last_call_id):
        return task   # the same call told twice
    wait = _wait_seconds(call)
    task.missed_calls += 1
    task.last_call_id, task.last_missed_at = call.call_id, call.ended_at or now
    task.last_wait_seconds, task.longest_wait_seconds = wait, max(task.longest_wait_seconds, wait)
    task.line = call.line or task.line
    task.line_class, task.subplatform = call.line_class or task.line_class, call.subplatform or task.subplatform
    if _has_words(call.prefill) or not _has_words(task.prefill):
        task.prefill = call.prefill or task.prefill
    task.priority = priority(task.missed_calls, task.longest_wait_seconds)
    task.updated_at = now
    return task


def refuses_callbacks(session: Session, key: str) -> bool:
    """The caller asked, on a callback task, not to be called back."""
    refusal = select(m.RevisitOptOut.id).where(m.RevisitOptOut.caller == key, m.RevisitOptOut.source == OPT_OUT_SOURCE)
    return session.scalar(refusal.limit(1)) is not None


def _open_task(session: Session, key: str) -> m.CallbackTask | None:
    return session.scalar(select(m.CallbackTask).where(m.CallbackTask.open_caller == key))


def _new_task(session: Session, key: str, call: m.Call) -> m.CallbackTask | None:
    wait, at = _wait_seconds(call), call.ended_at or call.started_at
    task = m.CallbackTask(
        caller=key, open_caller=key, state=TaskState.OPEN.value, line=call.line, line_class=call.line_class,
        subplatform=call.subplatform, first_call_id=call.call_id, last_call_id=call.call_id, missed_calls=1,
        first_missed_at=at, last_missed_at=at, last_wait_seconds=wait, longest_wait_seconds=wait,
        prefill=call.prefill, priority=priority(1, wait), attempts=0, updated_at=at)
    try:
        with session.begin_nested():
            session.add(task)
            session.flush()
    except IntegrityError:
        return None
    return task


def caller_answered(session: Session, call: m.Call, now: dt.datetime) -> m.CallbackTask | None:
    """The caller rang again and an agent answered: their open task is done (``called_in``)."""
    key = caller_key(call.caller)
    task = _open_task(session, key) if key else None
    if task is None:
        return None
    _close(task, Outcome.CALLED_IN, now, None)
    return task


# ── the worklist ─────────────────────────────────────────────────────────────
def live_tasks(session: Session, now: dt.datetime, limit: int = 200) -> list[m.CallbackTask]:
    """Open and dialling tasks, oldest first (the API orders them for work); stale dialling released first."""
    release_stale(session, now)
    return list(session.scalars(select(m.CallbackTask).where(m.CallbackTask.state.in_(LIVE_STATES))
                                .order_by(m.CallbackTask.first_missed_at, m.CallbackTask.id).limit(limit)))


def release_stale(session: Session, now: dt.datetime) -> int:
    """Calls the desk never heard the end of (it restarted mid-call): ended as failed, their tasks open again."""
    stale = session.scalars(select(m.CallbackCall).where(m.CallbackCall.ended_at.is_(None),
                                                         m.CallbackCall.started_at < now - STALE_CALL)).all()
    for row in stale:
        _end_orphan(session, row, now)
    return len(stale)


def task(session: Session, task_id: int) -> m.CallbackTask:
    row = session.get(m.CallbackTask, task_id)
    if row is None:
        raise DeskError(404, "unknown_callback", texts.UNKNOWN_TASK.format(id=task_id))
    return row


def calls_of(session: Session, task_id: int | None = None, ticket_id: int | None = None) -> list[m.CallbackCall]:
    column, value = (m.CallbackCall.task_id, task_id) if task_id is not None else (m.CallbackCall.ticket_id, ticket_id)
    return list(session.scalars(select(m.CallbackCall).where(column == value).order_by(m.CallbackCall.id)))


def callable_refusal(task_row: m.CallbackTask, policy: CallbackPolicy, now: dt.datetime) -> tuple[str, str] | None:
    """Why this task may not be called now (code, message), or None."""
    if task_row.state != TaskState.OPEN:
        return "not_open", texts.NOT_OPEN
    refused = check_number(task_row.caller).refused
    if refused is not None:
        return f"number_{refused}", texts.NUMBER_REFUSED[refused]
    quiet = quiet_refusal(policy, now)
    if quiet is not None:
        return quiet
    if task_row.next_attempt_at is not None and task_row.next_attempt_at > now:
        local = task_row.next_attempt_at.astimezone(policy.tz)
        return "retry_later", texts.NOT_YET.format(at=local.strftime("%H:%M"))
    return None


def quiet_refusal(policy: CallbackPolicy, now: dt.datetime) -> tuple[str, str] | None:
    if policy.is_quiet(now):
        return "quiet_hours", texts.QUIET_HOURS.format(start=policy.quiet_start.strftime("%H:%M"),
                                                       end=policy.quiet_end.strftime("%H:%M"))
    return None


# ── coverage (回拨率) ─────────────────────────────────────────────────────────
@dataclass(frozen=True)
class Coverage:
    """Callback coverage of the missed calls whose first call fell in a period."""

    tasks: int                  # callers with missed calls (one task each)
    missed_calls: int
    contacted: int              # the citizen answered a 回拨, or rang again and got through
    contacted_within_target: int
    given_up: int
    invalid_number: int
    pending: int                # still open or being dialled
    attempts: int

    @property
    def rate(self) -> float | None:
        """Contacted within the target, of all tasks (None without tasks)."""
        return self.contacted_within_target / self.tasks if self.tasks else None


def coverage(session: Session, start: dt.datetime, end: dt.datetime, policy: CallbackPolicy) -> Coverage:
    in_period = (m.CallbackTask.first_missed_at >= start, m.CallbackTask.first_missed_at < end)
    rows = session.scalars(select(m.CallbackTask).where(*in_period)).all()
    answered: dict[int | None, dt.datetime | None] = {
        task_id: first for task_id, first in session.execute(
            select(m.CallbackCall.task_id, func.min(m.CallbackCall.citizen_answered_at))
            .where(m.CallbackCall.task_id.in_(select(m.CallbackTask.id).where(*in_period)),
                   m.CallbackCall.citizen_answered_at.is_not(None))
            .group_by(m.CallbackCall.task_id))}
    contacted = within = 0
    for row in rows:
        reached = answered.get(row.id)
        if row.outcome == Outcome.CALLED_IN and row.closed_at is not None:
            reached = min(reached, row.closed_at) if reached else row.closed_at
        if reached is not None:
            contacted += 1
            within += reached <= policy.due_at(row.first_missed_at)
    return Coverage(
        tasks=len(rows), missed_calls=sum(r.missed_calls for r in rows), contacted=contacted,
        contacted_within_target=within, given_up=sum(r.state == TaskState.GIVEN_UP for r in rows),
        invalid_number=sum(r.outcome == Outcome.INVALID_NUMBER for r in rows),
        pending=sum(r.state in LIVE_STATES for r in rows), attempts=sum(r.attempts for r in rows))


# ── 回拨 ─────────────────────────────────────────────────────────────────────
@dataclass(frozen=True)
class Placed:
    call: m.CallbackCall
    number: str    # the dialable number (never shown to the agent: it goes to Asterisk only)


def claim(session: Session, task_row: m.CallbackTask, who: Principal, out_id: str, policy: CallbackPolicy,
          now: dt.datetime, recording: str | None, following: Collection[str] = ()) -> Placed:
    """Take the task for one call by this agent: refused when it is not callable now or another agent has it.
    ``following``: the calls this desk process is following (see ``_extension_of``)."""
    extension = _extension_of(session, who, now, following)
    refusal = callable_refusal(task_row, policy, now)
    if refusal is not None:
        raise DeskError(409, refusal[0], refusal[1])
    taken = session.execute(update(m.CallbackTask)
                            .where(m.CallbackTask.id == task_row.id, m.CallbackTask.state == TaskState.OPEN.value)
                            .values(state=TaskState.DIALING.value, dialing_by_id=who.user_id, updated_at=now)
                            .execution_options(synchronize_session=False))
    if taken.rowcount != 1:   # type: ignore[attr-defined]
        raise DeskError(409, "not_open", texts.NOT_OPEN)
    session.refresh(task_row)
    row = m.CallbackCall(out_id=out_id, task_id=task_row.id, ticket_id=task_row.ticket_id, agent_user_id=who.user_id,
                         agent_extension=extension, started_at=now, status="ringing_agent", dial_status="",
                         counted=False, recording=recording)
    session.add(row)
    session.flush()
    return Placed(row, check_number(task_row.caller).digits)


def ticket_call(session: Session, ticket: m.Ticket, who: Principal, out_id: str, policy: CallbackPolicy,
                now: dt.datetime, recording: str | None, following: Collection[str] = ()) -> Placed:
    """A 回拨 from a ticket the agent may read (the caller checked the grant): the citizen's phone on the ticket."""
    extension = _extension_of(session, who, now, following)
    check = check_number(ticket.citizen_phone)
    if check.refused is not None:
        raise DeskError(422, f"number_{check.refused}", texts.NUMBER_REFUSED[check.refused])
    quiet = quiet_refusal(policy, now)
    if quiet is not None:
        raise DeskError(409, quiet[0], quiet[1])
    row = m.CallbackCall(out_id=out_id, task_id=None, ticket_id=ticket.id, agent_user_id=who.user_id,
                         agent_extension=extension, started_at=now, status="ringing_agent", dial_status="",
                         counted=False, recording=recording)
    session.add(row)
    session.flush()
    return Placed(row, check.digits)


def _extension_of(session: Session, who: Principal, now: dt.datetime, following: Collection[str]) -> str:
    """The agent's phone, when the agent has no other 回拨 going. An unfinished call of theirs that this desk
    process is not following and that began over ``ORPHANED`` ago was left by a desk that restarted mid-call: it
    ends as failed and its task is callable again, rather than blocking the agent until ``STALE_CALL``."""
    if not who.extension:
        raise DeskError(409, "no_extension", texts.NO_EXTENSION)
    for row in session.scalars(select(m.CallbackCall).where(m.CallbackCall.agent_user_id == who.user_id,
                                                            m.CallbackCall.ended_at.is_(None))):
        if row.out_id in following or row.started_at > now - ORPHANED:
            raise DeskError(409, "agent_busy", texts.BUSY_AGENT)
        _end_orphan(session, row, now)
    return who.extension


def _end_orphan(session: Session, row: m.CallbackCall, now: dt.datetime) -> None:
    row.status, row.ended_at, row.outcome = "ended", now, Outcome.FAILED.value
    task_row = session.get(m.CallbackTask, row.task_id) if row.task_id is not None else None
    if task_row is not None and task_row.state == TaskState.DIALING:
        task_row.state, task_row.dialing_by_id, task_row.updated_at = TaskState.OPEN.value, None, now


def call_by_out_id(session: Session, out_id: str) -> m.CallbackCall | None:
    return session.scalar(select(m.CallbackCall).where(m.CallbackCall.out_id == out_id))


def progress(session: Session, out_id: str, status: str, at: dt.datetime) -> None:
    """The agent answered (``dialing``) or the citizen did (``connected``)."""
    row = call_by_out_id(session, out_id)
    if row is None or row.ended_at is not None:
        return
    row.status = status
    if status == "dialing" and row.agent_answered_at is None:
        row.agent_answered_at = at
    if status == "connected" and row.citizen_answered_at is None:
        row.citizen_answered_at = at


def finish(session: Session, out_id: str, outcome: Outcome, dial_status: str, policy: CallbackPolicy,
           now: dt.datetime) -> m.CallbackCall | None:
    """The call ended with ``outcome``: stored on the call, its task moved on (retry, give up, close, or wait for
    the agent's result after a connected call), and noted in its ticket's history."""
    row = call_by_out_id(session, out_id)
    if row is None or row.ended_at is not None:
        return row
    row.status, row.ended_at, row.outcome, row.dial_status = "ended", now, outcome.value, dial_status
    row.counted = outcome in CONSUMES_ATTEMPT
    task_row = session.get(m.CallbackTask, row.task_id) if row.task_id is not None else None
    if task_row is not None and task_row.state == TaskState.DIALING:
        task_row.dialing_by_id = None
        _apply(task_row, outcome, row.counted, policy, now, row.agent_user_id)
    ticket = session.get(m.Ticket, row.ticket_id) if row.ticket_id is not None else None
    if ticket is not None:
        _note(session, ticket, row, now)
    return row


def _apply(task_row: m.CallbackTask, outcome: Outcome, counted: bool, policy: CallbackPolicy, now: dt.datetime,
           user_id: int | None) -> None:
    if counted:
        task_row.attempts += 1
    if outcome in FINAL:
        _close(task_row, outcome, now, user_id)
        return
    task_row.state, task_row.outcome, task_row.updated_at = TaskState.OPEN.value, outcome.value, now
    if outcome == Outcome.CONNECTED:
        task_row.next_attempt_at = None   # the agent records what came of it
        return
    following = policy.next_attempt(outcome, task_row.attempts, now)
    if following is None:
        task_row.state, task_row.open_caller, task_row.closed_at = TaskState.GIVEN_UP.value, None, now
    else:
        task_row.next_attempt_at = following


def _close(task_row: m.CallbackTask, outcome: Outcome, now: dt.datetime, user_id: int | None) -> None:
    task_row.state, task_row.outcome, task_row.open_caller = TaskState.CLOSED.value, outcome.value, None
    task_row.closed_at, task_row.closed_by_id, task_row.dialing_by_id, task_row.updated_at = now, user_id, None, now


def _note(session: Session, ticket: m.Ticket, row: m.CallbackCall, now: dt.datetime) -> None:
    user = session.get(m.User, row.agent_user_id)
    role = LIFECYCLE_ROLE.get(Role(user.role)) if user is not None else None
    append_note(session, ticket, "callback_call", now, user.username if user else "desk", role or lc.Role.SYSTEM,
                {"out_id": row.out_id, "outcome": row.outcome, "dial_status": row.dial_status,
                 "agent": row.agent_extension, "number": mask_phone(ticket.citizen_phone),
                 "recording": row.recording or "", "task_id": row.task_id})


def record_outcome(session: Session, who: Principal, task_row: m.CallbackTask, outcome: Outcome,
                   ticket: m.Ticket | None, policy: CallbackPolicy, now: dt.datetime) -> m.CallbackTask:
    """The agent's result for a task. Reached / resolved / ticket created / refused only after a connected call
    (nothing is marked done that was not); an invalid number also when the number cannot be dialled."""
    if task_row.state not in LIVE_STATES:
        raise DeskError(409, "task_closed", texts.TASK_CLOSED)
    if outcome not in AGENT_OUTCOMES:
        raise DeskError(422, "outcome_not_agents", texts.OUTCOME_NOT_AGENTS.format(label=texts.OUTCOME_LABELS[outcome]))
    connected = task_row.state == TaskState.OPEN and task_row.outcome == Outcome.CONNECTED
    undialable = check_number(task_row.caller).refused is not None
    if not connected and not (outcome == Outcome.INVALID_NUMBER and undialable):
        raise DeskError(409, "not_connected", texts.NOT_CONNECTED.format(label=texts.OUTCOME_LABELS[outcome]))
    if outcome == Outcome.TICKET_CREATED:
        if ticket is None:
            raise DeskError(422, "ticket_needed", texts.TICKET_NEEDED)
        task_row.ticket_id = ticket.id
    if outcome in FINAL:
        _close(task_row, outcome, now, who.user_id)
    else:   # the citizen answered but it was not them / the line dropped: the next attempt follows the rules
        _apply(task_row, outcome, False, policy, now, who.user_id)
    return task_row


def opt_out(session: Session, who: Principal, task_row: m.CallbackTask, now: dt.datetime) -> m.CallbackTask:
    """市民要求不再回拨: the task closes with that outcome (no call is going: a call in progress ends first, its
    result is the agent's to record). The refusal itself goes into the opt-out store (the caller, in the API, with
    ``agent_desk.callbacks.revisit.record_opt_out`` and source ``OPT_OUT_SOURCE``)."""
    if task_row.state not in LIVE_STATES:
        raise DeskError(409, "task_closed", texts.TASK_CLOSED)
    if task_row.state == TaskState.DIALING:
        raise DeskError(409, "call_going", texts.CALL_GOING)
    _close(task_row, Outcome.OPTED_OUT, now, who.user_id)
    return task_row
