"""并单 over the real HTTP API on SQLite and PostgreSQL with a real Redis: merging (with the save and later),
what a merged ticket refuses, the host's reply and callback reaching every merged citizen, the KPIs counting
the matter once, unmerging by a supervisor (audited), and the ticket status the IVR reads."""

from __future__ import annotations

import datetime as dt
import json

import redis
from sqlalchemy import select, update

from agent_desk.db.models import AuditEntry, Call, OrgUnit, Ticket
from agent_desk.settings import PROVINCE_TZ


def draft(rig, **changes) -> dict:
    base = {"channel": "phone", "citizen_name": "王小明", "citizen_phone": "13800138000", "title": "路口积水",
            "content": "嘉积镇银海路与金海路路口下雨后积水很深，行人无法通过。", "demand": "请尽快疏通排水",
            "appeal_type": "complaint", "location": "琼海市嘉积镇银海路", "subplatform": f"s{rig.tag}"}
    return base | changes


def ok(response, status=200) -> dict:
    assert response.status_code == status, response.text
    return response.json()


def new_ticket(rig, who="agent", **changes) -> str:
    return ok(rig.call(who, "POST", "/api/v1/tickets", json=draft(rig, **changes)), 201)["number"]


def act(rig, who, number, action, body=None, status=200):
    kwargs = {"json": body} if body is not None else {}
    return ok(rig.call(who, "POST", f"/api/v1/tickets/{number}/actions/{action}", **kwargs), status)


def read(rig, number, who="boss") -> dict:
    return ok(rig.call(who, "GET", f"/api/v1/tickets/{number}"))


def signed_host(rig) -> str:
    host = new_ticket(rig)
    act(rig, "agent", host, "dispatch", {"host_unit": rig.units["water"]})
    act(rig, "water", host, "sign")
    return host


def test_a_new_ticket_is_merged_with_its_save_and_both_tickets_show_the_link(rig):
    host = signed_host(rig)
    saved = ok(rig.call("agent2", "POST", "/api/v1/tickets",
                        json=draft(rig, citizen_name="李四", citizen_phone="13900000002", merge_into=host)), 201)
    merged = saved["number"]
    assert saved["created"] is True and saved["merged_into"] == host and saved["state"] == "merged"
    dup = read(rig, merged)
    assert dup["state"] == "merged" and dup["state_label"] == "已并单" and dup["merged_into"] == host
    assert dup["allowed_actions"] == ["unmerge"], "a supervisor may only unmerge it"
    assert [e["action"] for e in dup["history"]] == ["accept", "merge"]
    assert dup["history"][-1]["data"]["host_ticket"] == host
    host_view = read(rig, host)
    assert host_view["merged_tickets"] == [merged] and host_view["merged_into"] is None
    assert host_view["history"][-1]["action"] == "merge_in" and host_view["state"] == "signed"
    # the agent who saved it sees the link and nothing to do on it
    mine = read(rig, merged, who="agent2")
    assert mine["merged_into"] == host and mine["allowed_actions"] == []


def test_a_refused_merge_still_saves_the_ticket(rig):
    closed = new_ticket(rig)
    act(rig, "agent", closed, "refuse", {"reason": "litigation", "explanation": "已进入诉讼程序"})
    saved = ok(rig.call("agent", "POST", "/api/v1/tickets", json=draft(rig, merge_into=closed)), 201)
    assert saved["created"] is True and "merged_into" not in saved
    assert "已办结" in saved["merge_error"]
    assert read(rig, saved["number"])["state"] == "accepted", "nothing lost: the ticket is there, unmerged"
    missing = ok(rig.call("agent", "POST", "/api/v1/tickets", json=draft(rig, merge_into="20000101999999")), 201)
    assert missing["created"] is True and "不存在" in missing["merge_error"]
    gateway = rig.call("gateway", "POST", "/api/v1/tickets", json=draft(rig, channel="web", merge_into=closed))
    assert gateway.status_code == 422


