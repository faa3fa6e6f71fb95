"""未接来电回拨 on the real database (SQLite, then PostgreSQL) and Redis: missed calls become one task per caller
through the real call tracker, an answered call closes it, the worklist masks and audits, results follow the
rules (nothing marked done that was not), and tasks survive a desk restart."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import redis
from sqlalchemy import select

from agent_desk.callbacks import campaign as cp
from agent_desk.callbacks import store
from agent_desk.callbacks.dialer import new_out_id
from agent_desk.callbacks.rules import CallbackPolicy, Outcome
from agent_desk.calls import events as ev
from agent_desk.calls.tracker import CallTracker
from agent_desk.db import models as m
from hotline.contracts.prefill import KEY as PREFILL_KEY
from tests.support.desk import close_rig, make_rig


def number(rig, n: int = 0) -> str:
    """A mobile number of this test's own (rigs share the session's database)."""
    return f"139{(int(rig.tag, 16) * 10 + n) % 10**8:08d}"


def facts(call_id: str, caller: str, line: str = "12345", subplatform: str = "469002") -> ev.CallFacts:
    return ev.CallFacts(call_id=call_id, caller=caller, line=line, line_class="general", subplatform=subplatform,
                        queue="province", appeal_type="")


async def missed(tracker: CallTracker, call_id: str, caller: str, start: dt.datetime, wait: int,
                 queued: bool = True, **kw) -> None:
    f = facts(call_id, caller, **kw)
    await tracker.apply(ev.ChannelCreated(call_id, start))
    if queued:
        await tracker.apply(ev.QueueJoined(f, "PJSIP/carrier-1", start + dt.timedelta(seconds=3)))
    await tracker.apply(ev.CallEnded(f, "Normal Clearing", start + dt.timedelta(seconds=wait)))


async def answered(tracker: CallTracker, call_id: str, caller: str, start: dt.datetime) -> None:
    f = facts(call_id, caller)
    await tracker.apply(ev.QueueJoined(f, "PJSIP/carrier-1", start))
    await tracker.apply(ev.AgentAnswered(f, "8001", "PJSIP/8001-1", 5, start + dt.timedelta(seconds=5)))
    await tracker.apply(ev.CallEnded(f, "Normal Clearing", start + dt.timedelta(seconds=60)))


def task_of(rig, caller: str) -> list[m.CallbackTask]:
    with rig.app.state.db.session() as session:
        rows = list(session.scalars(select(m.CallbackTask).where(m.CallbackTask.caller == caller)
                                    .order_by(m.CallbackTask.id)))
        session.expunge_all()
    return rows


LINES, CITIES = {"12345": "政务服务便民热线"}, {"469002": "琼海市"}
NEVER_QUIET = CallbackPolicy(quiet_start=dt.time(0, 0), quiet_end=dt.time(0, 0))




@pytest.fixture
def rig(database_url, redis_server):
    """The desk with the number plan's names of lines and cities (the worklist shows them)."""
    rig = make_rig(database_url, redis_server.authenticated_url, line_names=LINES, city_names=CITIES,
                   callbacks=NEVER_QUIET)   # the wall clock's hour must not decide what these tests see
    yield rig
    close_rig(rig)


@pytest.fixture
async def tracker(rig):
    tracker = CallTracker(rig.app.state.db, rig.app.state.settings.async_redis(), LINES, CITIES)
    yield tracker
    assert tracker.redis is not None
    await tracker.redis.aclose()


