"""Calls become records, live state and pops: typed AMI events applied on a real database and a real Redis,
and the pop read back from the agent's WebSocket (the browser's path)."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from types import MappingProxyType

import pytest
import redis
from sqlalchemy.exc import OperationalError
from sqlalchemy import select

from agent_desk.calls import events as ev
from agent_desk.calls.listener import CallListener, AmiSettings
from agent_desk.calls.tracker import ARRIVAL_KEPT, CallTracker
from agent_desk.db.models import AuditEntry, Call, Ticket, User
from hotline import channelvars as v
from hotline.ami import AmiEvent
from hotline.contracts.prefill import KEY as PREFILL_KEY, Prefill


def ami(name: str, chanvars: dict | None = None, **fields) -> AmiEvent:
    return AmiEvent(name=name, fields=MappingProxyType({"Event": name, **fields}),
                    vars=MappingProxyType(chanvars or {}))


def test_parse_keeps_what_the_desk_needs_and_ignores_the_rest():
    facts = {v.CALL_ID: "1700000000.1", v.LINE: "12349", v.SUBPLATFORM: "469002", v.QUEUE: "minors"}
    joined = ev.parse(ami("QueueCallerJoin", facts, Channel="PJSIP/carrier-0001", Uniqueid="1700000000.1",
                          CallerIDNum="13800138000", Queue="minors", Timestamp="1700000000.5"))
    assert isinstance(joined, ev.QueueJoined)
    assert (joined.facts.call_id, joined.facts.line, joined.facts.subplatform, joined.facts.caller) == (
        "1700000000.1", "12349", "469002", "13800138000")
    answered = ev.parse(ami("AgentConnect", facts, Uniqueid="1700000000.1", MemberName="8001",
                            Interface="PJSIP/8001", DestChannel="PJSIP/8001-0002", HoldTime="7"))
    assert isinstance(answered, ev.AgentAnswered) and answered.agent == "8001" and answered.hold_seconds == 7
    by_interface = ev.parse(ami("AgentCalled", facts, MemberName="张三", Interface="PJSIP/8002"))
    assert by_interface.agent == "8002"
    # The agent leg's hang-up carries the call id but is not the call ending.
    assert ev.parse(ami("Hangup", facts, Uniqueid="1700000000.9")) is None
    ended = ev.parse(ami("Hangup", facts, Uniqueid="1700000000.1", **{"Cause-txt": "Normal Clearing"}))
    assert isinstance(ended, ev.CallEnded) and ended.cause == "Normal Clearing"
    # A channel no inbound call tagged (a feature code, an agent-to-agent call, a spy leg) is no call at all.
    assert ev.parse(ami("Hangup", {}, Uniqueid="1700000000.7", Channel="PJSIP/8001-0003")) is None
    assert ev.parse(ami("Newexten", facts)) is None
    assert ev.parse(ami("AgentConnect", {}, HoldTime="not-a-number", Uniqueid="x")).hold_seconds == 0


async def test_arrival_first_queue_and_a_usable_prefill_are_recorded_for_the_standard_figures(rig, redis_server):
    """GB/T 33358 figures start here: the inbound channel's creation (Newchannel) is the call's arrival, the
    first queue it joins starts its wait (an overflow does not restart it), the first agent's answer ends it (a
    transfer answered by a second agent does not move it), and the agent answering with a transcript in the
    prefill is a usable prefill. A call without one, or with only an empty draft, is not."""
    plain = redis.Redis.from_url(redis_server.authenticated_url, decode_responses=True)
    tracker = CallTracker(rig.app.state.db, rig.app.state.settings.async_redis())
    t0 = 1_800_000_000.0
    calls = {"words": f"{rig.tag}.21", "empty": f"{rig.tag}.22", "none": f"{rig.tag}.23"}
    plain.set(PREFILL_KEY.format(call_id=calls["words"]), json.dumps(
        {"v": 1, "call_id": calls["words"], "status": "transcribing", "transcript": "路灯坏了"}, ensure_ascii=False))
    plain.set(PREFILL_KEY.format(call_id=calls["empty"]), json.dumps(
        {"v": 1, "call_id": calls["empty"], "status": "listening", "transcript": "  "}))
    try:
        for n, call_id in enumerate(calls.values()):
            start = t0 + 100 * n
            facts = {v.CALL_ID: call_id, v.LINE: "12345", v.SUBPLATFORM: "469002"}
            stream = [ami("Newchannel", {}, Uniqueid=f"{call_id}.agent-leg", Timestamp=str(start - 50)),
                      ami("Newchannel", {}, Uniqueid=call_id, Channel="PJSIP/carrier-9", Timestamp=str(start)),
                      ami("QueueCallerJoin", facts, Uniqueid=call_id, Queue="sp-469002",
                          Timestamp=str(start + 4.5)),
                      ami("QueueCallerJoin", facts, Uniqueid=call_id, Queue="province", Timestamp=str(start + 30)),
                      ami("AgentConnect", facts, Uniqueid=call_id, MemberName="8001", Queue="province",
                          HoldTime="3", Timestamp=str(start + 33)),
                      ami("AgentConnect", facts, Uniqueid=call_id, MemberName="8002", Queue="expert-12320",
                          HoldTime="2", Timestamp=str(start + 90))]   # transferred, answered again
            for raw in stream:
                await tracker.apply(ev.parse(raw))
        assert all(call_id not in tracker.arrivals for call_id in calls.values())
    finally:
        await tracker.redis.aclose()
    with rig.app.state.db.session() as session:
        rows = {c.call_id: c for c in session.scalars(select(Call).where(Call.call_id.in_(calls.values())))}
    for n, (kind, call_id) in enumerate(calls.items()):
        call, start = rows[call_id], t0 + 100 * n
        assert call.arrived_at.timestamp() == start and call.started_at.timestamp() == start
        assert call.queued_at.timestamp() == start + 4.5 and call.queue == "expert-12320"   # first join, last queue
        assert call.answered_at.timestamp() == start + 33 and call.agent_extension == "8002"
        assert call.prefill_usable is (kind == "words"), kind


async def test_callers_who_joined_while_the_listener_was_away_are_recorded_from_queue_status(rig):
    """On each AMI login the listener reads QueueStatus; a waiting caller whose QueueCallerJoin it missed gets its
    record and its wait (from Asterisk's Wait); a caller already on record keeps its own wait."""
    tracker = CallTracker(rig.app.state.db, rig.app.state.settings.async_redis())
    known, missed = f"{rig.tag}.31", f"{rig.tag}.32"
    start = 1_800_000_000.0
    try:
        await tracker.apply(ev.parse(ami("QueueCallerJoin", {"HOTLINE_CALL_ID": known}, Uniqueid=known,
                                         Queue="province", Timestamp=str(start))))
        now = dt.datetime.fromtimestamp(start + 60, dt.UTC)
        status = [ami("QueueParams", {}, Queue="province"),
                  ami("QueueEntry", {}, Queue="province", Uniqueid=known, Channel="PJSIP/carrier-1", Wait="60"),
                  ami("QueueEntry", {}, Queue="province", Uniqueid=missed, Channel="PJSIP/carrier-2", Wait="12",
                      CallerIDNum="13907550002"),
                  ami("QueueStatusComplete", {})]
        waiting = ev.still_waiting(status, now)
        assert [c.facts.call_id for c in waiting.callers] == [known, missed]
        await tracker.apply(waiting)
        await tracker.apply(waiting)   # the next login's reading again: nothing moves
    finally:
        await tracker.redis.aclose()
    with rig.app.state.db.session() as session:
        rows = {c.call_id: c for c in session.scalars(select(Call).where(Call.call_id.in_([known, missed])))}
    assert rows[known].queued_at.timestamp() == start
    assert rows[missed].queued_at.timestamp() == start + 60 - 12 and rows[missed].queue == "province"
    assert rows[missed].caller == "13907550002"


def test_a_new_channel_is_an_arrival_the_tracker_forgets_when_no_call_claims_it():
    created = ev.parse(ami("Newchannel", {}, Uniqueid="1700000000.5", Timestamp="1700000000.25"))
    assert isinstance(created, ev.ChannelCreated) and created.uniqueid == "1700000000.5"
    assert created.at.timestamp() == 1700000000.25
    tracker = CallTracker(None, None)   # no database or Redis is touched for a channel coming up
    t0 = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
    for i in range(5):
        asyncio.run(tracker.apply(ev.ChannelCreated(f"old.{i}", t0 + dt.timedelta(minutes=i))))
    asyncio.run(tracker.apply(ev.ChannelCreated("late", t0 + ARRIVAL_KEPT + dt.timedelta(minutes=2, seconds=1))))
    assert list(tracker.arrivals) == ["old.3", "old.4", "late"]   # older than ARRIVAL_KEPT: forgotten


def test_panoramisk_repeated_chanvariable_headers_become_a_mapping():
    from hotline.ami import to_event

    event = to_event({"Event": "Hangup", "ChanVariable": [f"{v.CALL_ID}=1.1", f"{v.LINE}=12345"],
                      "DestChanVariable": f"{v.LINE}=12366"})
    assert dict(event.vars) == {v.CALL_ID: "1.1", v.LINE: "12345"} and dict(event.dest_vars) == {v.LINE: "12366"}
    assert "ChanVariable" not in event.fields


async def test_answered_call_pops_on_the_agents_socket_and_is_recorded(rig, redis_server):
    settings = rig.app.state.settings
    with rig.app.state.db.session() as session:
        agent = session.scalar(select(User).where(User.username == rig.user("agent")))
        agent.extension = f"9{agent.id:04d}"
        extension, agent_id = agent.extension, agent.id
    call_id = f"{rig.tag}.1"
    facts = {v.CALL_ID: call_id, v.LINE: "12315", v.SUBPLATFORM: "469002", v.QUEUE: "province"}
    caller = "1390000" + rig.tag[:4].replace("a", "1").replace("b", "2").replace("c", "3").replace(
        "d", "4").replace("e", "5").replace("f", "6")
    # The caller already has an open ticket: the pop offers it first.
    earlier = rig.call("agent2", "POST", "/api/v1/tickets", json={
        "citizen_phone": caller, "title": "路灯不亮", "content": "嘉积镇某路路灯不亮", "appeal_type": "help"}).json()
    plain = redis.Redis.from_url(redis_server.authenticated_url, decode_responses=True)
    plain.set(PREFILL_KEY.format(call_id=call_id), json.dumps(
        {"v": 1, "call_id": call_id, "status": "final", "transcript": "我家自来水发黄", "appeal_type": "complaint"},
        ensure_ascii=False))
    tracker = CallTracker(rig.app.state.db, settings.async_redis(), {"12315": "市场监管热线"}, {"469002": "琼海"})

    with rig.client.websocket_connect("/ws/desk", headers=rig.as_("agent")) as socket:
        assert socket.receive_json()["type"] == "hello"
        for raw in (
            ami("QueueCallerJoin", facts, Uniqueid=call_id, CallerIDNum=caller, Queue="province",
                Channel="PJSIP/carrier-1"),
            ami("AgentCalled", facts, Uniqueid=call_id, MemberName=extension),
            ami("AgentConnect", facts, Uniqueid=call_id, MemberName=extension, DestChannel=f"PJSIP/{extension}-1",
                HoldTime="4"),
        ):
            await tracker.apply(ev.parse(raw))
        message = socket.receive_json()
        assert message["type"] == "pop"
        assert message["call"]["line"] == "12315" and message["call"]["line_name"] == "市场监管热线"
        assert message["call"]["city"] == "琼海" and message["call"]["caller"] == caller
        assert message["prefill"]["transcript"] == "我家自来水发黄"
        assert message["tickets"][0]["number"] == earlier["number"] and message["tickets"][0]["open"] is True
        # The transcript moving on reaches the same page.
        await tracker.prefill_changed(Prefill(call_id=call_id, status="final", transcript="补充：已经三天了"))
        update = socket.receive_json()
        assert update["type"] == "prefill" and update["prefill"]["transcript"] == "补充：已经三天了"

    current = rig.call("agent", "GET", "/api/v1/calls/current").json()
    assert current["type"] == "pop" and current["call"]["call_id"] == call_id
    assert rig.call("agent2", "GET", f"/api/v1/calls/{call_id}").status_code == 404  # not their call
    live = plain.hgetall(f"hotline:live:call:{call_id}")
    assert live["state"] == "talking" and live["agent"] == extension
    assert plain.hgetall(f"hotline:live:agent:{extension}")["state"] == "on_call"

    # The agent saves the ticket from the pop; it is linked to the call.
    saved = rig.call("agent", "POST", "/api/v1/tickets", json={
        "call_id": call_id, "citizen_phone": caller, "title": "自来水发黄", "content": "我家自来水发黄",
        "appeal_type": "complaint", "topic": "03-water"})
    assert saved.status_code == 201, saved.text
    await tracker.apply(ev.parse(ami("AgentComplete", facts, Uniqueid=call_id, MemberName=extension,
                                     TalkTime="60", Reason="agent")))
    await tracker.apply(ev.parse(ami("Hangup", facts, Uniqueid=call_id, **{"Cause-txt": "Normal Clearing"})))
    tracker.record_survey(call_id, "basically_satisfied", "2", ev._at(ami("x")))

    with rig.app.state.db.session() as session:
        call = session.scalar(select(Call).where(Call.call_id == call_id))
        assert (call.line, call.agent_user_id, call.outcome, call.survey_result) == (
            "12315", agent_id, "answered", "basically_satisfied")
        assert call.queued_at and call.answered_at and call.ended_at and call.prefill["transcript"]
        ticket = session.scalar(select(Ticket).where(Ticket.number == saved.json()["number"]))
        assert ticket.call_id == call.id and ticket.source_line == "12315" and ticket.subplatform == "469002"
        assert [e.action for e in ticket.events] == ["accept", "survey"]
        pops = session.scalars(select(AuditEntry).where(AuditEntry.object_id == call_id)).all()
        assert {a.action for a in pops} == {"read_personal_data"} and len(pops) >= 2
    assert not plain.exists(f"hotline:live:call:{call_id}")
    assert plain.hgetall(f"hotline:live:agent:{extension}")["state"] == "idle"
    await tracker.redis.aclose()


def test_the_socket_refuses_anyone_not_logged_in(rig):
    from starlette.websockets import WebSocketDisconnect

    with pytest.raises(WebSocketDisconnect) as refused:
        with rig.client.websocket_connect("/ws/desk") as socket:
            socket.receive_json()
    assert refused.value.code == 4401


async def test_surveys_from_the_ivr_stream_are_stored_even_after_a_restart(rig, redis_server):
    settings = rig.app.state.settings
    call_id = f"{rig.tag}.7"
    plain = redis.Redis.from_url(redis_server.authenticated_url, decode_responses=True)
    plain.xadd("hotline:surveys", {"v": "1", "call_id": call_id, "line": "12345", "caller": "13800000000",
                                   "result": "unsatisfied", "digits": "3", "at": "2026-11-22T08:00:00+00:00"})
    plain.xadd("hotline:surveys", {"v": "1", "line": "12345", "result": "satisfied"})  # malformed: no call id
    old = plain.xadd("hotline:surveys", {"call_id": f"{rig.tag}.8", "result": "satisfied"})  # an older IVR: no v
    tracker = CallTracker(rig.app.state.db, None)
    # The database refuses the first write (an outage, a deadlock): the entry stays pending and is stored later.
    store, failures = tracker.record_survey, []

    def flaky(*args):
        if not failures:
            failures.append(args)
            raise OperationalError("INSERT", {}, Exception("database is down"))
        return store(*args)

    tracker.record_survey = flaky
    listener = CallListener(tracker, AmiSettings("127.0.0.1", 1, "x", "y"), settings.async_redis(), retry_delay=0.1)
    task = asyncio.create_task(listener._survey_loop())
    try:
        # 20 s: a loaded machine is slow, a lost survey never arrives. Done when the stream is worked through: the
        # survey stored and every entry acknowledged (the two unreadable ones are kept after it, then acknowledged).
        for _ in range(400):
            with rig.app.state.db.session() as session:
                call = session.scalar(select(Call).where(Call.call_id == call_id))
            if call is not None and call.survey_result and plain.xpending("hotline:surveys", "desk")["pending"] == 0:
                break
            await asyncio.sleep(0.05)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await listener.redis.aclose()
    assert failures, "the injected database error happened"
    assert call is not None and call.survey_result == "unsatisfied"
    # What this side cannot read is kept, not dropped: the malformed entry and the other version's.
    rejected = [fields for _id, fields in plain.xrange("hotline:surveys:rejected")]
    assert {"v": "1", "line": "12345", "result": "satisfied"} in rejected
    assert {"call_id": f"{rig.tag}.8", "result": "satisfied"} in rejected and old
    pending = plain.xpending("hotline:surveys", "desk")
    assert pending["pending"] == 0