def test_what_a_merged_ticket_and_its_host_refuse(rig):
    host = signed_host(rig)
    merged = new_ticket(rig, merge_into=host)
    for who, action, body in (("agent", "dispatch", {"host_unit": rig.units["housing"]}),
                              ("boss", "supervise", {"note": "请加快"}),
                              ("boss", "callback", {"result": "satisfied", "solved": True}),
                              ("agent", "resolve_directly", {"answer": "单独答复"})):
        refused = rig.call(who, "POST", f"/api/v1/tickets/{merged}/actions/{action}", json=body)
        assert refused.status_code == 409, (action, refused.text)
        assert f"已并入工单{host}" in refused.json()["message"]
    # the unit cannot sign (so cannot reply to) a merged ticket: it is not theirs any more
    assert rig.call("water", "POST", f"/api/v1/tickets/{merged}/actions/sign").status_code in (404, 409)
    # no chains: into a merged ticket is refused, naming its host; the host cannot go into its merged ticket
    third = new_ticket(rig)
    chain = rig.call("agent", "POST", f"/api/v1/tickets/{third}/actions/merge", json={"host": merged})
    assert chain.status_code == 409 and chain.json()["error"] == "host_merged" and host in chain.json()["message"]
    back = rig.call("boss", "POST", f"/api/v1/tickets/{host}/actions/merge", json={"host": merged})
    assert back.status_code == 409
    # a unit, an admin, a gateway may not merge; an agent may not merge another agent's ticket
    assert rig.call("water", "POST", f"/api/v1/tickets/{third}/actions/merge", json={"host": host}).status_code == 403
    assert rig.call("admin", "POST", f"/api/v1/tickets/{third}/actions/merge", json={"host": host}).status_code == 403
    other = rig.call("agent2", "POST", f"/api/v1/tickets/{third}/actions/merge", json={"host": host})
    assert other.status_code == 403 and other.json()["error"] == "forbidden_ticket"
    # bad input: a clear error, nothing written
    assert rig.call("agent", "POST", f"/api/v1/tickets/{third}/actions/merge", json={"host": "12"}).status_code == 422
    assert rig.call("agent", "POST", f"/api/v1/tickets/{third}/actions/merge", json={}).status_code == 422
    assert rig.call("agent", "POST", f"/api/v1/tickets/{third}/actions/merge", json={"host": third}).status_code == 409
    assert read(rig, third)["state"] == "accepted" and read(rig, host)["merged_tickets"] == [merged]


def test_the_reply_and_the_callback_reach_every_merged_citizen(rig, redis_server):
    host = signed_host(rig)
    first = new_ticket(rig, "agent2", citizen_name="李四", citizen_phone="13900000002", merge_into=host)
    second = new_ticket(rig, citizen_name="赵六", citizen_phone="13900000003")
    act(rig, "boss", second, "dispatch", {"host_unit": rig.units["housing"]})
    act(rig, "boss", second, "merge", {"host": host, "reason": "同一路口积水"})   # an open ticket, by the platform
    assert read(rig, second)["host_unit"] is None, "the unit it had been dispatched to no longer handles it"

    status = redis.Redis.from_url(redis_server.authenticated_url, decode_responses=True)
    waiting = status.hgetall(f"hotline:ticket-status:{first}")
    assert waiting["state"] == "merged" and waiting["unit_name"] == "琼海市水务局" and waiting["due_at"]

    act(rig, "water", host, "reply", {"content": "已疏通银海路雨水井，积水已排除。"})
    assert read(rig, first)["state"] == "merged", "an unapproved reply reaches nobody"
    act(rig, "boss", host, "approve_reply")
    for number in (first, second):
        view = read(rig, number)
        assert view["state"] == "awaiting_callback" and view["merged_into"] == host
        reply = view["history"][-1]
        assert reply["action"] == "host_reply" and reply["data"] == {"host_ticket": host,
                                                                       "content": "已疏通银海路雨水井，积水已排除。"}
        assert view["allowed_actions"] == ["callback"]
        assert status.hgetall(f"hotline:ticket-status:{number}")["state"] == "awaiting_callback"
    # the 回访 list (待回访) holds one entry per citizen, each with its own contact
    listed = ok(rig.call("boss", "GET", "/api/v1/tickets", params={"state": "awaiting_callback",
                                                                     "subplatform": f"s{rig.tag}"}))
    assert {item["number"] for item in listed["items"]} == {host, first, second}
    # each verdict on its own ticket
    act(rig, "boss", host, "callback", {"result": "satisfied", "solved": True})
    act(rig, "agent2", first, "callback", {"result": "basically_satisfied", "solved": True})
    act(rig, "boss", second, "callback", {"result": "unsatisfied", "solved": False})
    verdicts = {n: (read(rig, n)["state"], read(rig, n)["satisfaction"]) for n in (host, first, second)}
    assert verdicts == {host: ("closed", "satisfied"), first: ("closed", "basically_satisfied"),
                        second: ("unsatisfied", "unsatisfied")}
    # an unsatisfied merged citizen is not reopened on its own: the platform closes it as unsatisfied
    assert rig.call("boss", "POST", f"/api/v1/tickets/{second}/actions/reopen", json={"reason": "x"}).status_code == 409
    assert read(rig, second)["allowed_actions"] == ["close_unsatisfied"]
    act(rig, "boss", second, "close_unsatisfied")
    assert read(rig, second)["state"] == "closed"
    # a closed host takes no more merges
    late = new_ticket(rig)
    refused = rig.call("agent", "POST", f"/api/v1/tickets/{late}/actions/merge", json={"host": host})
    assert refused.status_code == 409 and refused.json()["error"] == "host_not_open"