async def test_missed_calls_are_one_task_per_caller_and_an_answered_call_closes_it(rig, tracker, redis_server):
    caller, other = number(rig, 1), number(rig, 2)
    t0 = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=30)
    tag = rig.tag
    plain = redis.Redis.from_url(redis_server.authenticated_url, decode_responses=True)
    plain.set(PREFILL_KEY.format(call_id=f"{tag}.m1"), json.dumps(
        {"v": 1, "call_id": f"{tag}.m1", "status": "final", "transcript": "小区停水三天了，电话13907551234"},
        ensure_ascii=False))
    try:
        await missed(tracker, f"{tag}.m1", caller, t0, wait=95)                       # hung up in the queue
        await missed(tracker, f"{tag}.m2", "+86" + caller, t0 + dt.timedelta(minutes=5), wait=20, queued=False)
        await missed(tracker, f"{tag}.m3", caller, t0 + dt.timedelta(minutes=9), wait=40, line="12315")
        await missed(tracker, f"{tag}.m3", caller, t0 + dt.timedelta(minutes=9), wait=40)   # the same call told twice
        await missed(tracker, f"{tag}.o1", other, t0 + dt.timedelta(minutes=1), wait=12)
        await missed(tracker, f"{tag}.anon", "", t0 + dt.timedelta(minutes=2), wait=12)     # no number: no task
    finally:
        plain.close()
    [task] = task_of(rig, caller)
    assert (task.state, task.missed_calls) == ("open", 3)
    assert (task.first_call_id, task.last_call_id) == (f"{tag}.m1", f"{tag}.m3")
    assert task.open_caller == caller and task.line == "12315" and task.subplatform == "469002"
    assert task.longest_wait_seconds == 95 and task.last_wait_seconds == 40
    assert "停水三天" in task.prefill["transcript"]   # a later call without words keeps what was said
    assert task.priority == 4   # three calls, and one waited over a minute
    [second] = task_of(rig, other)
    assert second.missed_calls == 1 and second.id != task.id
    with rig.app.state.db.session() as session:
        assert session.scalar(select(m.Call).where(m.Call.call_id == f"{tag}.anon")) is not None   # the call is kept
    await answered(tracker, f"{tag}.a1", caller, t0 + dt.timedelta(minutes=20))
    [closed] = task_of(rig, caller)
    assert (closed.state, closed.outcome, closed.open_caller) == ("closed", "called_in", None)
    assert closed.closed_at is not None
    # the next missed call opens a new task
    await missed(tracker, f"{tag}.m4", caller, t0 + dt.timedelta(minutes=25), wait=8)
    tasks = task_of(rig, caller)
    assert [t.state for t in tasks] == ["closed", "open"] and tasks[1].missed_calls == 1


async def test_a_call_that_ends_in_the_ivr_keeps_its_time_there_as_the_wait(rig, tracker):
    """A caller who hung up in the IVR, never queueing, waited from their channel's arrival to the hang-up: the
    call record keeps the arrival and the task shows that time, not 0 s."""
    caller = number(rig, 7)
    t0 = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=4)
    await missed(tracker, f"{rig.tag}.ivr1", caller, t0, wait=37, queued=False)
    [task] = task_of(rig, caller)
    assert task.last_wait_seconds == 37 and task.longest_wait_seconds == 37
    with rig.app.state.db.session() as session:
        call = session.scalar(select(m.Call).where(m.Call.call_id == f"{rig.tag}.ivr1"))
        assert call is not None and call.outcome == "ivr_only" and call.queued_at is None
        assert abs((call.arrived_at - t0).total_seconds()) < 1 and abs((call.started_at - t0).total_seconds()) < 1


async def test_worklist_masks_the_number_for_agents_audits_each_read_and_refuses_other_roles(rig, tracker):
    caller = number(rig, 3)
    t0 = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    await missed(tracker, f"{rig.tag}.w1", caller, t0, wait=70)
    mine = lambda body: next(i for i in body["items"] if i["id"] == task_of(rig, caller)[0].id)  # noqa: E731
    response = rig.call("agent", "GET", "/api/v1/callbacks")
    assert response.status_code == 200, response.text
    item = mine(response.json())
    assert item["caller"] != caller and item["caller"].endswith(caller[-4:]) and item["caller_masked"]
    assert item["city"] == "琼海市" and item["line_name"] == "政务服务便民热线" and item["wait_seconds"] == 70
    assert item["state_label"] == "待回拨" and item["max_attempts"] == 3 and item["attempts"] == 0
    due = dt.datetime.fromisoformat(item["due_at"])
    assert due >= t0 + dt.timedelta(hours=2) - dt.timedelta(seconds=1)   # 2 h of callable time (quiet hours extend)
    boss = mine(rig.call("boss", "GET", "/api/v1/callbacks").json())
    assert boss["caller"] == caller and not boss["caller_masked"]
    detail = rig.call("agent", "GET", f"/api/v1/callbacks/{item['id']}")
    assert detail.status_code == 200 and detail.json()["calls"] == []
    for role in ("water", "admin", "gateway"):
        assert rig.call(role, "GET", "/api/v1/callbacks").status_code == 403
    assert rig.call("agent", "GET", "/api/v1/callbacks/999999999").status_code == 404
    assert rig.client.get("/api/v1/callbacks").status_code == 401
    with rig.app.state.db.session() as session:
        reads = session.scalars(select(m.AuditEntry).where(m.AuditEntry.username.in_([rig.user("agent"),
                                                                                     rig.user("boss")]),
                                                           m.AuditEntry.action == "read_personal_data")).all()
        kinds = {(a.username, a.object_type, a.reason) for a in reads}
    assert (rig.user("agent"), "callback_tasks", "callback_worklist") in kinds
    assert (rig.user("agent"), "callback_task", "callback_worklist") in kinds
    assert (rig.user("boss"), "callback_tasks", "platform") in kinds


