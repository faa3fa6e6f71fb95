"""An agent's 回拨 in progress comes back with ``GET /api/v1/calls/current`` after a page reload, on a real database
(SQLite, then PostgreSQL) and a real Redis: its out_id, the task or ticket it is for, the citizen's number masked,
and the turns said so far (those the relay stored and those still only in the call's stream), once each and in
reading order. Only the agent who placed it gets it; an ended or stale call is not shown; an inbound call answered
meanwhile wins; every read is audited."""

from __future__ import annotations

import datetime as dt

import pytest
import redis
from sqlalchemy import select

from agent_desk.callbacks import store
from agent_desk.calls import transcript
from agent_desk.db import models as m
from hotline.contracts.transcript import Turn
from tests.support import transcripts

NUMBER = "13876543210"


@pytest.fixture
def plain(redis_server):
    client = redis.Redis.from_url(redis_server.authenticated_url, decode_responses=True)
    yield client
    client.close()


def user_id(rig, short: str) -> int:
    with rig.app.state.db.session() as session:
        return session.scalar(select(m.User.id).where(m.User.username == rig.user(short)))


def end_callbacks_of(rig, short: str) -> None:
    """Earlier tests on the session's shared database may have left this agent a 回拨 not ended."""
    with rig.app.state.db.session() as session:
        for row in session.scalars(select(m.CallbackCall).where(m.CallbackCall.agent_user_id == user_id(rig, short),
                                                                m.CallbackCall.ended_at.is_(None))):
            row.ended_at, row.status = dt.datetime.now(dt.UTC), "ended"


def place(rig, out_id: str, by: str, *, started: dt.datetime | None = None, status: str = "connected") -> str:
    """The dialer's row of a 回拨 made from a callback task (the task holds the citizen's number)."""
    now = dt.datetime.now(dt.UTC)
    with rig.app.state.db.session() as session:
        task = m.CallbackTask(caller=NUMBER, open_caller=None, line="12345", subplatform="469002",
                              first_call_id=f"{out_id}.missed", last_call_id=f"{out_id}.missed",
                              first_missed_at=now, last_missed_at=now, state="dialing")
        session.add(task)
        session.flush()
        session.add(m.CallbackCall(out_id=out_id, task_id=task.id, agent_user_id=user_id(rig, by),
                                   agent_extension="8001", started_at=started or now, agent_answered_at=now,
                                   citizen_answered_at=now if status == "connected" else None, status=status,
                                   dial_status=""))
        return str(task.id)


def turn(call_id: str, speaker: str, seq: int, text: str, start: float) -> Turn:
    return Turn(call_id=call_id, speaker=speaker, seq=seq, phase="conversation", text=text, start=start,
                end=start + 1.5, engine="test")


def current(rig, who: str) -> dict:
    reply = rig.call(who, "GET", "/api/v1/calls/current")
    assert reply.status_code == 200, reply.text
    return reply.json()


def test_a_callback_in_progress_comes_back_with_its_turns_masked_number_and_audit(rig, plain):
    end_callbacks_of(rig, "agent")
    end_callbacks_of(rig, "agent2")
    assert current(rig, "agent")["type"] == "idle"
    out_id = f"cb-{rig.tag}000000000000c1"
    task_id = place(rig, out_id, "agent")
    stored = [turn(out_id, "agent", 0, "您好，这里是12345热线，给您回个电话", 0.4),
              turn(out_id, "citizen", 0, f"我家停水三天了，电话{NUMBER}", 3.0)]
    with rig.app.state.db.session() as session:   # the relay stored these; the next is only in the stream yet
        transcript.store(session, stored)
    transcripts.append(plain, turn(out_id, "agent", 1, "好的，马上为您登记", 6.0))
    transcripts.append(plain, stored[1])   # a turn both stored and in the stream is shown once

    body = current(rig, "agent")
    assert body["type"] == "callback"
    assert (body["out_id"], body["status"], body["task_id"], body["ticket"]) == (out_id, "connected", int(task_id),
                                                                                  None)
    assert body["number"] != NUMBER and body["number"].count("*") >= 4 and body["number"].endswith(NUMBER[-4:])
    assert body["citizen_answered_at"] is not None
    assert [(t["speaker"], t["seq"]) for t in body["turns"]] == [("agent", 0), ("citizen", 0), ("agent", 1)]
    assert body["turns"][1]["text"].endswith(NUMBER), "the agent who placed the call reads what was said in full"
    with rig.app.state.db.session() as session:
        audited = session.execute(select(m.AuditEntry.username, m.AuditEntry.action, m.AuditEntry.reason)
                                  .where(m.AuditEntry.object_id == out_id)).all()
    assert [tuple(a) for a in audited] == [(rig.user("agent"), "read_personal_data", "own_callback")]

    # another agent, a supervisor, a unit: not theirs (idle, or refused for roles that take no calls)
    assert current(rig, "agent2")["type"] == "idle"
    for who in ("boss", "water"):
        assert rig.call(who, "GET", "/api/v1/calls/current").status_code == 403

    # an inbound call answered meanwhile is the call on the page
    call_id = f"{rig.tag}.inbound-after-cb"
    with rig.app.state.db.session() as session:
        now = dt.datetime.now(dt.UTC)
        session.add(m.Call(call_id=call_id, caller="13900001111", line="12345", started_at=now, answered_at=now,
                           agent_user_id=user_id(rig, "agent"), agent_extension="8001"))
    assert (current(rig, "agent")["type"], current(rig, "agent")["call"]["call_id"]) == ("pop", call_id)
    with rig.app.state.db.session() as session:
        for row in session.scalars(select(m.Call).where(m.Call.call_id == call_id)):
            row.ended_at = dt.datetime.now(dt.UTC)

    # the 回拨 ends: nothing to restore
    with rig.app.state.db.session() as session:
        row = store.call_by_out_id(session, out_id)
        row.ended_at, row.status = dt.datetime.now(dt.UTC), "ended"
    assert current(rig, "agent")["type"] == "idle"


def test_a_stale_callback_is_not_restored_and_a_ringing_one_is(rig, plain):
    end_callbacks_of(rig, "agent")
    stale = f"cb-{rig.tag}000000000000c2"
    place(rig, stale, "agent", started=dt.datetime.now(dt.UTC) - store.STALE_CALL - dt.timedelta(minutes=1))
    assert current(rig, "agent")["type"] == "idle", "a call the desk never heard the end of is not shown"
    ringing = f"cb-{rig.tag}000000000000c3"
    place(rig, ringing, "agent", status="ringing_agent")
    body = current(rig, "agent")
    assert (body["type"], body["out_id"], body["status"], body["turns"], body["citizen_answered_at"]) == \
        ("callback", ringing, "ringing_agent", [], None)
    end_callbacks_of(rig, "agent")
    assert current(rig, "agent")["type"] == "idle"
