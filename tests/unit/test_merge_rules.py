"""并单 in the ticket lifecycle: what may be merged into what, what a merged ticket may no longer do, how the
host's answer reaches it, and unmerging."""

from __future__ import annotations

import datetime as dt

import pytest

from agent_desk.tickets.deadlines import Calendar
from agent_desk.tickets.lifecycle import (
    HOST_STATES, MERGEABLE, Exclusion, Level, OutOfScope, Role, Satisfaction, State, Ticket, TransitionError,
)

CAL = Calendar(holidays=frozenset(), makeup_workdays=frozenset())
MON = dt.datetime(2024, 3, 4, 10, 0)
P, A, U = Role.PLATFORM, Role.AGENT, Role.UNIT
UNIT = "琼海市水务局"


def t(hours: float = 0) -> dt.datetime:
    return MON + dt.timedelta(hours=hours)


def new(number: str) -> Ticket:
    return Ticket.accept(number, "complaint", t(), "agent-8001")


def host_in(state: State) -> Ticket:
    """A ticket ``H`` brought to ``state`` the ordinary way."""
    host = new("H")
    if state == State.ACCEPTED:
        return host
    if state == State.REFUSED:
        host.refuse(OutOfScope.LITIGATION, "已进入诉讼程序", t(1), "a", A)
        return host
    host.dispatch(UNIT, t(1), "a", A, CAL)
    steps = {
        State.DISPATCHED: [],
        State.SIGNED: ["sign"],
        State.RETURN_REQUESTED: ["sign", "request_return"],
        State.RETURNED: ["sign", "request_return", "approve_return"],
        State.CONSULTATION: ["sign", "request_return", "start_consultation"],
        State.REPLIED: ["sign", "reply"],
        State.AWAITING_CALLBACK: ["sign", "reply", "approve_reply"],
        State.UNSATISFIED: ["sign", "reply", "approve_reply", "unsatisfied"],
        State.APPEALED: ["sign", "reply", "approve_reply", "unsatisfied", "appeal"],
        State.CLOSED: ["sign", "reply", "approve_reply", "satisfied"],
    }[state]
    for step in steps:
        {"sign": lambda: host.sign(UNIT, t(2), "u"),
         "request_return": lambda: host.request_return(UNIT, "理由", "依据", t(3), "u"),
         "approve_return": lambda: host.approve_return(t(4), "p", P),
         "start_consultation": lambda: host.start_consultation((UNIT, "另一单位"), t(4), "p", P),
         "reply": lambda: host.reply(UNIT, "已清理路面积水。", t(5), "u"),
         "approve_reply": lambda: host.approve_reply(t(6), "p", P),
         "unsatisfied": lambda: host.callback(Satisfaction.UNSATISFIED, False, t(7), "a", A),
         "appeal": lambda: host.appeal(UNIT, Exclusion.BEYOND_REMIT, "理由", t(8), "u"),
         "satisfied": lambda: host.callback(Satisfaction.SATISFIED, True, t(7), "a", A)}[step]()
    assert host.state == state
    return host


def merged_pair() -> tuple[Ticket, Ticket]:
    host, dup = host_in(State.SIGNED), new("M")
    dup.merge_into(host, "同一路段积水", t(2.5), "agent-8002", A)
    return host, dup


@pytest.mark.parametrize("state", [s for s in State if s != State.MERGED], ids=lambda s: s.value)
def test_a_new_ticket_merges_only_into_an_open_host_whose_answer_is_still_to_come(state):
    host, dup = host_in(state), new("M")
    if state in HOST_STATES:
        dup.merge_into(host, "", t(9), "agent-8002", A)
        assert dup.state == State.MERGED and dup.merged_into == "H" and host.merged == ("M",)
        assert host.state == state, "the host keeps its state; only a note is added"
        assert [e.action for e in (dup.history[-1], host.history[-1])] == ["merge", "merge_in"]
    else:
        before = (len(dup.history), len(host.history))
        with pytest.raises(TransitionError) as info:
            dup.merge_into(host, "", t(9), "agent-8002", A)
        assert info.value.code == "host_not_open"
        assert ("已办结" if state in (State.CLOSED, State.REFUSED) else "已答复") in info.value.message
        assert (len(dup.history), len(host.history)) == before and dup.state == State.ACCEPTED


def test_an_agent_merges_only_a_new_ticket_the_platform_also_an_open_one():
    dispatched = host_in(State.DISPATCHED)
    dispatched.number = "D"
    with pytest.raises(TransitionError, match="invalid_transition"):
        dispatched.merge_into(host_in(State.SIGNED), "", t(9), "agent-8002", A)
    dispatched.merge_into(host_in(State.SIGNED), "同一事项", t(9), "p", P)
    assert dispatched.state == State.MERGED
    assert dispatched.host_unit is None, "the unit it had been dispatched to no longer handles it"
    assert dispatched.due_at is not None, "its deadline is kept (an unmerge does not restart it)"
    with pytest.raises(TransitionError, match="forbidden_role"):
        new("X").merge_into(host_in(State.SIGNED), "", t(9), "u", U)
    assert MERGEABLE[A] == {State.ACCEPTED}