async def test_the_transcript_shown_to_agents_has_its_numbers_masked(rig, tracker, redis_server):
    caller = number(rig, 4)
    plain = redis.Redis.from_url(redis_server.authenticated_url, decode_responses=True)
    plain.set(PREFILL_KEY.format(call_id=f"{rig.tag}.t1"), json.dumps(
        {"v": 1, "call_id": f"{rig.tag}.t1", "status": "final", "transcript": "我的电话是13907551234"},
        ensure_ascii=False))
    plain.close()
    await missed(tracker, f"{rig.tag}.t1", caller, dt.datetime.now(dt.UTC), wait=30)
    task_id = task_of(rig, caller)[0].id
    agent = rig.call("agent", "GET", f"/api/v1/callbacks/{task_id}").json()
    boss = rig.call("boss", "GET", f"/api/v1/callbacks/{task_id}").json()
    assert "13907551234" not in agent["transcript"] and "1234" in agent["transcript"]
    assert "13907551234" in boss["transcript"]


def _call_and_end(rig, task_id: int, outcome: Outcome, policy: CallbackPolicy, now: dt.datetime) -> None:
    """One 回拨 of the agent, as the dialer stores it (the AMI side is covered by the unit and e2e tests)."""
    with rig.app.state.db.session() as session:
        who = _principal(session, rig.user("agent"))
        out_id = new_out_id()
        store.claim(session, store.task(session, task_id), who, out_id, policy, now, None)
    with rig.app.state.db.session() as session:
        store.progress(session, out_id, "dialing", now)
        store.finish(session, out_id, outcome, outcome.value.upper(), policy, now)


def _principal(session, username: str):
    from agent_desk.auth.roles import Role
    from agent_desk.auth.sessions import Principal

    user = session.scalar(select(m.User).where(m.User.username == username))
    return Principal(user.id, user.username, user.display_name, Role(user.role), user.org_unit_id, None, "8001")


