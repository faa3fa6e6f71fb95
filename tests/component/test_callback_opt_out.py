"""市民要求不再回拨 on a missed-call task, on the real database (SQLite, then PostgreSQL) over the HTTP API: the task
closes with that outcome, the refusal lands in the opt-out store the 智能回访 campaigns read, later missed calls from
that number make no task (the calls themselves are kept), and a 回访 opt-out (key 9) does not stop missed calls
from being returned. Audited; a reason is required; a task being dialled cannot be marked; other roles refused."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from agent_desk.callbacks import campaign as cp
from agent_desk.callbacks import store
from agent_desk.callbacks.dialer import new_out_id
from agent_desk.callbacks.rules import CallbackPolicy, Outcome
from agent_desk.db import models as m
from agent_desk.calls.tracker import CallTracker
from tests.component.test_callbacks import CITIES, LINES, _principal, missed, number, task_of
from tests.support.desk import close_rig, make_rig

REASON = "市民表示问题已自行解决，不需要再回电"


@pytest.fixture
def rig(database_url, redis_server):
    rig = make_rig(database_url, redis_server.authenticated_url, line_names=LINES, city_names=CITIES)
    yield rig
    close_rig(rig)


@pytest.fixture
async def tracker(rig):
    tracker = CallTracker(rig.app.state.db, rig.app.state.settings.async_redis(), LINES, CITIES)
    yield tracker
    assert tracker.redis is not None
    await tracker.redis.aclose()


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
    policy = CallbackPolicy(quiet_start=dt.time(0, 0), quiet_end=dt.time(0, 0))
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
