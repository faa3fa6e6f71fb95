"""The supervisor's work queues (GET /api/v1/worklists) over the real HTTP API on SQLite and PostgreSQL, against a
known set of tickets run through the real lifecycle at known times: each queue's count is exactly the tickets that
belong in it, its items are the oldest first, a merged ticket reached by its host's reply is called back on its own,
the early warnings come from Redis (and their queue says so when Redis cannot be read, the others still answer),
every read is audited with the numbers shown, and only supervisors may read it.

Each backend's desk has a database and a Redis database of its own: the counts are of the whole province."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import redis
from sqlalchemy import select

from agent_desk.auth.sessions import Principal
from agent_desk.db import models as m
from agent_desk.supervision.warnings import ACTIVE
from agent_desk.tickets import lifecycle as lc
from agent_desk.tickets import service
from tests.support.desk import close_rig, make_rig, principal

QUEUE_KEYS = ["review", "returns", "callbacks", "overdue", "escalated", "warnings"]


@pytest.fixture(params=["sqlite", "postgresql"])
def rig(request, new_database, redis_server):
    redis_url = redis_server.authenticated_url.rsplit("/", 1)[0] + "/7"
    with redis.Redis.from_url(redis_url) as r:
        r.flushdb()
    made = make_rig(new_database(request.param), redis_url)
    yield made
    close_rig(made)




@pytest.fixture
def scenario(rig):
    """Tickets in every queue (and beside them), through the lifecycle at known times; returns name → number."""
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    ago = lambda **kw: now - dt.timedelta(**kw)   # noqa: E731
    settings = rig.app.state.settings
    numbers: dict[str, str] = {}
    with rig.app.state.db.session() as session:
        agent, boss = principal(session, rig.user("agent")), principal(session, rig.user("boss"))
        water = principal(session, rig.user("water"))

        def ticket(name: str, when: dt.datetime, appeal: str = "complaint") -> str:
            draft = service.TicketDraft(citizen_name="测试市民", citizen_phone=f"1370000{len(numbers):04d}",
                                        title=f"待办{name}", content=f"{name}的诉求内容", appeal_type=appeal)
            numbers[name] = service.create(session, agent, draft, now=when).ticket.number
            return numbers[name]

        def act(who: Principal, name: str, action: str, when: dt.datetime, **payload) -> None:
            service.act(session, who, settings, numbers[name], action, payload, now=when)

        def replied(name: str, start: dt.datetime, reply_at: dt.datetime) -> None:
            ticket(name, start)
            act(agent, name, "dispatch", start + dt.timedelta(minutes=5), host_unit=rig.units["water"])
            act(water, name, "sign", start + dt.timedelta(minutes=30))
            act(water, name, "reply", reply_at, content=f"{name}已处理。")

        # 答复待审核: replied at -3 d, -1 d, -2 h (R1 dispatched 30 days ago: also overdue)
        replied("R1", ago(days=30), ago(days=3))
        replied("R2", ago(days=2), ago(days=1))
        replied("R3", ago(hours=5), ago(hours=2))
        replied("R4", ago(days=2), ago(days=2))   # sent back: signed again, not awaiting review
        act(boss, "R4", "reject_reply", ago(days=1, hours=12), reason="答复不完整")
        # 退单待审核: requested -20 h, -4 h; one agreed (returned, not waiting)
        for name, start in (("B1", ago(hours=21)), ("B2", ago(hours=5)), ("B3", ago(hours=10))):
            ticket(name, start)
            act(agent, name, "dispatch", start + dt.timedelta(minutes=5), host_unit=rig.units["water"])
            act(water, name, "request_return", start + dt.timedelta(hours=1), reason="不属于本单位职责",
                legal_basis="《城市供水条例》")
        act(boss, "B3", "approve_return", ago(hours=8))
        # 待回访: a reply approved -6 h, a direct answer -1 d; a host whose approval reaches its merged ticket (-1 h);
        # one already called back (closed)
        replied("C1", ago(days=1), ago(hours=8))
        act(boss, "C1", "approve_reply", ago(hours=6))
        ticket("C2", ago(days=1, hours=2), "consultation")
        act(agent, "C2", "resolve_directly", ago(days=1), answer="按政策答复。")
        ticket("H", ago(hours=9))
        ticket("M", ago(hours=9) + dt.timedelta(minutes=1))
        act(agent, "H", "dispatch", ago(hours=8, minutes=50), host_unit=rig.units["water"])
        service.merge(session, boss, numbers["M"], numbers["H"], "同一事项", now=ago(hours=8, minutes=40))
        act(water, "H", "sign", ago(hours=8))
        act(water, "H", "reply", ago(hours=3), content="已维修。")
        act(boss, "H", "approve_reply", ago(hours=1))
        replied("C3", ago(days=3), ago(days=2))
        act(boss, "C3", "approve_reply", ago(days=2) + dt.timedelta(hours=1))
        act(agent, "C3", "callback", ago(days=1), result="satisfied", solved=True)
        # 超期: dispatched 40 and 25 days ago, still with the unit (R1 too); 已升级: escalated twice, and once
        for name, start in (("O1", ago(days=40)), ("O2", ago(days=25))):
            ticket(name, start)
            act(agent, name, "dispatch", start + dt.timedelta(minutes=5), host_unit=rig.units["water"])
        act(water, "O2", "sign", ago(days=24))
        ticket("E1", ago(days=3))
        act(agent, "E1", "dispatch", ago(days=3) + dt.timedelta(minutes=5), host_unit=rig.units["housing"])
        act(boss, "E1", "escalate", ago(days=2), to="county", reason="镇级无法协调")
        act(boss, "E1", "escalate", ago(hours=4), to="city", reason="县级无法协调")
        act(boss, "O1", "escalate", ago(days=10), to="county", reason="长期未办结")
        ticket("E3", ago(days=5))   # escalated, then resolved and called back: no longer open
        act(boss, "E3", "escalate", ago(days=4), to="county", reason="涉及多个部门")
        act(agent, "E3", "resolve_directly", ago(days=3), answer="已协调答复。")
        act(agent, "E3", "callback", ago(days=2), result="satisfied", solved=True)
        ticket("N", ago(hours=1))   # 已受理, waiting for dispatch: in no queue
    return numbers


def queues(rig, who: str = "boss", **params) -> dict[str, dict]:
    response = rig.call(who, "GET", "/api/v1/worklists", params=params)
    assert response.status_code == 200, response.text
    found = response.json()["queues"]
    assert [q["key"] for q in found] == QUEUE_KEYS
    return {q["key"]: q for q in found}


def listed(queue: dict) -> list[str]:
    return [item["number"] for item in queue["items"]]


def test_each_queue_counts_exactly_its_tickets_oldest_first(rig, scenario):
    n = scenario
    alerts = [{"id": f"w{i:015x}", "rule": "town-24h", "rule_label": "乡镇聚集", "title": title, "area": f"46900210{i}",
               "area_name": title[:3], "topic": "", "topic_name": "", "keywords": [], "count": 5, "window_hours": 24,
               "first_at": first, "last_at": first, "raised_at": raised, "tickets": [n["R1"]],
               "acknowledged_by": None, "acknowledged_at": None}
              for i, (title, first, raised) in enumerate([
                  ("嘉积镇 24小时内 6 件“自来水”相关诉求", "2026-12-01T08:00:00+08:00", "2026-12-01T09:00:00+08:00"),
                  ("博鳌镇 24小时内 5 件“停电”相关诉求", "2026-11-30T08:00:00+08:00", "2026-11-30T10:00:00+08:00")])]
    store = rig.app.state.warnings.store
    for alert in alerts:
        store.client.hset(ACTIVE, alert["id"], json.dumps(alert, ensure_ascii=False))

    found = queues(rig, limit=20)
    assert found["review"]["count"] == 3 and listed(found["review"]) == [n["R1"], n["R2"], n["R3"]]
    assert found["returns"]["count"] == 2 and listed(found["returns"]) == [n["B1"], n["B2"]]
    # C2 answered directly a day ago, C1 approved 6 h ago, then H and the ticket merged into it (M) an hour ago (H's
    # approval reached M in the same moment: the older ticket first)
    assert found["callbacks"]["count"] == 4 and listed(found["callbacks"]) == [n["C2"], n["C1"], n["H"], n["M"]]
    # 超期: every ticket still with its unit past the deadline the lifecycle set, the earliest deadline first
    with rig.app.state.db.session() as session:
        rows = session.scalars(select(m.Ticket).where(m.Ticket.number.in_(list(n.values())))).all()
        now = dt.datetime.now(dt.UTC)
        late = sorted((r for r in rows if r.due_at and r.due_at < now and lc.State(r.state) in lc.UNIT_HANDLING),
                      key=lambda r: (r.due_at, r.id))
    assert {n["O1"], n["O2"], n["R1"]} <= {r.number for r in late}
    assert n["R2"] not in {r.number for r in late} and n["N"] not in {r.number for r in late}
    assert found["overdue"]["count"] == len(late) and listed(found["overdue"]) == [r.number for r in late]
    assert all(item["overdue"] for item in found["overdue"]["items"])
    assert found["overdue"]["list_filter"] == {"overdue": "true"}
    # 已升级: open and above 镇, the longest-escalated first (O1 ten days ago, E1 last four hours ago)
    assert found["escalated"]["count"] == 2 and listed(found["escalated"]) == [n["O1"], n["E1"]]
    assert found["escalated"]["list_filter"] is None
    # 预警: from Redis, the earliest raised first
    assert found["warnings"]["count"] == 2 and found["warnings"]["available"]
    assert [i["warning_id"] for i in found["warnings"]["items"]] == [alerts[1]["id"], alerts[0]["id"]]

    review = found["review"]["items"][0]
    assert review["state"] == "replied" and review["state_label"] == "已答复"
    assert review["host_unit_name"] == "琼海市水务局" and review["title"] == "待办R1"
    assert set(review) == {"number", "warning_id", "title", "state", "state_label", "host_unit_name", "since",
                           "due_at", "overdue"}   # no citizen's name or phone
    # "since" is when it started waiting: R1's reply, three days ago
    waited = dt.datetime.now(dt.UTC) - dt.datetime.fromisoformat(review["since"])
    assert dt.timedelta(days=2, hours=23) < waited < dt.timedelta(days=3, hours=1)
    assert found["review"]["list_filter"] == {"state": "replied"}

    # a smaller page lists fewer, counts the same
    few = queues(rig, limit=1)
    assert {k: q["count"] for k, q in few.items()} == {k: q["count"] for k, q in found.items()}
    assert all(len(q["items"]) <= 1 for q in few.values()) and listed(few["review"]) == [n["R1"]]

    # every read is audited, naming the tickets it showed
    with rig.app.state.db.session() as session:
        entries = session.scalars(select(m.AuditEntry).where(m.AuditEntry.action == "read_worklists",
                                                             m.AuditEntry.username == rig.user("boss"))
                                  .order_by(m.AuditEntry.id)).all()
    assert len(entries) == 2 and entries[0].reason == "platform"
    shown = json.loads(entries[0].detail)["numbers"]
    assert n["R1"] in shown and n["B2"] in shown and n["N"] not in shown


def test_the_queues_move_as_the_tickets_do(rig, scenario):
    n = scenario
    before = queues(rig)
    assert rig.call("boss", "POST", f"/api/v1/tickets/{n['R1']}/actions/approve_reply").status_code == 200
    assert rig.call("boss", "POST", f"/api/v1/tickets/{n['B1']}/actions/reject_return",
                    json={"reason": "职责清楚"}).status_code == 200
    after = queues(rig)
    assert after["review"]["count"] == before["review"]["count"] - 1 and n["R1"] not in listed(after["review"])
    assert after["callbacks"]["count"] == before["callbacks"]["count"] + 1
    assert after["returns"]["count"] == before["returns"]["count"] - 1
    assert after["overdue"]["count"] == before["overdue"]["count"] - 1   # R1's handling is over


def test_only_supervisors_read_the_queues_and_unreadable_warnings_leave_the_others_answered(rig):
    for who in ("agent", "water", "admin", "gateway"):
        response = rig.call(who, "GET", "/api/v1/worklists")
        assert response.status_code == 403 and response.json()["error"] == "forbidden_role", who
    assert rig.client.get("/api/v1/worklists").status_code == 401
    assert rig.call("boss", "GET", "/api/v1/worklists", params={"limit": 0}).status_code == 422

    store = rig.app.state.warnings.store
    working, store.client = store.client, redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=1)
    try:
        found = queues(rig)
    finally:
        store.client.close()
        store.client = working
    assert found["warnings"]["available"] is False and found["warnings"]["count"] is None
    assert "无法读取" in found["warnings"]["note"]
    assert [found[k]["count"] for k in QUEUE_KEYS[:-1]] == [0, 0, 0, 0, 0]