async def test_nothing_is_marked_done_that_was_not_and_unanswered_calls_follow_the_retry_rules(rig, tracker):
    caller = number(rig, 5)
    await missed(tracker, f"{rig.tag}.r1", caller, dt.datetime.now(dt.UTC) - dt.timedelta(minutes=3), wait=30)
    task_id = task_of(rig, caller)[0].id
    reached = rig.call("agent", "POST", f"/api/v1/callbacks/{task_id}/outcome", json={"outcome": "reached"})
    assert reached.status_code == 409 and reached.json()["error"] == "not_connected"
    assert rig.call("agent", "POST", f"/api/v1/callbacks/{task_id}/outcome",
                    json={"outcome": "called_in"}).status_code == 422
    assert rig.call("agent", "POST", f"/api/v1/callbacks/{task_id}/outcome",
                    json={"outcome": "reached", "extra": 1}).status_code == 422

    policy = NEVER_QUIET
    now = dt.datetime.now(dt.UTC)
    _call_and_end(rig, task_id, Outcome.AGENT_NO_ANSWER, policy, now)   # the agent did not pick up: not an attempt
    [task] = task_of(rig, caller)
    assert (task.state, task.attempts, task.outcome) == ("open", 0, "agent_no_answer")
    _call_and_end(rig, task_id, Outcome.NO_ANSWER, policy, now)
    [task] = task_of(rig, caller)
    assert (task.state, task.attempts) == ("open", 1) and task.next_attempt_at == now + dt.timedelta(minutes=10)
    listed = next(i for i in rig.call("agent", "GET", "/api/v1/callbacks").json()["items"] if i["id"] == task_id)
    assert not listed["callable"] and "后才能再次回拨" in listed["refusal"]
    with rig.app.state.db.session() as session:   # too early for the next attempt
        with pytest.raises(Exception, match="retry_later"):
            store.claim(session, store.task(session, task_id), _principal(session, rig.user("agent")), "cb-early",
                        policy, now, None)
    later = now + dt.timedelta(minutes=11)
    _call_and_end(rig, task_id, Outcome.BUSY, policy, later)
    _call_and_end(rig, task_id, Outcome.TRUNK_BUSY, policy, later + dt.timedelta(minutes=31))   # not an attempt
    _call_and_end(rig, task_id, Outcome.NO_ANSWER, policy, later + dt.timedelta(minutes=40))
    [task] = task_of(rig, caller)
    assert (task.state, task.attempts, task.outcome, task.open_caller) == ("given_up", 3, "no_answer", None)
    with rig.app.state.db.session() as session:
        calls = store.calls_of(session, task_id=task_id)
        assert [(c.outcome, c.counted) for c in calls] == [
            ("agent_no_answer", False), ("no_answer", True), ("busy", True), ("trunk_busy", False), ("no_answer", True)]


async def test_a_connected_call_is_closed_by_the_agents_result(rig, tracker):
    caller = number(rig, 6)
    await missed(tracker, f"{rig.tag}.c1", caller, dt.datetime.now(dt.UTC) - dt.timedelta(minutes=3), wait=30)
    task_id = task_of(rig, caller)[0].id
    policy = NEVER_QUIET
    _call_and_end(rig, task_id, Outcome.CONNECTED, policy, dt.datetime.now(dt.UTC))
    [task] = task_of(rig, caller)
    assert (task.state, task.attempts, task.outcome) == ("open", 1, "connected")
    detail = rig.call("agent", "GET", f"/api/v1/callbacks/{task_id}").json()
    assert [c["outcome"] for c in detail["calls"]] == ["connected"] and detail["calls"][0]["counted"]
    response = rig.call("agent", "POST", f"/api/v1/callbacks/{task_id}/outcome", json={"outcome": "resolved"})
    assert response.status_code == 200, response.text
    assert response.json()["state"] == "closed" and response.json()["outcome_label"] == "通话中已解决"
    again = rig.call("agent", "POST", f"/api/v1/callbacks/{task_id}/outcome", json={"outcome": "reached"})
    assert again.status_code == 409 and again.json()["error"] == "task_closed"
    with rig.app.state.db.session() as session:
        assert session.scalar(select(m.AuditEntry).where(m.AuditEntry.action == "callback_outcome",
                                                         m.AuditEntry.object_id == str(task_id))) is not None


async def test_a_foreign_number_is_never_callable_and_may_be_closed_as_invalid(rig, tracker):
    caller = "+44" + number(rig, 7)[3:]
    await missed(tracker, f"{rig.tag}.f1", caller, dt.datetime.now(dt.UTC), wait=30)
    [task] = task_of(rig, caller)
    listed = next(i for i in rig.call("boss", "GET", "/api/v1/callbacks").json()["items"] if i["id"] == task.id)
    assert not listed["callable"] and listed["refusal"] == "境外号码，不外呼"
    response = rig.call("agent", "POST", f"/api/v1/callbacks/{task.id}/outcome", json={"outcome": "invalid_number"})
    assert response.status_code == 200 and response.json()["state"] == "closed"


