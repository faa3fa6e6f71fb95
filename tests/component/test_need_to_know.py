"""Need-to-know on tickets (agent_desk/auth/need_to_know.py) and the audit log's reader, over HTTP on SQLite
and PostgreSQL: what an agent may read and search, 保密 tickets, the audit rows every read leaves (with the
reason), and GET /api/v1/audit for the auditor only (JSON and CSV)."""

from __future__ import annotations

import csv
import io
import json
import secrets

import pytest
from sqlalchemy import select

from agent_desk.auth.privacy import audit
from agent_desk.auth.roles import Role
from agent_desk.auth.sessions import Principal, create_user
from agent_desk.db import models as m
from agent_desk.db.base import utcnow
from tests.support.desk import PASSWORD, close_rig, make_rig


@pytest.fixture
def rig(database_url, redis_server):
    rig = make_rig(database_url, redis_server.authenticated_url)
    with rig.app.state.db.session() as session:
        create_user(session, rig.user("auditor"), PASSWORD, Role.AUDITOR, display_name="审计员")
    yield rig
    close_rig(rig)


def phone(rig, n: int) -> str:
    """A citizen's number unique to this rig (rigs share the session's database)."""
    return f"13{int(rig.tag, 16) % 1_000_000:06d}{n:03d}"


def ok(response, status=200) -> dict:
    assert response.status_code == status, response.text
    return response.json()


def new_ticket(rig, short: str, citizen: str, **changes) -> str:
    body = {"citizen_name": "李四", "citizen_phone": citizen, "title": "路灯不亮", "content": "某路路灯坏了三天",
            "appeal_type": "help", "topic": "", "location": f"嘉积镇{secrets.token_hex(3)}"} | changes
    return ok(rig.call(short, "POST", "/api/v1/tickets", json=body), 201)["number"]


def user_id(rig, short: str) -> int:
    with rig.app.state.db.session() as session:
        return session.scalar(select(m.User.id).where(m.User.username == rig.user(short)))


def answer(rig, short: str, caller: str) -> str:
    """The agent answers a call from ``caller`` (as the tracker records it) and is on it until ``hang_up``."""
    call_id = f"{rig.tag}.{secrets.token_hex(4)}"
    with rig.app.state.db.session() as session:
        session.add(m.Call(call_id=call_id, caller=caller, line="12345", agent_user_id=user_id(rig, short),
                           answered_at=utcnow(), outcome="answered"))
    return call_id


def hang_up(rig, call_id: str) -> None:
    with rig.app.state.db.session() as session:
        session.scalar(select(m.Call).where(m.Call.call_id == call_id)).ended_at = utcnow()


def audit_rows(rig, short: str, action: str | None = None) -> list[m.AuditEntry]:
    with rig.app.state.db.session() as session:
        stmt = select(m.AuditEntry).where(m.AuditEntry.username == rig.user(short)).order_by(m.AuditEntry.id)
        if action:
            stmt = stmt.where(m.AuditEntry.action == action)
        return session.scalars(stmt).all()


def numbers(response) -> list[str]:
    return [t["number"] for t in ok(response)["items"]]


def test_an_agent_cannot_read_or_search_a_ticket_it_has_no_business_with(rig):
    citizen = phone(rig, 1)
    other = new_ticket(rig, "agent2", citizen, title="噪音扰民")

    refused = rig.call("agent", "GET", f"/api/v1/tickets/{other}")
    assert refused.status_code == 403
    assert refused.json()["error"] == "forbidden_ticket" and "无权查看该工单" in refused.json()["message"]
    by_phone = rig.call("agent", "GET", "/api/v1/tickets", params={"phone": citizen})
    assert by_phone.status_code == 403 and by_phone.json()["message"] == "话务员只能按当前来电号码查询工单"
    assert numbers(rig.call("agent", "GET", "/api/v1/tickets", params={"number": other})) == []
    assert other not in numbers(rig.call("agent", "GET", "/api/v1/tickets", params={"q": "噪音"}))
    # Walking the sequential numbers: a number that does not exist is refused and audited too.
    assert rig.call("agent", "GET", f"/api/v1/tickets/{other[:8]}999999").status_code == 404

    denied = audit_rows(rig, "agent", "read_denied")
    assert [(r.object_id, r.reason) for r in denied] == [
        (other, "forbidden_ticket"), ("search", "forbidden_filter"), (f"{other[:8]}999999", "unknown_ticket")]
    assert json.loads(denied[1].detail)["filters"] == {"phone": citizen}
    searches = audit_rows(rig, "agent", "search_tickets")
    assert len(searches) == 2 and all(json.loads(r.detail)["numbers"] == [] for r in searches)
    assert all(r.reason.startswith("own_ticket,own_call") for r in searches)


