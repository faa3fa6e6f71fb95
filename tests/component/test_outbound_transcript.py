"""The live transcript of an agent's 回拨 at the desk, on a real database (SQLite, PostgreSQL) and a real Redis: the
turns the listening legs write under the call's ``out_id`` (tests/support/transcripts.py writes them as the media
server does) go through the desk's one transcript relay to the agent who placed the call, are stored once, and
the transcript API serves them to that agent in full, to a supervisor, masked to the unit handling the ticket
the call was made for, and to nobody else (404, no hint the call exists); every read and refusal is audited."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from sqlalchemy import select

from agent_desk.calls import pop, transcript
from agent_desk.calls.tracker import CallTracker
from agent_desk.calls.transcript import TranscriptRelay
from agent_desk.db import models as m
from hotline.contracts.transcript import Turn
from tests.support import transcripts
from tests.support.transcripts import audits, until

NUMBER = "13876543210"




@pytest.fixture
async def relay(rig):
    """The desk's transcript relay as the listener runs it (its tracker knows no outbound call)."""
    settings = rig.app.state.settings
    tracker = CallTracker(rig.app.state.db, settings.async_redis())
    relay = TranscriptRelay(rig.app.state.db, settings.async_redis(), tracker.agent_of_call, sweep_interval=0.2)
    running = asyncio.create_task(relay.run())
    await until(relay.synced.is_set)
    yield relay
    await transcripts.stop(running, tracker.redis, relay.redis)




def user_id(rig, short: str) -> int:
    with rig.app.state.db.session() as session:
        return session.scalar(select(m.User.id).where(m.User.username == rig.user(short)))


def callback_call(rig, out_id: str, placed_by: str, *, ended: dt.datetime | None = None,
                  ticket_unit: str | None = None) -> None:
    """The 回拨 row the dialer keeps (connected; ``ticket_unit``: made for a ticket that unit handles)."""
    now = dt.datetime.now(dt.UTC)
    with rig.app.state.db.session() as session:
        ticket_id = None
        if ticket_unit is not None:
            unit = session.scalar(select(m.OrgUnit).where(m.OrgUnit.code == rig.units[ticket_unit]))
            ticket = m.Ticket(number=f"20261205{int(rig.tag, 16) % 10**6:06d}", channel="phone", title="停水",
                              content="停水三天", appeal_type="complaint", state="dispatched", citizen_phone=NUMBER,
                              host_unit_id=unit.id, created_by_id=user_id(rig, placed_by))
            session.add(ticket)
            session.flush()
            ticket_id = ticket.id
        session.add(m.CallbackCall(out_id=out_id, ticket_id=ticket_id, agent_user_id=user_id(rig, placed_by),
                                   agent_extension="8001", started_at=now, agent_answered_at=now,
                                   citizen_answered_at=now, ended_at=ended, status="ended" if ended else "connected"))


def turn(call_id: str, speaker: str, seq: int, text: str, start: float) -> Turn:
    return Turn(call_id=call_id, speaker=speaker, seq=seq, phase="conversation", text=text, start=start,
                end=start + 1.5, engine="test")




