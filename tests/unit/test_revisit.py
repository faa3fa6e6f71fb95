"""智能回访: the IVR's key handling (a fake channel that raises on the unexpected), the campaign's pacing rules
with an injected clock, and the desk's reading of the dialplan's events and the IVR's results."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from agent_desk.callbacks import campaign as cp
from agent_desk.callbacks import revisit as desk_revisit
from agent_desk.callbacks.rules import CallbackPolicy
from hotline import channelvars as v
from hotline.ami import AmiEvent
from hotline.contracts.revisit import RevisitEntry
from ivr import revisit
from ivr import ticket_status as ts
from ivr.channel import ChannelHangup
from tests.support.fake_channel import FakeChannel, UnexpectedCall

SOUNDS = "/snd"
TICKET = "20261205000123"
POLICY = CallbackPolicy(quiet_start=dt.time(21, 0), quiet_end=dt.time(8, 0), retry_minutes=(10, 30, 120))


class KeyChannel(FakeChannel):
    """Also presses a key during a read-out prompt (``escapes``: sound → key); otherwise the fake's rules."""

    def __init__(self, digits: list[str], escapes: dict[str, str] | None = None, **kw):
        super().__init__(digits=digits, **kw)
        self.escapes = dict(escapes or {})

    async def play(self, sound: str, escape_digits: str = "") -> str:
        await super().play(sound, escape_digits)
        key = self.escapes.pop(sound, "")
        assert not key or key in escape_digits, f"{key} pressed during {sound} is not an escape digit"
        return key


def spooled(tmp_path) -> list[dict[str, str]]:
    return [json.loads(p.read_text()) for p in sorted((tmp_path / "spool").glob("*.json"))]


async def run(channel, tmp_path, topic="topic-03-water", unit="unit-x") -> RevisitEntry:
    store = revisit.RevisitStore(None, tmp_path / "spool")
    return await revisit.run_revisit(channel, store, SOUNDS, out_id="rv-1", ticket=TICKET, topic_id=topic,
                                     unit_id=unit)


def s(*ids: str) -> list[str]:
    return [f"{SOUNDS}/{i}" for i in ids]


async def test_solved_and_satisfied_reads_the_ticket_then_asks_both_questions(tmp_path) -> None:
    channel = KeyChannel(["1", "2"])
    entry = await run(channel, tmp_path)
    digits = [ts.digit_prompt(d, yao=True) for d in TICKET]
    assert channel.played == s("revisit-intro", *digits, "revisit-matter", "topic-03-water", "revisit-unit",
                               "unit-x", "revisit-solved", "revisit-satisfaction", "revisit-thanks")
    assert (entry.result, entry.solved, entry.digits) == ("basically_satisfied", "yes", "12")
    assert spooled(tmp_path) == [entry.to_fields()]   # Redis is None here: the spool keeps it


async def test_keys_out_of_range_re_prompt_then_give_up_as_no_answer(tmp_path) -> None:
    channel = KeyChannel(["5", "", "7"])
    entry = await run(channel, tmp_path, topic="", unit="")
    assert channel.played[-6:] == s("revisit-solved", "ivr-invalid", "revisit-solved", "ivr-invalid",
                                    "revisit-solved", "revisit-goodbye")
    assert "revisit-matter" not in " ".join(channel.played)   # no rendered topic / unit: that part is not read
    assert (entry.result, entry.solved, entry.digits) == ("no_answer", "", "57")


async def test_unsolved_then_unsatisfied_after_a_wrong_key(tmp_path) -> None:
    entry = await run(KeyChannel(["2", "4", "3"]), tmp_path)
    assert (entry.result, entry.solved, entry.digits) == ("unsatisfied", "no", "243")


@pytest.mark.parametrize(("digits", "escapes", "result"), [
    (["0"], {}, "to_agent"),                                    # 0 at the first question
    (["1", "9"], {}, "opted_out"),                              # 9 at the second
    ([], {"/snd/revisit-intro": "0"}, "to_agent"),              # 0 during the read-out
    ([], {f"/snd/{ts.digit_prompt('2', yao=True)}": "9"}, "opted_out"),
])
async def test_0_hands_to_an_agent_and_9_opts_out_at_any_point(tmp_path, digits, escapes, result) -> None:
    channel = KeyChannel(digits, escapes)
    entry = await run(channel, tmp_path)
    assert entry.result == result
    closing = "please-hold" if result == "to_agent" else "revisit-opted-out"
    assert channel.played[-1] == f"{SOUNDS}/{closing}"