async def test_calling_needs_the_phone_system_and_leaves_the_task_open_without_it(rig, tracker):
    caller = number(rig, 8)
    await missed(tracker, f"{rig.tag}.p1", caller, dt.datetime.now(dt.UTC), wait=30)
    [task] = task_of(rig, caller)
    response = rig.call("agent", "POST", f"/api/v1/callbacks/{task.id}/call")
    assert response.status_code == 503 and response.json()["error"] == "telephony_unavailable"
    assert rig.call("water", "POST", f"/api/v1/callbacks/{task.id}/call").status_code == 403
    assert rig.call("agent", "POST", "/api/v1/callbacks/tickets/20261204000001/call").status_code == 503
    assert task_of(rig, caller)[0].state == "open"


async def test_quiet_hours_make_every_task_wait(database_url, redis_server):
    now = dt.datetime.now(CallbackPolicy().tz)
    start = (now - dt.timedelta(hours=1)).time().replace(second=0, microsecond=0)
    end = (now + dt.timedelta(hours=1)).time().replace(second=0, microsecond=0)
    rig = make_rig(database_url, redis_server.authenticated_url,
                   callbacks=CallbackPolicy(quiet_start=start, quiet_end=end))
    try:
        tracker = CallTracker(rig.app.state.db, None)
        caller = number(rig, 9)
        await missed(tracker, f"{rig.tag}.q1", caller, dt.datetime.now(dt.UTC), wait=30)
        body = rig.call("agent", "GET", "/api/v1/callbacks").json()
        item = next(i for i in body["items"] if i["id"] == task_of(rig, caller)[0].id)
        assert body["quiet_now"] and not item["callable"] and item["refusal"].startswith("当前为免打扰时段")
        assert dt.datetime.fromisoformat(item["due_at"]) >= dt.datetime.combine(
            now.date() if end > now.time() else now.date() + dt.timedelta(days=1), end, tzinfo=now.tzinfo)
    finally:
        close_rig(rig)


async def test_tasks_survive_a_desk_restart(database_url, redis_server):
    first = make_rig(database_url, redis_server.authenticated_url)
    caller = number(first, 0)
    try:
        await missed(CallTracker(first.app.state.db, None), f"{first.tag}.s1", caller, dt.datetime.now(dt.UTC), 30)
    finally:
        close_rig(first)
    second = make_rig(database_url, redis_server.authenticated_url)   # a new app on the same database
    try:
        ids = [i["id"] for i in second.call("boss", "GET", "/api/v1/callbacks").json()["items"]]
        [task] = task_of(second, caller)
        assert task.id in ids and task.state == "open"
    finally:
        close_rig(second)


async def test_coverage_counts_who_was_contacted_within_the_target(rig, tracker):
    """回拨率 of one past day: of three callers with missed calls, one reached by a 回拨 within the target, one who
    rang again and got through after it, one never reached; a caller of another day is not counted."""
    tz = CallbackPolicy().tz
    day = dt.date(2025, 3, 10)

    def at(hour: int, minute: int = 0, days: int = 0) -> dt.datetime:
        return dt.datetime.combine(day + dt.timedelta(days=days), dt.time(hour, minute), tzinfo=tz).astimezone(dt.UTC)

    callers = [number(rig, n) for n in (11, 12, 13, 14)]
    for n, caller in enumerate(callers):
        await missed(tracker, f"{rig.tag}.cov{n}", caller, at(10) if n < 3 else at(10, days=1), wait=30)
    ids = [task_of(rig, c)[0].id for c in callers]
    policy = CallbackPolicy()
    with rig.app.state.db.session() as session:   # the first caller answers a 回拨 at 10:30
        out_id = new_out_id()
        store.claim(session, store.task(session, ids[0]), _principal(session, rig.user("agent")), out_id, policy,
                    at(10, 30), None)
        store.progress(session, out_id, "connected", at(10, 30))
        store.finish(session, out_id, Outcome.CONNECTED, "ANSWER", policy, at(10, 35))
    await answered(tracker, f"{rig.tag}.cov-in", callers[1], at(13))   # the second rings again at 13:00
    for hour, minute in ((10, 30), (10, 41), (11, 12)):                 # the third never answers
        _call_and_end(rig, ids[2], Outcome.NO_ANSWER, policy, at(hour, minute))
    assert task_of(rig, callers[2])[0].state == "given_up"
    url = "/api/v1/callbacks/coverage?period=custom&start=2025-03-10&end=2025-03-10"
    response = rig.call("boss", "GET", url)
    assert response.status_code == 200, response.text
    body = response.json()
    assert {k: body[k] for k in ("tasks", "missed_calls", "contacted", "contacted_within_target", "given_up",
                                 "pending", "attempts")} == {
        "tasks": 3, "missed_calls": 3, "contacted": 2, "contacted_within_target": 1, "given_up": 1, "pending": 1,
        "attempts": 4}
    assert body["rate"] == pytest.approx(1 / 3) and body["target_minutes"] == 120
    assert rig.call("agent", "GET", url).status_code == 403


