"""Every number in the plan, called through the real dialplan: what the caller hears and where the call goes.

Each call is an AMI Originate of a Local channel into the inbound context (standing in for the carrier),
with a citizen's caller ID. Assertions read AMI events of that call only (by its Linkedid).
"""

from __future__ import annotations

import time

import pytest

from hotline import channelvars as v
from hotline.numberplan import GENERAL_QUEUE, LineClass, load_plan
from hotline.paths import PROJECT_ROOT
from tests.support.center import AFTER_CUTOVER, TRANSITION_DAY, Center
from tests.support.events import app_ran, named, var_set

pytestmark = pytest.mark.asterisk

PLAN = load_plan(PROJECT_ROOT / "asterisk_conf" / "numbers.yaml")
INBOUND = [line for line in PLAN.lines if line.line_class not in (LineClass.ONE_KEY_TRANSFER, LineClass.EMERGENCY)]
TRANSFER_TARGETS = PLAN.lines_of(LineClass.SUB_CENTER, LineClass.DUAL_RETAINED, LineClass.ONE_KEY_TRANSFER,
                                 LineClass.EMERGENCY)
CANCELLED = PLAN.lines_of(LineClass.CANCELLED_DIRECT, LineClass.CANCELLED_AFTER_MERGE)
CITIZEN = "13907550001"


async def place(center: Center, number: str, context: str = v.CTX_INBOUND, variables: dict | None = None) -> str:
    cid = center.new_call_id()
    await center.ami.originate(f"Local/{number}@{context}", caller_id=f'"市民" <{CITIZEN}>', channel_id=cid,
                               variables=variables)
    return cid


async def expect(center: Center, cid: str, predicate, what: str, timeout: float = 25):
    return await center.events.wait_for(lambda e: e.get("Linkedid") == cid and predicate(e), timeout,
                                        f"{what} (call {cid})")


async def hang_up(center: Center, cid: str) -> None:
    """The citizen hangs up; both halves of the call must go away."""
    first = next(e for e in center.events.events if e.name == "Newchannel" and e.get("Uniqueid") == cid)
    await center.ami.hangup(first["Channel"])
    await expect(center, cid, named("Hangup", Uniqueid=cid), "the citizen's channel hangs up")
    await expect(center, cid, named("Hangup", Uniqueid=f"{cid}-2"), "the dialplan's channel hangs up")


async def expect_tagged(center: Center, cid: str, line: str, line_class: str) -> None:
    await expect(center, cid, var_set(v.LINE, line), f"{v.LINE}={line}")
    await expect(center, cid, var_set(v.LINE_CLASS, line_class), f"{v.LINE_CLASS}={line_class}")
    await expect(center, cid, var_set(v.CALL_ID, cid + "-2"), f"{v.CALL_ID} is the inbound channel's id")


async def expect_queued(center: Center, cid: str, queue: str = GENERAL_QUEUE, agi_ok: bool = True) -> None:
    if agi_ok:
        await expect(center, cid, var_set(v.AGI_STATUS, v.AGI_OK), "the FastAGI entry route finished")
    await expect(center, cid, named("QueueCallerJoin", Queue=queue), f"joining queue {queue}")


@pytest.mark.parametrize("line", INBOUND, ids=lambda line: f"{line.number}-{line.line_class.value}")
async def test_inbound_number_reaches_its_destination(center: Center, line) -> None:
    """Transition-window day: every inbound number is tagged, heard, and reaches a human or its seats."""
    assert center.site.today == TRANSITION_DAY
    cid = await place(center, line.number)
    await expect_tagged(center, cid, line.number, line.line_class.value)
    cls = line.line_class
    if cls in (LineClass.CANCELLED_DIRECT, LineClass.CANCELLED_AFTER_MERGE):
        await expect(center, cid, app_ran("Playback", f"/line-{line.number}-notice"), "the transition notice")
        await expect(center, cid, var_set(v.LINE_STATE, "transition"), "state transition")
    else:
        await expect(center, cid, app_ran("Playback", f"/line-{line.number}-greeting"), "the line's greeting")
    await expect(center, cid, var_set("PLAYBACKSTATUS", "SUCCESS"), "the sound file exists and played")

    if cls == LineClass.DUAL_RETAINED:
        await expect(center, cid, named("DialBegin", DialString=f"{line.number}@trunk-{line.trunk}"),
                     "dialing the retained seats' trunk")
        if line.number == "12333":  # the peer's 12333 seats are busy: fall back to a 12345 agent
            await expect(center, cid, named("DialEnd", DialStatus="BUSY"), "the retained seats are busy")
            await expect_queued(center, cid)
        else:
            await expect(center, cid, named("DialEnd", DialStatus="ANSWER"), "a retained seat answers")
            await center.peer_events.wait_for(
                lambda e: e.name == "Newchannel" and e.get("Exten") == line.number, 10,
                f"the peer receives {line.number} over SIP")
    else:
        if cls == LineClass.SUB_CENTER:
            await expect(center, cid, var_set(v.SUBCENTER, line.number), "the sub-center tag")
        if cls in (LineClass.DUAL_EXPERT, LineClass.EXPERT_SEAT):
            await expect(center, cid, app_ran("Queue", f"{line.expert_queue},t"), "trying the expert seat first")
        await expect_queued(center, cid)
    await hang_up(center, cid)


