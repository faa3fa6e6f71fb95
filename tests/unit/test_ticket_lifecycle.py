"""The ticket state machine: every allowed transition, every other one refused with a clear error."""

from __future__ import annotations

import datetime as dt

import pytest

from agent_desk.tickets.deadlines import Calendar
from agent_desk.tickets.lifecycle import (
    Exclusion, Level, OutOfScope, Role, Satisfaction, State, Ticket, TransitionError, repeat_of,
)

CAL = Calendar(holidays=frozenset({dt.date(2024, 10, 1), dt.date(2024, 10, 2)}),
               makeup_workdays=frozenset({dt.date(2024, 10, 12)}))
MON = dt.datetime(2024, 3, 4, 10, 0)   # a Monday
P, A = Role.PLATFORM, Role.AGENT
HOST, OTHER = "琼海市水务局", "琼海市住房和城乡建设局"


def t(hours: float = 0) -> dt.datetime:
    return MON + dt.timedelta(hours=hours)


def accepted(appeal: str = "complaint") -> Ticket:
    return Ticket.accept("GD001", appeal, t(), "agent-8001")


def dispatched() -> Ticket:
    ticket = accepted()
    ticket.dispatch(HOST, t(0.1), "agent-8001", A, CAL, co_units=(OTHER,))
    return ticket


def signed() -> Ticket:
    ticket = dispatched()
    ticket.sign(HOST, t(0.5), "unit-1")
    return ticket


def replied() -> Ticket:
    ticket = signed()
    ticket.reply(HOST, "已安排维修，水质恢复正常。", t(20), "unit-1")
    return ticket


def awaiting_callback() -> Ticket:
    ticket = replied()
    ticket.approve_reply(t(21), "reviewer", P)
    return ticket


def unsatisfied() -> Ticket:
    ticket = awaiting_callback()
    ticket.callback(Satisfaction.UNSATISFIED, solved=False, now=t(30), actor="agent-8002", role=A)
    return ticket


def appealed() -> Ticket:
    ticket = unsatisfied()
    ticket.appeal(HOST, Exclusion.BEYOND_REMIT, "诉求要求赔偿，超出职权范围", t(31), "unit-1")
    return ticket


def return_requested() -> Ticket:
    ticket = signed()
    ticket.request_return(HOST, "不属于本单位职责", "《海南省城镇供水条例》第十条", t(1), "unit-1")
    return ticket


def returned() -> Ticket:
    ticket = return_requested()
    ticket.approve_return(t(2), "reviewer", P)
    return ticket


def consultation() -> Ticket:
    ticket = return_requested()
    ticket.start_consultation((HOST, OTHER), t(2), "reviewer", P)
    return ticket


def refused() -> Ticket:
    ticket = accepted()
    ticket.refuse(OutOfScope.LITIGATION, "已进入诉讼程序，请向法院咨询", t(0.1), "agent-8001", A)
    return ticket


def closed() -> Ticket:
    ticket = awaiting_callback()
    ticket.callback(Satisfaction.SATISFIED, solved=True, now=t(30), actor="agent-8002", role=A)
    return ticket


def merged() -> Ticket:   # 并单 (rules: tests/unit/test_merge_rules.py)
    ticket, host = accepted(), dispatched()
    host.number = "GD002"
    ticket.merge_into(host, "", t(0.2), "agent-8001", A)
    return ticket


BUILDERS = {
    State.ACCEPTED: accepted, State.REFUSED: refused, State.DISPATCHED: dispatched, State.SIGNED: signed,
    State.RETURN_REQUESTED: return_requested, State.RETURNED: returned, State.CONSULTATION: consultation,
    State.REPLIED: replied, State.AWAITING_CALLBACK: awaiting_callback, State.UNSATISFIED: unsatisfied,
    State.APPEALED: appealed, State.CLOSED: closed, State.MERGED: merged,
}