def test_a_refused_host_takes_its_merged_tickets_with_it(rig):
    host = new_ticket(rig)
    merged = new_ticket(rig, merge_into=host)
    act(rig, "agent", host, "refuse", {"reason": "litigation", "explanation": "已进入诉讼程序，请向法院咨询"})
    view = read(rig, merged)
    assert view["state"] == "refused" and view["refusal"] == "litigation"
    assert view["history"][-1]["action"] == "host_refused"


def kpi_row(rig, day: str) -> dict:
    body = ok(rig.call("boss", "GET", f"/api/v1/kpi?period=day&date={day}&by=subplatform&min_volume=1"))
    rows = {row["key"]: row for row in body["rows"]}
    return rows.get(f"s{rig.tag}", {"accepted": 0, "dispatched": 0, "metrics": {}})


def test_kpis_count_the_matter_once_and_calls_still_count(rig):
    today = dt.datetime.now(PROVINCE_TZ).date().isoformat()
    host = signed_host(rig)
    for phone in ("13900000011", "13900000012"):
        new_ticket(rig, citizen_phone=phone, merge_into=host)
    row = kpi_row(rig, today)
    assert row["accepted"] == 1 and row["dispatched"] == 1, "three citizens, one matter"
    act(rig, "water", host, "reply", {"content": "已处理。"})
    act(rig, "boss", host, "approve_reply")
    merged = read(rig, host)["merged_tickets"]
    act(rig, "boss", host, "callback", {"result": "satisfied", "solved": True})
    for number in merged:   # the merged citizens' verdicts stay on their tickets, not in the matter's rates
        act(rig, "boss", number, "callback", {"result": "unsatisfied", "solved": False})
    metrics = kpi_row(rig, today)["metrics"]
    assert metrics["completion"] == {"num": 1, "den": 1, "rate": 1.0}
    assert metrics["satisfaction"] == {"num": 1, "den": 1, "rate": 1.0}
    assert metrics["on_time"]["den"] == 1 and metrics["callback"]["den"] == 1
    # the 管 view's open count does not see merged tickets either
    other = signed_host(rig)
    before = ok(rig.call("boss", "GET", f"/api/v1/views/process?period=day&date={today}"))["open"]
    new_ticket(rig, merge_into=other)
    assert ok(rig.call("boss", "GET", f"/api/v1/views/process?period=day&date={today}"))["open"] == before
    # a call is a call: the call of a merged ticket counts in the call figures (offered, answered)
    now = dt.datetime.now(dt.UTC)
    with rig.app.state.db.session() as session:
        session.add(Call(call_id=f"c-{rig.tag}", line="12345", caller="13900000013", subplatform=f"s{rig.tag}",
                         started_at=now, queued_at=now, answered_at=now + dt.timedelta(seconds=5), outcome="answered"))
        session.commit()
    third = signed_host(rig)
    new_ticket(rig, call_id=f"c-{rig.tag}", citizen_phone="13900000013", merge_into=third)
    row = kpi_row(rig, today)
    assert row["offered"] == 1 and row["metrics"]["answer"] == {"num": 1, "den": 1, "rate": 1.0}
    assert row["accepted"] == 3, "the three hosts; none of the four merged tickets"


