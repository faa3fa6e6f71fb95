"""Transfers over real SIP: a citizen's call reaches an agent's softphone (the peer, registered as the agent)
through the real queue; the desk's functions hand it to sub-centers, retained seats, one-key and emergency
centers (the peer again, over the plan's trunks), or to another agent or a queue. Assertions read AMI.
"""

from __future__ import annotations

import asyncio
import itertools
import struct

import pytest

from agent_desk.telephony import (FALLBACK_AGENT, LiveCall, Outcome, TransferKind, agent_leaves,
                                  attended_transfer, blind_transfer, complete_attended_transfer,
                                  conference_members, emergency_linkage, one_key_transfer, recording_path,
                                  recordings_dir, retained_seat_transfer, start_recording, three_way_transfer,
                                  transfer_to_queue)
from agent_desk.telephony._ami import getvar
from hotline import channelvars as v
from hotline.numberplan import GENERAL_QUEUE
from tests.support.agents import (agent_answers, citizen_calls, citizen_reaches_agent, hang_up_call,
                                  hang_up_everything, logged_in, peer_mode, softphones, wait_registered)
from tests.support.center import Center
from tests.support.events import app_ran, named

pytestmark = pytest.mark.asterisk

_rotation = itertools.count()


@pytest.fixture
async def agent(center: Center):
    """A logged-in agent; each scenario takes the next softphone, so one agent's wrap-up never delays the next."""
    phones = softphones(center)
    ext = phones[next(_rotation) % len(phones)]
    async with logged_in(center, ext):
        yield ext
    await hang_up_everything(center)


async def transfer_event(center: Center, call: LiveCall, **fields):
    return await center.events.wait_for(
        named("UserEvent", UserEvent="HotlineTransfer", CallID=call.call_id, **fields), 10,
        f"the HotlineTransfer event {fields}")


def bridges_of(center: Center, channels: list[str]) -> dict[str, set[str]]:
    """Bridge ids each channel entered, from BridgeEnter events."""
    return {ch: {e.get("BridgeUniqueid") for e in center.events.events
                 if e.name == "BridgeEnter" and e.get("Channel") == ch} for ch in channels}


async def still_up(center: Center, channel: str) -> bool:
    return await getvar(center.ami, channel, "CHANNEL(name)") == channel


async def test_three_way_transfer_to_sub_center_then_the_agent_leaves(center: Center, agent: str) -> None:
    call = await citizen_reaches_agent(center, agent)
    result = await three_way_transfer(center.ami, call, "12366", plan=center.plan)
    assert result.outcome == Outcome.BRIDGED, result
    assert result.kind == TransferKind.THREE_WAY and result.target == "12366"
    assert result.department == "国家税务总局海南省税务局" and result.trunk == "subcenter-12366"
    assert result.answered_at and result.bridged_at and result.started_at <= result.answered_at <= result.bridged_at
    assert result.far_channel.startswith("PJSIP/trunk-subcenter-12366-")
    await center.peer_events.wait_for(lambda e: e.name == "Newchannel" and e.get("Exten") == "12366", 10,
                                      "the peer's sub-center receives 12366 over SIP")
    # One conference holds all three: ConfBridge's own list, and the bridge every channel entered.
    members = set(await conference_members(center.ami, result.conference))
    assert members == {call.citizen_channel, call.agent_channel, result.far_channel}, members
    for channel in members:
        await center.events.wait_for(named("ConfbridgeJoin", Conference=result.conference, Channel=channel), 5,
                                     f"{channel} joins {result.conference}")
    entered = bridges_of(center, list(members))
    assert set.intersection(*entered.values()), entered
    event = await transfer_event(center, call, Outcome="bridged", Kind="three_way", Target="12366")
    assert int(event.get("SetupMs")) > 0

    remaining = await agent_leaves(center.ami, call, result)
    assert set(remaining) == {call.citizen_channel, result.far_channel}, remaining
    await center.events.wait_for(named("Hangup", Channel=call.agent_channel), 10, "the agent's leg ends")
    await asyncio.sleep(1.0)  # the citizen and the sub-center stay connected without the agent
    assert set(await conference_members(center.ami, result.conference)) == {call.citizen_channel, result.far_channel}
    assert await still_up(center, call.citizen_channel) and await still_up(center, result.far_channel)

    # When the sub-center hangs up, the citizen is not left alone in the room.
    await center.ami.hangup(result.far_channel)
    await center.events.wait_for(named("Hangup", Channel=call.citizen_channel), 10, "the citizen's leg ends too")


