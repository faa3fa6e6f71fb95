"""Self-service and speech on a real Asterisk: ticket progress by DTMF, the callback survey after the agent
hangs up, the city said aloud, and emergency words in a real recording.

A simulated citizen (tests/support/caller.py) drives each call with real DTMF and real audio; the
assertions read the center's AMI events of that call and the real Redis the IVR uses.
"""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from hotline import access
from hotline import channelvars as v
from ivr import survey, ticket_status as ts
from ivr.speech.whisper_engine import WhisperEngine, assemble_model
from tests.support.agent import hanging_up_agent
from tests.support.caller import Citizen
from tests.support.center import Center
from tests.support.events import app_ran, named, var_set
from hotline.site import Intake
from tests.support.ivr import MENU, IvrRig, caller_sound_dirs, ivr_rig, wait_queued_then_hang_up
from tests.support.samples import synthesise

pytestmark = pytest.mark.asterisk

NUMBER = "20261122000123"
UNIT = "琼海市水务局"
CST = dt.timezone(dt.timedelta(hours=8))
# shared/stt-samples has no recording naming a Hainan city: 文昌 is synthesised by the prompt renderer
# (espeak-ng). Whisper base understands only some synthetic city names even with the city hint; 文昌 is one.
CITY_SAMPLE, CITY_TEXT, CITY_CODE = "city-wenchang", "文昌", "469005"
# The one real recording with an emergency word Whisper base hears on 8 kHz telephone audio:
# 车辆起火无人员伤亡 ("a vehicle on fire, nobody hurt"): 起火 → 119. (BAC009S0252W0488 says 追尾, → 122,
# but Whisper hears 最为.)
FIRE_SAMPLE = "BAC009S0252W0476"


@pytest.fixture(scope="session")
def whisper(tmp_path_factory) -> WhisperEngine:
    return WhisperEngine(assemble_model(tmp_path_factory.mktemp("models") / "whisper-base"))


@pytest.fixture(scope="module")
async def ivr(center: Center, whisper, tmp_path_factory) -> IvrRig:
    async with ivr_rig(center, whisper, tmp_path_factory.mktemp("self-service"), samples=(FIRE_SAMPLE,)) as rig:
        for target in caller_sound_dirs(center):
            synthesise(CITY_SAMPLE, CITY_TEXT, target)
        await rig.redis.delete(survey.STREAM)
        yield rig


def played(rig: IvrRig, cid: str) -> list[str]:
    """The sound files the center's IVR played on this call, in order (prompt ids)."""
    return [e.get("Command").split()[2].rsplit("/", 1)[-1]
            for e in rig.center.events.of_call(cid)
            if e.name == "AGIExecStart" and e.get("Command").startswith("STREAM FILE ") and e.get("Uniqueid") != cid]


def prompted(rig: IvrRig, cid: str, prompt: str) -> int:
    return sum(1 for e in rig.center.events.of_call(cid) if e.name == "AGIExecStart" and e.get("Uniqueid") != cid
               and e.get("Command").startswith("GET DATA ") and f"/{prompt} " in e.get("Command"))


async def write_status(rig: IvrRig, state: str = "dispatched") -> None:
    status = ts.TicketStatus(number=NUMBER, state=state, unit_name=UNIT,
                             due_at=dt.datetime(2026, 11, 25, 18, 0, tzinfo=CST),
                             updated_at=dt.datetime(2026, 11, 22, 9, 30, tzinfo=CST))
    await rig.redis.hset(ts.key(NUMBER), mapping=status.to_hash())


async def survey_entry(rig: IvrRig, call_id: str, timeout: float = 20) -> dict[str, str]:
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        for _id, fields in await rig.redis.xrange(survey.STREAM):
            entry = {k.decode(): val.decode() for k, val in fields.items()}
            if entry["call_id"] == call_id:
                return entry
        await asyncio.sleep(0.2)
    raise AssertionError(f"no survey entry for {call_id} within {timeout} s")


# ── ticket progress ─────────────────────────────────────────────────────────────────────────────────────
async def test_ticket_progress_reads_the_status_back_then_queues(ivr: IvrRig):
    await write_status(ivr)

    async def citizen(c: Citizen) -> None:
        await c.until_center_runs("ivr-menu")
        await c.press("5")
        await c.until_center_runs("ticket-enter-number")
        await c.press(NUMBER)                  # 14 digits: GET DATA ends on the length
        await c.until_center_runs("ticket-after", timeout=60)
        await wait_queued_then_hang_up(c)      # nothing pressed: to the queue

    cid = await ivr.citizens.call("12345", citizen, caller_id="13907550201")
    await ivr.queued(cid)
    heard = played(ivr, cid)
    expected = ["ticket-intro", *[ts.digit_prompt(d, yao=True) for d in NUMBER], "ticket-state-is",
                "ticket-state-dispatched", "ticket-unit-is", ts.unit_prompt(UNIT), "ticket-due-is",
                "digit-2", "digit-0", "digit-2", "digit-6", "date-year", "month-11", "day-25"]
    assert heard[:len(expected)] == expected, heard
    assert heard[-1] == "please-hold"
    sounds = ivr.center.asterisk.host_path(ivr.center.site.instance_dir + "/sounds")
    assert all((sounds / f"{name}.wav").stat().st_size > 1000 for name in heard)  # real files Asterisk has
    assert ivr.center.events.find(lambda e: var_set(v.TICKET, NUMBER)(e) and e.get("Linkedid") == cid)
    assert ivr.center.events.find(lambda e: var_set(v.AGI_STATUS, v.AGI_OK)(e) and e.get("Linkedid") == cid)
    assert (await ivr.citizens.done[cid]) is None