@pytest.mark.parametrize("line", CANCELLED, ids=lambda line: line.number)
async def test_retired_number_offers_to_connect(center: Center, line) -> None:
    """After cut-over the number says it is retired, names 12345, and connects on 1."""
    center.set_today(AFTER_CUTOVER)
    try:
        cid = await place(center, line.number)
        await expect(center, cid, var_set(v.LINE_STATE, "retired"), "state retired")
        await expect(center, cid, app_ran("Read", f"/line-{line.number}-retired"), "the retired-number notice")
        citizen = next(e for e in center.events.events if e.name == "Newchannel" and e.get("Uniqueid") == cid)
        await center.ami.action({"Action": "PlayDTMF", "Channel": citizen["Channel"], "Digit": "1", "Duration": "200"})
        await expect(center, cid, var_set("CHOICE", "1"), "the citizen pressed 1")
        if line.replaced_by is not None:  # 12349 → the minors-protection line on 12345
            await expect(center, cid, var_set(v.QUEUE, line.replaced_by.queue), "the replacement line's queue")
            await expect(center, cid, app_ran("Queue", f"{line.replaced_by.queue},t"), "trying the replacement seat")
        await expect_tagged(center, cid, line.number, line.line_class.value)
        await expect_queued(center, cid)
        await hang_up(center, cid)
    finally:
        center.set_today(TRANSITION_DAY)


async def test_retired_number_connects_a_caller_who_stays_on_the_line(center: Center) -> None:
    center.set_today(AFTER_CUTOVER)
    try:
        cid = await place(center, "12396")
        await expect(center, cid, app_ran("Read", "/line-12396-retired"), "the retired-number notice")
        await expect(center, cid, var_set("TRIES", "2"), "the notice played twice", timeout=40)
        await expect_queued(center, cid)
        await hang_up(center, cid)
    finally:
        center.set_today(TRANSITION_DAY)


@pytest.mark.parametrize("line", TRANSFER_TARGETS, ids=lambda line: f"{line.number}-{line.line_class.value}")
async def test_transfer_target_is_dialed_over_its_trunk(center: Center, line) -> None:
    """One-key, emergency, sub-center and retained-seat numbers as an agent hands a call to them."""
    cid = await place(center, line.number, context=v.CTX_TRANSFER)
    await expect(center, cid, var_set(v.TRANSFER_TARGET, line.number), "the transfer target tag")
    if line.line_class in (LineClass.EMERGENCY, LineClass.ONE_KEY_TRANSFER):
        await expect(center, cid, var_set(v.LINKAGE, line.number), "the linkage is recorded on the channel")
        await expect(center, cid, named("UserEvent", UserEvent="HotlineLinkage", Target=line.number),
                     "the linkage event for the desk")
    await expect(center, cid, named("DialBegin", DialString=f"{line.number}@trunk-{line.trunk}"), "dialing the trunk")
    if line.number == "12333":
        await expect(center, cid, named("DialEnd", DialStatus="BUSY"), "busy seats")
        await expect(center, cid, app_ran("Playback", "/transfer-failed"), "the caller is told")
        await expect_queued(center, cid, agi_ok=False)
    else:
        await expect(center, cid, named("DialEnd", DialStatus="ANSWER"), "the far end answers")
    await hang_up(center, cid)


