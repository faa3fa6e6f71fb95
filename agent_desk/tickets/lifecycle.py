"""The ticket lifecycle as one explicit state machine: every transition the rules describe, nothing else.

受理 accept → 直接办结 resolve directly, or 派单 dispatch (主办/协办) → 签收 sign → 答复 reply → 审核 review →
回访 callback → 办结 closed. On the way: 退单 return (with reasons and legal basis, within its time
limit, reviewed by the platform), 会商 consultation that settles responsibility (the decided unit may no
longer return it: 首接负责，不予回退), 申诉 appeal of an unsatisfied verdict (approved appeals are
excluded from the effective satisfaction rate with a stated basis), 重办 reopen, 督办 supervision,
escalation town → county → city/province, 不予受理 refusal with its reason, and the sealed 最终处理意见
after which the same appeal links to this ticket instead of opening a new one. 并单 (merge): a duplicate appeal is
merged into a host ticket and follows it (the rules are in the section "并单" below).

Every change appends an ``Event`` (who, when, what); the history is never rewritten.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any
from enum import StrEnum

from agent_desk.tickets.deadlines import Calendar
from hotline.vocab import Satisfaction, Term, TicketState

__all__ = ["Satisfaction", "State"]   # the rest is public by name; these two come from hotline.vocab


State = TicketState   # 工单状态: codes and labels in hotline.vocab (the IVR reads them out too)


OPEN_STATES = frozenset(State) - {State.REFUSED, State.CLOSED}
# Where the deadline runs: from dispatch until the unit's reply is accepted.
UNIT_HANDLING = frozenset({State.DISPATCHED, State.SIGNED, State.RETURN_REQUESTED, State.RETURNED,
                           State.CONSULTATION, State.REPLIED})


class Role(StrEnum):
    AGENT = "agent"          # 话务员
    PLATFORM = "platform"    # 平台 (supervisor / dispatcher / reviewer)
    UNIT = "unit"            # 承办单位
    SYSTEM = "system"


class OutOfScope(Term):
    """不予受理: matters 12345 does not accept (琼府办函〔2021〕337号)."""

    LITIGATION = "litigation", "属于诉讼事项"
    ARBITRATION = "arbitration", "属于仲裁事项"
    DISCIPLINE = "discipline", "属于纪检监察事项"
    RECONSIDERATION = "reconsideration", "属于行政复议事项"
    INFORMATION_DISCLOSURE = "information_disclosure", "属于政府信息公开申请"
    PETITION = "petition", "已进入信访渠道"
    SECRETS = "secrets", "涉及国家秘密、商业秘密"
    PRIVACY = "privacy", "涉及个人隐私"
    PUBLIC_ORDER = "public_order", "违反社会公序良俗"
    EMERGENCY = "emergency", "紧急事项（转110/119/120/122）"   # handed to the emergency centers


class Exclusion(Term):
    """Excluded from the effective satisfaction rate (实际参评满意率) after an approved appeal."""

    ILLEGAL_OR_AGAINST_PUBLIC_ORDER = "illegal_or_against_public_order", "违法或违背公序良俗的诉求"   # (1)
    BEYOND_REMIT = "beyond_remit", "超出承办单位职权范围"                                          # (2)
    OTHER_LEGAL_CHANNEL = ("other_legal_channel",                                                    # (3)
                           "应当或已经通过诉讼、仲裁、纪检监察、行政复议、政府信息公开、信访解决")


class Level(Term):
    """Escalation rings: town handles (小环) → county coordinates (中环) → city/province tackles (大环)."""

    TOWN = "town", "镇（街道）"
    COUNTY = "county", "县（区）"
    CITY = "city", "市"
    PROVINCE = "province", "省"


LEVEL_ORDER = [Level.TOWN, Level.COUNTY, Level.CITY, Level.PROVINCE]


class TransitionError(Exception):
    """A change the rules do not allow. ``code`` is stable for APIs; ``message`` is for people (中文)."""

    def __init__(self, code: str, message: str):
        self.code = code
        self.message = message
        super().__init__(f"{code}: {message}")


@dataclass(frozen=True)
class Event:
    at: dt.datetime
    actor: str
    role: Role
    action: str
    from_state: State | None
    to_state: State
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class Ticket:
    number: str
    appeal_type: str
    urgency: str = "normal"
    state: State = State.ACCEPTED
    host_unit: str | None = None
    co_units: tuple[str, ...] = ()
    settled_unit: str | None = None          # decided by 会商: may not return the ticket
    due_at: dt.datetime | None = None
    dispatched_at: dt.datetime | None = None
    closed_at: dt.datetime | None = None
    closed_on_time: bool | None = None
    satisfaction: Satisfaction | None = None
    solved: bool | None = None
    excluded: Exclusion | None = None
    exclusion_basis: str = ""
    refusal: OutOfScope | None = None
    direct_resolution: bool = False
    final_opinion: str = ""
    linked_to: str | None = None
    merged_into: str | None = None           # 并单: the host ticket this one is merged into
    merged: tuple[str, ...] = ()             # 并单: the tickets merged into this one (it is their host)
    level: Level = Level.TOWN
    supervisions: int = 0
    returns: int = 0
    history: list[Event] = field(default_factory=list)
    _state_before_return: State | None = None

    # ── bookkeeping ──────────────────────────────────────────────────────────
    def _require(self, action: str, allowed: set[State] | frozenset[State]) -> None:
        waiting_on_host = self.state == State.MERGED and self.state not in allowed
        if self.merged_into is not None and (action not in MERGED_ALLOWED or waiting_on_host):
            raise TransitionError(
                "invalid_transition",
                f"工单{self.number}已并入工单{self.merged_into}，不能单独“{ACTION_LABELS[action]}”，请在主工单上办理",
            )
        if self.state not in allowed:
            raise TransitionError(
                "invalid_transition",
                f"工单{self.number}当前状态为“{STATE_LABELS[self.state]}”，不能执行“{ACTION_LABELS[action]}”",
            )

    def _record(self, now: dt.datetime, actor: str, role: Role, action: str, new_state: State, /,
                **data: Any) -> None:
        self.history.append(Event(now, actor, role, action, self.state, new_state, data))
        self.state = new_state

    def _require_role(self, role: Role, *allowed: Role) -> None:
        if role not in allowed:
            raise TransitionError("forbidden_role", f"角色“{role.value}”无权执行此操作")

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES

    def is_overdue(self, now: dt.datetime) -> bool:
        """超期: the unit is still handling it past the deadline."""
        return self.due_at is not None and self.state in UNIT_HANDLING and now > self.due_at

    # ── intake ───────────────────────────────────────────────────────────────
    @classmethod
    def accept(cls, number: str, appeal_type: str, now: dt.datetime, actor: str, urgency: str = "normal") -> Ticket:
        ticket = cls(number=number, appeal_type=appeal_type, urgency=urgency)
        ticket.history.append(Event(now, actor, Role.AGENT, "accept", None, State.ACCEPTED,
                                    {"appeal_type": appeal_type, "urgency": urgency}))
        return ticket

    def refuse(self, reason: OutOfScope, explanation: str, now: dt.datetime, actor: str, role: Role) -> None:
        """不予受理, with its reason; the citizen is told where the matter belongs."""
        self._require_role(role, Role.AGENT, Role.PLATFORM)
        self._require("refuse", {State.ACCEPTED})
        if not explanation.strip():
            raise TransitionError("explanation_required", "不予受理必须说明理由")
        self.refusal = reason
        self.closed_at = now
        self._record(now, actor, role, "refuse", State.REFUSED, reason=reason.value, explanation=explanation)

    def resolve_directly(self, answer: str, now: dt.datetime, actor: str, role: Role, knowledge_ref: str = "") -> None:
        """直接办结: the agent answers from the knowledge base; the ticket goes to callback."""
        self._require_role(role, Role.AGENT)
        self._require("resolve_directly", {State.ACCEPTED})
        if not answer.strip():
            raise TransitionError("answer_required", "直接办结必须填写答复内容")
        self.direct_resolution = True
        self._record(now, actor, role, "resolve_directly", State.AWAITING_CALLBACK, answer=answer,
                     knowledge_ref=knowledge_ref)

    # ── dispatch and handling ────────────────────────────────────────────────
    def dispatch(self, host: str, now: dt.datetime, actor: str, role: Role, calendar: Calendar,
                 co_units: tuple[str, ...] = ()) -> None:
        """派单 to a host unit (主办) with optional co-host units (协办); the deadline starts here."""
        self._require_role(role, Role.AGENT, Role.PLATFORM)
        self._require("dispatch", {State.ACCEPTED, State.RETURNED})
        if not host:
            raise TransitionError("host_required", "派单必须指定主办单位")
        if host in co_units:
            raise TransitionError("host_in_cohosts", "主办单位不能同时作为协办单位")
        self.host_unit, self.co_units = host, tuple(co_units)
        if self.dispatched_at is None:
            self.dispatched_at = now
            self.due_at = calendar.deadline(now, self.appeal_type, self.urgency)
        self._record(now, actor, role, "dispatch", State.DISPATCHED, host=host, co_units=list(co_units),
                     due_at=self.due_at.isoformat() if self.due_at else None)

    def sign(self, unit: str, now: dt.datetime, actor: str) -> None:
        """签收 by the host unit."""
        self._require("sign", {State.DISPATCHED})
        self._require_unit(unit)
        self._record(now, actor, Role.UNIT, "sign", State.SIGNED, unit=unit)

    def _require_unit(self, unit: str) -> None:
        if unit != self.host_unit:
            raise TransitionError("not_host_unit", f"“{unit}”不是本工单的主办单位")

    def request_return(self, unit: str, reason: str, legal_basis: str, now: dt.datetime, actor: str,
                       window: dt.timedelta = dt.timedelta(hours=24)) -> None:
        """退单: within the return window, with reasons and legal basis; never by a unit settled by 会商."""
        self._require("request_return", {State.DISPATCHED, State.SIGNED})
        self._require_unit(unit)
        if self.settled_unit == unit:
            raise TransitionError("settled_no_return", "经会商确定的承办单位不得退单（首接负责，不予回退）")
        if not reason.strip() or not legal_basis.strip():
            raise TransitionError("return_basis_required", "退单必须写明理由和法律法规依据")
        last_dispatch = next(e.at for e in reversed(self.history) if e.action in ("dispatch", "settle_consultation"))
        if now - last_dispatch > window:
            raise TransitionError("return_window_passed", "已超过退单时限，不能退单")
        self._state_before_return = self.state
        self._record(now, actor, Role.UNIT, "request_return", State.RETURN_REQUESTED, unit=unit, reason=reason,
                     legal_basis=legal_basis)

    def approve_return(self, now: dt.datetime, actor: str, role: Role) -> None:
        self._require_role(role, Role.PLATFORM)
        self._require("approve_return", {State.RETURN_REQUESTED})
        self.returns += 1
        self.host_unit, self.co_units = None, ()
        self._record(now, actor, role, "approve_return", State.RETURNED)

    def reject_return(self, reason: str, now: dt.datetime, actor: str, role: Role) -> None:
        self._require_role(role, Role.PLATFORM)
        self._require("reject_return", {State.RETURN_REQUESTED})
        back = self._state_before_return or State.SIGNED
        self._record(now, actor, role, "reject_return", back, reason=reason)

    def start_consultation(self, units: tuple[str, ...], now: dt.datetime, actor: str, role: Role) -> None:
        """会商 (一键会商): the platform convenes the units whose responsibility is disputed."""
        self._require_role(role, Role.PLATFORM)
        self._require("start_consultation", {State.RETURN_REQUESTED, State.DISPATCHED, State.SIGNED})
        if len(units) < 2:
            raise TransitionError("consultation_needs_units", "会商至少需要两个单位参加")
        self._record(now, actor, role, "start_consultation", State.CONSULTATION, units=list(units))

    def settle_consultation(self, decided: str, now: dt.datetime, actor: str, role: Role,
                            co_units: tuple[str, ...] = ()) -> None:
        """The consultation decides the host unit; from now on it may not return the ticket."""
        self._require_role(role, Role.PLATFORM)
        self._require("settle_consultation", {State.CONSULTATION})
        self.host_unit, self.co_units, self.settled_unit = decided, tuple(co_units), decided
        self._record(now, actor, role, "settle_consultation", State.DISPATCHED, decided=decided,
                     co_units=list(co_units))

    def reply(self, unit: str, content: str, now: dt.datetime, actor: str) -> None:
        """答复 by the host unit."""
        self._require("reply", {State.SIGNED})
        self._require_unit(unit)
        if not content.strip():
            raise TransitionError("reply_required", "答复内容不能为空")
        self._record(now, actor, Role.UNIT, "reply", State.REPLIED, content=content)

    def approve_reply(self, now: dt.datetime, actor: str, role: Role) -> None:
        """The platform accepts the reply: the unit's handling ends (on time or not) and callback follows."""
        self._require_role(role, Role.PLATFORM)
        self._require("approve_reply", {State.REPLIED})
        replied_at = next(e.at for e in reversed(self.history) if e.action == "reply")
        self.closed_on_time = self.due_at is None or replied_at <= self.due_at
        self._record(now, actor, role, "approve_reply", State.AWAITING_CALLBACK)

    def reject_reply(self, reason: str, now: dt.datetime, actor: str, role: Role) -> None:
        self._require_role(role, Role.PLATFORM)
        self._require("reject_reply", {State.REPLIED})
        self._record(now, actor, role, "reject_reply", State.SIGNED, reason=reason)

    # ── callback, appeal, closing ────────────────────────────────────────────
    def callback(self, result: Satisfaction, solved: bool, now: dt.datetime, actor: str, role: Role,
                 reason: str = "") -> None:
        """回访: satisfied or basically satisfied closes it; unsatisfied opens appeal or reopening. ``reason``: the
        citizen's 不满意原因, kept in the history when given."""
        self._require_role(role, Role.AGENT, Role.PLATFORM, Role.SYSTEM)
        self._require("callback", {State.AWAITING_CALLBACK})
        self.satisfaction, self.solved = result, solved
        extra = {"reason": reason} if reason else {}
        if result == Satisfaction.UNSATISFIED:
            self._record(now, actor, role, "callback", State.UNSATISFIED, result=result.value, solved=solved, **extra)
        else:
            self._close(now)
            self._record(now, actor, role, "callback", State.CLOSED, result=result.value, solved=solved, **extra)

    def _close(self, now: dt.datetime) -> None:
        self.closed_at = now
        if self.closed_on_time is None:
            self.closed_on_time = True  # direct resolution: closed by the agent, nothing was due

    def appeal(self, unit: str, category: Exclusion, reason: str, now: dt.datetime, actor: str) -> None:
        """申诉: the unit contests an unsatisfied / unsolved verdict, naming an exclusion category."""
        self._require("appeal", {State.UNSATISFIED})
        self._require_unit(unit)
        if not reason.strip():
            raise TransitionError("appeal_reason_required", "申诉必须说明理由")
        self._record(now, actor, Role.UNIT, "appeal", State.APPEALED, category=category.value, reason=reason)

    def approve_appeal(self, basis: str, now: dt.datetime, actor: str, role: Role) -> None:
        """Approved: closed and excluded from the effective satisfaction rate, with the stated basis."""
        self._require_role(role, Role.PLATFORM)
        self._require("approve_appeal", {State.APPEALED})
        if not basis.strip():
            raise TransitionError("exclusion_basis_required", "剔除实际参评必须写明依据")
        category = Exclusion(next(e.data["category"] for e in reversed(self.history) if e.action == "appeal"))
        self.excluded, self.exclusion_basis = category, basis
        self._close(now)
        self._record(now, actor, role, "approve_appeal", State.CLOSED, category=category.value, basis=basis)

    def reject_appeal(self, reason: str, now: dt.datetime, actor: str, role: Role) -> None:
        self._require_role(role, Role.PLATFORM)
        self._require("reject_appeal", {State.APPEALED})
        self._record(now, actor, role, "reject_appeal", State.UNSATISFIED, reason=reason)

    def reopen(self, reason: str, now: dt.datetime, actor: str, role: Role) -> None:
        """重办: back to the host unit after an unsatisfied callback."""
        self._require_role(role, Role.PLATFORM)
        self._require("reopen", {State.UNSATISFIED})
        if self.host_unit is None:  # directly resolved: goes back to the platform to dispatch
            self._record(now, actor, role, "reopen", State.ACCEPTED, reason=reason)
            return
        self.closed_on_time = None
        self._record(now, actor, role, "reopen", State.DISPATCHED, reason=reason)

    def close_unsatisfied(self, now: dt.datetime, actor: str, role: Role) -> None:
        """The platform closes an unsatisfied ticket without appeal or reopening (it counts as unsatisfied)."""
        self._require_role(role, Role.PLATFORM)
        self._require("close_unsatisfied", {State.UNSATISFIED})
        self._close(now)
        self._record(now, actor, role, "close_unsatisfied", State.CLOSED)

    def seal_final_opinion(self, opinion: str, now: dt.datetime, actor: str, role: Role) -> None:
        """最终处理意见: once sealed, the same appeal again links here instead of opening a ticket."""
        self._require_role(role, Role.PLATFORM)
        self._require("seal_final_opinion", {State.CLOSED})
        if self.final_opinion:
            raise TransitionError("already_sealed", "最终处理意见已封存，不能修改")
        if not opinion.strip():
            raise TransitionError("opinion_required", "最终处理意见不能为空")
        self.final_opinion = opinion
        self._record(now, actor, role, "seal_final_opinion", State.CLOSED, opinion=opinion)

    # ── oversight (no state change) ──────────────────────────────────────────
    def supervise(self, note: str, now: dt.datetime, actor: str, role: Role) -> None:
        """督办."""
        self._require_role(role, Role.PLATFORM)
        self._require("supervise", OPEN_STATES)
        self.supervisions += 1
        self._record(now, actor, role, "supervise", self.state, note=note, count=self.supervisions)

    def escalate(self, to: Level, reason: str, now: dt.datetime, actor: str, role: Role) -> None:
        """Escalate one ring up: town → county → city/province; never down."""
        self._require_role(role, Role.PLATFORM)
        self._require("escalate", OPEN_STATES)
        if LEVEL_ORDER.index(to) <= LEVEL_ORDER.index(self.level):
            raise TransitionError("escalate_upwards_only", f"只能向上级升级，当前为“{self.level.value}”")
        previous, self.level = self.level, to
        self._record(now, actor, role, "escalate", self.state, **{"from": previous.value, "to": to.value,
                                                                   "reason": reason})

    # ── 并单 merge ───────────────────────────────────────────────────────────
    # A duplicate appeal (same matter, any caller) is merged into a host ticket. The merged ticket waits in
    # state 已并单 (``merged``) while the host is handled; nothing is done to it on its own: no dispatch, no
    # reply, no close, no 督办 or escalation (``_require`` refuses every action but MERGED_ALLOWED). When the host's
    # reply is approved (or it is resolved directly) each waiting merged ticket gets the same reply and goes to
    # 待回访, so its own citizen is called back and that verdict is recorded on it (``follow_host``); a refused host
    # takes its merged tickets with it. No chains: a ticket that is itself merged cannot be a host (refused, naming
    # its host), and a host with merged tickets cannot be merged into another ticket.
    def merge_into(self, host: Ticket, reason: str, now: dt.datetime, actor: str, role: Role) -> None:
        """并单: this ticket (new, or open and not yet answered) is merged into ``host``."""
        self._require_role(role, Role.AGENT, Role.PLATFORM)
        if host.number == self.number:
            raise TransitionError("merge_self", "工单不能并入自身")
        self._require("merge", MERGEABLE[role])
        if self.merged:
            raise TransitionError("merge_has_merged", f"工单{self.number}已有并入的工单（{'、'.join(self.merged)}），"
                                                      "不能再并入其他工单")
        if host.merged_into is not None:
            raise TransitionError("host_merged", f"工单{host.number}已并入工单{host.merged_into}，"
                                                 f"请并入主工单{host.merged_into}")
        if host.state not in HOST_STATES:
            what = "已办结" if host.state in (State.CLOSED, State.REFUSED) else "已答复"
            raise TransitionError("host_not_open", f"工单{host.number}{what}（{STATE_LABELS[host.state]}），"
                                                   "不能再并入，请单独办理")
        self.host_unit, self.co_units = None, ()   # the unit it was dispatched to no longer handles it
        self.merged_into = host.number
        self._record(now, actor, role, "merge", State.MERGED, host_ticket=host.number, reason=reason)
        host.merged = (*host.merged, self.number)
        host._record(now, actor, role, "merge_in", host.state, merged_ticket=self.number, reason=reason)

    def follow_host(self, host: Ticket, now: dt.datetime, actor: str) -> None:
        """The host's answer reaches this merged ticket: its reply (→ 待回访, this citizen's own callback) or its
        refusal (→ 不予受理, with the same reason)."""
        self._require("follow_host", {State.MERGED})
        if host.number != self.merged_into:
            raise TransitionError("not_host_ticket", f"工单{host.number}不是工单{self.number}的主工单")
        if host.state == State.AWAITING_CALLBACK:
            answer = next(e for e in reversed(host.history) if e.action in ("reply", "resolve_directly"))
            self.closed_on_time = host.closed_on_time
            self._record(now, actor, Role.SYSTEM, "host_reply", State.AWAITING_CALLBACK, host_ticket=host.number,
                         content=answer.data.get("content") or answer.data.get("answer", ""))
        elif host.state == State.REFUSED:
            refusal = next(e for e in reversed(host.history) if e.action == "refuse")
            self.refusal, self.closed_at = host.refusal, now
            self._record(now, actor, Role.SYSTEM, "host_refused", State.REFUSED, host_ticket=host.number,
                         reason=refusal.data["reason"], explanation=refusal.data["explanation"])
        else:
            raise TransitionError("host_not_answered", f"主工单{host.number}尚未答复")

    def unmerge(self, host: Ticket, reason: str, now: dt.datetime, actor: str, role: Role) -> None:
        """撤销并单 by the platform, with its reason, while the ticket still waits for its host: back to 已受理
        (``accepted``), from where it is dispatched (a deadline it had keeps running) or resolved on its own."""
        self._require_role(role, Role.PLATFORM)
        self._require("unmerge", {State.MERGED})
        if host.number != self.merged_into:
            raise TransitionError("not_host_ticket", f"工单{host.number}不是工单{self.number}的主工单")
        if not reason.strip():
            raise TransitionError("reason_required", "撤销并单必须说明理由")
        self.merged_into = None
        self._record(now, actor, role, "unmerge", State.ACCEPTED, host_ticket=host.number, reason=reason)
        host.merged = tuple(n for n in host.merged if n != self.number)
        host._record(now, actor, role, "unmerge_out", host.state, merged_ticket=self.number, reason=reason)


    # ── 修改工单: edit after save ─────────────────────────────────────────────
    def edit(self, fields: tuple[str, ...], now: dt.datetime, actor: str, role: Role) -> None:
        """修改工单 by the agent who registered it, while it is still 已受理 (``EDITABLE``): before 派单 no unit has
        seen it, so what it reads is what the agent last saved. The history names the fields changed (their
        Chinese names); the state stays."""
        self._require_role(role, Role.AGENT)
        self._require("edit", EDITABLE)
        if not fields:
            raise TransitionError("nothing_changed", "没有修改任何内容")
        self._record(now, actor, role, "edit", self.state, fields="、".join(fields))