async def test_unknown_and_garbage_ticket_numbers_reprompt_then_an_agent(ivr: IvrRig):
    async def citizen(c: Citizen) -> None:
        await c.until_center_runs("ivr-menu")
        await c.press("5")
        await c.until_center_runs("ticket-enter-number")
        await c.press("20261122999999")        # well formed, but the desk has no such ticket
        await c.until_center_runs("ticket-not-found")
        await c.until_center_runs("ticket-enter-number")
        await c.press("12345#")                # garbage
        await c.until_center_runs("ticket-invalid-number")
        await c.until_center_runs("ticket-enter-number")
        await c.quiet(10)                      # too slow: the third prompt times out
        await wait_queued_then_hang_up(c)

    await ivr.redis.delete(ts.key("20261122999999"))
    cid = await ivr.citizens.call("12345", citizen, caller_id="13907550202")
    await ivr.queued(cid)
    assert prompted(ivr, cid, "ticket-enter-number") == 3
    heard = played(ivr, cid)
    assert heard == ["ticket-not-found", "ticket-invalid-number", "please-hold"], heard
    assert not ivr.center.events.find(lambda e: var_set(v.TICKET)(e) and e.get("Linkedid") == cid)


# ── the callback survey ─────────────────────────────────────────────────────────────────────────────────
async def test_agent_hangs_up_first_and_the_caller_rates_the_call(ivr: IvrRig):
    async def citizen(c: Citizen) -> None:
        await c.until_center_runs("ivr-menu")
        await c.press("0")                     # 人工服务
        await c.until_center_runs("survey-menu", timeout=60)
        await c.press("2")                     # 基本满意
        await c.until_center_runs("survey-thanks")

    async with hanging_up_agent(ivr.center, talk_seconds=2):
        cid = await ivr.citizens.call("12345", citizen, caller_id="13907550203")
        await ivr.center.events.wait_for(lambda e: named("AgentConnect")(e) and e.get("Linkedid") == cid, 60,
                                         "the agent answers")
    entry = await survey_entry(ivr, ivr.call_id(cid))
    assert entry["result"] == "basically_satisfied" and entry["digits"] == "2"
    assert entry["line"] == "12345" and entry["caller"] == ""   # not kept in the stream
    at = dt.datetime.fromisoformat(entry["at"])
    assert at.utcoffset() == dt.timedelta(0)
    assert ivr.center.events.find(lambda e: var_set("QUEUESTATUS", "CONTINUE")(e) and e.get("Linkedid") == cid)
    await ivr.center.events.wait_for(lambda e: named("Hangup", Uniqueid=ivr.call_id(cid))(e), 20,
                                     "the center ends the call after the thanks")
    assert (await ivr.citizens.done[cid]) is None


async def test_caller_who_hangs_up_at_the_survey_is_recorded_as_no_answer(ivr: IvrRig):
    async def citizen(c: Citizen) -> None:
        await c.until_center_runs("ivr-menu")
        await c.press("0")
        await c.until_center_runs("survey-menu", timeout=60)
        await c.hang_up()

    async with hanging_up_agent(ivr.center, talk_seconds=1):
        cid = await ivr.citizens.call("12318", citizen, caller_id="13907550204")
        await ivr.center.events.wait_for(lambda e: named("AgentConnect")(e) and e.get("Linkedid") == cid, 60,
                                         "the agent answers")
    entry = await survey_entry(ivr, ivr.call_id(cid))
    assert (entry["result"], entry["digits"], entry["line"]) == ("no_answer", "", "12318")
    assert not ivr.center.events.find(lambda e: var_set(v.AGI_STATUS, v.AGI_FAILED)(e) and e.get("Linkedid") == cid)


async def test_caller_who_hangs_up_before_the_agent_is_not_surveyed(ivr: IvrRig):
    async def citizen(c: Citizen) -> None:
        await c.until_center_runs("ivr-menu")
        await c.press("0")
        await c.center.events.wait_for(lambda e: named("AgentConnect")(e) and e.get("Linkedid") == c.cid, 60,
                                       "the agent answers")
        await c.hang_up()                      # while the agent is still talking

    async with hanging_up_agent(ivr.center, talk_seconds=10):
        cid = await ivr.citizens.call("12345", citizen, caller_id="13907550205")
        await ivr.center.events.wait_for(lambda e: named("Hangup", Uniqueid=ivr.call_id(cid))(e), 60,
                                         "the call ends")
    await asyncio.sleep(1)
    assert not [f for _id, f in await ivr.redis.xrange(survey.STREAM) if f[b"call_id"] == ivr.call_id(cid).encode()]
    assert not ivr.center.events.find(lambda e: e.name == "AGIExecStart" and e.get("Linkedid") == cid
                                      and "survey-menu" in e.get("Command"))


