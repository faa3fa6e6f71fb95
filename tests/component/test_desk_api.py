"""The desk's HTTP API on a real database (SQLite and PostgreSQL) and a real Redis.

Covers: a ticket carried through its lifecycle over HTTP, the status projection the IVR reads, the
final-opinion repeat rule, other channels, authentication / roles / masking / audit, the login rate limit,
and malformed or oversized requests (always a 4xx with a Chinese message, never a 500).
"""

from __future__ import annotations

import re

import pytest
import redis
from sqlalchemy import select

from agent_desk.db.models import AuditEntry


def draft(**changes) -> dict:
    base = {"channel": "phone", "citizen_name": "王小明", "citizen_phone": "13800138000", "title": "小区自来水发黄",
            "content": "嘉积镇金海岸小区的自来水这两天发黄，烧开后有沉淀。", "demand": "请尽快检查水质",
            "appeal_type": "complaint", "topic": "03-water", "location": "琼海市嘉积镇金海岸小区",
            "occurred": "本周一起", "source_line": "12345"}
    return base | changes


def ok(response, status=200) -> dict:
    assert response.status_code == status, response.text
    return response.json()


def test_a_ticket_goes_through_its_whole_life_over_http(rig, redis_server):
    number = ok(rig.call("agent", "POST", "/api/v1/tickets", json=draft()), 201)["number"]
    assert len(number) == 14 and number.isdigit()
    ok(rig.call("agent", "POST", f"/api/v1/tickets/{number}/actions/dispatch",
                json={"host_unit": rig.units["water"], "co_units": [rig.units["housing"]]}))
    ok(rig.call("water", "POST", f"/api/v1/tickets/{number}/actions/sign"))
    ok(rig.call("water", "POST", f"/api/v1/tickets/{number}/actions/reply",
                json={"content": "已冲洗管网，水质检测合格。"}))
    ok(rig.call("boss", "POST", f"/api/v1/tickets/{number}/actions/approve_reply"))

    status = redis.Redis.from_url(redis_server.authenticated_url, decode_responses=True).hgetall(
        f"hotline:ticket-status:{number}")
    assert status["state"] == "awaiting_callback" and status["state_label"] == "待回访"
    assert status["unit_name"] == "琼海市水务局" and status["due_at"]
    assert "13800138000" not in str(status) and "王小明" not in str(status)

    ok(rig.call("boss", "POST", f"/api/v1/tickets/{number}/actions/callback",
                json={"result": "satisfied", "solved": True}))
    ok(rig.call("boss", "POST", f"/api/v1/tickets/{number}/actions/seal_final_opinion",
                json={"opinion": "水质问题已处理完毕，检测合格。"}))
    ticket = ok(rig.call("boss", "GET", f"/api/v1/tickets/{number}"))
    assert ticket["state"] == "closed" and ticket["closed_on_time"] is True
    assert [e["action"] for e in ticket["history"]] == [
        "accept", "dispatch", "sign", "reply", "approve_reply", "callback", "seal_final_opinion"]
    assert ticket["co_units"] == [rig.units["housing"]]

    # The same appeal again links to the sealed ticket instead of opening a new one.
    again = ok(rig.call("agent2", "POST", "/api/v1/tickets", json=draft(content="还是水发黄的问题")), 201)
    assert again == {"created": False, "linked_to": number, "message": again["message"]}
    assert "最终处理意见" in again["message"]
    history = ok(rig.call("boss", "GET", f"/api/v1/tickets/{number}"))["history"]
    assert history[-1]["action"] == "repeat_linked" and history[-1]["action_label"] == "重复诉求关联"
    # A different matter from the same citizen is a new ticket.
    other = ok(rig.call("agent", "POST", "/api/v1/tickets", json=draft(topic="03-power", title="停电")), 201)
    assert other["created"] is True


def test_a_call_about_an_open_matter_joins_that_ticket(rig):
    first = ok(rig.call("agent", "POST", "/api/v1/tickets", json=draft(citizen_phone="13900000077")), 201)["number"]
    again = ok(rig.call("agent2", "POST", "/api/v1/tickets", json=draft(citizen_phone="13900000077", repeat_of=first,
                                                                      content="催办：水还是黄的")), 201)
    assert again["created"] is False and again["linked_to"] == first and "未办结" in again["message"]
    history = ok(rig.call("boss", "GET", f"/api/v1/tickets/{first}"))["history"]
    assert [e["action"] for e in history] == ["accept", "repeat_linked"]
    missing = rig.call("agent", "POST", "/api/v1/tickets", json=draft(repeat_of="20000101999999"))
    assert missing.status_code == 404 and missing.json()["error"] == "unknown_ticket"


