"""Tables of the desk. The ticket row mirrors ``tickets.lifecycle.Ticket``; its history is append-only.

How a call flows here: ``calls`` (one row per inbound call, from AMI events, with the IVR prefill and the
survey) → ``tickets`` (the five elements 时间/地点/人物/事件/诉求, appeal type, topic, location, source line
and channel) → ``ticket_events`` (who did what, when; rows are never updated or deleted – the migration
installs triggers that refuse it). Handling units are nodes of ``org_units`` (province → sub-platforms →
districts → towns → villages/grids, and provincial member units); ``dispatch_catalogue`` (派单目录) and
``direct_dispatch`` (直派清单) say which unit gets which matter.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from agent_desk.db.base import Base
from agent_desk.db.base import utcnow as utcnow  # re-exported: the desk's modules read it with the models


class OrgUnit(Base):
    """A node of the organisation tree; ``kind`` says what it is, ``level`` which ring of escalation."""

    __tablename__ = "org_units"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(128))
    # province | subplatform | member_unit | district | town | village | grid
    kind: Mapped[str] = mapped_column(String(24))
    level: Mapped[str] = mapped_column(String(16))  # town | county | city | province (lifecycle.Level)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id"), index=True)
    subplatform: Mapped[str | None] = mapped_column(String(32), index=True)  # the sub-platform it belongs to
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    parent: Mapped[OrgUnit | None] = relationship(remote_side="OrgUnit.id")


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(64))
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(16))  # agent | supervisor | unit | admin | gateway | auditor
    org_unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id"))
    extension: Mapped[str | None] = mapped_column(String(16), unique=True)  # an agent's softphone
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # set by an administrator's password (a reset): every API but changing it answers 403 until the user does
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    org_unit: Mapped[OrgUnit | None] = relationship()


class AuthToken(Base):
    """A login session. Only the SHA-256 of the token is stored."""

    __tablename__ = "auth_tokens"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime]
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)

    user: Mapped[User] = relationship()


class LoginAttempt(Base):
    """Every login attempt, for the rate limit and for the audit."""

    __tablename__ = "login_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), index=True)
    client: Mapped[str] = mapped_column(String(64), index=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    success: Mapped[bool] = mapped_column(Boolean)


class LoginCounter(Base):
    """Failed logins of one key (``pair:``, ``source:``, ``account:``…) in the window that began at the first:
    incremented in one statement (insert or update), so parallel attempts never read the same count."""

    __tablename__ = "login_counters"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    window_start: Mapped[dt.datetime]
    count: Mapped[int] = mapped_column(Integer, default=0)


class AuditEntry(Base):
    """Every read of personal data (and every privileged action): who, when, what, why, from where."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    username: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(32))  # read_personal_data | reveal | login | ...
    object_type: Mapped[str] = mapped_column(String(24))
    object_id: Mapped[str] = mapped_column(String(64))
    detail: Mapped[str] = mapped_column(Text, default="")
    client: Mapped[str] = mapped_column(String(64), default="")
    # why the read was allowed (need_to_know's grant, e.g. "current_caller call=…"); "" for older rows
    reason: Mapped[str] = mapped_column(String(256), default="", server_default="")


Index("ix_audit_log_username_at", AuditEntry.username, AuditEntry.at)  # the auditor's "what did X read"