def test_an_agent_reads_its_own_calls_tickets_and_the_current_callers(rig):
    caller, stranger = phone(rig, 2), phone(rig, 3)
    earlier_call = answer(rig, "agent", phone(rig, 4))
    hang_up(rig, earlier_call)
    # A ticket of a call the agent answered, though a supervisor saved it.
    of_my_call = new_ticket(rig, "boss", phone(rig, 4), call_id=earlier_call)
    mine = new_ticket(rig, "agent", phone(rig, 5))
    callers = new_ticket(rig, "agent2", caller, title="水管爆裂")
    strangers = new_ticket(rig, "agent2", stranger, title="占道经营")

    assert ok(rig.call("agent", "GET", f"/api/v1/tickets/{of_my_call}"))["access_reason"] == "own_call"
    assert ok(rig.call("agent", "GET", f"/api/v1/tickets/{mine}"))["access_reason"] == "own_ticket"
    assert rig.call("agent", "GET", f"/api/v1/tickets/{callers}").status_code == 403  # not on a call yet
    assert set(numbers(rig.call("agent", "GET", "/api/v1/tickets"))) >= {of_my_call, mine}

    live = answer(rig, "agent", caller)
    read = ok(rig.call("agent", "GET", f"/api/v1/tickets/{callers}"))
    assert read["access_reason"] == "current_caller" and read["citizen_phone"] == caller  # talking to them
    assert numbers(rig.call("agent", "GET", "/api/v1/tickets", params={"phone": caller})) == [callers]
    listed = numbers(rig.call("agent", "GET", "/api/v1/tickets"))
    assert callers in listed and strangers not in listed
    pop = ok(rig.call("agent", "GET", "/api/v1/calls/current"))
    assert [t["number"] for t in pop["tickets"]] == [callers]
    # The caller reads out a ticket number: found by the exact number while on the call, contact masked.
    by_number = ok(rig.call("agent", "GET", f"/api/v1/tickets/{strangers}"))
    assert by_number["access_reason"] == "number_on_call" and by_number["contact_masked"] is True
    assert numbers(rig.call("agent", "GET", "/api/v1/tickets", params={"number": strangers})) == [strangers]
    assert strangers not in numbers(rig.call("agent", "GET", "/api/v1/tickets", params={"number": strangers[:8]}))

    hang_up(rig, live)
    assert rig.call("agent", "GET", f"/api/v1/tickets/{callers}").status_code == 403
    assert rig.call("agent", "GET", f"/api/v1/tickets/{strangers}").status_code == 403

    reads = {(r.object_id, r.reason) for r in audit_rows(rig, "agent", "read_personal_data")}
    assert {(of_my_call, "own_call"), (mine, "own_ticket"), (callers, f"current_caller call={live}"),
            (strangers, f"number_on_call call={live}"), (live, f"current_caller call={live}")} <= reads
    pop_row = next(r for r in audit_rows(rig, "agent", "read_personal_data") if r.object_id == live)
    assert json.loads(pop_row.detail)["numbers"] == [callers]


def test_a_confidential_ticket_is_seen_only_by_who_must_handle_it(rig):
    citizen = phone(rig, 6)
    secret = new_ticket(rig, "agent2", citizen, confidential=True, title="举报某单位")
    ok(rig.call("agent2", "POST", f"/api/v1/tickets/{secret}/actions/dispatch", json={"host_unit": rig.units["water"]}))

    live = answer(rig, "agent", citizen)  # even with the citizen on the line, another agent does not see it
    assert rig.call("agent", "GET", f"/api/v1/tickets/{secret}").status_code == 403
    assert secret not in numbers(rig.call("agent", "GET", "/api/v1/tickets", params={"phone": citizen}))
    assert secret not in numbers(rig.call("agent", "GET", "/api/v1/tickets", params={"number": secret}))
    assert ok(rig.call("agent", "GET", "/api/v1/calls/current"))["tickets"] == []
    hang_up(rig, live)

    assert ok(rig.call("agent2", "GET", f"/api/v1/tickets/{secret}"))["citizen_phone"] == citizen  # took it
    unit = ok(rig.call("water", "GET", f"/api/v1/tickets/{secret}"))
    assert unit["access_reason"] == "host_unit" and unit["contact_masked"] is True
    assert rig.call("housing", "GET", f"/api/v1/tickets/{secret}").status_code == 404
    boss = ok(rig.call("boss", "GET", f"/api/v1/tickets/{secret}"))
    assert boss["access_reason"] == "platform" and boss["citizen_phone"] == citizen
    assert numbers(rig.call("boss", "GET", "/api/v1/tickets", params={"phone": citizen})) == [secret]
    read = audit_rows(rig, "boss", "read_personal_data")[-1]
    assert (read.object_id, read.reason) == (secret, "platform") and "citizen_phone" in read.detail


def test_each_search_is_audited_with_the_numbers_it_returned(rig):
    citizen = phone(rig, 7)
    first, second = new_ticket(rig, "agent", citizen), new_ticket(rig, "agent", citizen)
    ok(rig.call("boss", "GET", "/api/v1/tickets", params={"phone": citizen, "limit": 5}))
    row = audit_rows(rig, "boss", "search_tickets")[-1]
    assert (row.object_type, row.reason) == ("ticket_search", "platform")
    assert json.loads(row.detail) == {"numbers": [second, first], "filters": {"phone": citizen, "limit": 5}}