@pytest.mark.parametrize("target,mode,outcome", [("12360", "noanswer", Outcome.NO_ANSWER),
                                                 ("12305", "busy", Outcome.BUSY)])
async def test_sub_center_not_answering_leaves_the_citizen_with_the_agent(center: Center, agent: str, target,
                                                                          mode, outcome) -> None:
    call = await citizen_reaches_agent(center, agent)
    async with peer_mode(center, "gateway", target, mode):
        result = await three_way_transfer(center.ami, call, target, plan=center.plan, ring_timeout=3)
    assert result.outcome == outcome, result
    assert result.fallback == FALLBACK_AGENT and not result.connected
    assert result.department and result.target == target and result.bridged_at is None
    await transfer_event(center, call, Outcome=outcome.value, Target=target, Fallback="agent")
    # The citizen is still talking to the agent, in no conference.
    assert await getvar(center.ami, call.citizen_channel, "BRIDGEPEER") == call.agent_channel
    assert not center.events.find(named("ConfbridgeJoin", Channel=call.citizen_channel))
    assert await conference_members(center.ami, result.conference) == []


async def test_retained_seat_transfer_announces_records_and_connects(center: Center, agent: str) -> None:
    call = await citizen_reaches_agent(center, agent)
    result = await retained_seat_transfer(center.ami, call, "12348", plan=center.plan)
    assert result.outcome == Outcome.ANSWERED, result
    assert result.kind == TransferKind.RETAINED_SEAT and result.dial_status == "ANSWER"
    await center.events.wait_for(app_ran("Playback", "/transfer-12348-notice"), 5, "the Chinese transfer notice")
    recording = await getvar(center.ami, call.citizen_channel, "MIXMONITOR_FILENAME")
    assert recording == recording_path(recordings_dir(center.site), call.call_id)
    await center.events.wait_for(named("Hangup", Channel=call.agent_channel), 10, "the agent is released")
    assert await getvar(center.ami, call.citizen_channel, "BRIDGEPEER") == result.far_channel
    await transfer_event(center, call, Outcome="answered", Kind="retained_seat", Target="12348")


async def test_retained_seat_busy_falls_back_to_a_12345_queue(center: Center, agent: str) -> None:
    call = await citizen_reaches_agent(center, agent)
    result = await retained_seat_transfer(center.ami, call, "12333", plan=center.plan)  # the peer's 12333 is busy
    assert result.outcome == Outcome.BUSY, result
    assert result.fallback == f"queue:{GENERAL_QUEUE}"
    await center.events.wait_for(app_ran("Playback", "/transfer-failed"), 5, "the citizen is told")
    await transfer_event(center, call, Outcome="busy", Fallback=f"queue:{GENERAL_QUEUE}")


async def test_retained_seat_no_answer_falls_back_after_the_ring_timeout(center: Center, agent: str) -> None:
    call = await citizen_reaches_agent(center, agent)
    async with peer_mode(center, "gateway", "12348", "noanswer"):
        result = await retained_seat_transfer(center.ami, call, "12348", plan=center.plan, ring_timeout=3)
    assert result.outcome == Outcome.NO_ANSWER and result.dial_status == "NOANSWER", result
    assert result.fallback == f"queue:{GENERAL_QUEUE}"


async def test_one_key_transfer_to_961017_records_the_linkage(center: Center, agent: str) -> None:
    call = await citizen_reaches_agent(center, agent)
    result = await one_key_transfer(center.ami, call, plan=center.plan)
    assert result.outcome == Outcome.ANSWERED and result.target == "961017", result
    await center.events.wait_for(named("UserEvent", UserEvent="HotlineLinkage", Target="961017",
                                       CallID=call.call_id), 5, "the linkage event")
    assert await getvar(center.ami, call.citizen_channel, v.LINKAGE) == "961017"
    await transfer_event(center, call, Outcome="answered", Kind="one_key", Target="961017")