class Call(Base):
    """One inbound call, keyed by the UNIQUEID of the inbound channel (HOTLINE_CALL_ID)."""

    __tablename__ = "calls"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[str] = mapped_column(String(64), unique=True)
    linkedid: Mapped[str | None] = mapped_column(String(64), index=True)
    line: Mapped[str | None] = mapped_column(String(16), index=True)       # the 123xx number dialed
    line_class: Mapped[str | None] = mapped_column(String(24))
    caller: Mapped[str | None] = mapped_column(String(32), index=True)
    queue: Mapped[str | None] = mapped_column(String(48))
    subplatform: Mapped[str | None] = mapped_column(String(32))
    agent_extension: Mapped[str | None] = mapped_column(String(16), index=True)
    agent_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    started_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    arrived_at: Mapped[dt.datetime | None]   # the inbound channel's creation (AMI Newchannel); None: not seen
    queued_at: Mapped[dt.datetime | None]    # when it first joined a queue (an overflow keeps this)
    answered_at: Mapped[dt.datetime | None]
    ended_at: Mapped[dt.datetime | None]
    outcome: Mapped[str | None] = mapped_column(String(24))  # answered | abandoned | ivr_only | transferred
    hangup_cause: Mapped[str | None] = mapped_column(String(32))
    recording: Mapped[str | None] = mapped_column(String(256))
    # failed: the recording could not be written from the answer on; interrupted: it stopped being written during
    # the conversation (incomplete); None: no fault seen (agent_desk.calls.recording_watch)
    recording_fault: Mapped[str | None] = mapped_column(String(16))
    prefill: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # the agent answered with the caller's words already written down (a prefill with a transcript); None:
    # not answered, or answered before the desk recorded this
    prefill_usable: Mapped[bool | None] = mapped_column(Boolean)
    survey_result: Mapped[str | None] = mapped_column(String(24))
    survey_at: Mapped[dt.datetime | None]
    transfers: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)


class CallTurn(Base):
    """One turn of a call's live transcript (``hotline.contracts.transcript.Turn``): who spoke, when, what was said,
    or why it was not transcribed. Stored once per (call, speaker, seq), however often the desk reads it again.

    ``call_id`` is the call's HOTLINE_CALL_ID, not a key of ``calls``: a turn said in the queue can arrive before
    the desk has the call's row. The citizen's words are personal data (numbers, names, addresses): read through
    ``need_to_know.transcript_grant``, masked for roles that do not need them, every read audited."""

    __tablename__ = "call_turns"
    __table_args__ = (UniqueConstraint("call_id", "speaker", "seq", name="uq_call_turns_call_id_speaker_seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[str] = mapped_column(String(64))
    speaker: Mapped[str] = mapped_column(String(16))      # citizen | agent
    seq: Mapped[int] = mapped_column(Integer)
    phase: Mapped[str] = mapped_column(String(16))        # waiting | conversation
    status: Mapped[str] = mapped_column(String(16))       # ok | shed | lost | no_engine
    text: Mapped[str] = mapped_column(Text, default="")
    start_s: Mapped[float] = mapped_column(Float, default=0.0)   # seconds since the call's capture began
    end_s: Mapped[float] = mapped_column(Float, default=0.0)
    engine: Mapped[str] = mapped_column(String(32), default="")
    at: Mapped[dt.datetime] = mapped_column(index=True)   # when the IVR side wrote it
    stored_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Ticket(Base):
    """A ticket (工单). State fields mirror ``lifecycle.Ticket``; the repository maps one to the other."""

    __tablename__ = "tickets"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)  # YYYYMMDD + 6 digits: keyable by DTMF
    channel: Mapped[str] = mapped_column(String(16), index=True)  # phone | web | wechat | sms | email | app
    source_line: Mapped[str | None] = mapped_column(String(16), index=True)
    call_id: Mapped[int | None] = mapped_column(ForeignKey("calls.id"), index=True)
    # 人物: the citizen (personal data: masked for roles that do not need it)
    citizen_name: Mapped[str] = mapped_column(String(64), default="")
    citizen_phone: Mapped[str] = mapped_column(String(32), default="", index=True)
    confidential: Mapped[bool] = mapped_column(Boolean, default=False)  # 保密: the unit never sees the contact
    # 时间 / 地点 / 事件 / 诉求
    occurred: Mapped[str] = mapped_column(String(64), default="")
    location: Mapped[str] = mapped_column(String(256), default="")
    location_unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id"), index=True)
    title: Mapped[str] = mapped_column(String(128))
    content: Mapped[str] = mapped_column(Text)
    demand: Mapped[str] = mapped_column(Text, default="")
    appeal_type: Mapped[str] = mapped_column(String(16), index=True)
    topic: Mapped[str] = mapped_column(String(64), default="", index=True)
    urgency: Mapped[str] = mapped_column(String(16), default="normal")
    subplatform: Mapped[str | None] = mapped_column(String(32), index=True)
    matter_key: Mapped[str] = mapped_column(String(64), default="", index=True)
    # lifecycle
    state: Mapped[str] = mapped_column(String(24), index=True)
    host_unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id"), index=True)
    settled_unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id"))
    due_at: Mapped[dt.datetime | None] = mapped_column(index=True)
    dispatched_at: Mapped[dt.datetime | None]
    closed_at: Mapped[dt.datetime | None] = mapped_column(index=True)
    closed_on_time: Mapped[bool | None] = mapped_column(Boolean)
    satisfaction: Mapped[str | None] = mapped_column(String(24))
    solved: Mapped[bool | None] = mapped_column(Boolean)
    excluded: Mapped[str | None] = mapped_column(String(40))
    exclusion_basis: Mapped[str] = mapped_column(Text, default="")
    refusal: Mapped[str | None] = mapped_column(String(32))
    direct_resolution: Mapped[bool] = mapped_column(Boolean, default=False)
    final_opinion: Mapped[str] = mapped_column(Text, default="")
    linked_to_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"))
    level: Mapped[str] = mapped_column(String(16), default="town")
    supervisions: Mapped[int] = mapped_column(Integer, default=0)
    returns: Mapped[int] = mapped_column(Integer, default=0)
    state_before_return: Mapped[str | None] = mapped_column(String(24))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)
    # 并单 (migration 0012): the host ticket this one is merged into, and when. A merged ticket follows its host
    # (``tickets.lifecycle``, "并单") and is not a matter of its own in the KPIs (``supervision.kpi``).
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"), index=True)
    merged_at: Mapped[dt.datetime | None]

    __mapper_args__ = {"version_id_col": version}

    call: Mapped[Call | None] = relationship()
    host_unit: Mapped[OrgUnit | None] = relationship(foreign_keys=[host_unit_id])
    events: Mapped[list[TicketEvent]] = relationship(order_by="TicketEvent.seq", back_populates="ticket")
    co_units: Mapped[list[TicketCoUnit]] = relationship(cascade="all, delete-orphan")

    @property
    def co_unit_ids(self) -> list[int]:
        return [link.unit_id for link in self.co_units]