def test_unmerge_by_a_supervisor_only_audited_back_to_accepted(rig):
    host = signed_host(rig)
    merged = new_ticket(rig, merge_into=host)
    for who in ("agent", "water"):
        refused = rig.call(who, "POST", f"/api/v1/tickets/{merged}/actions/unmerge", json={"reason": "不是同一事项"})
        assert refused.status_code == 403 and "平台管理员" in refused.json()["message"]
    assert rig.call("boss", "POST", f"/api/v1/tickets/{merged}/actions/unmerge", json={"reason": ""}).status_code == 422
    assert rig.call("boss", "POST", f"/api/v1/tickets/{host}/actions/unmerge",
                    json={"reason": "x"}).json()["error"] == "not_merged"
    act(rig, "boss", merged, "unmerge", {"reason": "地点不同：金海路另一段"})
    view = read(rig, merged)
    assert view["state"] == "accepted" and view["merged_into"] is None
    entry = view["history"][-1]
    assert entry["action"] == "unmerge" and entry["actor"] == rig.user("boss")
    assert entry["data"] == {"host_ticket": host, "reason": "地点不同：金海路另一段"}
    host_view = read(rig, host)
    assert host_view["merged_tickets"] == [] and host_view["history"][-1]["action"] == "unmerge_out"
    with rig.app.state.db.session() as session:
        audit = session.scalars(select(AuditEntry).where(AuditEntry.action == "unmerge",
                                                         AuditEntry.object_id == merged)).all()
    assert len(audit) == 1 and audit[0].username == rig.user("boss") and audit[0].at is not None
    assert json.loads(audit[0].detail) == {"host": host, "reason": "地点不同：金海路另一段"}
    # handled on its own again, and counted as a matter of its own
    act(rig, "boss", merged, "dispatch", {"host_unit": rig.units["housing"]})
    assert read(rig, merged)["state"] == "dispatched"
    today = dt.datetime.now(PROVINCE_TZ).date().isoformat()
    assert kpi_row(rig, today)["accepted"] == 2


# ── candidates before saving ─────────────────────────────────────────────────────────────────────────
def towns(rig) -> tuple[str, str]:
    """A sub-platform ``s<tag>`` with two towns of its own (codes unique to the rig)."""
    with rig.app.state.db.session() as session:
        city = OrgUnit(code=f"{rig.tag}-city", name="测试市12345热线分平台", kind="subplatform", level="city",
                       subplatform=f"s{rig.tag}")
        session.add(city)
        session.flush()
        for short, name in (("t1", "银海镇"), ("t2", "金湖镇")):
            session.add(OrgUnit(code=f"{rig.tag}-{short}", name=name, kind="town", level="town", parent_id=city.id,
                                subplatform=f"s{rig.tag}"))
        session.commit()
    return f"{rig.tag}-t1", f"{rig.tag}-t2"