def test_no_self_merge_no_chains_no_host_into_its_own_merged_ticket():
    host, dup = merged_pair()
    with pytest.raises(TransitionError, match="merge_self"):
        host.merge_into(host, "", t(9), "p", P)
    # merging into a merged ticket is refused, naming its host (not silently redirected)
    third = new("T")
    with pytest.raises(TransitionError, match="host_merged") as info:
        third.merge_into(dup, "", t(9), "a", A)
    assert "请并入主工单H" in info.value.message and third.state == State.ACCEPTED
    # a host cannot go into its own merged ticket, nor into any other: it has merged tickets
    with pytest.raises(TransitionError, match="merge_has_merged"):
        host.merge_into(dup, "", t(9), "p", P)
    other = host_in(State.SIGNED)
    other.number = "O"
    with pytest.raises(TransitionError, match="merge_has_merged"):
        host.merge_into(other, "", t(9), "p", P)
    # a merged ticket cannot be merged again elsewhere
    with pytest.raises(TransitionError, match="已并入工单H"):
        dup.merge_into(other, "", t(9), "p", P)


FORBIDDEN = {
    "dispatch": lambda k: k.dispatch(UNIT, t(9), "p", P, CAL),
    "resolve_directly": lambda k: k.resolve_directly("答复", t(9), "a", A),
    "refuse": lambda k: k.refuse(OutOfScope.PETITION, "说明", t(9), "a", A),
    "sign": lambda k: k.sign(UNIT, t(9), "u"),
    "reply": lambda k: k.reply(UNIT, "单独答复", t(9), "u"),
    "callback": lambda k: k.callback(Satisfaction.SATISFIED, True, t(9), "a", A),
    "close_unsatisfied": lambda k: k.close_unsatisfied(t(9), "p", P),
    "supervise": lambda k: k.supervise("请加快", t(9), "p", P),
    "escalate": lambda k: k.escalate(Level.CITY, "升级", t(9), "p", P),
}


@pytest.mark.parametrize("action", list(FORBIDDEN))
def test_a_merged_ticket_is_not_handled_on_its_own(action):
    _, dup = merged_pair()
    before = len(dup.history)
    with pytest.raises(TransitionError) as info:
        FORBIDDEN[action](dup)
    assert "已并入工单H" in info.value.message or info.value.code == "invalid_transition"
    assert len(dup.history) == before and dup.state == State.MERGED


def test_the_host_reply_reaches_the_merged_ticket_which_gets_its_own_callback():
    host, dup = merged_pair()
    with pytest.raises(TransitionError, match="host_not_answered"):
        dup.follow_host(host, t(5), "p")
    host.reply(UNIT, "已清理路面积水。", t(5), "u")
    host.approve_reply(t(6), "p", P)
    dup.follow_host(host, t(6), "p")
    assert dup.state == State.AWAITING_CALLBACK and dup.merged_into == "H"
    event = dup.history[-1]
    assert event.action == "host_reply" and event.data == {"host_ticket": "H", "content": "已清理路面积水。"}
    assert event.role == Role.SYSTEM and dup.closed_on_time is host.closed_on_time
    # each citizen's verdict on its own ticket
    dup.callback(Satisfaction.UNSATISFIED, False, t(7), "a", A)
    host.callback(Satisfaction.SATISFIED, True, t(7), "a", A)
    assert (host.satisfaction, dup.satisfaction) == (Satisfaction.SATISFIED, Satisfaction.UNSATISFIED)
    # an unsatisfied merged citizen: no separate reopening or appeal, the platform closes it as unsatisfied
    with pytest.raises(TransitionError, match="已并入工单H"):
        dup.reopen("重办", t(8), "p", P)
    dup.close_unsatisfied(t(8), "p", P)
    assert dup.state == State.CLOSED
    with pytest.raises(TransitionError, match="已并入工单H"):
        dup.seal_final_opinion("意见", t(9), "p", P)


def test_a_direct_resolution_of_the_host_reaches_the_merged_ticket_too():
    host, dup = host_in(State.ACCEPTED), new("M")
    dup.merge_into(host, "", t(1), "a", A)
    host.resolve_directly("按政策答复：可在海南人社App办理", t(2), "a", A)
    dup.follow_host(host, t(2), "a")
    assert dup.state == State.AWAITING_CALLBACK and dup.history[-1].data["content"].startswith("按政策答复")


def test_a_refused_host_takes_its_merged_tickets_with_it():
    host, dup = host_in(State.ACCEPTED), new("M")
    dup.merge_into(host, "", t(1), "a", A)
    host.refuse(OutOfScope.LITIGATION, "已进入诉讼程序，请向法院咨询", t(2), "a", A)
    dup.follow_host(host, t(2), "a")
    assert dup.state == State.REFUSED and dup.refusal == OutOfScope.LITIGATION and not dup.is_open


def test_only_the_platform_unmerges_with_a_reason_back_to_accepted():
    host, dup = merged_pair()
    with pytest.raises(TransitionError, match="forbidden_role"):
        dup.unmerge(host, "不是同一事项", t(3), "a", A)
    with pytest.raises(TransitionError, match="reason_required"):
        dup.unmerge(host, "  ", t(3), "p", P)
    dup.unmerge(host, "不是同一路段", t(3), "supervisor-1", P)
    assert dup.state == State.ACCEPTED and dup.merged_into is None and host.merged == ()
    assert dup.history[-1].action == "unmerge" and dup.history[-1].data["reason"] == "不是同一路段"
    assert host.history[-1].action == "unmerge_out" and host.history[-1].actor == "supervisor-1"
    dup.dispatch(UNIT, t(4), "p", P, CAL)   # handled on its own again
    assert dup.state == State.DISPATCHED
    with pytest.raises(TransitionError, match="invalid_transition"):
        dup.unmerge(host, "再撤销", t(5), "p", P)


def test_unmerge_after_the_host_reply_reached_it_is_refused():
    host, dup = merged_pair()
    host.reply(UNIT, "答复", t(5), "u")
    host.approve_reply(t(6), "p", P)
    dup.follow_host(host, t(6), "p")
    with pytest.raises(TransitionError, match="invalid_transition"):
        dup.unmerge(host, "理由", t(7), "p", P)
