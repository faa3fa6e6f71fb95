"""The IVR and the speech prefill, end to end: a simulated citizen walks the menu with real DTMF and speaks
real recorded Mandarin into a real Asterisk; the prefill must land in a real Redis while the call queues.
"""

from __future__ import annotations

import asyncio
import json
import wave
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from agi_scripts.audiosocket import AudioSocketServer
from agi_scripts.routes import Services
from hotline import channelvars as v
from hotline.numberplan import GENERAL_QUEUE
from ivr.flow import IvrServices, load_flows
from ivr.prefill_store import KEY, PrefillStore
from ivr.speech.whisper_engine import WhisperEngine, assemble_model
from tests.support.caller import CALLER_DATA, Citizen, Citizens
from tests.support.center import Center
from tests.support.cer import cer
from tests.support.events import app_ran, named, var_set
from tests.support.redis_server import RedisServer
from tests.support.samples import references, to_8k

pytestmark = pytest.mark.asterisk

# Whisper base on one 8 kHz telephone utterance: the whole-set figure is in BENCHMARKS.md (bench/stt.py).
WHISPER_CER_BOUND = 0.5
SAMPLE = "BAC009S0150W0015"      # 上海市第一食品商店
LONG_SAMPLE = "BAC009S0252W0438"  # 女子因抢救无效不幸身亡


@pytest.fixture(scope="session")
def whisper(tmp_path_factory) -> WhisperEngine:
    return WhisperEngine(assemble_model(tmp_path_factory.mktemp("models") / "whisper-base"))


@pytest.fixture(scope="module")
async def ivr(center: Center, whisper, tmp_path_factory):
    """The center with the full IVR: AudioSocket, Whisper, a real Redis; restored to the core afterwards."""
    work = tmp_path_factory.mktemp("ivr")
    redis_server = RedisServer.start(work / "redis")
    redis = aioredis.from_url(redis_server.url, password=redis_server.password)
    audiosocket = AudioSocketServer("127.0.0.1", 0)
    await audiosocket.start()
    services = IvrServices(plan=center.plan, flows=load_flows(), store=PrefillStore(redis, work / "spool"),
                           speech=whisper, audiosocket=audiosocket, memory=redis, recordings=work / "recordings")
    caller_sounds = center.asterisk.host_path(center.site.instance_dir + "/sounds/" + CALLER_DATA)
    refs = references()
    for name in (SAMPLE, LONG_SAMPLE):
        to_8k(name, caller_sounds)
    citizens = Citizens(center)
    await citizens.start()
    original = center.agi.services
    center.agi.services = Services(plan=center.plan, ivr=services)
    try:
        yield IvrRig(center, services, redis, redis_server, citizens, refs, work)
    finally:
        center.agi.services = original
        await citizens.stop()
        await audiosocket.stop()
        for task in list(services.background):
            await task
        await redis.aclose()
        redis_server.stop()


class IvrRig:
    def __init__(self, center, services, redis, redis_server, citizens, refs, work):
        self.center, self.services, self.redis = center, services, redis
        self.redis_server, self.citizens, self.refs, self.work = redis_server, citizens, refs, work

    async def prefill(self, call_id: str, status: tuple[str, ...] = ("final",), timeout: float = 30) -> dict:
        deadline = asyncio.get_running_loop().time() + timeout
        last = None
        while asyncio.get_running_loop().time() < deadline:
            raw = await self.redis.get(KEY.format(call_id=call_id))
            last = json.loads(raw) if raw else None
            if last and last["status"] in status:
                return last
            await asyncio.sleep(0.1)
        raise AssertionError(f"prefill of {call_id} not in {status} within {timeout} s; last: {last}")

    async def queued(self, cid: str, queue: str = GENERAL_QUEUE, timeout: float = 90):
        try:
            return await self.center.events.wait_for(
                lambda e: e.name == "QueueCallerJoin" and e.get("Linkedid") == cid and e.get("Queue") == queue,
                timeout, f"call {cid} joins {queue}")
        except AssertionError as exc:
            trail = [f"{e.get('Uniqueid')} {e.name} {e.get('Command') or e.get('Result') or e.get('AppData')}"
                     for e in self.center.events.of_call(cid)
                     if e.name in ("AGIExecStart", "AGIExecEnd", "Newexten", "Hangup")]
            raise AssertionError(f"{exc}; what the call did:\n" + "\n".join(trail)) from None

    def call_id(self, cid: str) -> str:
        """The center's call id (HOTLINE_CALL_ID) is the inbound half's unique id."""
        return f"{cid}-2"


async def wait_queued_then_hang_up(citizen: Citizen) -> None:
    await citizen.center.events.wait_for(
        lambda e: e.name == "QueueCallerJoin" and e.get("Linkedid") == citizen.cid, 60,
        f"call {citizen.cid} queued")
    await citizen.hang_up()


