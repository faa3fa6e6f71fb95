"""The agent is told when the call's recording cannot be written (issue 17): the dialplan's
``UserEvent(HotlineRecordingFailed)`` at the answer (before the AgentConnect event), applied on a real database
and a real Redis, reaches the agent's WebSocket after the pop of that call (and at once when the agent already has
the call)."""

from __future__ import annotations

import json
from types import MappingProxyType

from sqlalchemy import select

from agent_desk.calls import events as ev
from agent_desk.calls import pop
from agent_desk.calls.tracker import CallTracker
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


async def test_the_agent_gets_the_warning_after_the_pop_and_calls_recorded_fine_get_none(rig):
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
            first, second = socket.receive_json(), socket.receive_json()
            assert first["type"] == "pop" and first["call"]["call_id"] == failing
            assert second == {**second, "type": "warning", "call_id": failing, "kind": "recording_failed"}
            assert "录音失败" in second["message"] and second["message"] == pop.WARNINGS["recording_failed"]
            await ended(failing)

            # A call whose recording is fine: its pop, and nothing after it.
            await answered(fine)
            await marker("fine")
            assert socket.receive_json()["call"]["call_id"] == fine
            assert socket.receive_json() == {"type": "marker", "name": "fine"}
            # Told while the agent already has the call: the warning goes at once.
            await tracker.apply(ev.parse(ami("UserEvent", facts(fine), UserEvent="HotlineRecordingFailed",
                                             CallID=fine)))
            assert socket.receive_json() | {"sent_at": 0} == pop.warning(fine, "recording_failed") | {"sent_at": 0}
            await ended(fine)

            # The failing call ended: its mark went with it, the next call of the agent pops clean.
            await answered(later)
            await marker("later")
            assert socket.receive_json()["call"]["call_id"] == later
            assert socket.receive_json() == {"type": "marker", "name": "later"}
    finally:
        await tracker.redis.aclose()
    assert failing not in tracker.recording_failed and fine not in tracker.recording_failed
    assert json.loads(pop.encode(pop.warning(later, "recording_failed")))["message"].startswith("录音失败")