# Every action with plausible arguments, and the states it is allowed from (the rules, restated).
ACTIONS = {
    "refuse": (lambda k: k.refuse(OutOfScope.PETITION, "已进入信访渠道", t(40), "a", A), {State.ACCEPTED}),
    "resolve_directly": (lambda k: k.resolve_directly("按政策答复", t(40), "a", A), {State.ACCEPTED}),
    "dispatch": (lambda k: k.dispatch(HOST, t(40), "a", A, CAL), {State.ACCEPTED, State.RETURNED}),
    "sign": (lambda k: k.sign(HOST, t(1), "u"), {State.DISPATCHED}),
    "request_return": (lambda k: k.request_return(HOST, "理由", "依据", t(1), "u"), {State.DISPATCHED, State.SIGNED}),
    "approve_return": (lambda k: k.approve_return(t(40), "p", P), {State.RETURN_REQUESTED}),
    "reject_return": (lambda k: k.reject_return("应由你单位办理", t(40), "p", P), {State.RETURN_REQUESTED}),
    "start_consultation": (lambda k: k.start_consultation((HOST, OTHER), t(40), "p", P),
                           {State.RETURN_REQUESTED, State.DISPATCHED, State.SIGNED}),
    "settle_consultation": (lambda k: k.settle_consultation(OTHER, t(40), "p", P), {State.CONSULTATION}),
    "reply": (lambda k: k.reply(HOST, "答复", t(40), "u"), {State.SIGNED}),
    "approve_reply": (lambda k: k.approve_reply(t(40), "p", P), {State.REPLIED}),
    "reject_reply": (lambda k: k.reject_reply("答复不完整", t(40), "p", P), {State.REPLIED}),
    "callback": (lambda k: k.callback(Satisfaction.SATISFIED, True, t(40), "a", A), {State.AWAITING_CALLBACK}),
    "appeal": (lambda k: k.appeal(HOST, Exclusion.BEYOND_REMIT, "理由", t(40), "u"), {State.UNSATISFIED}),
    "approve_appeal": (lambda k: k.approve_appeal("依据《条例》第X条", t(40), "p", P), {State.APPEALED}),
    "reject_appeal": (lambda k: k.reject_appeal("理由不成立", t(40), "p", P), {State.APPEALED}),
    "reopen": (lambda k: k.reopen("群众不满意", t(40), "p", P), {State.UNSATISFIED}),
    "close_unsatisfied": (lambda k: k.close_unsatisfied(t(40), "p", P), {State.UNSATISFIED}),
    "seal_final_opinion": (lambda k: k.seal_final_opinion("维持原处理意见", t(40), "p", P), {State.CLOSED}),
    "supervise": (lambda k: k.supervise("请加快办理", t(40), "p", P),
                  set(State) - {State.REFUSED, State.CLOSED, State.MERGED}),
}


@pytest.mark.parametrize("state", list(State), ids=lambda s: s.value)
@pytest.mark.parametrize("action", list(ACTIONS))
def test_every_action_is_allowed_exactly_where_the_rules_say(state, action):
    run, allowed = ACTIONS[action]
    ticket = BUILDERS[state]()
    assert ticket.state == state
    history = len(ticket.history)
    if state in allowed:
        run(ticket)
        assert len(ticket.history) == history + 1 and ticket.history[-1].action == action
    else:
        with pytest.raises(TransitionError) as info:
            run(ticket)
        assert info.value.code in ("invalid_transition", "not_host_unit")
        assert len(ticket.history) == history, "a refused change leaves no trace in the history"
        assert ticket.state == state


def test_the_whole_way_from_call_to_closed_on_time():
    ticket = closed()
    assert [e.action for e in ticket.history] == ["accept", "dispatch", "sign", "reply", "approve_reply", "callback"]
    assert ticket.closed_on_time and ticket.satisfaction == Satisfaction.SATISFIED
    assert ticket.due_at == dt.datetime(2024, 3, 11, 10, 6)  # complaint: 5 working days


def test_direct_resolution_needs_an_answer_and_goes_to_callback():
    ticket = accepted("consultation")
    with pytest.raises(TransitionError, match="answer_required"):
        ticket.resolve_directly("  ", t(), "a", A)
    ticket.resolve_directly("社保转移可在海南人社App办理", t(0.2), "a", A, knowledge_ref="KB-12")
    ticket.callback(Satisfaction.BASICALLY_SATISFIED, True, t(1), "a", A)
    assert ticket.state == State.CLOSED and ticket.direct_resolution and ticket.closed_on_time


def test_refusal_needs_a_reason_and_is_final():
    ticket = accepted()
    with pytest.raises(TransitionError, match="explanation_required"):
        ticket.refuse(OutOfScope.LITIGATION, "", t(), "a", A)
    assert refused().refusal == OutOfScope.LITIGATION and not refused().is_open


def test_dispatch_rules():
    ticket = accepted()
    with pytest.raises(TransitionError, match="host_in_cohosts"):
        ticket.dispatch(HOST, t(), "a", A, CAL, co_units=(HOST,))
    with pytest.raises(TransitionError, match="forbidden_role"):
        ticket.dispatch(HOST, t(), "u", Role.UNIT, CAL)
    ticket = dispatched()
    with pytest.raises(TransitionError, match="not_host_unit"):
        ticket.sign(OTHER, t(1), "u")


def test_return_needs_basis_and_must_come_within_its_window():
    with pytest.raises(TransitionError, match="return_basis_required"):
        signed().request_return(HOST, "不归我管", "", t(1), "u")
    with pytest.raises(TransitionError, match="return_window_passed"):
        signed().request_return(HOST, "理由", "依据", t(30), "u")
    ticket = returned()
    assert ticket.host_unit is None and ticket.returns == 1
    due = ticket.due_at
    ticket.dispatch(OTHER, t(3), "p", P, CAL)
    assert ticket.due_at == due, "re-dispatch after a return does not restart the clock"


