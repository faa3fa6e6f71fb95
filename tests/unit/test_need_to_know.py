"""The agent's need-to-know rule as a pure decision (agent_desk.auth.need_to_know.agent_grant), on stand-in
rows: the order of the reasons, 保密, and what a live call adds. The HTTP paths are in the component test."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from agent_desk.auth.need_to_know import agent_grant

ME, OTHER = 1, 2
CALLER = "13800000000"


def ticket(created_by=OTHER, answered_by=None, phone="13900000000", confidential=False):
    call = SimpleNamespace(agent_user_id=answered_by) if answered_by else None
    return SimpleNamespace(created_by_id=created_by, call=call, citizen_phone=phone, confidential=confidential)


LIVE = SimpleNamespace(call_id="c1", caller=CALLER)


@pytest.mark.parametrize("row, live, by_number, expected", [
    (ticket(created_by=ME, confidential=True), None, False, ("own_ticket", True)),
    (ticket(answered_by=ME, confidential=True), None, False, ("own_call", True)),
    (ticket(phone=CALLER), LIVE, False, ("current_caller", True)),
    (ticket(), LIVE, True, ("number_on_call", False)),    # a number read out: not necessarily the citizen
    (ticket(), LIVE, False, None),                        # a list, not a look-up by number
    (ticket(phone=CALLER), None, True, None),             # not on a call: nothing but its own
    (ticket(phone=CALLER, confidential=True), LIVE, True, None),  # 保密: only who took it
    (ticket(answered_by=OTHER), LIVE, False, None),
])
def test_agent_grant(row, live, by_number, expected):
    grant = agent_grant(ME, row, live, by_number=by_number)
    assert (None if grant is None else (grant.reason, grant.unmasked)) == expected
    if grant is not None and grant.reason in ("current_caller", "number_on_call"):
        assert grant.audit_reason == f"{grant.reason} call=c1"
