"""The entry step repairs what it can so every call reaches a queue with coherent tags."""

from __future__ import annotations

import pytest

from agi_scripts.channel import AgiChannel
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
    with pytest.raises(ChannelHangup):   # the tags read, then the caller gone when the queue is repaired
        await run(FakeChannel(tagged(**{v.QUEUE: "no-such-queue"}), hang_up_after=1))


async def test_the_tags_are_read_in_one_round_trip_and_nothing_else_is_sent():
    """Under load every AGI round trip is a scheduling delay (BENCHMARKS, AGI under load): a coherent call costs
    the entry route one command."""
    channel = FakeChannel(tagged())
    await run(channel)
    assert channel.log == [f"get {v.CALL_ID},{v.LINE},{v.LINE_CLASS},{v.QUEUE},{v.SUBPLATFORM}"]


class _Agi(AgiChannel):
    """Asterisk's replies to the commands expected, in order; anything else raises."""

    def __init__(self, replies: list[tuple[str, tuple[str, str]]]):
        self.replies = list(replies)

    async def command(self, command: str) -> dict:
        expected, result = self.replies.pop(0)
        assert command == expected, command
        return {"result": result}


async def test_agi_reads_several_variables_with_one_get_full_variable():
    channel = _Agi([('GET FULL VARIABLE "${A}|${B}|${C}"', ("1", "x|yz|"))])
    assert await channel.get_variables(["A", "B", "C"]) == {"A": "x", "B": "yz", "C": ""}
    assert channel.replies == []


async def test_a_value_holding_the_separator_is_read_again_one_by_one():
    channel = _Agi([('GET FULL VARIABLE "${A}|${B}"', ("1", "a|b|c")),
                    ("GET VARIABLE A", ("1", "a|b")), ("GET VARIABLE B", ("0", ""))])
    assert await channel.get_variables(["A", "B"]) == {"A": "a|b", "B": ""}
    assert channel.replies == []


async def test_the_fake_refuses_what_it_was_not_told_to_expect():
    with pytest.raises(UnexpectedCall):
        await FakeChannel().collect_digits("menu", 1, 5000)


def test_the_tags_come_from_the_agi_arguments_in_the_dialplans_order():
    facts = entry.facts_from_arguments(["1700000000.1", "12318", "dual_merged", GENERAL_QUEUE, "469002"], "139")
    assert facts == entry.CallFacts("1700000000.1", "12318", "dual_merged", GENERAL_QUEUE, "469002", "139")
    assert entry.facts_from_arguments([], "139") is None   # an older dialplan passes none: read them instead
    assert entry.facts_from_arguments(["a", "b", "c", "d", "e", "f"], "139") is None   # a tag held a comma


class RecordingAgi(AgiChannel):
    """An AgiChannel whose Asterisk answers 200 result=1 to everything and keeps the command lines."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    async def command(self, command: str) -> dict:
        self.lines.append(command)
        return {"result": ("1", "")}


async def test_several_variables_are_one_mset_and_unsafe_values_go_one_by_one():
    agi = RecordingAgi()
    await agi.set_variables({f"__{v.SUBPLATFORM}": "469002", f"__{v.LIVE}": "", v.AGI_STATUS: "OK"})
    assert agi.lines == [f'EXEC MSet "__{v.SUBPLATFORM}=469002,__{v.LIVE}=,{v.AGI_STATUS}=OK"']
    agi = RecordingAgi()
    await agi.set_variables({"A": "x,y", "B": "1"})   # MSet would split "x,y": each alone, quoted
    assert agi.lines == ['SET VARIABLE A "x,y"', 'SET VARIABLE B "1"']


def test_classic_agi_hands_the_route_its_own_arguments():
    """Classic AGI's first argument is the route's name (AGI(hotline-agi,entry,...)): the route sees the rest,
    numbered from 1 as over FastAGI."""
    from agi_scripts.classic import route_headers

    env = {"agi_callerid": "139", "agi_arg_1": "entry", "agi_arg_2": "1700000000.1", "agi_arg_3": "12318"}
    assert route_headers(env) == {"agi_callerid": "139", "agi_arg_1": "1700000000.1", "agi_arg_2": "12318"}
