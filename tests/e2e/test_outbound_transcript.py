"""The live transcript of an agent's 回拨 end to end, on the real Asterisk: the agent clicks 回拨 on a task, their
softphone (the peer) answers and the citizen (the peer as carrier) is dialled; once the citizen answers, the
outbound context's Dial U() starts both sides' listening legs under the call's out_id. The citizen speaks a real
recorded Mandarin sample (shared/stt-samples at 8 kHz), the agent another; the ASR pool's worker (Whisper base)
transcribes both; the desk's one transcript relay stores the turns and pushes them to the page of the agent who
placed the call (its pop channel, which /ws/desk carries), and the transcript API serves them to that agent and
refuses another (404, no hint the call exists). With the speech service down the call connects and ends as usual.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import time
from collections.abc import AsyncIterator

import httpx
import pytest
import redis.asyncio as aioredis
from sqlalchemy import select

from agent_desk.callbacks.rules import CallbackPolicy
from agent_desk.calls import pop
from agent_desk.db import models as m
from hotline import channelvars as v
from hotline.contracts.transcript import Turn
from hotline.contracts.transcript import key as transcript_key
from hotline.site import Intake
from ivr.speech.whisper_engine import WhisperEngine, assemble_model
from tests.support.agents import hang_up_everything, peer_mode
from tests.support.center import Center
from tests.support.cer import cer
from tests.support.desk import DeskRig
from tests.support.callbacks import callback_desk, api, call_row, missed_task, place
from tests.support.events import poll
from tests.support.ivr import IvrRig, ivr_rig

pytestmark = pytest.mark.asterisk

CITIZEN_SAMPLE = "BAC009S0150W0015"   # 上海市第一食品商店
AGENT_SAMPLE = "BAC009S0252W0438"     # 女子因抢救无效不幸身亡
CER_BOUND = 0.5           # one 8 kHz phrase through Whisper base, as on an inbound call (tests/e2e/test_queue_first)
AGENT_CER_BOUND = 0.65    # the agent's voice crosses SIP and the peer first (ditto)
POLICY = CallbackPolicy(quiet_start=dt.time(0, 0), quiet_end=dt.time(0, 0), agent_ring_seconds=8,
                        citizen_ring_seconds=15)
USERS = ("agent", "agent2")


@pytest.fixture(scope="module")
async def ivr(center: Center, tmp_path_factory) -> AsyncIterator[IvrRig]:
    """The media server with the live transcript on (queue-first intake) and one ASR worker on Whisper base."""
    whisper = WhisperEngine(assemble_model(tmp_path_factory.mktemp("models") / "whisper-base"))
    async with ivr_rig(center, None, tmp_path_factory.mktemp("outbound-transcript"),
                       samples=(CITIZEN_SAMPLE, AGENT_SAMPLE), intake=Intake(), asr_engine=whisper,
                       asr_workers=1) as rig:
        yield rig


@pytest.fixture(scope="module")
async def desk(ivr: IvrRig, new_database) -> AsyncIterator[DeskRig]:
    """The real desk on the IVR's Redis (as its ``desk`` user), its listener (and so its transcript relay) on the
    center's AMI; agent and agent2 each on a softphone."""
    async with callback_desk(ivr.center, new_database("sqlite"), ivr.redis_server.user_url("desk"), USERS,
                             POLICY) as rig:
        yield rig


@pytest.fixture(autouse=True)
async def clean_calls(ivr: IvrRig):
    yield
    await hang_up_everything(ivr.center)




def user_id(desk: DeskRig, short: str) -> int:
    with desk.app.state.db.session() as session:
        return session.scalar(select(m.User.id).where(m.User.username == desk.user(short)))








async def transcript_as(desk: DeskRig, user: str, out_id: str) -> httpx.Response:
    async with api(desk) as http:
        return await http.get(f"/api/v1/calls/{out_id}/transcript", headers=desk.as_(user))


def sounds_on_peer(center: Center, sample: str) -> str:
    """A copy of ``sample`` in the peer's sounds; returns its path for Playback there."""
    directory = center.peer.host_path(center.peer.instance_dir + "/sounds/caller")
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"{sample}.wav").write_bytes((center.paths.sounds / "caller" / f"{sample}.wav").read_bytes())
    return center.peer.instance_dir + "/sounds/caller/" + sample