def test_candidates_are_open_tickets_of_the_same_place_and_matter_masked_and_audited(rig):
    t1, t2 = towns(rig)
    water = "银海镇银海路88号路口下雨后积水很深，行人和电动车都无法通过，排水井被堵住了。"
    same = new_ticket(rig, "agent2", citizen_name="李四", citizen_phone="13900000021", location_unit=t1,
                      location="银海镇银海路88号", title="银海路路口积水", content=water)
    new_ticket(rig, "agent2", location_unit=t1, title="噪音扰民", content="银海镇工地夜间施工噪音很大，影响休息。")
    new_ticket(rig, "agent2", location_unit=t2, title="银海路路口积水", content=water)   # another town
    closed = new_ticket(rig, "agent2", location_unit=t1, title="银海路路口积水", content=water)
    act(rig, "agent2", closed, "refuse", {"reason": "litigation", "explanation": "说明"})
    merged = new_ticket(rig, "agent2", location_unit=t1, title="银海路路口积水", content=water, merge_into=same)
    old = new_ticket(rig, "agent2", location_unit=t1, title="银海路路口积水", content=water)
    with rig.app.state.db.session() as session:   # accepted ten days ago: outside the window
        session.execute(update(Ticket).where(Ticket.number == old)
                        .values(created_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=10)))
        session.commit()

    query = {"title": "路口积水", "content": "银海路路口积水，排水井堵了，走不过去", "subplatform": f"s{rig.tag}",
             "location_unit": t1}
    body = ok(rig.call("agent", "POST", "/api/v1/tickets/duplicates", json=query))
    assert [item["number"] for item in body["items"]] == [same], body
    # a ticket placed no finer than the sub-platform is compared there (the finest level both know)
    coarse = new_ticket(rig, "agent2", title="银海路路口积水", content=water)
    numbers = [i["number"] for i in ok(rig.call("agent", "POST", "/api/v1/tickets/duplicates", json=query))["items"]]
    assert sorted(numbers) == sorted([same, coarse])
    act(rig, "agent2", coarse, "refuse", {"reason": "litigation", "explanation": "说明"})
    item = body["items"][0]
    assert item["citizen_name"] == "李*" and "13900000021" not in item["citizen_phone"] and item["contact_masked"]
    assert item["location"] == "银海镇银海路**号" and item["place"] == "测试市银海镇"
    assert 0.3 <= item["score"] <= 1 and item["reasons"] and all(r in "银海路路口积水" + water for r in item["reasons"])
    assert item["state"] == "accepted" and item["state_label"] == "已受理"
    assert set(item) == {"number", "title", "place", "location", "created_at", "state", "state_label", "score",
                         "reasons", "citizen_name", "citizen_phone", "contact_masked"}, "only what deciding needs"
    with rig.app.state.db.session() as session:
        entry = session.scalars(select(AuditEntry).where(AuditEntry.username == rig.user("agent"),
                                                         AuditEntry.action == "read_duplicate_candidates")
                                .order_by(AuditEntry.id)).first()
    assert json.loads(entry.detail)["numbers"] == [same]
    assert entry.reason.startswith("duplicate_candidates subplatform=")
    # the ticket itself is left out when checking a saved one; a merged ticket is never a candidate
    assert ok(rig.call("boss", "POST", "/api/v1/tickets/duplicates", json=query | {"exclude": same}))["items"] == []
    assert merged not in str(body)


def test_candidates_bad_input_and_roles(rig):
    t1, _ = towns(rig)
    nowhere = ok(rig.call("agent", "POST", "/api/v1/tickets/duplicates", json={"title": "积水", "content": "积水"}))
    assert nowhere["items"] == [] and nowhere["place_known"] is False and "地点" in nowhere["note"]
    empty = ok(rig.call("agent", "POST", "/api/v1/tickets/duplicates", json={"location_unit": t1}))
    assert empty["items"] == [] and empty["place_known"] is True and empty["note"]
    foreign = ok(rig.call("agent", "POST", "/api/v1/tickets/duplicates",
                          json={"location_unit": t1, "content": "The road is flooded"}))
    assert foreign["items"] == []
    unknown = rig.call("agent", "POST", "/api/v1/tickets/duplicates", json={"location_unit": "no-such", "content": "x"})
    assert unknown.status_code == 422 and "组织架构" in unknown.json()["message"]
    assert rig.call("agent", "POST", "/api/v1/tickets/duplicates", json={"limit": 99}).status_code == 422
    for who in ("water", "admin", "gateway"):
        assert rig.call(who, "POST", "/api/v1/tickets/duplicates", json={"content": "x"}).status_code == 403
    assert rig.client.post("/api/v1/tickets/duplicates", json={"content": "x"}).status_code == 401
