"""Findings of the security review, one test each: exports, login limits, user lifecycle, lost data, errors.

Each runs on SQLite and PostgreSQL with a real Redis (the ``database_url`` and ``redis_server`` fixtures).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import re
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from agent_desk.api.deps import forwarded_client
from agent_desk.calls import events as ev
from agent_desk.calls.listener import AmiSettings, CallListener
from agent_desk.calls.tracker import CallTracker
from agent_desk.auth import limits
from agent_desk.db.models import AuditEntry, Call, LoginCounter, Ticket
from agent_desk.tickets import lifecycle as lc
from agent_desk.tickets.store import append_note
from tests.support.desk import PASSWORD, close_rig, make_rig


def draft(**changes) -> dict:
    base = {"channel": "phone", "citizen_name": "王小明", "citizen_phone": "13800138000", "title": "小区自来水发黄",
            "content": "自来水发黄。", "appeal_type": "complaint", "topic": "03-water", "location": "嘉积镇"}
    return base | changes


# ── 1. free-text classifications ─────────────────────────────────────────────
def test_a_ticket_topic_is_chosen_from_the_taxonomy_not_typed(rig):
    typed = rig.call("agent", "POST", "/api/v1/tickets", json=draft(topic='=HYPERLINK("http://x","点我")'))
    assert typed.status_code == 422, typed.text
    assert typed.json()["fields"][0]["field"] == "topic" and "分类表" in typed.json()["fields"][0]["problem"]
    assert rig.call("agent", "POST", "/api/v1/tickets", json=draft(topic="03-power")).status_code == 201
    assert rig.call("agent", "POST", "/api/v1/tickets",
                    json=draft(topic="", citizen_phone="13800138001")).status_code == 201
    assert "03-water" in rig.call("agent", "GET", "/api/v1/vocab").json()["topics"]


# ── 5. errors are JSON in Chinese; personal data is never cached ──────────────
@pytest.mark.parametrize("url", [
    "/api/v1/tickets?created_to=9999-12-31", "/api/v1/tickets?created_from=0001-01-01",
    "/api/v1/kpi?period=month&date=9999-12-31", "/api/v1/kpi?period=custom&start=9999-12-01&end=9999-12-31",
    "/api/v1/views/overview?period=week&date=0001-01-01", "/api/v1/reports/monthly?date=9999-12-31&format=xlsx",
])
def test_dates_out_of_range_are_a_422_in_chinese_not_a_500(rig, url):
    response = unforgiving(rig).get(url, headers=rig.as_("boss"))
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert re.search(r"[\u4e00-\u9fff]", response.json()["message"])


def unforgiving(rig) -> TestClient:
    """A client that gets the 500 a user would get, instead of the exception."""
    return TestClient(rig.app, base_url="http://127.0.0.1", raise_server_exceptions=False)


def test_a_taken_extension_is_a_409_not_a_500(rig):
    user = {"username": f"{rig.tag}-ext1", "password": "abcdefgh12", "role": "agent", "extension": "7711"}
    assert rig.call("admin", "POST", "/api/v1/users", json=user).status_code == 201
    again = unforgiving(rig).post("/api/v1/users", headers=rig.as_("admin"),
                                  json=user | {"username": f"{rig.tag}-ext2"})
    assert again.status_code == 409 and again.json()["error"] == "extension_taken"


def test_an_unexpected_failure_is_a_json_500_in_chinese_and_logged(rig, monkeypatch, caplog):
    from agent_desk.tickets import service

    def broken(*_args, **_kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(service, "search", broken)
    with caplog.at_level(logging.ERROR):
        response = unforgiving(rig).get("/api/v1/tickets", headers=rig.as_("boss"))
    assert response.status_code == 500 and response.json()["error"] == "internal_error"
    assert "服务器内部错误" in response.json()["message"] and response.headers["cache-control"] == "no-store"
    assert any("boom" in (r.exc_text or "") or (r.exc_info and "boom" in str(r.exc_info[1])) for r in caplog.records)


def test_every_api_response_says_no_store(rig):
    for response in (rig.call("boss", "GET", "/api/v1/tickets"), rig.call("boss", "GET", "/api/v1/me"),
                     rig.client.get("/api/v1/me"), rig.call("agent", "GET", "/api/v1/no-such-thing"),
                     rig.client.post("/api/v1/auth/login", json={"username": "x", "password": "y"})):
        assert response.headers["cache-control"] == "no-store", response.request.url


# ── 2. login limits ───────────────────────────────────────────────────────────
def from_address(rig, address: str) -> TestClient:
    return TestClient(rig.app, base_url="http://127.0.0.1", client=(address, 40000))


def login(client: TestClient, rig, short: str, password: str, **headers) -> int:
    return client.post("/api/v1/auth/login", json={"username": rig.user(short), "password": password},
                       headers=headers).status_code


def test_parallel_guesses_are_counted_atomically_and_the_user_still_gets_in(rig):
    attacker = from_address(rig, "203.0.113.66")
    with ThreadPoolExecutor(max_workers=12) as pool:
        codes = list(pool.map(lambda _: login(attacker, rig, "boss", "wrong-password"), range(12)))
    assert codes.count(401) <= 5 and codes.count(401) + codes.count(429) == 12, codes
    assert login(attacker, rig, "boss", PASSWORD) == 429     # that address is slowed, right password or not
    assert login(from_address(rig, "198.51.100.20"), rig, "boss", PASSWORD) == 200   # the real user is not


def test_many_addresses_are_capped_per_account_except_where_the_user_signs_in(database_url, redis_server):
    rig = make_rig(database_url, redis_server.authenticated_url, login_failures_per_account=8)
    try:
        desk = from_address(rig, "198.51.100.21")
        assert login(desk, rig, "boss", PASSWORD) == 200               # the user's usual address
        codes = [login(from_address(rig, address), rig, "boss", "guess")
                 for address in ("203.0.113.1", "203.0.113.2") for _ in range(5)]
        assert codes == [401] * 8 + [429] * 2                           # 8 guesses across addresses, then wait
        assert login(from_address(rig, "203.0.113.3"), rig, "boss", PASSWORD) == 429   # a new address waits
        assert login(desk, rig, "boss", PASSWORD) == 200                               # the usual one does not
    finally:
        close_rig(rig)


def test_expired_login_counters_are_swept_and_live_ones_kept(rig):
    """A guesser cycling through addresses leaves a counter per address; once a window has passed the row counts
    nothing and the desk's hourly sweep deletes it, while a counter still inside its window keeps counting."""
    settings, tag = rig.app.state.settings, rig.tag
    old, live = f"source:198.18.{tag}.old", f"source:198.18.{tag}.live"
    now = dt.datetime.now(dt.UTC)
    with rig.app.state.db.session() as session:
        session.add_all([LoginCounter(key=old, window_start=now - settings.login_window - dt.timedelta(seconds=1),
                                      count=3),
                         LoginCounter(key=live, window_start=now - settings.login_window / 2, count=2)])
    with rig.app.state.db.session() as session:
        assert limits.sweep(session, settings, now) >= 1
    with rig.app.state.db.session() as session:
        kept = {c.key: c.count for c in session.scalars(select(LoginCounter).where(LoginCounter.key.in_([old, live])))}
    assert kept == {live: 2}