def repeat_of(existing: list[Ticket], matter_key: str, keys: dict[str, str]) -> Ticket | None:
    """The sealed ticket a new appeal repeats, if any (``keys`` maps ticket number → matter key)."""
    for ticket in existing:
        if ticket.final_opinion and keys.get(ticket.number) == matter_key:
            return ticket
    return None


STATE_LABELS = {state: state.label for state in State}
# 并单: what may be merged by whom, what may host, and the only actions a merged ticket allows.
MERGEABLE = {Role.AGENT: frozenset({State.ACCEPTED}),   # an agent merges the ticket it is saving (or just saved)
             Role.PLATFORM: frozenset({State.ACCEPTED, State.RETURNED, State.DISPATCHED, State.SIGNED})}
HOST_STATES = frozenset({State.ACCEPTED, State.DISPATCHED, State.SIGNED, State.RETURN_REQUESTED, State.RETURNED,
                         State.CONSULTATION, State.REPLIED})   # open, and its answer still to come
MERGED_ALLOWED = frozenset({"follow_host", "unmerge", "callback", "close_unsatisfied"})
ACTION_LABELS = {
    "accept": "受理", "refuse": "不予受理", "resolve_directly": "直接办结", "dispatch": "派单", "sign": "签收",
    "request_return": "退单", "approve_return": "同意退单", "reject_return": "驳回退单",
    "start_consultation": "发起会商", "settle_consultation": "会商定责", "reply": "答复", "approve_reply": "审核通过",
    "reject_reply": "审核退回", "callback": "回访", "appeal": "申诉", "approve_appeal": "同意申诉",
    "reject_appeal": "驳回申诉", "reopen": "重办", "close_unsatisfied": "不满意办结",
    "seal_final_opinion": "封存最终处理意见", "supervise": "督办", "escalate": "升级",
    "repeat_linked": "重复诉求关联", "survey": "来电满意度评价", "transfer": "转接/联动",
    "merge": "并单", "merge_in": "并入工单", "follow_host": "随主工单办理", "host_reply": "主工单答复",
    "host_refused": "主工单不予受理", "unmerge": "撤销并单", "unmerge_out": "撤销并入",
    "edit": "修改工单",
}
# 修改工单: only before 派单 (no unit has read the ticket yet; after that a change goes through 退单/重办).
EDITABLE = frozenset({State.ACCEPTED})
# What the fields of a history entry's data are called (办理记录的说明).
EVENT_FIELD_LABELS = {
    "host_unit": "主办单位", "host": "主办单位", "unit": "承办单位", "co_units": "协办单位", "reason": "理由",
    "legal_basis": "法律法规依据", "content": "答复内容", "answer": "答复", "knowledge_ref": "知识库",
    "explanation": "说明", "result": "回访结果", "solved": "是否解决", "category": "申诉类别", "basis": "依据",
    "opinion": "最终处理意见", "note": "督办意见", "to": "升级至", "units": "会商单位", "decided_unit": "定责单位",
    "appeal_type": "诉求类型", "urgency": "紧急程度", "channel": "渠道", "call_id": "通话",
    "final_opinion": "最终处理意见", "due_at": "办理时限", "digits": "按键", "said": "语音回答", "count": "次数",
    # a transfer's entry (agent_desk.calls.transfers): the fields of the HotlineTransfer / HotlineLinkage events
    "Kind": "转接类型", "Target": "转接目标", "Outcome": "结果", "DialStatus": "呼叫状态", "Fallback": "未接通时",
    "Conference": "三方会议", "Agent": "坐席", "Trunk": "中继", "SetupMs": "接通耗时（毫秒）",
    "TransferID": "转接编号", "CallID": "通话", "at": "时间",
    "fields": "修改内容",
    "host_ticket": "主工单", "merged_ticket": "并入的工单",
}


class Urgency(Term):
    """紧急程度: sets the deadline (agent_desk.tickets.deadlines)."""

    NORMAL = "normal", "一般"
    URGENT = "urgent", "紧急"
    VERY_URGENT = "very_urgent", "特急"