class TicketCoUnit(Base):
    """协办单位 of a ticket (the host unit is ``tickets.host_unit_id``)."""

    __tablename__ = "ticket_co_units"

    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"), primary_key=True, index=True)


class TicketEvent(Base):
    """Append-only history: one row per change, never updated or deleted."""

    __tablename__ = "ticket_events"
    __table_args__ = (UniqueConstraint("ticket_id", "seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    at: Mapped[dt.datetime]
    actor: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(32), index=True)
    from_state: Mapped[str | None] = mapped_column(String(24))
    to_state: Mapped[str] = mapped_column(String(24))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    ticket: Mapped[Ticket] = relationship(back_populates="events")


class TicketCounter(Base):
    """The last sequence number handed out per local day (ticket numbers are YYYYMMDD + 6 digits)."""

    __tablename__ = "ticket_counters"

    day: Mapped[str] = mapped_column(String(8), primary_key=True)
    last: Mapped[int] = mapped_column(Integer, default=0)


class DispatchRule(Base):
    """派单目录 (catalogue, by topic and level) and 直派清单 (direct dispatch, by keywords) as data."""

    __tablename__ = "dispatch_rules"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # catalogue | direct
    topic: Mapped[str] = mapped_column(String(64), index=True)
    keywords: Mapped[list[str]] = mapped_column(JSON, default=list)
    subplatform: Mapped[str | None] = mapped_column(String(32))  # None: everywhere
    unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id"))
    basis: Mapped[str] = mapped_column(Text, default="")  # the duty (三定) or rule behind the entry

    unit: Mapped[OrgUnit] = relationship()


class AgentSkill(Base):
    """技能/队列: a queue an agent's extension serves, with its penalty, as set on the desk. An extension with no
    row serves the site's static membership (``agents.membership`` / ``agents.queues``)."""

    __tablename__ = "agent_skills"
    __table_args__ = (UniqueConstraint("extension", "queue", name="uq_agent_skills_extension_queue"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    extension: Mapped[str] = mapped_column(String(16), index=True)
    queue: Mapped[str] = mapped_column(String(40))
    penalty: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(64), default="")


Index("ix_tickets_phone_state", Ticket.citizen_phone, Ticket.state)
# Inboxes and dashboards read newest first within a unit or a sub-platform and a state (bench/ticket_search.py).
Index("ix_tickets_unit_state_id", Ticket.host_unit_id, Ticket.state, Ticket.id)
Index("ix_tickets_subplatform_state_id", Ticket.subplatform, Ticket.state, Ticket.id)
# KPIs: a ticket's 签收 / 审核通过 events and their time, one covering probe (agent_desk/supervision/kpi.py).
Index("ix_ticket_events_ticket_action_at", TicketEvent.ticket_id, TicketEvent.action, TicketEvent.at)
from agent_desk.knowledge import models as _knowledge  # noqa: E402,F401  (registers the table)
from agent_desk.suggestions import models as _suggestions  # noqa: E402,F401  (registers the table)


# ── 未接来电回拨: callback tasks and the calls placed for them (migration 0013, agent_desk.callbacks) ──────────
class CallbackTask(Base):
    """One citizen to call back: every call of theirs that ended before an agent answered, since the task opened.

    ``open_caller`` is the caller's number while the task is open or being dialled and NULL once it is closed or
    given up: unique, so a caller has at most one open task whatever the order in which their calls arrive (NULLs
    never collide, on SQLite and PostgreSQL alike). ``caller`` is personal data: masked for roles that do not need
    it, every read audited (``agent_desk.api.callbacks``)."""

    __tablename__ = "callback_tasks"

    id: Mapped[int] = mapped_column(primary_key=True)
    caller: Mapped[str] = mapped_column(String(32), index=True)
    open_caller: Mapped[str | None] = mapped_column(String(32), unique=True)
    state: Mapped[str] = mapped_column(String(16), index=True)    # callbacks.rules.TaskState
    line: Mapped[str | None] = mapped_column(String(16))
    line_class: Mapped[str | None] = mapped_column(String(24))
    subplatform: Mapped[str | None] = mapped_column(String(32))
    first_call_id: Mapped[str] = mapped_column(String(64))
    last_call_id: Mapped[str] = mapped_column(String(64))
    missed_calls: Mapped[int] = mapped_column(Integer, default=1)
    first_missed_at: Mapped[dt.datetime] = mapped_column(index=True)
    last_missed_at: Mapped[dt.datetime]
    last_wait_seconds: Mapped[int] = mapped_column(Integer, default=0)
    longest_wait_seconds: Mapped[int] = mapped_column(Integer, default=0)
    prefill: Mapped[dict[str, Any] | None] = mapped_column(JSON)   # what the caller already said (latest with words)
    priority: Mapped[int] = mapped_column(Integer, default=1)
    attempts: Mapped[int] = mapped_column(Integer, default=0)     # calls that reached the citizen's phone
    next_attempt_at: Mapped[dt.datetime | None]                   # None: callable now (quiet hours aside)
    dialing_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    outcome: Mapped[str | None] = mapped_column(String(24))       # the last result (callbacks.rules.Outcome)
    closed_at: Mapped[dt.datetime | None]
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"))
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class CallbackCall(Base):
    """One call an agent placed with 回拨, for a callback task or a ticket: the agent's phone first, then the
    citizen over the carrier trunk (``[hotline-outbound]``). ``out_id`` names it in the dialplan's events and its
    recording (``<recordings>/<out_id>.wav``)."""

    __tablename__ = "callback_calls"

    id: Mapped[int] = mapped_column(primary_key=True)
    out_id: Mapped[str] = mapped_column(String(40), unique=True)
    task_id: Mapped[int | None] = mapped_column(ForeignKey("callback_tasks.id"), index=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"), index=True)
    agent_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    agent_extension: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    agent_answered_at: Mapped[dt.datetime | None]
    citizen_answered_at: Mapped[dt.datetime | None]
    ended_at: Mapped[dt.datetime | None]
    status: Mapped[str] = mapped_column(String(16))              # ringing_agent | dialing | connected | ended
    outcome: Mapped[str | None] = mapped_column(String(24))
    dial_status: Mapped[str] = mapped_column(String(24), default="")
    counted: Mapped[bool] = mapped_column(Boolean, default=False)  # used one of the task's attempts
    recording: Mapped[str | None] = mapped_column(String(256))


# ── 智能回访: automated callback campaigns, their items and calls, and opt-outs (migration 0014,
#    agent_desk.callbacks.campaign / .revisit) ──────────────────────────────────────────────────────────────────
class RevisitCampaign(Base):
    """A campaign of automated 回访 calls: the tickets waiting for 回访 when it was made (or a given list), paced
    by its window, the site's quiet hours and ``max_channels``."""

    __tablename__ = "revisit_campaigns"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16), index=True)     # running | paused | finished
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    max_channels: Mapped[int] = mapped_column(Integer)
    attempts: Mapped[int] = mapped_column(Integer)
    window_start: Mapped[str] = mapped_column(String(5))          # HH:MM, the site's local time
    window_end: Mapped[str] = mapped_column(String(5))
    finished_at: Mapped[dt.datetime | None]


class RevisitItem(Base):
    """One ticket's citizen in a campaign. ``state``: pending (waiting for its next attempt) | calling (claimed in
    the database before the call was originated) | unknown (a restart left its call unseen: not dialled again
    until ``campaign.STALE_CALL`` passed) | done. ``caller`` is personal data (masked, every read audited)."""

    __tablename__ = "revisit_items"
    __table_args__ = (UniqueConstraint("campaign_id", "ticket_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("revisit_campaigns.id"), index=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    caller: Mapped[str] = mapped_column(String(32), index=True)   # the dialable number ("" when there is none)
    state: Mapped[str] = mapped_column(String(16), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime | None]
    out_id: Mapped[str | None] = mapped_column(String(40))       # the current (or last) call
    claimed_at: Mapped[dt.datetime | None]
    reached: Mapped[bool] = mapped_column(Boolean, default=False)
    outcome: Mapped[str | None] = mapped_column(String(24))
    verdict: Mapped[str | None] = mapped_column(String(24))   # satisfied | basically_satisfied | unsatisfied | unsolved
    digits: Mapped[str] = mapped_column(String(32), default="")
    needs_review: Mapped[bool] = mapped_column(Boolean, default=False, index=True)   # 人工回访复核
    reviewed_at: Mapped[dt.datetime | None]
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class RevisitCall(Base):
    """One automated 回访 call (an attempt of an item); ``out_id`` names it in the dialplan's events."""

    __tablename__ = "revisit_calls"

    id: Mapped[int] = mapped_column(primary_key=True)
    out_id: Mapped[str] = mapped_column(String(40), unique=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("revisit_items.id"), index=True)
    started_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    answered_at: Mapped[dt.datetime | None]
    ended_at: Mapped[dt.datetime | None]
    outcome: Mapped[str | None] = mapped_column(String(24))
    dial_status: Mapped[str] = mapped_column(String(24), default="")
    digits: Mapped[str] = mapped_column(String(32), default="")


class RevisitOptOut(Base):
    """不再回访: a citizen's number that is never called by a campaign again (key 9, or marked by an agent)."""

    __tablename__ = "revisit_opt_outs"

    id: Mapped[int] = mapped_column(primary_key=True)
    caller: Mapped[str] = mapped_column(String(32), index=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"))
    source: Mapped[str] = mapped_column(String(16))              # key | agent
    reason: Mapped[str] = mapped_column(Text, default="")
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