# ── speech: the city said aloud, emergency words in a real recording ─────────────────────────────────────
async def test_the_city_can_be_said_instead_of_keyed(ivr: IvrRig):
    async def citizen(c: Citizen) -> None:
        await c.until_center_runs("ivr-menu")
        await c.press("1")                     # 咨询
        await c.until_center_runs("ivr-city")
        await c.until_center_runs("EXEC AudioSocket")
        await c.say(CITY_SAMPLE)               # "文昌"
        await c.quiet(2)
        await c.until_center_runs("ivr-describe", timeout=30)
        await c.until_center_runs("EXEC AudioSocket")
        await c.press("#")
        await wait_queued_then_hang_up(c)

    cid = await ivr.citizens.call("12345", citizen, caller_id="13907550206")
    await ivr.center.events.wait_for(lambda e: var_set(v.SUBPLATFORM, CITY_CODE)(e) and e.get("Linkedid") == cid,
                                     60, "the said city becomes the call's sub-platform")
    await ivr.center.events.wait_for(lambda e: app_ran("Queue", f"sp-{CITY_CODE},tc")(e) and e.get("Linkedid") == cid,
                                     30, "文昌's sub-platform queue is tried first")
    await ivr.queued(cid)
    assert prompted(ivr, cid, "ivr-city") == 0 and "ivr-invalid" not in played(ivr, cid)


async def test_emergency_words_in_a_real_recording_hand_the_call_to_119(ivr: IvrRig):
    async def citizen(c: Citizen) -> None:
        await c.walk_to_description("3", city="01")  # 求助, 海口
        await c.say(FIRE_SAMPLE)               # 车辆起火无人员伤亡
        await c.quiet(3)
        await ivr.center.events.wait_for(lambda e: e.name == "DialEnd" and e.get("Linkedid") == c.cid, 40,
                                         "the emergency center answers")
        await c.hang_up()

    cid = await ivr.citizens.call("12345", citizen, caller_id="13907550207")
    center = ivr.center
    await center.events.wait_for(lambda e: var_set(v.EMERGENCY, "119")(e) and e.get("Linkedid") == cid, 60,
                                 "the IVR hands the call to 119")
    await center.events.wait_for(lambda e: named("DialBegin", DialString="119@trunk-emergency")(e)
                                 and e.get("Linkedid") == cid, 20, "119 dialed over the emergency trunk")
    assert "ivr-emergency-transfer" in played(ivr, cid)
    prefill = await ivr.prefill(ivr.call_id(cid))
    assert prefill["emergency"] == "119" and "起火" in prefill["transcript"], prefill["transcript"]
    assert not center.events.find(lambda e: e.name == "QueueCallerJoin" and e.get("Linkedid") == cid)


# ── classic AGI (pyst2): the new routes over the other transport ─────────────────────────────────────────
async def test_progress_and_survey_run_over_classic_agi(ivr: IvrRig):
    center = ivr.center
    await write_status(ivr, state="signed")
    center.secrets.ensure([access.REDIS_IVR_SECRET])   # classic AGI: the IVR's ACL user
    center.secrets.path(access.REDIS_IVR_SECRET).write_text(ivr.redis_server.passwords[access.REDIS_IVR_SECRET] + "\n")
    center.apply_site(agi_transport="classic", redis_url=ivr.redis_server.url, intake=MENU)
    try:
        async def citizen(c: Citizen) -> None:
            await c.until_center_runs("ivr-menu", timeout=60)
            await c.press("5")
            await c.until_center_runs("ticket-enter-number")
            await c.press(NUMBER)
            await c.until_center_runs("ticket-after", timeout=60)
            await c.press("0")                 # an agent, please
            await c.until_center_runs("survey-menu", timeout=90)
            await c.press("1")                 # 满意
            await c.until_center_runs("survey-thanks")

        async with hanging_up_agent(center, talk_seconds=2):
            cid = await ivr.citizens.call("12345", citizen, caller_id="13907550208")
            await center.events.wait_for(lambda e: app_ran("AGI", "hotline-agi,entry")(e) and e.get("Linkedid") == cid,
                                         30, "Asterisk runs the agi-bin script")
            await center.events.wait_for(lambda e: named("AgentConnect")(e) and e.get("Linkedid") == cid, 90,
                                         "the agent answers")
        await center.events.wait_for(lambda e: app_ran("AGI", "hotline-agi,survey")(e) and e.get("Linkedid") == cid,
                                     30, "the survey runs from agi-bin too")
        entry = await survey_entry(ivr, ivr.call_id(cid), timeout=40)
        assert (entry["result"], entry["digits"], entry["line"]) == ("satisfied", "1", "12345")
        assert "ticket-state-signed" in played(ivr, cid)
    finally:
        center.apply_site(agi_transport="fastagi", intake=Intake())