async def test_emergency_linkage_joins_the_center_and_the_agent_may_leave(center: Center, agent: str) -> None:
    call = await citizen_reaches_agent(center, agent)
    result = await emergency_linkage(center.ami, call, "110", plan=center.plan)
    assert result.outcome == Outcome.BRIDGED and result.kind == TransferKind.EMERGENCY, result
    assert set(await conference_members(center.ami, result.conference)) == {
        call.citizen_channel, call.agent_channel, result.far_channel}
    assert await getvar(center.ami, call.citizen_channel, v.LINKAGE) == "110"
    await center.events.wait_for(named("UserEvent", UserEvent="HotlineLinkage", Target="110", CallID=call.call_id),
                                 5, "the linkage event")
    await transfer_event(center, call, Outcome="bridged", Kind="emergency", Target="110")
    assert set(await agent_leaves(center.ami, call, result)) == {call.citizen_channel, result.far_channel}


async def test_emergency_center_not_answering_keeps_the_citizen_with_the_agent(center: Center, agent: str) -> None:
    call = await citizen_reaches_agent(center, agent)
    async with peer_mode(center, "gateway", "120", "noanswer"):
        result = await emergency_linkage(center.ami, call, "120", plan=center.plan, ring_timeout=3)
    assert result.outcome == Outcome.NO_ANSWER and result.fallback == FALLBACK_AGENT, result
    assert await getvar(center.ami, call.citizen_channel, "BRIDGEPEER") == call.agent_channel
    await transfer_event(center, call, Outcome="no_answer", Kind="emergency", Target="120")


async def test_blind_transfer_to_another_agent(center: Center, agent: str) -> None:
    other = next(ext for ext in softphones(center) if ext != agent)
    assert (await wait_registered(center, other)).registered
    call = await citizen_reaches_agent(center, agent)
    result = await blind_transfer(center.ami, call, other)
    assert result.outcome == Outcome.ANSWERED and result.far_channel.startswith(f"PJSIP/{other}-"), result
    await center.events.wait_for(named("BlindTransfer", Result="Success"), 5, "Asterisk's blind transfer event")
    assert await getvar(center.ami, call.citizen_channel, "BRIDGEPEER") == result.far_channel


async def test_blind_transfer_to_an_agent_who_does_not_answer_goes_back_to_the_queue(center: Center,
                                                                                     agent: str) -> None:
    other = next(ext for ext in softphones(center) if ext != agent)
    call = await citizen_reaches_agent(center, agent)
    async with peer_mode(center, "softphone", other, "busy"):
        result = await blind_transfer(center.ami, call, other)
    assert result.outcome == Outcome.BUSY and result.fallback == f"queue:{GENERAL_QUEUE}", result


async def test_attended_transfer_to_another_agent(center: Center, agent: str) -> None:
    other = next(ext for ext in softphones(center) if ext != agent)
    call = await citizen_reaches_agent(center, agent)
    consulting = await attended_transfer(center.ami, call, other)
    assert consulting.outcome == Outcome.CONSULTING, consulting
    done = await complete_attended_transfer(center.ami, call, consulting)
    assert done.outcome == Outcome.ANSWERED, done
    await asyncio.sleep(0.5)
    peer = await getvar(center.ami, call.citizen_channel, "BRIDGEPEER")
    assert peer and peer.startswith(f"PJSIP/{other}-"), peer


async def test_transfer_to_a_queue(center: Center, agent: str) -> None:
    call = await citizen_reaches_agent(center, agent)
    result = await transfer_to_queue(center.ami, call, "sp-469002", plan=center.plan)
    assert result.outcome == Outcome.QUEUED, result
    await center.events.wait_for(app_ran("Queue", "sp-469002,t"), 5, "the 琼海 sub-platform queue first")
    assert await getvar(center.ami, call.citizen_channel, v.SUBPLATFORM) == "469002"


