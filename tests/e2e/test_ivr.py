"""The IVR and the speech prefill, end to end: a simulated citizen walks the menu with real DTMF and speaks
real recorded Mandarin into a real Asterisk; the prefill must land in a real Redis while the call queues.
"""

from __future__ import annotations

import asyncio
import stat
import json
import wave
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from hotline import access
from hotline import channelvars as v
from hotline.contracts.prefill import KEY
from ivr.prefill_store import PrefillStore
from ivr.speech.whisper_engine import WhisperEngine, assemble_model
from tests.support.caller import Citizen
from tests.support.center import Center
from tests.support.cer import cer
from tests.support.events import app_ran, named, var_set
from hotline.site import Intake
from tests.support.ivr import MENU, IvrRig, ivr_rig, wait_queued_then_hang_up

pytestmark = pytest.mark.asterisk

# Whisper base on one 8 kHz telephone utterance: the whole-set figure is in BENCHMARKS.md (bench/stt.py).
WHISPER_CER_BOUND = 0.5
SAMPLE = "BAC009S0150W0015"      # 上海市第一食品商店
LONG_SAMPLE = "BAC009S0252W0438"  # 女子因抢救无效不幸身亡


@pytest.fixture(scope="session")
def whisper(tmp_path_factory) -> WhisperEngine:
    return WhisperEngine(assemble_model(tmp_path_factory.mktemp("models") / "whisper-base"))


@pytest.fixture(scope="module")
async def ivr(center: Center, whisper, tmp_path_factory) -> IvrRig:
    """The center with the full IVR: AudioSocket, Whisper, a real Redis; restored to the core afterwards."""
    async with ivr_rig(center, whisper, tmp_path_factory.mktemp("ivr"), samples=(SAMPLE, LONG_SAMPLE)) as rig:
        yield rig


async def test_complaint_with_city_and_description_is_prefilled_while_the_call_queues(ivr: IvrRig):
    async def citizen(c: Citizen) -> None:
        await c.walk_to_description("2", city="06")  # 投诉举报; 06 = 琼海, the sixth sub-platform in the plan
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
    # The caller's voice is personal data: after the call, a private file in a private directory.
    recorded = Path(prefill["recording"])
    assert (stat.S_IMODE(recorded.stat().st_mode), stat.S_IMODE(recorded.parent.stat().st_mode)) == (0o600, 0o700)
    assert (await ivr.citizens.done[cid]) is None


async def test_the_city_is_remembered_for_the_callers_next_call(ivr: IvrRig):
    caller = "13907550102"

    async def first(c: Citizen) -> None:
        await c.walk_to_description("1", city="01")  # 01 = 海口
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
        await c.walk_to_description("3", city="02")
        await c.say(LONG_SAMPLE)
        await c.hang_up()                       # no pause, no #: gone mid-description

    cid = await ivr.citizens.call("12345", citizen, caller_id="13907550104")
    prefill = await ivr.prefill(ivr.call_id(cid), status=("final", "no_speech"))
    assert "hung up" in prefill["error"]
    assert prefill["audio_seconds"] > 1.0
    assert prefill["transcript"], "the words before the hang-up are transcribed"
    assert Path(prefill["recording"]).stat().st_size > 16000


@pytest.mark.parametrize("phone", ["sends-silence", "sends-nothing"])
async def test_silence_instead_of_a_description_still_reaches_an_agent(ivr: IvrRig, phone: str):
    """A caller who says nothing: the line carries silence, or (silence suppression) no audio at all."""
    async def citizen(c: Citizen) -> None:
        await c.walk_to_description("1", city="04")
        if phone == "sends-silence":
            await c.quiet(10)
        else:
            await asyncio.sleep(12)
        await wait_queued_then_hang_up(c)

    caller = {"sends-silence": "13907550105", "sends-nothing": "13907550109"}[phone]
    cid = await ivr.citizens.call("12345", citizen, caller_id=caller)
    await ivr.queued(cid)
    prefill = await ivr.prefill(ivr.call_id(cid), status=("no_speech", "final", "failed"))
    assert prefill["status"] == "no_speech" and prefill["transcript"] == ""
    assert "hung up" not in prefill["error"]
    assert ivr.center.events.find(lambda e: var_set(v.AGI_STATUS, v.AGI_OK)(e) and e.get("Linkedid") == cid), \
        "the IVR finished normally: no AudioSocket time-out mistaken for a hang-up"


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
        await c.walk_to_description("2", city="01")
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
        await c.walk_to_description("2", city="06")  # without Redis no city is remembered: asked again
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


async def test_the_same_ivr_runs_over_classic_agi_with_pyst2(ivr: IvrRig):
    """A site that runs scripts from agi-bin: Asterisk starts hotline-agi per call; same flow, same prefill."""
    center = ivr.center
    models = center.paths.home / "models"
    assemble_model(models / "whisper-base")
    center.asterisk.models_source = models
    center.secrets.ensure([access.REDIS_IVR_SECRET])   # classic AGI: the IVR's ACL user
    center.secrets.path(access.REDIS_IVR_SECRET).write_text(ivr.redis_server.passwords[access.REDIS_IVR_SECRET] + "\n")
    center.apply_site(agi_transport="classic", redis_url=ivr.redis_server.url, intake=MENU)
    try:
        async def citizen(c: Citizen) -> None:
            await c.walk_to_description("2", city="06")
            await c.say(SAMPLE)
            await c.quiet(3)
            await wait_queued_then_hang_up(c)

        cid = await ivr.citizens.call("12345", citizen, caller_id="13907550108")
        await center.events.wait_for(lambda e: app_ran("AGI", "hotline-agi,entry")(e) and e.get("Linkedid") == cid,
                                     30, "Asterisk runs the agi-bin script")
        await ivr.queued(cid)
        prefill = await ivr.prefill(ivr.call_id(cid), timeout=60)
        assert prefill["menu_choice"] == "投诉举报" and prefill["subplatform"] == "469002"
        assert cer(prefill["transcript"], ivr.refs[SAMPLE]) <= WHISPER_CER_BOUND, prefill["transcript"]
        assert center.asterisk.host_path(prefill["recording"]).stat().st_size > 16000
    finally:
        center.apply_site(agi_transport="fastagi", intake=Intake())
