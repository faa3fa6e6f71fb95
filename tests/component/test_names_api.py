"""Names next to codes in the ticket API (issue 19, point 6): the topic, the units, who did what, and a history a
person can read ("主办单位：琼海市水务局", never a unit code or "count：1"). Codes stay in the API for integrators.

Runs on SQLite and PostgreSQL with a real Redis (the ``database_url`` and ``redis_server`` fixtures).
"""

from __future__ import annotations

import re

from sqlalchemy import update

from agent_desk.db.models import User


def test_a_ticket_reads_with_names_and_keeps_its_codes(rig):
    with rig.app.state.db.session() as session:
        for short, name in (("agent", "张晓梅"), ("water", "王建国"), ("boss", "陈班长")):
            session.execute(update(User).where(User.username == rig.user(short)).values(display_name=name))
    created = rig.call("agent", "POST", "/api/v1/tickets", json={
        "channel": "phone", "citizen_name": "王小明", "citizen_phone": "13800138000", "title": "小区自来水发黄",
        "content": "自来水发黄。", "appeal_type": "complaint", "topic": "03-water", "location": "嘉积镇"})
    assert created.status_code == 201, created.text
    number = created.json()["number"]
    steps = [("agent", "dispatch", {"host_unit": rig.units["water"], "co_units": [rig.units["housing"]]}),
             ("water", "sign", None), ("boss", "supervise", {"note": "请尽快办理"})]
    for short, action, body in steps:
        done = rig.call(short, "POST", f"/api/v1/tickets/{number}/actions/{action}", json=body)
        assert done.status_code == 200, (action, done.text)

    detail = rig.call("boss", "GET", f"/api/v1/tickets/{number}").json()
    # the codes, for integrators
    assert (detail["topic"], detail["host_unit"], detail["co_units"]) == ("03-water", rig.units["water"],
                                                                         [rig.units["housing"]])
    # the names, for people
    assert (detail["topic_name"], detail["host_unit_name"], detail["co_unit_names"]) == (
        "供水排水", "琼海市水务局", ["琼海市住房和城乡建设局"])
    history = {e["action"]: e for e in detail["history"]}
    assert history["dispatch"]["actor"] == rig.user("agent") and history["dispatch"]["actor_name"] == "张晓梅"
    dispatched = history["dispatch"]["text"]
    units = "主办单位：琼海市水务局；协办单位：琼海市住房和城乡建设局"
    assert re.fullmatch(units + r"；办理时限：\d{4}-\d\d-\d\d \d\d:\d\d", dispatched), dispatched
    assert history["sign"]["actor_name"] == "王建国" and history["sign"]["text"] == "承办单位：琼海市水务局"
    assert history["supervise"]["actor_name"] == "陈班长"
    assert history["supervise"]["text"] == "督办意见：请尽快办理；第1次督办"
    codes = re.compile("|".join(re.escape(c) for c in [*rig.units.values(), "03-water", rig.user("agent")]))
    for entry in detail["history"]:
        assert not codes.search(entry["text"] + entry["actor_name"]), entry

    # The unit reads the same names; lists carry the topic's name too.
    assert rig.call("water", "GET", f"/api/v1/tickets/{number}").json()["history"][0]["actor_name"] == "张晓梅"
    found = rig.call("boss", "GET", "/api/v1/tickets", params={"number": number}).json()["items"]
    assert [(t["number"], t["topic_name"], t["host_unit_name"]) for t in found] == [
        (number, "供水排水", "琼海市水务局")]