async def test_a_call_left_by_a_restarted_desk_does_not_block_the_agent(rig, tracker):
    """An agent's 回拨 that no desk process follows any more (the desk restarted mid-call) ends as failed once it is
    a few minutes old; a fresh one, or one this process follows, keeps the agent busy."""
    callers = [number(rig, 21), number(rig, 22)]
    now = dt.datetime.now(dt.UTC)
    for n, caller in enumerate(callers):
        await missed(tracker, f"{rig.tag}.or{n}", caller, now - dt.timedelta(minutes=20), wait=30)
    first, second = (task_of(rig, c)[0].id for c in callers)
    policy = NEVER_QUIET
    left = new_out_id()
    with rig.app.state.db.session() as session:
        agent = _principal(session, rig.user("agent"))
        store.claim(session, store.task(session, first), agent, left, policy, now - dt.timedelta(minutes=3), None)
    with rig.app.state.db.session() as session, pytest.raises(Exception, match="agent_busy"):
        store.claim(session, store.task(session, second), agent, new_out_id(), policy, now, None, following={left})
    with rig.app.state.db.session() as session, pytest.raises(Exception, match="agent_busy"):
        store.claim(session, store.task(session, second), agent, new_out_id(), policy,
                    now - dt.timedelta(minutes=2, seconds=30), None)
    with rig.app.state.db.session() as session:
        store.claim(session, store.task(session, second), agent, new_out_id(), policy, now, None)
    with rig.app.state.db.session() as session:
        orphan = store.call_by_out_id(session, left)
        assert orphan is not None and (orphan.outcome, orphan.counted) == ("failed", False)
    assert [t.state for t in task_of(rig, callers[0])] == ["open"]
    assert [t.state for t in task_of(rig, callers[1])] == ["dialing"]


# ── 市民要求不再回拨 ──────────────────────────────────────────────────────────
# 市民要求不再回拨 on a missed-call task, on the real database (SQLite, then PostgreSQL) over the HTTP API: the task
# closes with that outcome, the refusal lands in the opt-out store the 智能回访 campaigns read, later missed calls from
# that number make no task (the calls themselves are kept), and a 回访 opt-out (key 9) does not stop missed calls
# from being returned. Audited; a reason is required; a task being dialled cannot be marked; other roles refused.

REASON = "市民表示问题已自行解决，不需要再回电"


def opt_out(rig, task_id: int, role: str = "agent", **body):
    return rig.call(role, "POST", f"/api/v1/callbacks/{task_id}/opt-out", json={"reason": REASON} | body)