async def test_unknown_number_still_reaches_12345_and_is_logged(center: Center) -> None:
    cid = await place(center, "12399")
    await expect(center, cid, named("UserEvent", UserEvent="HotlineUnknownNumber", Dialed="12399"),
                 "the unknown-number event")
    await expect_tagged(center, cid, "12345", v.UNKNOWN_CLASS)
    await expect(center, cid, var_set(v.DIALED, "12399"), "the dialed number is kept")
    await expect(center, cid, app_ran("Playback", "/line-12345-greeting"), "the 12345 greeting")
    await expect_queued(center, cid)
    await hang_up(center, cid)
    assert "Unknown dialed number '12399'" in center.messages_log()


async def test_number_with_area_code_prefix_is_normalised(center: Center) -> None:
    cid = await place(center, "089812318")
    await expect_tagged(center, cid, "12318", LineClass.DUAL_MERGED.value)
    await expect(center, cid, var_set(v.DIALED, "089812318"), "the number as delivered is kept")
    await expect_queued(center, cid)
    await hang_up(center, cid)


async def test_subplatform_tier_overflows_to_the_province(center: Center) -> None:
    """A call routed to 琼海's sub-platform tries its seats first; with none logged in the province takes it."""
    cid = await place(center, "12345", variables={f"__{v.SUBPLATFORM}": "469002"})
    await expect(center, cid, app_ran("Queue", "sp-469002,tc,,,30"), "the 琼海 sub-platform queue")
    await expect_queued(center, cid)
    await hang_up(center, cid)


async def test_agi_server_down_still_reaches_the_queue(center: Center) -> None:
    await center.agi.stop()
    try:
        cid = await place(center, "12345")
        await expect(center, cid, var_set("AGISTATUS", "FAILURE"), "AGI could not connect")
        await expect(center, cid, named("UserEvent", UserEvent="HotlineAgiFallback"), "the fallback is announced")
        await expect_queued(center, cid, agi_ok=False)
        await hang_up(center, cid)
    finally:
        await center.agi.start()


async def test_failing_agi_route_still_reaches_the_queue(center: Center) -> None:
    from agi_scripts.routes import Route

    async def broken(call) -> None:
        raise RuntimeError("simulated bug in the entry route")

    original = center.agi.routes["entry"]
    center.agi.routes["entry"] = Route(broken, timeout=5)
    try:
        cid = await place(center, "12318")
        await expect(center, cid, var_set(v.AGI_STATUS, v.AGI_FAILED), "the dispatcher reports the failure")
        await expect(center, cid, named("UserEvent", UserEvent="HotlineAgiFallback"), "the fallback is announced")
        await expect_queued(center, cid, agi_ok=False)
        await hang_up(center, cid)
    finally:
        center.agi.routes["entry"] = original


async def test_call_over_real_sip_from_the_carrier(center: Center) -> None:
    """The peer Asterisk, as the carrier, calls 12345 over PJSIP on loopback with the generated credentials."""
    cid = center.new_call_id()
    await center.peer_ami.originate("PJSIP/12366@center", caller_id=f'"市民" <{CITIZEN}>', channel_id=cid)
    tagged = await center.events.wait_for(
        lambda e: var_set(v.LINE, "12366")(e) and e.get("Channel").startswith(f"PJSIP/{center.site.carrier.username}-"),
        25, "a PJSIP call from the carrier tagged 12366")
    linked = tagged["Linkedid"]
    await expect(center, linked, var_set(v.SUBCENTER, "12366"), "the sub-center tag")
    caller = await expect(center, linked, named("Newchannel"), "the inbound channel")
    assert caller["CallerIDNum"] == CITIZEN
    await expect_queued(center, linked)
    await center.peer_ami.hangup(next(e for e in center.peer_events.events
                                      if e.name == "Newchannel" and e.get("Uniqueid") == cid)["Channel"])
    await expect(center, linked, named("Hangup"), "the call ends on the center when the carrier hangs up")


async def test_wrong_carrier_password_is_refused(center: Center) -> None:
    started = time.monotonic()
    cid = center.new_call_id()
    await center.peer_ami.originate("PJSIP/12345@center-badauth", caller_id=f"<{CITIZEN}>", channel_id=cid)
    await center.events.wait_for(lambda e: e.name in ("ChallengeResponseFailed", "InvalidPassword"), 15,
                                 "the center's security event for the bad credential")
    await center.peer_events.wait_for(lambda e: e.name == "Hangup" and e.get("Uniqueid") == cid, 15,
                                      "the peer's call is refused")
    assert not center.events.find(lambda e: e.name == "Newchannel" and e.received > started
                                  and e.get("Channel").startswith(f"PJSIP/{center.site.carrier.username}-"))