def test_a_rejected_return_goes_back_where_it_was():
    ticket = return_requested()
    ticket.reject_return("属于你单位职责", t(2), "p", P)
    assert ticket.state == State.SIGNED


def test_after_consultation_the_decided_unit_cannot_return_it():
    ticket = consultation()
    ticket.settle_consultation(HOST, t(3), "p", P)
    assert ticket.state == State.DISPATCHED and ticket.settled_unit == HOST
    ticket.sign(HOST, t(4), "u")
    with pytest.raises(TransitionError) as info:
        ticket.request_return(HOST, "理由", "依据", t(5), "u")
    assert info.value.code == "settled_no_return" and "首接负责" in info.value.message
    with pytest.raises(TransitionError, match="consultation_needs_units"):
        return_requested().start_consultation((HOST,), t(2), "p", P)


def test_approved_appeal_is_excluded_with_its_basis():
    ticket = appealed()
    with pytest.raises(TransitionError, match="exclusion_basis_required"):
        ticket.approve_appeal(" ", t(32), "p", P)
    ticket.approve_appeal("诉求超出承办单位法定职权，依据《海南省12345热线管理办法》", t(32), "p", P)
    assert ticket.state == State.CLOSED and ticket.excluded == Exclusion.BEYOND_REMIT
    assert "职权" in ticket.exclusion_basis


def test_rejected_appeal_then_reopen_goes_back_to_the_host_unit():
    ticket = appealed()
    ticket.reject_appeal("理由不成立", t(32), "p", P)
    ticket.reopen("群众仍不满意", t(33), "p", P)
    assert ticket.state == State.DISPATCHED and ticket.host_unit == HOST and ticket.closed_on_time is None


def test_overdue_is_detected_while_the_unit_holds_the_ticket():
    ticket = signed()
    assert not ticket.is_overdue(ticket.due_at)
    assert ticket.is_overdue(ticket.due_at + dt.timedelta(minutes=1))
    late = signed()
    late.reply(HOST, "已处理", late.due_at + dt.timedelta(hours=1), "u")
    late.approve_reply(late.due_at + dt.timedelta(hours=2), "p", P)
    assert late.closed_on_time is False and not late.is_overdue(late.due_at + dt.timedelta(days=5))


def test_deadlines_count_working_days_holidays_and_makeup_days():
    friday = dt.datetime(2024, 3, 8, 16, 0)
    assert CAL.deadline(friday, "consultation") == dt.datetime(2024, 3, 11, 16, 0)
    assert CAL.deadline(dt.datetime(2024, 9, 30, 9, 0), "consultation") == dt.datetime(2024, 10, 3, 9, 0)
    assert CAL.deadline(dt.datetime(2024, 10, 11, 9, 0), "consultation") == dt.datetime(2024, 10, 12, 9, 0)
    assert CAL.deadline(friday, "complaint", "very_urgent") == friday + dt.timedelta(hours=2)
    with pytest.raises(ValueError):
        CAL.deadline(friday, "complaint", "whenever")


def test_supervision_counts_and_escalation_only_goes_up():
    ticket = signed()
    ticket.supervise("请加快", t(2), "p", P)
    ticket.supervise("再次督办", t(3), "p", P)
    assert ticket.supervisions == 2 and ticket.state == State.SIGNED
    ticket.escalate(Level.COUNTY, "镇级无法协调", t(4), "p", P)
    with pytest.raises(TransitionError, match="escalate_upwards_only"):
        ticket.escalate(Level.TOWN, "", t(5), "p", P)
    ticket.escalate(Level.PROVINCE, "跨市县", t(6), "p", P)
    assert ticket.level == Level.PROVINCE


def test_final_opinion_is_sealed_once_and_repeats_link_to_it():
    ticket = closed()
    ticket.seal_final_opinion("经核实已按规定处理，维持原意见。", t(50), "p", P)
    with pytest.raises(TransitionError, match="already_sealed"):
        ticket.seal_final_opinion("改一下", t(51), "p", P)
    other = closed()
    other.number = "GD002"
    keys = {"GD001": "13907551234|供水|嘉积镇", "GD002": "13907559999|噪声|博鳌镇"}
    assert repeat_of([other, ticket], "13907551234|供水|嘉积镇", keys) is ticket
    assert repeat_of([other, ticket], "13907559999|噪声|博鳌镇", keys) is None, "not sealed: a new ticket"


def test_history_is_append_only_and_records_who_and_when():
    ticket = closed()
    assert all(e.at >= MON for e in ticket.history)
    assert [e.to_state for e in ticket.history][-1] == State.CLOSED
    assert ticket.history[2].actor == "unit-1" and ticket.history[2].role == Role.UNIT