async def test_complaint_with_city_and_description_is_prefilled_while_the_call_queues(ivr: IvrRig):
    async def citizen(c: Citizen) -> None:
        await c.until_center_runs("ivr-menu")
        await c.press("2")                      # 投诉举报
        await c.until_center_runs("ivr-city")
        await c.press("06")                     # 06 = 琼海 (sixth sub-platform in the plan)
        await c.until_center_runs("EXEC AudioSocket")
        await c.say(SAMPLE)
        await c.quiet(3)                        # the pause that ends the description
        await wait_queued_then_hang_up(c)

    cid = await ivr.citizens.call("12345", citizen, caller_id="13907550101")
    center = ivr.center
    await center.events.wait_for(lambda e: app_ran("Queue", "sp-469002,t")(e) and e.get("Linkedid") == cid, 60,
                                 "the 琼海 sub-platform queue is tried first")
    await ivr.queued(cid)
    prefill = await ivr.prefill(ivr.call_id(cid))
    assert prefill["line"] == "12345"
    assert prefill["menu_choice"] == "投诉举报" and prefill["appeal_type"] == "complaint"
    assert prefill["subplatform"] == "469002"
    assert prefill["engine"] == "whisper-base"
    error = cer(prefill["transcript"], ivr.refs[SAMPLE])
    assert error <= WHISPER_CER_BOUND, (prefill["transcript"], ivr.refs[SAMPLE], error)
    with wave.open(prefill["recording"]) as recording:
        assert recording.getframerate() == 8000 and recording.getnframes() / 8000 > 2.0
    assert (await ivr.citizens.done[cid]) is None


async def test_the_city_is_remembered_for_the_callers_next_call(ivr: IvrRig):
    caller = "13907550102"

    async def first(c: Citizen) -> None:
        await c.until_center_runs("ivr-menu")
        await c.press("1")
        await c.until_center_runs("ivr-city")
        await c.press("01")                     # 海口
        await c.until_center_runs("EXEC AudioSocket")
        await c.press("#")                      # nothing to say: # ends the description
        await wait_queued_then_hang_up(c)

    async def second(c: Citizen) -> None:
        await c.until_center_runs("ivr-menu")
        await c.press("1")
        await c.until_center_runs("EXEC AudioSocket")
        await c.press("#")
        await wait_queued_then_hang_up(c)

    cid = await ivr.citizens.call("12345", first, caller_id=caller)
    await ivr.queued(cid)
    cid2 = await ivr.citizens.call("12318", second, caller_id=caller)
    await ivr.queued(cid2)
    assert ivr.center.events.find(lambda e: var_set(v.SUBPLATFORM, "460100")(e) and e.get("Linkedid") == cid2)
    assert not ivr.center.events.find(lambda e: e.name == "AGIExecStart" and e.get("Linkedid") == cid2
                                      and "ivr-city" in e.get("Command"))


async def test_garbage_and_slow_dtmf_reprompt_a_bounded_number_of_times_then_an_agent(ivr: IvrRig):
    async def citizen(c: Citizen) -> None:
        await c.until_center_runs("ivr-menu")
        await c.press("*")                      # not an option
        await c.until_center_runs("ivr-invalid")
        await c.until_center_runs("ivr-menu")
        await c.press("8")                      # not an option either
        await c.until_center_runs("ivr-invalid")
        await c.quiet(9)                        # too slow: the third prompt times out
        await wait_queued_then_hang_up(c)

    cid = await ivr.citizens.call("12345", citizen, caller_id="13907550103")
    await ivr.queued(cid)
    menus = ivr.center.events.find(lambda e: e.name == "AGIExecStart" and e.get("Linkedid") == cid
                                   and "ivr-menu" in e.get("Command"))
    assert len(menus) == 3
    assert not ivr.center.events.find(lambda e: e.name == "AGIExecStart" and e.get("Linkedid") == cid
                                      and "AudioSocket" in e.get("Command"))


async def test_hanging_up_mid_sentence_keeps_what_was_said(ivr: IvrRig):
    async def citizen(c: Citizen) -> None:
        await c.until_center_runs("ivr-menu")
        await c.press("3")
        await c.until_center_runs("ivr-city")
        await c.press("02")
        await c.until_center_runs("EXEC AudioSocket")
        await c.say(LONG_SAMPLE)
        await c.hang_up()                       # no pause, no #: gone mid-description

    cid = await ivr.citizens.call("12345", citizen, caller_id="13907550104")
    prefill = await ivr.prefill(ivr.call_id(cid), status=("final", "no_speech"))
    assert "hung up" in prefill["error"]
    assert prefill["audio_seconds"] > 1.0
    assert prefill["transcript"], "the words before the hang-up are transcribed"
    assert Path(prefill["recording"]).stat().st_size > 16000


