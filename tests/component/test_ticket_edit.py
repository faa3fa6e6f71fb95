"""修改工单 and the ticket's place over the real HTTP API on SQLite and PostgreSQL: a ticket saved with a 市县 and a
town keeps them (and its dispatch suggestion uses its city's unit, not the province's); the agent who registered
it edits it while 已受理, the history says who, when and which fields, the audit log names the fields (never the
values); another agent, a supervisor, a unit, a dispatched ticket and bad input are refused with nothing
written."""

from __future__ import annotations

import itertools

import pytest
from sqlalchemy import delete, select

from agent_desk.db.models import AuditEntry, DispatchRule, OrgUnit, Ticket


def ok(response, status=200) -> dict:
    assert response.status_code == status, response.text
    return response.json()


@pytest.fixture
def places(rig):
    """海口 in the org tree (its sub-platform, a district, a town) and the 派单目录 for water: 海口's water bureau
    in 海口, the province's water department everywhere else. The rules go afterwards: the database is shared
    by the session's tests, and a province-wide water rule would change their suggestions."""
    codes = {"city": f"hk{rig.tag}", "district": f"hk{rig.tag}-龙华区", "town": f"hk{rig.tag}-长流镇",
             "unit": f"hk{rig.tag}-water", "province_unit": f"{rig.tag}-hnwater"}
    with rig.app.state.db.session() as session:
        province = session.scalar(select(OrgUnit).where(OrgUnit.code == f"{rig.tag}-prov"))
        city = OrgUnit(code=codes["city"], name="海口市", kind="subplatform", level="city", parent_id=province.id,
                       subplatform=codes["city"])
        session.add(city)
        session.flush()
        session.add_all([
            OrgUnit(code=codes["district"], name="龙华区", kind="district", level="county", parent_id=city.id,
                    subplatform=codes["city"]),
            OrgUnit(code=codes["town"], name="长流镇", kind="town", level="town", parent_id=city.id,
                    subplatform=codes["city"]),
            OrgUnit(code=codes["unit"], name="海口市水务局", kind="member_unit", level="city", parent_id=city.id,
                    subplatform=codes["city"]),
            OrgUnit(code=codes["province_unit"], name="海南省水务厅", kind="member_unit", level="province",
                    parent_id=province.id),
        ])
        session.flush()
        unit_id = {code: session.scalar(select(OrgUnit.id).where(OrgUnit.code == code))
                   for code in (codes["unit"], codes["province_unit"])}
        session.add_all([
            DispatchRule(kind="catalogue", topic="03-water", keywords=[], subplatform=None,
                         unit_id=unit_id[codes["province_unit"]], basis="全省供水"),
            DispatchRule(kind="catalogue", topic="03-water", keywords=[], subplatform=codes["city"],
                         unit_id=unit_id[codes["unit"]], basis="海口城区供水"),
        ])
    yield codes
    with rig.app.state.db.session() as session:
        session.execute(delete(DispatchRule).where(DispatchRule.unit_id.in_(unit_id.values())))


_PHONES = itertools.count(13666020000)   # a caller of its own per ticket: no other module's matter is this one


def draft(**changes) -> dict:
    base = {"channel": "phone", "citizen_name": "王小明", "citizen_phone": str(next(_PHONES)), "title": "停水",
            "content": "长流镇某小区停水两天了。", "appeal_type": "complaint", "topic": "03-water",
            "location": "长流镇某小区"}
    return base | changes


def saved(rig, **changes) -> str:
    return ok(rig.call("agent", "POST", "/api/v1/tickets", json=draft(**changes)), 201)["number"]


def read(rig, number, who="agent") -> dict:
    return ok(rig.call(who, "GET", f"/api/v1/tickets/{number}"))


def edit(rig, number, body, who="agent"):
    return rig.call(who, "PATCH", f"/api/v1/tickets/{number}", json=body)


def test_a_typed_ticket_keeps_its_place_and_its_city_picks_the_dispatch_unit(rig, places):
    number = saved(rig, subplatform=places["city"], location_unit=places["town"])
    ticket = read(rig, number)
    assert ticket["subplatform"] == places["city"]
    assert ticket["location_unit"] == places["town"] and ticket["location_unit_name"] == "长流镇"
    # the desk's dispatch suggestion for this ticket (what the dispatch form shows) names 海口's unit first
    suggested = ok(rig.call("agent", "GET", "/api/v1/dispatch/suggest",
                            params={"topic": ticket["topic"], "subplatform": ticket["subplatform"]}))
    assert [s["name"] for s in suggested] == ["海口市水务局"], suggested
    # without the city (as before the pickers) it was the province's department
    anywhere = ok(rig.call("agent", "GET", "/api/v1/dispatch/suggest", params={"topic": "03-water"}))
    codes = [s["unit"] for s in anywhere]   # other modules' rules may be in the shared database too
    assert places["province_unit"] in codes and places["unit"] not in codes, anywhere
    # the suggestions panel's question with the chosen place gets 海口's unit too
    answer = ok(rig.call("agent", "POST", "/api/v1/suggestions",
                         json={"text": "小区停水两天了，自来水一直没来", "subplatform": places["city"],
                               "county": places["district"], "town": places["town"], "topic": "03-water"}))
    names = [u["name"] for u in answer["units"]]
    assert names and names[0] == "海口市水务局", answer["units"]
    assert "海南省水务厅" not in names