async def test_a_citizen_who_hangs_up_mid_way_is_recorded_as_no_answer(tmp_path) -> None:
    channel = KeyChannel(["1"], hang_up_after=1 + len(TICKET) + 4 + 1)   # read-out, the first question, gone
    entry = await run(channel, tmp_path)
    assert (entry.result, entry.solved) == ("no_answer", "yes")
    assert spooled(tmp_path)[0]["result"] == "no_answer"


async def test_an_unexpected_channel_call_fails_the_flow(tmp_path) -> None:
    with pytest.raises(UnexpectedCall):
        await run(KeyChannel([]), tmp_path)   # no scripted key: the fake refuses to invent one
    assert isinstance(ChannelHangup("x"), Exception)


def test_matter_prompts_only_for_rendered_names() -> None:
    unit = sorted(ts.unit_names())[0]
    assert revisit.matter_prompts("03-water", unit) == ("topic-03-water", ts.unit_prompt(unit))
    assert revisit.matter_prompts("no-such-topic", "某个没有提示音的单位") == ("", "")
    assert revisit.prompt_texts()["topic-03-water"] == "供水排水"


# ── pacing ───────────────────────────────────────────────────────────────────
def local(hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 12, 5, hour, minute, tzinfo=POLICY.tz).astimezone(dt.UTC)


def test_the_window_and_quiet_hours_both_bound_calling() -> None:
    assert cp.in_window(local(9), "09:00", "20:00", POLICY)
    assert not cp.in_window(local(8, 59), "09:00", "20:00", POLICY)
    assert not cp.in_window(local(20), "09:00", "20:00", POLICY)
    assert not cp.in_window(local(21, 30), "08:00", "23:00", POLICY)   # inside the window, but quiet hours
    assert cp.in_window(local(20, 59), "08:00", "23:00", POLICY)


def test_attempts_wait_increasing_intervals_and_stop_at_the_campaigns_limit() -> None:
    now = local(10)
    waits = [cp.retry_at(n, 4, now, POLICY) for n in (1, 2, 3, 4)]
    assert [(w - now).total_seconds() / 60 for w in waits[:3]] == [10, 30, 120]
    assert waits[3] is None


def test_free_channels_never_exceed_the_campaign_nor_the_trunk() -> None:
    assert cp.free_channels(1, 0, 4, 0) == 1
    assert cp.free_channels(1, 1, 4, 1) == 0
    assert cp.free_channels(3, 0, 4, 3) == 1    # the trunk's limit over all campaigns
    assert cp.free_channels(2, 3, 4, 3) == 0


# ── the desk's reading ───────────────────────────────────────────────────────
def entry(result: str, solved: str) -> RevisitEntry:
    return RevisitEntry(out_id="rv-1", ticket=TICKET, result=result, solved=solved)


@pytest.mark.parametrize(("result", "solved", "verdict"), [
    ("satisfied", "yes", "satisfied"), ("basically_satisfied", "yes", "basically_satisfied"),
    ("satisfied", "no", "unsolved"), ("unsatisfied", "yes", "unsatisfied"), ("unsatisfied", "no", "unsatisfied"),
    ("no_answer", "no", "unsolved"), ("no_answer", "", None), ("to_agent", "", None), ("opted_out", "yes", None),
])
def test_only_solved_and_satisfied_is_a_verdict_that_closes(result, solved, verdict) -> None:
    assert desk_revisit.verdict_of(entry(result, solved)) == verdict


def test_the_originate_runs_the_outbound_context_with_the_ivr_on_the_other_half() -> None:
    action = desk_revisit.originate_action("rv-abc", "13907550001", TICKET, "03-water", POLICY)
    assert action["Channel"] == f"Local/s@{v.CTX_OUTBOUND}" and action["Context"] == v.CTX_REVISIT
    assert action["ChannelId"] == "rv-abc" and f"{v.OUT_NUMBER}=13907550001" in action["Variable"]
    assert f"{v.REVISIT_TICKET}={TICKET}" in action["Variable"] and "12345" in action["CallerID"]
    assert f"{v.REVISIT_TOPIC}=03-water" in action["Variable"]


def test_only_revisit_calls_events_are_taken() -> None:
    ours = AmiEvent("UserEvent", {"UserEvent": "HotlineOutbound", "OutID": "rv-1", "Result": "dialing"})
    callback = AmiEvent("UserEvent", {"UserEvent": "HotlineOutbound", "OutID": "cb-1", "Result": "dialing"})
    other = AmiEvent("Hangup", {"Uniqueid": "rv-1"})
    assert [desk_revisit.event_out_id(e) for e in (ours, callback, other)] == ["rv-1", None, None]


async def test_without_the_tickets_status_the_unit_is_left_out_not_guessed() -> None:
    assert await revisit.matter_of(None, TICKET, "03-water") == ("topic-03-water", "")
