"""修改工单 in the lifecycle: only an agent, only while 已受理 (before 派单), only with something changed; the state
stays and the history names the fields."""

from __future__ import annotations

import datetime as dt

import pytest

from agent_desk.tickets.deadlines import Calendar
from agent_desk.tickets.lifecycle import ACTION_LABELS, EDITABLE, Role, State, Ticket, TransitionError

CAL = Calendar(holidays=frozenset(), makeup_workdays=frozenset())
NOW = dt.datetime(2024, 3, 4, 10, 0)


def accepted() -> Ticket:
    return Ticket.accept("GD001", "complaint", NOW, "agent-8001")


def test_an_accepted_ticket_is_edited_and_the_history_names_the_fields():
    ticket = accepted()
    ticket.edit(("标题", "地点"), NOW + dt.timedelta(minutes=5), "agent-8001", Role.AGENT)
    last = ticket.history[-1]
    assert (last.action, last.actor, last.role, last.from_state, last.to_state) == (
        "edit", "agent-8001", Role.AGENT, State.ACCEPTED, State.ACCEPTED)
    assert last.data == {"fields": "标题、地点"} and last.at == NOW + dt.timedelta(minutes=5)
    assert ticket.state == State.ACCEPTED and ACTION_LABELS["edit"] == "修改工单"
    assert frozenset({State.ACCEPTED}) == EDITABLE


@pytest.mark.parametrize("role", [Role.PLATFORM, Role.UNIT, Role.SYSTEM])
def test_only_an_agent_edits(role):
    ticket = accepted()
    with pytest.raises(TransitionError) as refused:
        ticket.edit(("标题",), NOW, "someone", role)
    assert refused.value.code == "forbidden_role" and len(ticket.history) == 1


def test_after_dispatch_and_with_nothing_changed_it_is_refused():
    ticket = accepted()
    with pytest.raises(TransitionError) as empty:
        ticket.edit((), NOW, "agent-8001", Role.AGENT)
    assert empty.value.code == "nothing_changed"
    ticket.dispatch("琼海市水务局", NOW, "agent-8001", Role.AGENT, CAL)
    with pytest.raises(TransitionError) as late:
        ticket.edit(("标题",), NOW, "agent-8001", Role.AGENT)
    assert late.value.code == "invalid_transition" and "不能执行“修改工单”" in late.value.message
    assert [e.action for e in ticket.history] == ["accept", "dispatch"]