async def test_an_opted_out_task_closes_is_recorded_and_later_missed_calls_make_no_task(rig, tracker):
    caller, other = number(rig, 21), number(rig, 22)
    t0 = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=40)
    await missed(tracker, f"{rig.tag}.oo1", caller, t0, wait=50)
    await missed(tracker, f"{rig.tag}.oo2", other, t0, wait=50)
    [task] = task_of(rig, caller)

    assert opt_out(rig, task.id, reason="").status_code == 422                # a reason is required
    assert opt_out(rig, task.id, extra=1).status_code == 422
    assert opt_out(rig, task.id, role="water").status_code == 403
    assert rig.client.post(f"/api/v1/callbacks/{task.id}/opt-out", json={"reason": REASON}).status_code == 401
    assert opt_out(rig, 999999999).status_code == 404
    assert task_of(rig, caller)[0].state == "open"                              # none of those changed anything

    response = opt_out(rig, task.id)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["state"], body["outcome"], body["outcome_label"]) == ("closed", "opted_out", "市民要求不再回拨")
    assert "不再回拨" in body["message"] and body["caller_masked"] and caller not in response.text
    [closed] = task_of(rig, caller)
    assert (closed.state, closed.outcome, closed.open_caller) == ("closed", "opted_out", None)
    assert closed.closed_by_id is not None and closed.attempts == 0             # nobody was dialled for it
    again = opt_out(rig, task.id)
    assert again.status_code == 409 and again.json()["error"] == "task_closed"
    listed = {i["id"] for i in rig.call("agent", "GET", "/api/v1/callbacks").json()["items"]}
    assert task.id not in listed and task_of(rig, other)[0].id in listed

    with rig.app.state.db.session() as session:
        [row] = session.scalars(select(m.RevisitOptOut).where(m.RevisitOptOut.caller == caller)).all()
        assert (row.source, row.reason) == (store.OPT_OUT_SOURCE, REASON) and row.user_id == closed.closed_by_id
        assert cp.opted_out(session, caller)                                    # the campaigns skip it too
        assert not cp.opted_out(session, other)
        audit = session.scalar(select(m.AuditEntry).where(m.AuditEntry.action == "callback_opt_out",
                                                          m.AuditEntry.object_id == str(task.id)))
        assert audit is not None and audit.username == rig.user("agent")

    # Later missed calls from that number (in either form): no task; the calls are still recorded.
    await missed(tracker, f"{rig.tag}.oo3", caller, t0 + dt.timedelta(minutes=30), wait=20)
    await missed(tracker, f"{rig.tag}.oo4", "+86" + caller, t0 + dt.timedelta(minutes=35), wait=5, queued=False)
    assert [t.id for t in task_of(rig, caller)] == [task.id]
    with rig.app.state.db.session() as session:
        kept = session.scalars(select(m.Call.call_id).where(m.Call.call_id.in_([f"{rig.tag}.oo3",
                                                                                 f"{rig.tag}.oo4"]))).all()
    assert sorted(kept) == [f"{rig.tag}.oo3", f"{rig.tag}.oo4"]
    # The other caller's missed calls still fold into their task.
    await missed(tracker, f"{rig.tag}.oo5", other, t0 + dt.timedelta(minutes=36), wait=5)
    assert task_of(rig, other)[0].missed_calls == 2


async def test_a_revisit_opt_out_does_not_stop_missed_calls_being_returned(rig, tracker):
    caller = number(rig, 23)
    with rig.app.state.db.session() as session:   # key 9 on a 智能回访: no more satisfaction calls
        session.add(m.RevisitOptOut(caller=caller, source="key", reason="", at=dt.datetime.now(dt.UTC)))
        session.commit()
    await missed(tracker, f"{rig.tag}.ro1", caller, dt.datetime.now(dt.UTC) - dt.timedelta(minutes=3), wait=30)
    [task] = task_of(rig, caller)
    assert task.state == "open"


async def test_a_task_being_dialled_cannot_be_marked_until_the_call_ends(rig, tracker):
    caller = number(rig, 24)
    await missed(tracker, f"{rig.tag}.dl1", caller, dt.datetime.now(dt.UTC) - dt.timedelta(minutes=3), wait=30)
    [task] = task_of(rig, caller)
    policy = NEVER_QUIET
    out_id = new_out_id()
    with rig.app.state.db.session() as session:
        store.claim(session, store.task(session, task.id), _principal(session, rig.user("agent")), out_id, policy,
                    dt.datetime.now(dt.UTC), None)
        session.commit()
    response = opt_out(rig, task.id)
    assert response.status_code == 409 and response.json()["error"] == "call_going"
    with rig.app.state.db.session() as session:
        assert session.scalar(select(m.RevisitOptOut.id).where(m.RevisitOptOut.caller == caller)) is None
        store.finish(session, out_id, Outcome.CONNECTED, "ANSWER", policy, dt.datetime.now(dt.UTC))
        session.commit()
    response = opt_out(rig, task.id)   # the citizen said so on the call: now it is recorded
    assert response.status_code == 200, response.text
    assert task_of(rig, caller)[0].outcome == "opted_out"