def test_x_forwarded_for_is_believed_only_from_a_trusted_proxy(database_url, redis_server):
    rig = make_rig(database_url, redis_server.authenticated_url, trusted_proxies=("10.9.0.0/16",))
    try:
        # Not a proxy: its X-Forwarded-For is ignored, so rotating it gains nothing.
        outsider = from_address(rig, "203.0.113.80")
        codes = [login(outsider, rig, "agent", "guess", **{"X-Forwarded-For": f"192.0.2.{i}"}) for i in range(7)]
        assert codes == [401] * 5 + [429] * 2
        # Behind the proxy, everyone shares its address, but each is counted as the address it forwards for.
        proxy = from_address(rig, "10.9.0.2")
        codes = [login(proxy, rig, "agent2", "guess", **{"X-Forwarded-For": "192.0.2.50, 10.9.0.7"}) for _ in range(6)]
        assert codes == [401] * 5 + [429]
        assert login(proxy, rig, "agent2", PASSWORD, **{"X-Forwarded-For": "192.0.2.51"}) == 200
    finally:
        close_rig(rig)


def test_forwarded_client_reads_from_the_right_past_trusted_hops():
    trusted = ("10.0.0.0/8", "127.0.0.1")
    assert forwarded_client("127.0.0.1", "1.2.3.4, 5.6.7.8, 10.0.0.3", trusted) == "5.6.7.8"
    assert forwarded_client("8.8.8.8", "1.2.3.4", trusted) == "8.8.8.8"
    assert forwarded_client("10.0.0.1", "", trusted) == "10.0.0.1"
    assert forwarded_client("10.0.0.1", "not-an-ip", trusted) == "10.0.0.1"
    assert forwarded_client("127.0.0.1", "1.2.3.4", ()) == "127.0.0.1"