async def test_silence_instead_of_a_description_still_reaches_an_agent(ivr: IvrRig):
    async def citizen(c: Citizen) -> None:
        await c.until_center_runs("ivr-menu")
        await c.press("1")
        await c.until_center_runs("ivr-city")
        await c.press("04")
        await c.until_center_runs("EXEC AudioSocket")
        await c.quiet(10)
        await wait_queued_then_hang_up(c)

    cid = await ivr.citizens.call("12345", citizen, caller_id="13907550105")
    await ivr.queued(cid)
    prefill = await ivr.prefill(ivr.call_id(cid), status=("no_speech", "final"))
    assert prefill["status"] == "no_speech" and prefill["transcript"] == ""


async def test_emergency_choice_hands_the_call_to_119_and_records_the_linkage(ivr: IvrRig):
    async def citizen(c: Citizen) -> None:
        await c.until_center_runs("ivr-menu")
        await c.press("9")
        await c.until_center_runs("ivr-emergency-menu")
        await c.press("1")                      # 火警
        await ivr.center.events.wait_for(lambda e: e.name == "DialEnd" and e.get("Linkedid") == c.cid, 30,
                                         "the emergency center answers")
        await c.hang_up()

    cid = await ivr.citizens.call("12345", citizen, caller_id="13907550106")
    center = ivr.center
    await center.events.wait_for(lambda e: var_set(v.LINKAGE, "119")(e) and e.get("Linkedid") == cid, 40,
                                 "the linkage is recorded")
    await center.events.wait_for(lambda e: named("UserEvent", UserEvent="HotlineLinkage", Target="119")(e)
                                 and e.get("Linkedid") == cid, 10, "the linkage event")
    await center.events.wait_for(lambda e: named("DialBegin", DialString="119@trunk-emergency")(e)
                                 and e.get("Linkedid") == cid, 10, "119 dialed over the emergency trunk")


async def test_agi_server_restarted_mid_description_still_reaches_an_agent(ivr: IvrRig):
    async def citizen(c: Citizen) -> None:
        await c.until_center_runs("ivr-menu")
        await c.press("2")
        await c.until_center_runs("ivr-city")
        await c.press("01")
        await c.until_center_runs("EXEC AudioSocket")
        await c.say(LONG_SAMPLE)
        await wait_queued_then_hang_up(c)

    cid = await ivr.citizens.call("12345", citizen, caller_id="13907550107")
    center = ivr.center
    await center.events.wait_for(lambda e: e.name == "AGIExecStart" and e.get("Linkedid") == cid
                                 and "AudioSocket" in e.get("Command"), 40, "the description starts")
    await asyncio.sleep(1.0)  # the caller is mid-sentence
    await center.agi.stop(abort_calls=True)
    await ivr.services.audiosocket.stop()
    await ivr.services.audiosocket.start()
    await center.agi.start()
    await center.events.wait_for(lambda e: named("UserEvent", UserEvent="HotlineAgiFallback")(e)
                                 and e.get("Linkedid") == cid, 30, "the dialplan's AGI fallback")
    await ivr.queued(cid)
    prefill = await ivr.prefill(ivr.call_id(cid), status=("final", "no_speech", "failed"))
    assert Path(prefill["recording"]).stat().st_size > 8000, "the audio captured before the restart is kept"


async def test_redis_down_spools_the_prefill_and_the_call_still_queues(ivr: IvrRig, tmp_path):
    dead = aioredis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.5, socket_timeout=0.5)
    services = ivr.services
    original_store, original_memory = services.store, services.memory
    services.store, services.memory = PrefillStore(dead, tmp_path / "spool"), dead

    async def citizen(c: Citizen) -> None:
        await c.until_center_runs("ivr-menu")
        await c.press("2")
        await c.until_center_runs("ivr-city")   # no remembered city without Redis: asked again
        await c.press("06")
        await c.until_center_runs("EXEC AudioSocket")
        await c.say(SAMPLE)
        await c.quiet(3)
        await wait_queued_then_hang_up(c)

    try:
        cid = await ivr.citizens.call("12345", citizen, caller_id="13907550101")
        await ivr.queued(cid)
        spooled = tmp_path / "spool" / f"{ivr.call_id(cid)}.json"
        for _ in range(300):
            if spooled.exists() and json.loads(spooled.read_text())["status"] == "final":
                break
            await asyncio.sleep(0.1)
        prefill = json.loads(spooled.read_text())
        assert prefill["status"] == "final" and prefill["transcript"]
        drained = await PrefillStore(ivr.redis, tmp_path / "spool").drain_spool()
        assert drained == 1 and json.loads(await ivr.redis.get(KEY.format(call_id=ivr.call_id(cid))))["transcript"]
    finally:
        services.store, services.memory = original_store, original_memory
        await dead.aclose()