async def test_the_turns_of_a_callback_reach_the_agent_who_placed_it_and_no_other(rig, plain, relay):
    out_id = f"cb-{rig.tag}000000000000a1"
    callback_call(rig, out_id, "agent")
    said = [turn(out_id, "agent", 0, "您好，这里是12345热线，给您回个电话", 0.4),
            turn(out_id, "citizen", 0, f"我家停水三天了，电话{NUMBER}", 3.0),
            turn(out_id, "agent", 1, "好的，马上为您登记", 6.0)]
    with rig.client.websocket_connect("/ws/desk", headers=rig.as_("agent")) as mine, \
            rig.client.websocket_connect("/ws/desk", headers=rig.as_("agent2")) as other:
        assert mine.receive_json()["type"] == "hello" and other.receive_json()["type"] == "hello"
        for one in said:
            transcripts.append(plain, one)
        await until(lambda: relay.turns_forwarded >= len(said))
        received = [mine.receive_json() for _ in said]
        # the other agent's socket got nothing: a marker the desk pushes to every page arrives first
        plain.publish(pop.channel_for(user_id(rig, "agent2")), pop.encode({"type": "marker"}))
        assert other.receive_json() == {"type": "marker"}
    assert [(r["type"], r["call_id"], r["turn"]["speaker"], r["turn"]["seq"]) for r in received] == \
        [("turn", out_id, t.speaker, t.seq) for t in said]
    assert relay.turns_forwarded == len(said)
    with rig.app.state.db.session() as session:
        assert len(transcript.stored_turns(session, out_id)) == 3

    read = rig.call("agent", "GET", f"/api/v1/calls/{out_id}/transcript")
    assert read.status_code == 200, read.text
    body = read.json()
    assert (body["call_id"], body["live"], body["masked"], body["access_reason"]) == (out_id, True, False,
                                                                                    "own_callback")
    assert body["access_reason_label"] == "本人拨出的回拨"
    assert [(t["speaker"], t["seq"]) for t in body["turns"]] == [("agent", 0), ("citizen", 0), ("agent", 1)]
    assert body["turns"][1]["text"].endswith(NUMBER)

    refused = rig.call("agent2", "GET", f"/api/v1/calls/{out_id}/transcript")
    assert refused.status_code == 404 and refused.json()["error"] == "unknown_call"
    boss = rig.call("boss", "GET", f"/api/v1/calls/{out_id}/transcript")
    assert boss.status_code == 200 and boss.json()["access_reason"] == "platform"
    assert audits(rig, out_id) == [(rig.user("agent"), "read_personal_data", "own_callback"),
                                   (rig.user("agent2"), "read_denied", "unknown_call"),
                                   (rig.user("boss"), "read_personal_data", "platform")]


async def test_a_callback_made_for_a_ticket_is_read_masked_by_its_unit_only(rig, plain):
    out_id = f"cb-{rig.tag}000000000000b2"
    callback_call(rig, out_id, "agent", ended=dt.datetime.now(dt.UTC) - dt.timedelta(hours=1), ticket_unit="water")
    with rig.app.state.db.session() as session:
        transcript.store(session, [turn(out_id, "citizen", 0, f"还是停水，电话{NUMBER}", 1.0)])
    water = rig.call("water", "GET", f"/api/v1/calls/{out_id}/transcript")
    assert water.status_code == 200, water.text
    body = water.json()
    assert body["live"] is False and body["masked"] is True and body["access_reason"] == "host_unit"
    assert NUMBER not in body["turns"][0]["text"] and "还是停水" in body["turns"][0]["text"]
    assert rig.call("housing", "GET", f"/api/v1/calls/{out_id}/transcript").status_code == 404
    assert rig.call("gateway", "GET", f"/api/v1/calls/{out_id}/transcript").status_code == 403


async def test_turns_of_a_callback_long_over_reach_no_page(rig, plain, relay):
    old, live = f"cb-{rig.tag}000000000000c3", f"cb-{rig.tag}000000000000c4"
    callback_call(rig, old, "agent", ended=dt.datetime.now(dt.UTC) - dt.timedelta(hours=1))
    callback_call(rig, live, "agent")
    transcripts.append(plain, turn(old, "citizen", 5, "迟到的一句", 40.0))
    transcripts.append(plain, turn(live, "citizen", 0, "您好", 1.0))
    # the relay takes turns in order: once the live call's turn is forwarded, the old one was dealt with
    await until(lambda: relay.turns_forwarded >= 1)
    assert relay.turns_forwarded == 1 and relay.turns_received == 2
    with rig.app.state.db.session() as session:
        assert [t.text for t in transcript.stored_turns(session, old)] == ["迟到的一句"]
        assert transcript.agent_on_call(session, old) is None
        assert transcript.agent_on_call(session, live) == user_id(rig, "agent")