# ── 4. nothing lost ───────────────────────────────────────────────────────────
async def test_a_database_error_in_the_tracker_loses_no_call(rig, monkeypatch):
    db = rig.app.state.db
    tracker = CallTracker(db, None)
    listener = CallListener(tracker, AmiSettings("127.0.0.1", 1, "x", "y"), None, retry_delay=0.01)
    opened, failures = db.session, []

    def flaky():
        if not failures:   # the database refuses the first write (an outage, a deadlock), once
            failures.append(1)
            raise OperationalError("UPDATE calls", {}, Exception("server closed the connection unexpectedly"))
        return opened()

    monkeypatch.setattr(db, "session", flaky)
    now = dt.datetime.now(dt.UTC)
    ids = [f"{rig.tag}.{n}" for n in (1, 2)]
    for call_id in ids:
        facts = ev.CallFacts(call_id, "13800000000", "12345", "main", "460100", "q-main", "")
        listener.queue.put_nowait(ev.QueueJoined(facts, "PJSIP/trunk-1", now))
        listener.queue.put_nowait(ev.CallEnded(facts, "16", now + dt.timedelta(seconds=30)))
    task = asyncio.create_task(listener._apply_loop())
    try:
        await asyncio.wait_for(listener.drain(), 10)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert failures and listener.events_retried == 1 and listener.failed == []
    with opened() as session:
        calls = {c.call_id: c for c in session.scalars(select(Call).where(Call.call_id.in_(ids)))}
    assert sorted(calls) == ids                                            # no call row missing
    assert all(c.ended_at is not None and c.queued_at is not None for c in calls.values())   # none left "current"


def test_concurrent_history_writes_on_one_ticket_never_collide(rig):
    number = rig.call("agent", "POST", "/api/v1/tickets", json=draft(citizen_phone="13800138009")).json()["number"]
    db, writers = rig.app.state.db, 10
    start = threading.Barrier(writers + 1)

    def note(i: int) -> None:
        with db.session() as session:
            row = session.scalar(select(Ticket).where(Ticket.number == number))
            assert len(row.events) == 1     # every writer has read the same history before writing
            start.wait()
            append_note(session, row, "survey", dt.datetime.now(dt.UTC), "ivr", lc.Role.SYSTEM,
                        {"n": i})

    def dispatch() -> int:
        start.wait()
        return rig.call("agent", "POST", f"/api/v1/tickets/{number}/actions/dispatch",
                        json={"host_unit": rig.units["water"]}).status_code

    with ThreadPoolExecutor(max_workers=writers + 1) as pool:
        notes = [pool.submit(note, i) for i in range(writers)]
        dispatched = pool.submit(dispatch)
        for f in notes:
            f.result()
        assert dispatched.result() == 200
    history = rig.call("boss", "GET", f"/api/v1/tickets/{number}").json()["history"]
    assert [e["seq"] for e in history] == list(range(1, writers + 3))
    assert sorted(e["action"] for e in history) == sorted(["accept", "dispatch"] + ["survey"] * writers)


# ── 3. user lifecycle, audited ────────────────────────────────────────────────
def audit_actions(rig, username: str) -> list[str]:
    with rig.app.state.db.session() as session:
        return list(session.scalars(select(AuditEntry.action).where(AuditEntry.object_type == "user",
                                                                     AuditEntry.object_id == username)
                                    .order_by(AuditEntry.id)))