@pytest.mark.parametrize("field", ["q", "topic", "subplatform", "host_unit"])
def test_a_search_with_a_control_character_is_a_clear_422_on_every_database(rig, field):
    reply = rig.call("boss", "GET", "/api/v1/tickets", params={field: "自来水\x00"})   # PostgreSQL refuses NUL
    assert reply.status_code == 422, reply.text


def test_the_auditor_reads_and_exports_the_log_and_no_one_else_does(rig):
    number = new_ticket(rig, "agent", phone(rig, 8))
    ok(rig.call("agent", "GET", f"/api/v1/tickets/{number}"))
    with rig.app.state.db.session() as session:  # a value a spreadsheet would run as a formula
        who = Principal(user_id(rig, "agent"), rig.user("agent"), "agent", Role.AGENT, None, None, None)
        audit(session, who, "read_personal_data", "ticket", "=HYPERLINK(\"http://x\")", "+1", "-cmd", "@sum")

    log = ok(rig.call("auditor", "GET", "/api/v1/audit", params={"user": rig.user("agent")}))["items"]
    assert log[0]["object_id"].startswith("=HYPERLINK")  # JSON is data: unchanged
    read = next(i for i in log if i["object_id"] == number)
    assert (read["action"], read["reason"], read["reason_label"]) == ("read_personal_data", "own_ticket",
                                                                    "本人受理的工单")
    only = ok(rig.call("auditor", "GET", "/api/v1/audit", params={"ticket": number, "action": "read_personal_data"}))
    assert [i["object_id"] for i in only["items"]] == [number]
    assert ok(rig.call("auditor", "GET", "/api/v1/audit", params={"user": rig.user("agent"),
                                                               "since": "2999-01-01T00:00:00"}))["items"] == []

    exported = rig.call("auditor", "GET", "/api/v1/audit", params={"user": rig.user("agent"), "format": "csv"})
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert rows[0][:5] == ["编号", "时间", "用户", "角色", "操作"]
    crafted = rows[1]
    assert crafted[6] == "'=HYPERLINK(\"http://x\")" and crafted[9] == "'+1" and crafted[10] == "'-cmd"
    assert crafted[7] == "'@sum"
    assert any(r[6] == number and r[7] == "own_ticket" for r in rows[1:])

    for short in ("admin", "agent", "boss"):
        refused = rig.call(short, "GET", "/api/v1/audit")
        assert refused.status_code == 403 and refused.json()["error"] == "forbidden_role", short
    reads_of_log = audit_rows(rig, "auditor", "read_audit_log")
    assert len(reads_of_log) == 4 and reads_of_log[-1].object_id == "csv"


def test_the_auditor_sees_no_case_data_and_admins_cannot_make_auditors(rig):
    number = new_ticket(rig, "agent", phone(rig, 9))
    for method, url in (("GET", "/api/v1/tickets"), ("GET", f"/api/v1/tickets/{number}"),
                        ("GET", "/api/v1/calls/current"), ("GET", "/api/v1/reports/daily"), ("GET", "/api/v1/users"),
                        ("GET", "/api/v1/kpi"), ("GET", "/api/v1/knowledge?q=社保"),
                        ("POST", f"/api/v1/tickets/{number}/actions/approve_reply")):
        assert rig.call("auditor", method, url).status_code == 403, url
    made = rig.call("auditor", "POST", "/api/v1/tickets", json={"title": "x", "content": "y", "appeal_type": "help"})
    assert made.status_code == 403
    me = ok(rig.call("auditor", "GET", "/api/v1/me"))
    assert (me["role"], me["role_label"]) == ("auditor", "审计员")
    refused = rig.call("admin", "POST", "/api/v1/users", json={"username": f"{rig.tag}-aud2", "password": "12345678abc",
                                                             "role": "auditor"})
    assert refused.status_code == 403 and refused.json()["error"] == "auditor_by_operator"


def test_an_agent_cannot_act_on_a_ticket_it_may_not_read(rig):
    other = new_ticket(rig, "agent2", phone(rig, 9))
    refused = rig.call("agent", "POST", f"/api/v1/tickets/{other}/actions/resolve_directly",
                       json={"answer": "已解答"})
    assert refused.status_code == 403 and refused.json()["error"] == "forbidden_ticket"
    assert [(r.object_id, r.reason) for r in audit_rows(rig, "agent", "read_denied")] == [(other, "forbidden_ticket")]
    with rig.app.state.db.session() as session:
        assert session.scalar(select(m.Ticket.state).where(m.Ticket.number == other)) == "accepted"   # unchanged
    # Its own agent still acts on it.
    ok(rig.call("agent2", "POST", f"/api/v1/tickets/{other}/actions/resolve_directly", json={"answer": "已解答"}))