def test_forbidden_transitions_answer_409_with_the_reason_in_chinese(rig):
    number = ok(rig.call("agent", "POST", "/api/v1/tickets", json=draft(citizen_phone="13900000001")), 201)["number"]
    response = rig.call("boss", "POST", f"/api/v1/tickets/{number}/actions/approve_reply")
    assert response.status_code == 409
    assert response.json()["error"] == "invalid_transition" and "已受理" in response.json()["message"]
    ok(rig.call("agent", "POST", f"/api/v1/tickets/{number}/actions/dispatch", json={"host_unit": rig.units["water"]}))
    # Only the host unit signs; another unit does not even see the ticket.
    assert rig.call("housing", "POST", f"/api/v1/tickets/{number}/actions/sign").status_code == 404
    # Agents do not review; units do not dispatch.
    assert rig.call("agent", "POST", f"/api/v1/tickets/{number}/actions/approve_return").status_code == 403
    assert rig.call("water", "POST", f"/api/v1/tickets/{number}/actions/dispatch",
                    json={"host_unit": rig.units["water"]}).status_code == 403
    # Return needs reasons and legal basis.
    missing = rig.call("water", "POST", f"/api/v1/tickets/{number}/actions/request_return",
                       json={"reason": "不属于本单位职责", "legal_basis": " "})
    assert missing.status_code == 409 and missing.json()["error"] == "return_basis_required"
    ok(rig.call("water", "POST", f"/api/v1/tickets/{number}/actions/request_return",
                json={"reason": "小区二次供水设施归物业管理", "legal_basis": "《城市供水条例》第二十二条"}))
    ok(rig.call("boss", "POST", f"/api/v1/tickets/{number}/actions/start_consultation",
                json={"units": [rig.units["water"], rig.units["housing"]]}))
    ok(rig.call("boss", "POST", f"/api/v1/tickets/{number}/actions/settle_consultation",
                json={"decided_unit": rig.units["housing"]}))
    settled = rig.call("housing", "POST", f"/api/v1/tickets/{number}/actions/request_return",
                       json={"reason": "再议", "legal_basis": "无"})
    assert settled.status_code == 409 and "首接负责" in settled.json()["message"]
    unknown = rig.call("agent", "POST", f"/api/v1/tickets/{number}/actions/teleport")
    assert unknown.status_code == 404 and unknown.json()["message"] == "请求的地址不存在"   # no such action endpoint


def test_other_channels_enter_the_same_pipeline(rig):
    made = ok(rig.call("gateway", "POST", "/api/v1/tickets", json=draft(channel="wechat", citizen_phone="13700000002",
                                                                      source_line=None)), 201)
    ticket = ok(rig.call("boss", "GET", f"/api/v1/tickets/{made['number']}"))
    assert ticket["channel"] == "wechat" and ticket["channel_label"] == "微信" and ticket["state"] == "accepted"
    # A gateway submits, it does not read, and it cannot pretend to be a phone call.
    assert rig.call("gateway", "GET", f"/api/v1/tickets/{made['number']}").status_code == 403
    assert rig.call("gateway", "POST", "/api/v1/tickets", json=draft(channel="phone")).status_code == 422
    found = ok(rig.call("boss", "GET", "/api/v1/tickets", params={"phone": "13700000002"}))["items"]
    assert [t["number"] for t in found] == [made["number"]]


