"""The agent is told when the call's recording cannot be written (issue 17): the dialplan's
``UserEvent(HotlineRecordingFailed)`` at the answer (before the AgentConnect event), applied on a real database
and a real Redis, reaches the agent's WebSocket after the pop of that call (and at once when the agent already has
the call), and stays on the call's record: ``GET /api/v1/calls/current`` (the page after a reload) carries it.
A recording that stops growing during the call (the listener's recordings watch, on a real folder) warns the agent
(录音中断), marks the call's record incomplete, and the volume's state reaches the supervisors' wallboard API."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from types import MappingProxyType

from sqlalchemy import select

from agent_desk.calls import events as ev
from agent_desk.calls import pop
from agent_desk.calls import recording_watch as rw
from agent_desk.calls.listener import AmiSettings, CallListener
from agent_desk.calls.tracker import CallTracker
from agent_desk.telephony.recording import recording_path
from agent_desk.db.models import User
from hotline import channelvars as v
from hotline.ami import AmiEvent


def ami(name: str, chanvars: dict | None = None, **fields) -> AmiEvent:
    return AmiEvent(name=name, fields=MappingProxyType({"Event": name, **fields}),
                    vars=MappingProxyType(chanvars or {}))


def test_the_dialplans_user_event_becomes_a_recording_failure_and_nothing_else_does():
    failed = ev.parse(ami("UserEvent", {v.CALL_ID: "1700000000.4"}, UserEvent="HotlineRecordingFailed",
                          CallID="1700000000.4", Timestamp="1700000000.5"))
    assert isinstance(failed, ev.RecordingFailed) and failed.call_id == "1700000000.4"
    assert ev.parse(ami("UserEvent", {}, UserEvent="HotlineRecordingFailed")) is None   # no call: nobody to tell
    assert ev.parse(ami("UserEvent", {}, UserEvent="HotlineSomethingElse", CallID="x")) is None


async def test_the_agent_gets_the_warning_in_the_pop_and_calls_recorded_fine_get_none(rig):
    settings = rig.app.state.settings
    with rig.app.state.db.session() as session:
        agent = session.scalar(select(User).where(User.username == rig.user("agent")))
        agent.extension = f"7{agent.id:04d}"
        extension, agent_id = agent.extension, agent.id
    failing, fine, later = f"{rig.tag}.r1", f"{rig.tag}.r2", f"{rig.tag}.r3"
    tracker = CallTracker(rig.app.state.db, settings.async_redis())

    def facts(call_id: str) -> dict[str, str]:
        return {v.CALL_ID: call_id, v.LINE: "12345", v.QUEUE: "province"}

    async def answered(call_id: str) -> None:
        for raw in (ami("QueueCallerJoin", facts(call_id), Uniqueid=call_id, CallerIDNum="13907550001",
                        Queue="province", Channel="PJSIP/carrier-1"),
                    ami("AgentConnect", facts(call_id), Uniqueid=call_id, MemberName=extension,
                        DestChannel=f"PJSIP/{extension}-1", HoldTime="2")):
            await tracker.apply(ev.parse(raw))

    async def marker(name: str) -> None:
        """A message of our own on the agent's channel: what arrives before it is all the tracker sent."""
        await tracker.redis.publish(pop.channel_for(agent_id), pop.encode({"type": "marker", "name": name}))

    async def ended(call_id: str) -> None:
        await tracker.apply(ev.parse(ami("Hangup", facts(call_id), Uniqueid=call_id,
                                         **{"Cause-txt": "Normal Clearing"})))

    try:
        with rig.client.websocket_connect("/ws/desk", headers=rig.as_("agent")) as socket:
            assert socket.receive_json()["type"] == "hello"
            # Before the AgentConnect event (the agent-connect dialplan runs first): kept for the pop.
            await tracker.apply(ev.parse(ami("UserEvent", facts(failing), UserEvent="HotlineRecordingFailed",
                                             CallID=failing)))
            await answered(failing)
            await marker("failing")
            first = socket.receive_json()
            assert first["type"] == "pop" and first["call"]["call_id"] == failing
            [warned] = first["warnings"]   # in the pop itself, and once: nothing else follows it
            assert warned == {**warned, "type": "warning", "call_id": failing, "kind": "recording_failed"}
            assert "录音失败" in warned["message"] and warned["message"] == pop.WARNINGS["recording_failed"]
            assert socket.receive_json() == {"type": "marker", "name": "failing"}
            # The page reloaded: the call comes back with its warning (it is on the call's record).
            current = rig.client.get("/api/v1/calls/current", headers=rig.as_("agent")).json()
            assert current["type"] == "pop" and current["call"]["call_id"] == failing
            assert [(w["kind"], w["message"]) for w in current["warnings"]] == [
                ("recording_failed", pop.WARNINGS["recording_failed"])]
            await ended(failing)

            # A call whose recording is fine: its pop, and nothing after it.
            await answered(fine)
            await marker("fine")
            assert socket.receive_json()["call"]["call_id"] == fine
            assert rig.client.get("/api/v1/calls/current", headers=rig.as_("agent")).json()["warnings"] == []
            assert socket.receive_json() == {"type": "marker", "name": "fine"}
            # Told while the agent already has the call: the warning goes at once.
            await tracker.apply(ev.parse(ami("UserEvent", facts(fine), UserEvent="HotlineRecordingFailed",
                                             CallID=fine)))
            assert socket.receive_json() | {"sent_at": 0} == pop.warning(fine, "recording_failed") | {"sent_at": 0}
            await ended(fine)

            # The failing call ended: its mark went with it, the next call of the agent pops clean.
            await answered(later)
            await marker("later")
            popped = socket.receive_json()
            assert popped["call"]["call_id"] == later and popped["warnings"] == []
            assert socket.receive_json() == {"type": "marker", "name": "later"}
    finally:
        await tracker.redis.aclose()
    assert json.loads(pop.encode(pop.warning(later, "recording_failed")))["message"].startswith("录音失败")