def test_an_admin_creates_deactivates_resets_and_revokes_and_every_step_is_audited(rig):
    name = f"{rig.tag}-clerk"
    made = rig.call("admin", "POST", "/api/v1/users", json={"username": name, "password": "chosen-by-admin",
                                                            "role": "agent", "display_name": "新坐席"})
    assert made.status_code == 201, made.text
    # The admin's password is only for the first login: the user must replace it before anything else.
    first = rig.client.post("/api/v1/auth/login", json={"username": name, "password": "chosen-by-admin"})
    assert first.status_code == 200 and first.json()["must_change_password"] is True
    bearer = {"Authorization": f"Bearer {first.json()['token']}"}
    blocked = rig.client.get("/api/v1/tickets", headers=bearer)
    assert blocked.status_code == 403 and blocked.json()["error"] == "password_change_required"
    assert rig.client.get("/api/v1/me", headers=bearer).json()["must_change_password"] is True
    changed = rig.client.post("/api/v1/auth/password", headers=bearer,
                              json={"current_password": "chosen-by-admin", "new_password": "my-own-secret-1"})
    assert changed.status_code == 200, changed.text
    assert rig.client.get("/api/v1/tickets", headers=bearer).status_code == 200

    listed = {u["username"]: u for u in rig.call("admin", "GET", "/api/v1/users").json()}
    assert listed[name]["active"] is True and listed[name]["open_sessions"] == 1
    assert listed[name]["must_change_password"] is False

    revoked = rig.call("admin", "POST", f"/api/v1/users/{name}/revoke-sessions")
    assert revoked.json()["revoked"] == 1 and rig.client.get("/api/v1/me", headers=bearer).status_code == 401

    assert rig.call("admin", "POST", f"/api/v1/users/{name}/deactivate").status_code == 200
    assert rig.client.post("/api/v1/auth/login",
                           json={"username": name, "password": "my-own-secret-1"}).status_code == 401
    assert rig.call("admin", "POST", f"/api/v1/users/{name}/reactivate").status_code == 200

    reset = rig.call("admin", "POST", f"/api/v1/users/{name}/reset-password").json()
    temporary = reset["temporary_password"]
    assert len(temporary) >= 12 and reset["must_change_password"] is True
    assert rig.client.post("/api/v1/auth/login",
                           json={"username": name, "password": "my-own-secret-1"}).status_code == 401
    again = rig.client.post("/api/v1/auth/login", json={"username": name, "password": temporary})
    assert again.status_code == 200 and again.json()["must_change_password"] is True

    assert audit_actions(rig, name) == ["create_user", "change_password", "revoke_sessions", "deactivate_user",
                                        "reactivate_user", "reset_password"]
    assert rig.call("admin", "POST", "/api/v1/users/nobody-here/deactivate").status_code == 404


def test_an_admin_cannot_grant_itself_case_data(rig):
    me = rig.user("admin")
    own = rig.call("admin", "PUT", f"/api/v1/users/{me}/role", json={"role": "agent"})
    assert own.status_code == 403 and own.json()["error"] == "own_role"
    assert rig.call("admin", "POST", f"/api/v1/users/{me}/deactivate").json()["error"] == "own_account"
    supervisor = rig.call("admin", "POST", "/api/v1/users",
                          json={"username": f"{rig.tag}-sup", "password": "12345678abc", "role": "supervisor"})
    assert supervisor.status_code == 403 and supervisor.json()["error"] == "supervisor_by_operator"
    promote = rig.call("admin", "PUT", f"/api/v1/users/{rig.user('agent2')}/role", json={"role": "supervisor"})
    assert promote.status_code == 403 and "运维" in promote.json()["message"]
    auditor = rig.call("admin", "POST", "/api/v1/users", json={"username": f"{rig.tag}-aud", "password": "12345678abc",
                                                               "role": "auditor"})
    assert auditor.status_code == 403
    # A role it may give is given, the user's sessions end, and it is audited.
    token = rig.login("agent2")
    moved = rig.call("admin", "PUT", f"/api/v1/users/{rig.user('agent2')}/role",
                     json={"role": "unit", "unit": rig.units["water"]})
    assert moved.status_code == 200 and moved.json()["role"] == "unit"
    assert rig.client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert audit_actions(rig, rig.user("agent2")) == ["set_user_role"]
    assert rig.call("boss", "POST", f"/api/v1/users/{rig.user('agent')}/deactivate").status_code == 403


def test_the_operator_manages_accounts_on_the_command_line_and_is_audited(rig, database_url, capsys):
    from hotline.site import SiteConfig
    from launcher.cli import Context, build_parser

    ctx = Context(paths=None, _site=SiteConfig(database_url=database_url))  # type: ignore[arg-type]

    def hotline(*argv: str) -> int:
        args = build_parser().parse_args(["desk", *argv])
        return args.func(ctx, args)

    agent = rig.user("agent2")
    assert hotline("set-role", agent, "--role", "supervisor") == 0     # only the operator makes supervisors
    assert hotline("reset-password", agent) == 0
    temporary = re.search(r"临时密码 ([A-Za-z0-9_-]+)", capsys.readouterr().out).group(1)
    assert rig.client.post("/api/v1/auth/login",
                           json={"username": agent, "password": temporary}).json()["user"]["role"] == "supervisor"
    assert hotline("deactivate", agent) == 0 and hotline("deactivate", "nobody-at-all") == 1
    assert hotline("users") == 0
    listed = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    assert any(u["username"] == agent and u["active"] is False for u in listed)
    with rig.app.state.db.session() as session:
        rows = session.execute(select(AuditEntry.username, AuditEntry.action).where(
            AuditEntry.object_type == "user", AuditEntry.object_id == agent).order_by(AuditEntry.id)).all()
    assert [tuple(r) for r in rows] == [("operator", "set_user_role"), ("operator", "reset_password"),
                                        ("operator", "deactivate_user")]
