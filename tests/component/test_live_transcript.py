"""The live transcript at the desk, on a real database (SQLite, PostgreSQL) and a real Redis: speaker turns written
to Redis as the IVR side's media server writes them (tests/support/transcripts.py) reach the agent's WebSocket in
order, are stored once, are read back after a desk restart, reach a supervisor who listens, are masked for a role
that does not need the numbers, every read is audited, supervisors search them, and a turn of another contract
version is refused loudly."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging

import pytest
from sqlalchemy import func, select

from agent_desk.calls import events as ev
from agent_desk.calls import transcript
from agent_desk.calls.tracker import CallTracker
from agent_desk.calls.transcript import TranscriptRelay
from agent_desk.db import models as m
from hotline.contracts.transcript import Turn
from tests.support import transcripts
from tests.support.transcripts import audits, until

NUMBER = "13876543210"






def agent_extension(rig, short: str = "agent") -> tuple[str, int]:
    with rig.app.state.db.session() as session:
        user = session.scalar(select(m.User).where(m.User.username == rig.user(short)))
        user.extension = user.extension or f"9{user.id:04d}"
        return user.extension, user.id


async def answer(tracker: CallTracker, call_id: str, extension: str, caller: str = NUMBER) -> ev.CallFacts:
    facts = ev.CallFacts(call_id=call_id, caller=caller, line="12345", line_class="main", subplatform="469002",
                         queue="province", appeal_type="complaint")
    now = dt.datetime.now(dt.UTC)
    await tracker.apply(ev.QueueJoined(facts, "PJSIP/carrier-1", now - dt.timedelta(seconds=30)))
    await tracker.apply(ev.AgentAnswered(facts, extension, f"PJSIP/{extension}-1", 30, now))
    return facts


def turn(call_id: str, speaker: str, seq: int, text: str, start: float, **more) -> Turn:
    return Turn(call_id=call_id, speaker=speaker, seq=seq, text=text, start=start, end=start + 1.5, engine="test",
                **more)


def stored(rig, call_id: str) -> list[tuple[str, int, str]]:
    with rig.app.state.db.session() as session:
        rows = session.execute(select(m.CallTurn.speaker, m.CallTurn.seq, m.CallTurn.text)
                               .where(m.CallTurn.call_id == call_id).order_by(m.CallTurn.start_s)).all()
    return [tuple(r) for r in rows]




@pytest.fixture
async def desk_side(rig):
    """The desk's tracker and transcript relay (as the listener runs them), on the rig's database and Redis."""
    settings = rig.app.state.settings
    tracker = CallTracker(rig.app.state.db, settings.async_redis())
    relay = TranscriptRelay(rig.app.state.db, settings.async_redis(), tracker.agent_of_call, sweep_interval=0.2)
    running = asyncio.create_task(relay.run())
    await until(relay.synced.is_set)
    yield tracker, relay
    await transcripts.stop(running, tracker.redis, relay.redis)


async def test_turns_reach_the_agent_in_order_and_are_stored_once(rig, plain, desk_side, caplog):
    tracker, relay = desk_side
    extension, _agent_id = agent_extension(rig)
    call_id = f"{rig.tag}.live"
    # Said in the queue, before anyone answered: stored, shown with the call's transcript once answered.
    transcripts.append(plain, turn(call_id, "citizen", 0, "我要反映嘉积镇停水的事", 0.5, phase="waiting"))
    await until(lambda: len(stored(rig, call_id)) == 1)
    assert relay.turns_forwarded == 0

    with rig.client.websocket_connect("/ws/desk", headers=rig.as_("agent")) as socket:
        assert socket.receive_json()["type"] == "hello"
        await answer(tracker, call_id, extension)
        assert socket.receive_json()["type"] == "pop"
        said = [turn(call_id, "agent", 0, "您好，12345热线，请讲", 10.0),
                turn(call_id, "citizen", 1, f"我家停水三天了，电话{NUMBER}", 12.0),
                turn(call_id, "citizen", 2, "", 15.0, status="shed"),
                turn(call_id, "agent", 1, "好的，马上为您登记", 16.0),
                turn(call_id, "citizen", 3, "谢谢", 18.0)]
        for one in said:
            transcripts.append(plain, one)
        transcripts.append(plain, said[1])   # the same turn again (a writer's retry): stored once, shown once
        await until(lambda: relay.turns_forwarded >= len(said) + 1)
        received = [socket.receive_json() for _ in range(len(said) + 1)]
    assert {r["type"] for r in received} == {"turn"} and {r["call_id"] for r in received} == {call_id}
    assert [(r["turn"]["speaker"], r["turn"]["seq"]) for r in received[:-1]] == [(t.speaker, t.seq) for t in said]
    assert received[2]["turn"]["status"] == "shed" and received[1]["turn"]["text"].endswith(NUMBER)

    queued = ("citizen", 0, "我要反映嘉积镇停水的事")
    assert stored(rig, call_id) == [queued, *((t.speaker, t.seq, t.text) for t in said)]
    # The agent's page opening mid-call reads the whole transcript, the queue's description first.
    read = rig.call("agent", "GET", f"/api/v1/calls/{call_id}/transcript")
    assert read.status_code == 200, read.text
    body = read.json()
    assert body["live"] is True and body["masked"] is False and body["access_reason"] == "own_call"
    assert [(t["speaker"], t["seq"], t["phase"]) for t in body["turns"]][:2] == [("citizen", 0, "waiting"),
                                                                              ("agent", 0, "conversation")]
    assert NUMBER in body["turns"][2]["text"]

    # Another contract version is refused loudly: an error in the log, nothing stored, nothing shown.
    caplog.set_level(logging.ERROR, logger="agent_desk.calls.transcript")
    newer = json.loads(turn(call_id, "citizen", 9, "新版本", 30.0).encode()) | {"v": 2}
    transcripts.publish_raw(plain, json.dumps(newer, ensure_ascii=False))
    await until(lambda: relay.turns_refused == 1)
    assert any("version 2" in r.getMessage() and r.levelno == logging.ERROR for r in caplog.records)
    assert ("citizen", 9, "新版本") not in stored(rig, call_id)


async def test_a_desk_that_was_down_reads_every_stream_back(rig, plain):
    extension, _ = agent_extension(rig)
    call_id = f"{rig.tag}.down"
    settings = rig.app.state.settings
    tracker = CallTracker(rig.app.state.db, settings.async_redis())
    facts = await answer(tracker, call_id, extension)
    # Said while no desk listened: only the stream has it.
    for one in (turn(call_id, "citizen", 0, "路灯坏了", 1.0, phase="waiting"), turn(call_id, "agent", 0, "您好", 5.0),
                turn(call_id, "citizen", 1, "在金海岸小区门口", 6.0)):
        transcripts.append(plain, one, publish=False)
    # The media server also keeps the answer time beside the stream (a plain key): no stream, not read back.
    plain.set(f"hotline:transcript:{call_id}:answered", "1700000000.000", ex=60)
    relay = TranscriptRelay(rig.app.state.db, settings.async_redis(), tracker.agent_of_call)
    running = asyncio.create_task(relay.run())
    try:
        await until(relay.synced.is_set)
        assert [s[:2] for s in stored(rig, call_id)] == [("citizen", 0), ("agent", 0), ("citizen", 1)]
        # A second start reads nothing twice.
        assert await relay.sync_all() == 0 and len(stored(rig, call_id)) == 3
    finally:
        await transcripts.stop(running, relay.redis)
    await tracker.apply(ev.CallEnded(facts, "Normal Clearing", dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)))
    await tracker.redis.aclose()
    plain.delete(f"hotline:transcript:{call_id}")   # expired: the stored copy is what remains
    body = rig.call("boss", "GET", f"/api/v1/calls/{call_id}/transcript").json()
    assert body["live"] is False and [t["text"] for t in body["turns"]] == ["路灯坏了", "您好", "在金海岸小区门口"]


async def test_a_turn_the_database_refused_is_read_back_from_the_stream(rig, plain, desk_side):
    _tracker, relay = desk_side
    call_id = f"{rig.tag}.dbdown"
    store, refused = relay._store_one, []

    def failing(one):
        from sqlalchemy.exc import OperationalError
        refused.append(one)
        raise OperationalError("INSERT", {}, Exception("database is down"))

    relay._store_one = failing
    transcripts.append(plain, turn(call_id, "citizen", 0, "停电了", 1.0, phase="waiting"))
    await until(lambda: refused and call_id in relay.unsynced)
    relay._store_one = store
    await until(lambda: call_id not in relay.unsynced)
    assert stored(rig, call_id) == [("citizen", 0, "停电了")]


async def test_a_supervisor_listening_follows_the_turns_until_the_spy_leg_ends(rig, plain, desk_side):
    tracker, relay = desk_side
    extension, _ = agent_extension(rig)
    call_id = f"{rig.tag}.spy"
    await answer(tracker, call_id, extension)
    with rig.app.state.db.session() as session:
        boss_id = session.scalar(select(m.User.id).where(m.User.username == rig.user("boss")))
    with rig.client.websocket_connect("/ws/desk", headers=rig.as_("boss")) as socket:
        assert socket.receive_json() == {"type": "hello", "user": rig.user("boss"), "role": "supervisor"}
        transcript.register_spy(rig.app.state.redis, call_id, boss_id, "spy-0123456789abcdef")
        before = relay.turns_forwarded
        transcripts.append(plain, turn(call_id, "citizen", 0, "我要投诉", 1.0))
        await until(lambda: relay.turns_forwarded == before + 2)   # the agent and the supervisor
        got = socket.receive_json()
        assert got["type"] == "turn" and got["turn"]["text"] == "我要投诉"
        assert await transcript.end_spy(relay.redis, "spy-0123456789abcdef") is True
        assert await transcript.listeners_of(relay.redis, call_id) == []
        transcripts.append(plain, turn(call_id, "citizen", 1, "他们不理", 3.0))
        await until(lambda: relay.turns_forwarded == before + 3)   # the agent only
    assert await transcript.end_spy(relay.redis, "spy-0123456789abcdef") is False


async def test_reads_follow_need_to_know_masked_where_not_needed_and_audited(rig, plain, desk_side):
    tracker, relay = desk_side
    extension, _ = agent_extension(rig)
    call_id = f"{rig.tag}.ntk"
    await answer(tracker, call_id, extension)
    transcripts.append(plain, turn(call_id, "citizen", 0, f"我的电话是{NUMBER}，身份证460003199001011234", 2.0))
    await until(lambda: len(stored(rig, call_id)) == 1)
    saved = rig.call("agent", "POST", "/api/v1/tickets", json={
        "call_id": call_id, "citizen_phone": NUMBER, "title": "停水", "content": "嘉积镇停水三天",
        "appeal_type": "complaint"})
    assert saved.status_code == 201, saved.text
    dispatched = rig.call("agent", "POST", f"/api/v1/tickets/{saved.json()['number']}/actions/dispatch",
                          json={"host_unit": rig.units["water"]})
    assert dispatched.status_code == 200, dispatched.text
    url = f"/api/v1/calls/{call_id}/transcript"

    boss = rig.call("boss", "GET", url).json()
    assert NUMBER in boss["turns"][0]["text"] and boss["access_reason"] == "platform"
    water = rig.call("water", "GET", url)   # the unit handles the ticket: the words, not the numbers
    assert water.status_code == 200, water.text
    assert water.json()["masked"] is True and water.json()["access_reason"] == "host_unit"
    assert water.json()["turns"][0]["text"] == "我的电话是138****3210，身份证460***********1234"
    assert rig.call("housing", "GET", url).status_code == 404   # another unit's matter: no hint it exists
    assert rig.call("agent2", "GET", url).status_code == 404    # another agent's call
    assert rig.call("admin", "GET", url).status_code == 403
    assert rig.client.get(url).status_code == 401

    log = audits(rig, call_id)
    reads = [(who, reason) for who, action, reason in log if action == "read_personal_data"]
    assert (rig.user("boss"), "platform") in reads and (rig.user("water"), "host_unit") in reads
    refused = {(who, reason) for who, action, reason in log if action == "read_denied"}
    assert refused == {(rig.user("housing"), "unknown_call"), (rig.user("agent2"), "unknown_call"),
                       (rig.user("admin"), "forbidden_role")}


async def test_supervisors_search_stored_transcripts(rig, plain, desk_side):
    tracker, relay = desk_side
    extension, _ = agent_extension(rig)
    call_id = f"{rig.tag}.search"
    await answer(tracker, call_id, extension)
    word = f"井盖{rig.tag}"
    for one in (turn(call_id, "citizen", 0, f"{word}丢了，我电话{NUMBER}", 1.0, phase="waiting"),
                turn(call_id, "agent", 0, f"您说的{word}在哪里", 4.0),
                turn(call_id, "citizen", 1, f"就在学校门口的{word}", 6.0),
                turn(call_id, "citizen", 2, "别的事", 8.0)):
        transcripts.append(plain, one)
    await until(lambda: len(stored(rig, call_id)) == 4)

    def search(**params):
        response = rig.call("boss", "GET", "/api/v1/transcripts", params=params)
        assert response.status_code == 200, response.text
        return response.json()

    hits = search(q=word)
    assert [(h["speaker"], h["seq"]) for h in hits["items"]] == [("citizen", 1), ("agent", 0), ("citizen", 0)]
    assert hits["items"][2]["text"] == f"{word}丢了，我电话138****3210"   # a list: always masked
    assert [h["seq"] for h in search(q=word, speaker="citizen")["items"]] == [1, 0]
    assert [h["seq"] for h in search(q=word, phase="waiting")["items"]] == [0]
    today = dt.datetime.now(dt.UTC).astimezone(dt.timezone(dt.timedelta(hours=8))).date()
    assert len(search(q=word, said_from=str(today), said_to=str(today))["items"]) == 3
    assert search(q=word, said_to=str(today - dt.timedelta(days=1)))["items"] == []
    first = search(q=word, limit=2)
    assert len(first["items"]) == 2 and first["next_before_id"] == first["items"][1]["id"]
    rest = search(q=word, limit=2, before_id=first["next_before_id"])
    assert [h["seq"] for h in rest["items"]] == [0] and rest["next_before_id"] is None
    assert search(q="100%_不存在")["items"] == []   # LIKE's wildcards are plain text
    assert search(call_id=call_id, q="别的")["items"][0]["seq"] == 2

    nul = rig.call("boss", "GET", "/api/v1/transcripts", params={"q": "a\x00b"})
    assert nul.status_code == 422 and nul.json()["error"] == "invalid_request"   # PostgreSQL takes no NUL
    for who in ("agent", "water", "admin"):
        assert rig.call(who, "GET", "/api/v1/transcripts", params={"q": word}).status_code == 403
    with rig.app.state.db.session() as session:
        rows = session.execute(select(m.AuditEntry.username, m.AuditEntry.action, m.AuditEntry.detail)
                               .where(m.AuditEntry.object_type == "transcript_search",
                                      m.AuditEntry.username.like(f"{rig.tag}-%"))).all()
        count = session.scalar(select(func.count()).select_from(m.CallTurn).where(m.CallTurn.call_id == call_id))
    searches = [json.loads(d) for who, action, d in rows if action == "search_transcripts"]
    assert len(searches) == 9 and searches[0] == {"filters": {"q": word}, "calls": [call_id]}
    assert {who for who, action, _ in rows if action == "read_denied"} == {
        rig.user("agent"), rig.user("water"), rig.user("admin")}
    assert count == 4


async def test_the_listener_ends_the_listening_when_the_spy_leg_hangs_up(rig):
    """AMI's Hangup of the supervisor's spy leg (the desk names it ``spy-…``) reaches the listener, which stops
    sending that supervisor the call's turns; any other hang-up leaves the listening alone."""
    from types import MappingProxyType

    from agent_desk.calls.listener import AmiSettings, CallListener
    from hotline import channelvars as v
    from hotline.ami import AmiEvent

    settings = rig.app.state.settings
    tracker = CallTracker(rig.app.state.db, None)
    listener = CallListener(tracker, AmiSettings("127.0.0.1", 1, "x", "y"), settings.async_redis())
    call_id = f"{rig.tag}.hangup"
    transcript.register_spy(rig.app.state.redis, call_id, 41, "spy-00000000000000aa")
    transcript.register_spy(rig.app.state.redis, call_id, 42, "spy-00000000000000bb")

    def hangup(uniqueid: str) -> AmiEvent:
        return AmiEvent(name="Hangup", fields=MappingProxyType({"Event": "Hangup", "Uniqueid": uniqueid,
                                                                "Channel": "PJSIP/8003-00000009"}),
                        vars=MappingProxyType({v.CALL_ID: call_id}))

    try:
        listener._on_ami(hangup("1700000000.55"))   # some other leg of the call
        listener._on_ami(hangup("spy-00000000000000aa"))
        await until(lambda: not listener._spies_ending)
        assert await transcript.listeners_of(listener.redis, call_id) == [42]
    finally:
        await listener.redis.aclose()