async def test_recording_is_per_call_and_named_by_call_id(center: Center, agent: str) -> None:
    call = await citizen_reaches_agent(center, agent)
    directory = recordings_dir(center.site)
    rec = await start_recording(center.ami, call.citizen_channel, call.call_id, directory)
    assert not rec.started and rec.path == f"{directory}/{call.call_id}.wav"  # the queue already records it
    fresh = await start_recording(center.ami, call.agent_channel, f"{call.call_id}-agent", directory)
    assert fresh.started and fresh.path == f"{directory}/{call.call_id}-agent.wav"
    assert await getvar(center.ami, call.agent_channel, "MIXMONITOR_FILENAME") == fresh.path
    await asyncio.sleep(0.5)
    assert center.asterisk.host_path(rec.path).exists()


def recorders(center: Center, channel: str) -> list[str]:
    """MixMonitorStart / MixMonitorStop events on ``channel``, in order."""
    return [e.name for e in center.events.events
            if e.name in ("MixMonitorStart", "MixMonitorStop") and e.get("Channel") == channel]


async def recorded_seconds(center: Center, path: str) -> float:
    """The length of a closed WAV recording (8 kHz, 16 bit mono: its header's data size), waiting for the file."""
    host = center.asterisk.host_path(path)
    for _ in range(50):
        if host.exists() and host.stat().st_size > 44:
            head = host.read_bytes()[:44]
            if head[:4] == b"RIFF" and struct.unpack("<I", head[40:44])[0] > 0:
                return struct.unpack("<I", head[40:44])[0] / 16000
        await asyncio.sleep(0.2)
    raise AssertionError(f"no closed recording at {path}")


async def test_a_waiting_caller_carries_no_recorder_and_the_answer_attaches_one(center: Center) -> None:
    ext = softphones(center)[next(_rotation) % len(softphones(center))]
    cid = await citizen_calls(center)  # nobody logged in: the citizen waits
    joined = await center.events.wait_for(named("QueueCallerJoin", Linkedid=cid), 10, "the citizen waits")
    await asyncio.sleep(1.5)
    waiting = joined["Channel"]
    assert await getvar(center.ami, waiting, "MIXMONITOR_FILENAME") == ""
    assert recorders(center, waiting) == []
    try:
        async with logged_in(center, ext):
            call = await agent_answers(center, cid, ext)
            assert call.citizen_channel == waiting
            path = recording_path(recordings_dir(center.site), cid)
            assert await getvar(center.ami, waiting, "MIXMONITOR_FILENAME") == path
            assert recorders(center, waiting) == ["MixMonitorStart"]
            assert not recorders(center, call.agent_channel)
    finally:
        await hang_up_everything(center)


async def test_a_call_transferred_back_to_a_queue_has_one_recorder_at_a_time_and_one_file(center: Center,
                                                                                         agent: str) -> None:
    other = next(ext for ext in softphones(center) if ext != agent)
    call = await citizen_reaches_agent(center, agent)
    path = recording_path(recordings_dir(center.site), call.call_id)
    await asyncio.sleep(2)  # the first agent's part
    async with logged_in(center, other):
        mark = len(center.events.events)
        result = await transfer_to_queue(center.ami, call, GENERAL_QUEUE, plan=center.plan)
        assert result.outcome == Outcome.QUEUED, result
        second = await agent_answers(center, call.call_id, other, since=mark)  # the first agent is in 话后整理
        assert second.citizen_channel == call.citizen_channel and second.agent_channel != call.agent_channel
        await asyncio.sleep(2)  # the second agent's part
        # One recorder on the citizen's channel at any time: the first stopped before the second started.
        assert recorders(center, call.citizen_channel) == ["MixMonitorStart", "MixMonitorStop", "MixMonitorStart"]
        assert await getvar(center.ami, call.citizen_channel, "MIXMONITOR_FILENAME") == path
        await hang_up_call(center, call)
    # One file holds both parts (the second recorder appended: it did not start the file again).
    assert await recorded_seconds(center, path) > 3.0