@contextlib.asynccontextmanager
async def speaks(center: Center, key: str, sample: str, after: int) -> AsyncIterator[None]:
    """The peer's [softphone] flow for ``key`` answers, waits ``after`` seconds and speaks ``sample`` (an agent's
    softphone by its extension; a citizen's call is redirected there by its number)."""
    for family, value in (("softphone-say", sounds_on_peer(center, sample)), ("softphone-say-delay", str(after))):
        await center.peer_ami.action({"Action": "DBPut", "Family": family, "Key": key, "Val": value})
    try:
        async with peer_mode(center, "softphone", key, "say"):
            yield
    finally:
        for family in ("softphone-say", "softphone-say-delay"):
            with contextlib.suppress(Exception):
                await center.peer_ami.action({"Action": "DBDel", "Family": family, "Key": key})


@contextlib.asynccontextmanager
async def pushed_to(redis_url: str, *user_ids: int) -> AsyncIterator[dict[int, list[dict]]]:
    """What the desk pushes to each user's pages (their pop channel: /ws/desk relays it as it is)."""
    client = aioredis.from_url(redis_url)
    pubsub = client.pubsub()
    received: dict[int, list[dict]] = {u: [] for u in user_ids}
    channels = {pop.channel_for(u): u for u in user_ids}
    await pubsub.subscribe(*channels)

    async def read() -> None:
        async for item in pubsub.listen():
            if item.get("type") == "message":
                channel = item["channel"].decode() if isinstance(item["channel"], bytes) else item["channel"]
                received[channels[channel]].append(json.loads(item["data"]))

    reading = asyncio.create_task(read())
    try:
        yield received
    finally:
        reading.cancel()
        await asyncio.gather(reading, return_exceptions=True)
        await pubsub.aclose()
        await client.aclose()


async def citizen_answers_and_talks(center: Center, desk: DeskRig, caller: str, out_id: str, peer_mark: int) -> str:
    """The 回拨 rings the citizen at the carrier; the citizen picks up and talks: their call leaves the peer's silent
    [citizen] answer for the speaking flow. Returns the citizen's channel at the peer once the desk has the call
    connected."""
    called = await center.peer_events.wait_for(
        lambda e: e.name == "UserEvent" and e.get("UserEvent") == "CitizenCalled" and e.get("Number") == caller,
        30, "the citizen's phone rings at the carrier", peer_mark)
    await center.peer_ami.action({"Action": "Redirect", "Channel": called["Channel"], "Context": "softphone",
                                  "Exten": caller, "Priority": "1"})
    await poll(lambda: (row := call_row(desk, out_id)) is not None and row.status == "connected", 20,
               "the citizen answering")
    return called["Channel"]