def record(rig, call_id: str) -> dict:
    response = rig.client.get(f"/api/v1/calls/{call_id}", headers=rig.as_("boss"))
    assert response.status_code == 200, response.text
    return response.json()


async def test_a_recording_that_stops_growing_mid_call_warns_the_agent_and_marks_the_call(rig, tmp_path):
    settings = rig.app.state.settings
    with rig.app.state.db.session() as session:
        agent = session.scalar(select(User).where(User.username == rig.user("agent")))
        agent.extension = f"7{agent.id:04d}"
        extension = agent.extension
    written = "/opt/hotline/spool/monitor"   # as Asterisk writes it; this machine reads it at tmp_path
    call_id = f"{rig.tag}.cut"
    tracker = CallTracker(rig.app.state.db, settings.async_redis(), recordings=written)
    watch = rw.RecordingWatch(written, tmp_path, stall_seconds=1.0, low_bytes=1 << 62, interval=0.2)
    tracker.watch = watch
    listener = CallListener(tracker, AmiSettings("127.0.0.1", 1, "unused", "-"), settings.async_redis())
    file = tmp_path / Path(recording_path(written, call_id)).name
    facts = {v.CALL_ID: call_id, v.LINE: "12345", v.QUEUE: "province"}
    # the listener's own loops, without an AMI login: its events in order, and the watch
    loops = [asyncio.create_task(listener._apply_loop()), asyncio.create_task(listener._watch_loop(watch))]
    try:
        with rig.client.websocket_connect("/ws/desk", headers=rig.as_("agent")) as socket:
            assert socket.receive_json()["type"] == "hello"
            for raw in (ami("QueueCallerJoin", facts, Uniqueid=call_id, CallerIDNum="13907550001", Queue="province",
                            Channel="PJSIP/carrier-1"),
                        ami("AgentConnect", facts, Uniqueid=call_id, MemberName=extension,
                            DestChannel=f"PJSIP/{extension}-1", HoldTime="2")):
                listener.queue.put_nowait(ev.parse(raw))
            await listener.drain()
            assert socket.receive_json()["call"]["call_id"] == call_id
            for _ in range(8):   # recorded: 16 kB a second, in 0.2 s steps, longer than the stall
                with file.open("ab") as out:
                    out.write(b"\0" * 3200)
                await asyncio.sleep(0.2)
            assert record(rig, call_id)["recording_fault"] is None
            deadline = time.monotonic() + 10   # the disk filled: the file stops growing
            while record(rig, call_id)["recording_fault"] is None and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
            assert record(rig, call_id)["recording_fault"] == "interrupted"
            await listener.drain()   # its warning published (this loop runs the tracker: receive only after)
            warned = socket.receive_json()
            assert warned | {"sent_at": 0} == pop.warning(call_id, "recording_interrupted") | {"sent_at": 0}
            assert warned["message"].startswith("录音中断")
            current = rig.client.get("/api/v1/calls/current", headers=rig.as_("agent")).json()
            assert [w["kind"] for w in current["warnings"]] == ["recording_interrupted"]

            # the supervisors' wallboard: the volume's state (below the low mark: 空间不足), supervisors only
            board = rig.client.get("/api/v1/wallboard/recordings", headers=rig.as_("boss"))
            assert board.status_code == 200, board.text
            [volume] = board.json()["volumes"]
            assert volume | {"at": 0, "free_bytes": 0, "total_bytes": 0} == {
                "node": "", "state": "low", "state_label": "录音存储空间不足", "free_bytes": 0, "total_bytes": 0,
                "low_bytes": 1 << 62, "recording": 1, "at": 0}
            assert rig.client.get("/api/v1/wallboard/recordings", headers=rig.as_("agent")).status_code == 403

            listener.queue.put_nowait(ev.parse(ami("Hangup", facts, Uniqueid=call_id,
                                                   **{"Cause-txt": "Normal Clearing"})))
            await listener.drain()
            assert call_id not in watch.calls
    finally:
        for task in loops:
            task.cancel()
        await asyncio.gather(*loops, return_exceptions=True)
        await tracker.redis.aclose()
        assert listener.redis is not None
        await listener.redis.aclose()
        rig.app.state.redis.hdel(rw.STATE_KEY, "")
    assert record(rig, call_id)["recording_fault"] == "interrupted"   # the record stays marked after the call
