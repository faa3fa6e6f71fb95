"""The entry step repairs what it can so every call reaches a queue with coherent tags."""

from __future__ import annotations

import pytest

from hotline import channelvars as v
from hotline.numberplan import GENERAL_QUEUE, load_plan
from hotline.paths import PROJECT_ROOT
from ivr import entry
from ivr.channel import ChannelHangup
from tests.support.fake_channel import FakeChannel, UnexpectedCall

PLAN = load_plan(PROJECT_ROOT / "asterisk_conf" / "numbers.yaml")


def tagged(**extra: str) -> dict[str, str]:
    base = {v.CALL_ID: "1700000000.1", v.LINE: "12318", v.LINE_CLASS: "dual_merged", v.QUEUE: GENERAL_QUEUE}
    return {**base, **extra}


async def run(channel: FakeChannel) -> entry.CallFacts:
    facts = await entry.read_facts(channel, caller="13907550001")
    return await entry.entry(channel, PLAN, facts)


async def test_a_coherent_call_passes_unchanged():
    channel = FakeChannel(tagged())
    facts = await run(channel)
    assert facts.queue == GENERAL_QUEUE and facts.line == "12318" and facts.caller == "13907550001"
    assert channel.set_calls == []


async def test_an_unknown_queue_becomes_the_general_queue():
    channel = FakeChannel(tagged(**{v.QUEUE: "no-such-queue"}))
    facts = await run(channel)
    assert facts.queue == GENERAL_QUEUE
    assert (f"__{v.QUEUE}", GENERAL_QUEUE) in channel.set_calls


async def test_an_unknown_subplatform_is_dropped_and_a_known_one_kept():
    channel = FakeChannel(tagged(**{v.SUBPLATFORM: "999999"}))
    assert (await run(channel)).subplatform == ""
    assert (f"__{v.SUBPLATFORM}", "") in channel.set_calls
    channel = FakeChannel(tagged(**{v.SUBPLATFORM: "469002"}))
    assert (await run(channel)).subplatform == "469002"


async def test_a_hangup_mid_entry_propagates_for_the_dispatcher():
    with pytest.raises(ChannelHangup):
        await run(FakeChannel(tagged(), hang_up_after=2))


async def test_the_fake_refuses_what_it_was_not_told_to_expect():
    with pytest.raises(UnexpectedCall):
        await FakeChannel().collect_digits("menu", 1, 5000)