def test_personal_data_is_masked_unless_needed_and_every_read_is_audited(rig):
    number = ok(rig.call("agent", "POST", "/api/v1/tickets", json=draft(citizen_phone="13612345678")), 201)["number"]
    secret = ok(rig.call("agent", "POST", "/api/v1/tickets",
                         json=draft(citizen_phone="13612345679", confidential=True, topic="03-housing")), 201)["number"]
    for n in (number, secret):
        ok(rig.call("agent", "POST", f"/api/v1/tickets/{n}/actions/dispatch", json={"host_unit": rig.units["water"]}))

    mine = ok(rig.call("agent", "GET", f"/api/v1/tickets/{number}"))
    assert mine["citizen_phone"] == "13612345678" and mine["contact_masked"] is False
    # Need to know: another agent, not on a call with this citizen, does not read it at all (and is audited).
    other_agent = rig.call("agent2", "GET", f"/api/v1/tickets/{number}")
    assert other_agent.status_code == 403 and other_agent.json()["error"] == "forbidden_ticket"
    unit = ok(rig.call("water", "GET", f"/api/v1/tickets/{number}"))
    assert unit["citizen_phone"] == "13612345678"
    confidential = ok(rig.call("water", "GET", f"/api/v1/tickets/{secret}"))
    assert confidential["citizen_phone"] == "136****5679" and confidential["contact_masked"] is True
    listed = ok(rig.call("boss", "GET", "/api/v1/tickets", params={"phone": "13612345678"}))["items"]
    assert listed[0]["citizen_phone"] == "136****5678"  # lists are always masked
    assert rig.call("housing", "GET", f"/api/v1/tickets/{number}").status_code == 404
    assert ok(rig.call("housing", "GET", "/api/v1/tickets", params={"number": number}))["items"] == []
    assert rig.call("admin", "GET", f"/api/v1/tickets/{number}").status_code == 403

    with rig.app.state.db.session() as session:
        reads = session.scalars(select(AuditEntry).where(AuditEntry.object_id == number)).all()
    # Every read is audited, masked or not, and so is every refused attempt.
    assert sorted((r.username, r.action) for r in reads) == sorted([
        (rig.user("agent"), "read_personal_data"), (rig.user("agent2"), "read_denied"),
        (rig.user("water"), "read_personal_data"), (rig.user("housing"), "read_denied"),
        (rig.user("admin"), "read_denied")])


PATH_SAMPLES = {"number": "20260101000001", "action": "sign", "call_id": "1700000000.1", "ext": "8001",
                "code": "k-1", "kind": "daily", "alert_id": "w0123456789abcde", "step": "complete",
                "username": "nobody", "task_id": "1", "out_id": "1", "id": "1", "campaign_id": "1"}


def api_routes(app) -> list[tuple[str, str]]:
    """(method, path) of every endpoint in the API document, and the document itself."""
    from agent_desk.api.routes import API_PREFIX, document

    paths = document(app)["paths"]
    return [(method.upper(), path) for path, item in paths.items() for method in item] + [
        ("GET", f"{API_PREFIX}/openapi.json")]


def test_every_api_route_refuses_anonymous_and_expired_sessions(rig):
    routes = [(method, path) for method, path in api_routes(rig.app) if not path.endswith("/auth/login")]
    assert len(routes) >= 7
    for method, path in routes:
        url = re.sub(r"\{(\w+)\}", lambda m: PATH_SAMPLES[m.group(1)], path)
        anonymous = rig.client.request(method, url)
        assert anonymous.status_code == 401, (method, path, anonymous.text)
        assert anonymous.json()["message"] == "请先登录"
        forged = rig.client.request(method, url, headers={"Authorization": "Bearer not-a-token"})
        assert forged.status_code == 401, (method, path)
    token = rig.login("agent")
    ok(rig.client.post("/api/v1/auth/logout", headers={"Authorization": f"Bearer {token}"}))
    assert rig.client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_wrong_roles_are_refused(rig):
    assert rig.call("water", "POST", "/api/v1/tickets", json=draft()).status_code == 403
    assert rig.call("agent", "POST", "/api/v1/users", json={"username": "x1", "password": "12345678abc",
                                                         "role": "agent"}).status_code == 403
    assert rig.call("agent", "GET", "/api/v1/users").status_code == 403
    made = rig.call("admin", "POST", "/api/v1/users", json={"username": f"{rig.tag}-new", "password": "12345678abc",
                                                         "role": "unit", "unit": rig.units["power"]})
    assert made.status_code == 201


