"""Early warning (未诉先办) on the real desk: tickets created over HTTP on SQLite and PostgreSQL raise an alert in
the real Redis (hash + wallboard channel); supervisors list and acknowledge it (audited); a dead Redis never
costs a ticket."""

from __future__ import annotations

import json
import logging
import time

import redis
from sqlalchemy import select

from agent_desk.db.models import AuditEntry, OrgUnit
from agent_desk.supervision.warnings import ACKED, ACTIVE, CHANNEL
from tests.support.desk import close_rig, make_rig
from tests.support.ports import free_port

YELLOW = [("自来水发黄", "金海岸小区自来水发黄，有铁锈味。"),
          ("水质发黄", "家里水龙头出来的自来水发黄浑浊，不敢饮用。"),
          ("水浑浊发黄", "今天早上开始自来水浑浊发黄。"), ("自来水发黄有沉淀", "烧开后自来水发黄有沉淀。"),
          ("小区自来水发黄", "自来水发黄已经两天了，请水务部门核查。"), ("自来水颜色发黄", "自来水颜色发黄像铁锈水。"),
          ("自来水又发黄", "今天自来水又发黄了。")]


def with_towns(rig) -> dict[str, str]:
    """A county-level city with two towns, codes unique to the rig."""
    with rig.app.state.db.session() as session:
        city = OrgUnit(code=f"{rig.tag}-qh", name="琼海市12345热线分平台", kind="subplatform", level="city")
        session.add(city)
        session.flush()
        for short, name in (("jiaji", "嘉积镇"), ("boao", "博鳌镇")):
            session.add(OrgUnit(code=f"{rig.tag}-{short}", name=name, kind="town", level="town", parent_id=city.id))
    return {"jiaji": f"{rig.tag}-jiaji", "boao": f"{rig.tag}-boao"}


def ticket(rig, town: str, i: int, title: str, content: str, topic: str = "") -> str:
    response = rig.call("agent", "POST", "/api/v1/tickets", json={
        "citizen_name": "王小明", "citizen_phone": f"1380013{i:04d}", "title": title, "content": content,
        "appeal_type": "complaint", "topic": topic, "location": "嘉积镇", "location_unit": town})
    assert response.status_code == 201, response.text
    return response.json()["number"]


def settle(rig) -> None:
    assert rig.app.state.warnings.wait_idle(20), "early-warning detection did not finish"


def mine(client, area: str) -> list[dict]:
    return [a for a in map(json.loads, client.hgetall(ACTIVE).values()) if a["area"] == area]


def messages(pubsub, until, timeout: float = 10) -> list[dict]:
    got, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        message = pubsub.get_message(ignore_subscribe_messages=True, timeout=0.2)
        if message:
            got.append(json.loads(message["data"]))
            if until(got[-1]):
                return got
    raise AssertionError(f"no such message on {CHANNEL}; got {got}")


def test_a_cluster_of_tickets_raises_an_alert_supervisors_see_and_acknowledge(rig, redis_server):
    client = redis.Redis.from_url(redis_server.authenticated_url, decode_responses=True)
    towns = with_towns(rig)
    pubsub = client.pubsub()
    pubsub.subscribe(CHANNEL)
    numbers = [ticket(rig, towns["jiaji"], i, *YELLOW[i]) for i in range(4)]
    ticket(rig, towns["jiaji"], 90, "道路坑洼", "银海路路面坑洼，车辆难行。", "05-transport")  # unrelated
    ticket(rig, towns["boao"], 91, *YELLOW[4])  # the same matter in another town
    settle(rig)
    assert mine(client, towns["jiaji"]) == []  # 4 < 5
    numbers += [ticket(rig, towns["jiaji"], i, *YELLOW[i]) for i in (4, 5)]
    settle(rig)

    [alert] = mine(client, towns["jiaji"])
    assert alert["tickets"] == sorted(numbers) and alert["count"] == 6
    assert alert["title"] == "嘉积镇 24小时内 6 件“自来水、发黄”相关诉求" and alert["area_name"] == "嘉积镇"
    assert "13800" not in json.dumps(alert) and "王" not in json.dumps(alert, ensure_ascii=False)
    published = messages(pubsub, lambda m: m.get("id") == alert["id"] and m.get("count") == 6)
    assert published[-1]["type"] == "alert" and published[-1]["tickets"] == sorted(numbers)
    assert sorted(numbers[:5]) in [m["tickets"] for m in published if m.get("id") == alert["id"]]  # then it grew

    listed = rig.call("boss", "GET", "/api/v1/warnings")
    assert listed.status_code == 200
    assert alert["id"] in [a["id"] for a in listed.json()["items"]]
    assert rig.call("agent", "GET", "/api/v1/warnings").status_code == 403
    assert rig.call("water", "POST", f"/api/v1/warnings/{alert['id']}/ack").status_code == 403

    acked = rig.call("boss", "POST", f"/api/v1/warnings/{alert['id']}/ack", json={"note": "已通知水务局核查"})
    assert acked.status_code == 200, acked.text
    assert acked.json()["acknowledged_by"] == rig.user("boss")
    assert mine(client, towns["jiaji"]) == [] and client.hexists(ACKED, alert["id"])
    assert messages(pubsub, lambda m: m["type"] == "alert_cleared")[-1] == {
        "type": "alert_cleared", "id": alert["id"], "reason": "acknowledged", "acknowledged_by": rig.user("boss")}
    with rig.app.state.db.session() as session:
        entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "ack_warning",
                                                        AuditEntry.object_id == alert["id"]))
        assert entry is not None and entry.username == rig.user("boss") and "已通知水务局核查" in entry.detail
    assert rig.call("boss", "POST", f"/api/v1/warnings/{alert['id']}/ack").status_code == 404

    scanned = rig.call("boss", "POST", "/api/v1/warnings/scan")  # acknowledged and not grown: stays quiet
    assert scanned.status_code == 200 and scanned.json()["stored"] is True
    assert mine(client, towns["jiaji"]) == []
    numbers.append(ticket(rig, towns["jiaji"], 6, *YELLOW[6]))  # the cluster grows: raised again, same id
    settle(rig)
    [again] = mine(client, towns["jiaji"])
    assert again["id"] == alert["id"] and again["count"] == 7 and again["acknowledged_by"] is None
    assert not client.hexists(ACKED, alert["id"])
    pubsub.close()


def test_with_redis_unreachable_tickets_are_saved_and_the_alert_is_logged(database_url, caplog):
    rig = make_rig(database_url, f"redis://127.0.0.1:{free_port()}/0")
    try:
        towns = with_towns(rig)
        caplog.set_level(logging.WARNING, logger="agent_desk.supervision.warnings")
        numbers = [ticket(rig, towns["jiaji"], i, *YELLOW[i]) for i in range(5)]  # each 201
        settle(rig)
        logged = [r.getMessage() for r in caplog.records if "early warning not published" in r.getMessage()]
        assert any(",".join(sorted(numbers)) in line and "嘉积镇" in line for line in logged), logged
        assert rig.call("boss", "GET", "/api/v1/warnings").status_code == 503
        scanned = rig.call("boss", "POST", "/api/v1/warnings/scan")
        assert scanned.status_code == 200 and scanned.json()["stored"] is False
        assert sorted(numbers) in [a["tickets"] for a in scanned.json()["items"]]
    finally:
        close_rig(rig)