async def test_an_agents_callback_is_transcribed_live_for_that_agent_only(ivr: IvrRig, desk: DeskRig) -> None:
    center = ivr.center
    caller = "13907551301"
    task_id = missed_task(desk, caller, f"{center.new_call_id()}-m")
    agent, other = user_id(desk, "agent"), user_id(desk, "agent2")
    peer_mark = center.peer_events.mark()
    # The agent speaks 10 s after answering their phone; the citizen 2 s after answering (the legs start at the
    # answer, within a second): the two never overlap.
    async with speaks(center, desk.phones["agent"], AGENT_SAMPLE, after=10), \
            speaks(center, caller, CITIZEN_SAMPLE, after=2), \
            pushed_to(ivr.redis_server.user_url("desk"), agent, other) as pages:
        out_id = await place(desk, "agent", task_id)
        await citizen_answers_and_talks(center, desk, caller, out_id, peer_mark)

        def said(speaker: str) -> list[dict]:
            return [msg["turn"] for msg in pages[agent] if msg.get("type") == "turn" and msg.get("call_id") == out_id
                    and msg["turn"]["speaker"] == speaker and msg["turn"]["status"] == "ok"]

        connected = time.monotonic()
        await poll(lambda: said("citizen"), 120, "the citizen's turn on the agent's page")
        first_citizen = time.monotonic() - connected
        await poll(lambda: said("agent"), 120, "the agent's turn on the agent's page")
    # (the citizen starts speaking 2 s after answering; their sample is ~2.5 s long)
    print(f"回拨 {out_id}: the citizen's first turn on the agent's page {first_citizen:.1f} s after the desk saw "
          f"the answer")
    try:
        await center.ami.hangup(out_id)
    except Exception:
        pass   # already over
    row = await poll(lambda: (r := call_row(desk, out_id)) is not None and r.ended_at is not None and r, 40,
                     f"回拨 {out_id} to end")
    assert (row.outcome, row.counted) == ("connected", True)

    # What the agent's page got: each side's words, in each side's order, under the call's out_id.
    citizen_text = "".join(t["text"] for t in said("citizen"))
    agent_text = "".join(t["text"] for t in said("agent"))
    assert cer(citizen_text, ivr.refs[CITIZEN_SAMPLE]) <= CER_BOUND, citizen_text
    assert cer(agent_text, ivr.refs[AGENT_SAMPLE]) <= AGENT_CER_BOUND, agent_text
    print(f"CER citizen {cer(citizen_text, ivr.refs[CITIZEN_SAMPLE]):.3f} ({citizen_text}), "
          f"agent {cer(agent_text, ivr.refs[AGENT_SAMPLE]):.3f} ({agent_text})")
    assert all(t["phase"] == "conversation" for t in said("citizen") + said("agent"))
    assert pages[other] == [], "another agent's page got this call's turns"
    # Each voice was heard on its own side only (the citizen's sample never as the agent's, nor the reverse).
    assert cer(citizen_text, ivr.refs[AGENT_SAMPLE]) > CER_BOUND
    assert cer(agent_text, ivr.refs[CITIZEN_SAMPLE]) > CER_BOUND

    # The turns the media server wrote are the ones the desk stored and serves to the agent who placed the call.
    written = [Turn.decode(fields[b"turn"]) for _id, fields in await ivr.redis.xrange(transcript_key(out_id))]
    assert {t.speaker for t in written} == {"citizen", "agent"}
    mine = await transcript_as(desk, "agent", out_id)
    assert mine.status_code == 200, mine.text
    body = mine.json()
    assert body["access_reason"] == "own_callback" and body["masked"] is False
    assert {(t["speaker"], t["seq"]) for t in body["turns"]} == {(t.speaker, t.seq) for t in written}
    refused = await transcript_as(desk, "agent2", out_id)
    assert refused.status_code == 404, refused.text
    with desk.app.state.db.session() as session:
        assert len(session.scalars(select(m.CallTurn).where(m.CallTurn.call_id == out_id)).all()) == len(written)
        audited = session.execute(select(m.AuditEntry.username, m.AuditEntry.reason)
                                  .where(m.AuditEntry.object_id == out_id).order_by(m.AuditEntry.id)).all()
    assert [tuple(a) for a in audited] == [(desk.user("agent"), "own_callback"), (desk.user("agent2"), "unknown_call")]


async def test_with_the_speech_service_down_the_callback_still_connects_and_ends(ivr: IvrRig, desk: DeskRig) -> None:
    """The ASR pool's workers stopped: the legs still run (their phrases become turns saying 'lost'), the call
    connects, is recorded and ends as connected, exactly as without a transcript."""
    center = ivr.center
    caller = "13907551302"
    task_id = missed_task(desk, caller, f"{center.new_call_id()}-m")
    assert ivr.asr_pool is not None
    async with ivr.asr_pool.down(), speaks(center, caller, CITIZEN_SAMPLE, after=1):
        peer_mark, center_mark = center.peer_events.mark(), center.events.mark()
        out_id = await place(desk, "agent", task_id)
        citizen = await citizen_answers_and_talks(center, desk, caller, out_id, peer_mark)
        # the citizen has said their piece (the peer's flow moves on past its Playback) on a call whose speech
        # service is down, and the call is still up
        await center.peer_events.wait_for(
            lambda e: e.name == "Newexten" and e.get("Channel") == citizen and e.get("Application") == "NoOp",
            30, "the citizen to finish speaking", peer_mark)
        assert call_row(desk, out_id).ended_at is None, "the call ended while the speech service was down"
        for side in ("agent", "citizen"):   # the legs ran (and reached the media server) all the same
            await center.events.wait_for(
                lambda e, side=side: e.name == "Newexten" and e.get("Context") == v.CTX_LISTEN
                and e.get("Application") == "AGI" and e.get("Channel", "").startswith(f"Local/{side}@"),
                10, f"the {side}'s listening leg", center_mark)
        await center.ami.hangup(out_id)
        row = await poll(lambda: (r := call_row(desk, out_id)) is not None and r.ended_at is not None and r, 40,
                         f"回拨 {out_id} to end")
    assert (row.outcome, row.counted) == ("connected", True)
    assert row.recording and row.recording.endswith(f"/{out_id}.wav")