def test_login_failures_are_rate_limited_per_user(rig):
    for _ in range(5):
        bad = rig.client.post("/api/v1/auth/login", json={"username": rig.user("boss"), "password": "wrong-password"})
        assert bad.status_code == 401 and bad.json()["message"] == "用户名或密码错误"
    blocked = rig.client.post("/api/v1/auth/login",
                              json={"username": rig.user("boss"), "password": "correct-horse-12345"})
    assert blocked.status_code == 429 and int(blocked.headers["Retry-After"]) > 0
    assert "15分钟" in blocked.json()["message"]
    # Other users are not locked out by someone else's failures.
    assert rig.client.post("/api/v1/auth/login", json={"username": rig.user("agent2"),
                                                    "password": "correct-horse-12345"}).status_code == 200


@pytest.mark.parametrize("body, problem", [
    (b"{not json", "invalid_request"),
    (b'{"title": "x"}', "invalid_request"),
    (b'[1, 2, 3]', "invalid_request"),
])
def test_malformed_requests_get_422_with_a_message(rig, body, problem):
    response = rig.client.post("/api/v1/tickets", content=body,
                               headers=rig.as_("agent") | {"Content-Type": "application/json"})
    assert response.status_code == 422, response.text
    assert response.json()["error"] == problem and response.json()["message"].startswith("请求内容不合法")


def test_bad_fields_paths_and_sizes_are_4xx(rig):
    unknown_field = rig.call("agent", "POST", "/api/v1/tickets", json=draft(colour="red"))
    assert unknown_field.status_code == 422 and "colour" in unknown_field.json()["message"]
    bad_type = rig.call("agent", "POST", "/api/v1/tickets", json=draft(appeal_type="rant"))
    assert bad_type.status_code == 422
    bad_number = rig.call("agent", "GET", "/api/v1/tickets/12; DROP TABLE tickets")
    assert bad_number.status_code in (404, 422)
    bad_action_body = rig.call("boss", "POST", "/api/v1/tickets/20260101000001/actions/callback",
                               json={"result": "ecstatic", "solved": "maybe"})
    assert bad_action_body.status_code in (404, 422)
    huge = rig.call("agent", "POST", "/api/v1/tickets", json=draft(content="水" * 400_000))
    assert huge.status_code == 413 and huge.json()["message"] == "请求内容过大"
    paging = rig.call("agent", "GET", "/api/v1/tickets", params={"limit": 100000})
    assert paging.status_code == 422
    assert rig.call("agent", "GET", "/api/v1/no-such-thing").status_code == 404


def test_agents_look_up_units_dispatch_suggestions_and_the_knowledge_base(rig):
    from agent_desk.seed import load_reference_data

    with rig.app.state.db.session() as session:
        load_reference_data(session)
    units = ok(rig.call("agent", "GET", "/api/v1/units", params={"q": "水务", "subplatform": "469002"}))
    assert any(u["name"] == "琼海市水务局" for u in units)
    suggested = ok(rig.call("agent", "GET", "/api/v1/dispatch/suggest",
                            params={"topic": "03-water", "subplatform": "469002", "text": "自来水发黄"}))
    assert suggested and suggested[0]["name"] == "琼海市水务局" and suggested[0]["why"]
    direct = ok(rig.call("agent", "GET", "/api/v1/dispatch/suggest", params={"topic": "", "text": "小区停电了"}))
    assert direct[0]["source"] == "direct" and "电网" in direct[0]["name"]
    hits = ok(rig.call("agent", "GET", "/api/v1/knowledge", params={"q": "社保卡丢了怎么办"}))
    assert hits and "挂失" in hits[0]["title"] and "【社保卡】" in hits[0]["snippet"]
    article = ok(rig.call("agent", "GET", f"/api/v1/knowledge/{hits[0]['code']}"))
    assert article["body"] and article["title"] == hits[0]["title"]
    assert rig.call("water", "GET", "/api/v1/knowledge", params={"q": "社保"}).status_code == 403
    assert rig.call("agent", "GET", "/api/v1/knowledge", params={"q": ""}).status_code == 422
    assert rig.call("agent", "GET", "/api/v1/knowledge/no-such-article").status_code == 404


def test_the_migrations_build_exactly_the_models(database_url):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from agent_desk.db.base import Base
    from agent_desk.db.session import make_engine

    engine = make_engine(database_url)
    hand_made = ("knowledge_fts", "ix_knowledge_articles_search")
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={
            "include_object": lambda obj, name, type_, reflected, compare_to:
            not (reflected and compare_to is None and str(name).startswith(hand_made))})
        assert compare_metadata(context, Base.metadata) == []
    engine.dispose()