def test_the_agent_edits_its_ticket_before_dispatch_and_the_history_says_what_changed(rig, places):
    number = saved(rig)
    assert read(rig, number)["subplatform"] is None
    result = ok(edit(rig, number, {"title": "长流镇停水", "subplatform": places["city"],
                                   "location_unit": places["district"], "topic": "03-water",
                                   "citizen_phone": "13900000009"}))
    assert result == {"number": number, "state": "accepted",
                      "changed": ["title", "subplatform", "location_unit", "citizen_phone"]}, "topic was unchanged"
    ticket = read(rig, number)
    assert ticket["title"] == "长流镇停水" and ticket["citizen_phone"] == "13900000009"
    assert ticket["subplatform"] == places["city"] and ticket["location_unit_name"] == "龙华区"
    assert ticket["content"] == "长流镇某小区停水两天了。", "a field not sent stays as it was"
    last = ticket["history"][-1]
    assert last["action"] == "edit" and last["action_label"] == "修改工单"
    assert last["actor"] == rig.user("agent") and last["role"] == "agent" and last["at"]
    assert last["data"] == {"fields": "标题、所属市县、地点（区、镇）、联系电话"}
    assert last["from_state"] == last["to_state"] == "accepted"
    with rig.app.state.db.session() as session:
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "edit_ticket",
                                                         AuditEntry.object_id == number)).one()
        assert entry.username == rig.user("agent") and entry.detail == "title,subplatform,location_unit,citizen_phone"
        assert "13900000009" not in entry.detail
    # the place can be cleared again (空字符串)
    ok(edit(rig, number, {"subplatform": "", "location_unit": ""}))
    cleared = read(rig, number)
    assert cleared["subplatform"] is None and cleared["location_unit"] is None
    assert [e["action"] for e in cleared["history"]] == ["accept", "edit", "edit"]


def test_edits_refused_leave_the_ticket_as_it_was(rig, places):
    number = saved(rig)
    before = read(rig, number)

    def refused(body, who, status, code):
        response = edit(rig, number, body, who=who)
        assert response.status_code == status, response.text
        assert response.json()["error"] == code, response.text

    refused({"title": "别人改的"}, "agent2", 403, "not_own_ticket")
    refused({"title": "班长改的"}, "boss", 403, "forbidden_role")
    refused({"title": "单位改的"}, "water", 403, "forbidden_role")
    refused({"title": "管理员改的"}, "admin", 403, "forbidden_role")
    refused({"topic": "住房物业"}, "agent", 422, "invalid_request")            # topics by code from the taxonomy
    refused({"title": ""}, "agent", 422, "invalid_request")
    refused({"title": "x" * 129}, "agent", 422, "invalid_request")
    refused({"citizen_phone": "call me"}, "agent", 422, "invalid_request")
    refused({"location_unit": "no-such-unit"}, "agent", 422, "unknown_unit")
    refused({"subplatform": "no-such-city"}, "agent", 422, "unknown_subplatform")
    refused({"state": "closed"}, "agent", 422, "invalid_request")             # only the editable fields
    refused({"title": before["title"]}, "agent", 422, "nothing_changed")
    assert edit(rig, "20000101999999", {"title": "x"}).status_code == 404
    assert read(rig, number) == before, "nothing was written"
    with rig.app.state.db.session() as session:
        denied = session.scalars(select(AuditEntry).where(AuditEntry.object_id == number,
                                                          AuditEntry.username == rig.user("agent2"))).all()
        assert denied, "a refused edit of another agent's ticket leaves a trace"

    # after 派单 the unit has it: no more edits
    ok(rig.call("agent", "POST", f"/api/v1/tickets/{number}/actions/dispatch", json={"host_unit": rig.units["water"]}))
    refused({"title": "派单后改的"}, "agent", 409, "invalid_transition")
    with rig.app.state.db.session() as session:
        assert session.scalar(select(Ticket.title).where(Ticket.number == number)) == before["title"]
