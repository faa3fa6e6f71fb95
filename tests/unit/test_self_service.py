"""Self-service in the IVR over the in-memory channel: ticket progress by DTMF and the callback survey.

The Redis fakes below implement only the commands the code is supposed to use and raise on anything else.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from agi_scripts.routes import ROUTES, AgiCall, Services
from hotline import channelvars as v
from hotline.numberplan import GENERAL_QUEUE, load_plan
from hotline.paths import PROJECT_ROOT
from ivr import prompts, survey, ticket_status as ts
from ivr.channel import ChannelHangup
from ivr.entry import CallFacts
from ivr.flow import IvrServices, load_flows, run_ivr
from ivr.speech.audio import upsample_8k_to_16k
from ivr.speech.whisper_engine import PROMPT, grammar_prompt
from tests.support.fake_channel import FakeChannel, UnexpectedCall

PLAN = load_plan(PROJECT_ROOT / "asterisk_conf" / "numbers.yaml")
FACTS = CallFacts(call_id="c1", line="12345", line_class="main", queue=GENERAL_QUEUE, subplatform="",
                  caller="13907550001")
SOUNDS = "/srv/hotline/main/sounds"
NUMBER = "20261122000123"
CST = dt.timezone(dt.timedelta(hours=8))


class FakeRedis:
    """Only HGETALL and XADD; ``down`` makes every command fail as an unreachable server does."""

    def __init__(self, hashes: dict[str, dict[str, str]] | None = None, down: bool = False):
        self.hashes = {k: {f.encode(): v.encode() for f, v in h.items()} for k, h in (hashes or {}).items()}
        self.down = down
        self.asked: list[str] = []
        self.stream: list[tuple[str, dict]] = []

    def __getattr__(self, name: str):
        raise UnexpectedCall(f"Redis {name}() was not expected")

    async def hgetall(self, key: str) -> dict:
        if self.down:
            raise RedisConnectionError("Connection refused")
        self.asked.append(key)
        return dict(self.hashes.get(key, {}))

    async def xadd(self, name: str, fields: dict, maxlen=None, approximate=True) -> bytes:
        if self.down:
            raise RedisConnectionError("Connection refused")
        self.stream.append((name, dict(fields)))
        return b"1-0"


def status_hash(state: str = "dispatched", unit: str = "琼海市水务局",
                due: str = "2026-11-25T18:00:00+08:00") -> dict[str, str]:
    return ts.TicketStatus(number=NUMBER, state=state, unit_name=unit, due_at=due or None,
                           updated_at=dt.datetime(2026, 11, 22, 9, 30, tzinfo=CST)).to_hash()


def ivr_services(redis: FakeRedis | None) -> IvrServices:
    return IvrServices(plan=PLAN, flows=load_flows(), store=None, tickets=redis)  # type: ignore[arg-type]


def sounds(*ids: str) -> list[str]:
    return [f"{SOUNDS}/{i}" for i in ids]


DISPATCHED_READBACK = (["ticket-intro"] + ["digit-2", "digit-0", "digit-2", "digit-6", "digit-1-yao", "digit-1-yao",
                                           "digit-2", "digit-2", "digit-0", "digit-0", "digit-0", "digit-1-yao",
                                           "digit-2", "digit-3"]
                       + ["ticket-state-is", "ticket-state-dispatched", "ticket-unit-is",
                          ts.unit_prompt("琼海市水务局"), "ticket-due-is", "digit-2", "digit-0", "digit-2", "digit-6",
                          "date-year", "month-11", "day-25"])


# ── the contract with the desk ──────────────────────────────────────────────────────────────────────────
def test_ticket_numbers_are_fourteen_digits_starting_with_a_real_date():
    assert ts.valid_number(NUMBER)
    for bad in ("", "2026112200012", "202611220001234", "2026112200012a", "20261340000123", "20260230000001",
                "**************"):
        assert not ts.valid_number(bad), bad


def test_the_key_and_fields_are_the_agreed_ones():
    assert ts.key(NUMBER) == "hotline:ticket-status:20261122000123"
    assert set(status_hash()) == {"v", "state", "state_label", "unit_name", "due_at", "updated_at"}
    assert status_hash()["v"] == "1"
    assert status_hash()["state_label"] == "已派单"


def test_the_spoken_state_labels_are_the_desks_wording():
    from agent_desk.tickets.lifecycle import STATE_LABELS

    assert {str(state): label for state, label in STATE_LABELS.items()} == ts.STATE_TEXT


async def test_lookup_reads_the_hash_redis_returns_as_bytes():
    redis = FakeRedis({ts.key(NUMBER): status_hash()})
    status = await ts.lookup(redis, NUMBER)
    assert status is not None and status.state == "dispatched" and status.unit_name == "琼海市水务局"
    assert status.due_at == dt.datetime(2026, 11, 25, 18, 0, tzinfo=CST)
    assert await ts.lookup(redis, "20261122999999") is None
    assert redis.asked == [ts.key(NUMBER), ts.key("20261122999999")]


async def test_lookup_raises_when_redis_is_down_or_the_state_is_unknown():
    with pytest.raises(ts.StatusUnavailable):
        await ts.lookup(FakeRedis(down=True), NUMBER)
    with pytest.raises(ts.StatusUnavailable):
        await ts.lookup(FakeRedis({ts.key(NUMBER): {**status_hash(), "state": "teleported"}}), NUMBER)
    with pytest.raises(ts.StatusUnavailable):
        await ts.lookup(None, NUMBER)


def test_readback_reads_state_unit_and_deadline_in_chinese_pieces():
    status = ts.TicketStatus.from_hash(NUMBER, status_hash())
    assert ts.readback(status) == DISPATCHED_READBACK


def test_readback_uses_the_callers_calendar_and_skips_what_it_cannot_say():
    late_utc = ts.TicketStatus.from_hash(NUMBER, status_hash(due="2026-12-31T20:00:00+00:00", unit="某某未知单位"))
    spoken = ts.readback(late_utc)
    assert spoken[-7:] == ["digit-2", "digit-0", "digit-2", "digit-7", "date-year", "month-1", "day-1"]
    assert "ticket-unit-is" not in spoken  # 2027-01-01 in China; unknown unit not read
    closed = ts.readback(ts.TicketStatus.from_hash(NUMBER, status_hash(state="closed", unit="")))
    assert closed[-2:] == ["ticket-state-is", "ticket-state-closed"]  # no deadline for a closed ticket


def test_every_piece_of_a_readback_and_every_flow_prompt_is_in_the_catalogue():
    catalogue = prompts.catalogue(PLAN)
    flows = load_flows()
    for state in ts.STATES:
        status = ts.TicketStatus(number="20261231999999", state=state, unit_name="海南省水务厅",
                                 due_at=dt.datetime(2026, 12, 31, 23, 0, tzinfo=CST))
        missing = [p for p in ts.readback(status) if p not in catalogue]
        assert not missing, (state, missing)
    for cfg in (flows.progress, flows.survey):
        for name, value in cfg.model_dump().items():
            if isinstance(value, str):
                assert value in catalogue, (name, value)
    assert catalogue["day-31"] == "三十一日" and catalogue["month-12"] == "十二月" and catalogue["digit-0"] == "零"
    assert catalogue[ts.unit_prompt("琼海市水务局")] == "琼海市水务局"


# ── the progress query in the IVR ───────────────────────────────────────────────────────────────────────
async def test_progress_reads_the_status_back_then_the_caller_goes_to_the_queue():
    redis = FakeRedis({ts.key(NUMBER): status_hash()})
    channel = FakeChannel(digits=["5", NUMBER, ""])
    outcome = await run_ivr(channel, ivr_services(redis), FACTS, SOUNDS)
    assert channel.played == sounds("ivr-menu", "ticket-enter-number", *DISPATCHED_READBACK, "ticket-after",
                                    "please-hold")
    assert (f"__{v.TICKET}", NUMBER) in channel.set_calls
    assert outcome.queue == GENERAL_QUEUE and (f"__{v.QUEUE}", GENERAL_QUEUE) in channel.set_calls


async def test_unknown_and_garbage_numbers_reprompt_a_bounded_number_of_times_then_an_agent():
    redis = FakeRedis({ts.key(NUMBER): status_hash()})
    channel = FakeChannel(digits=["5", "20261122999999", "12345", ""])
    outcome = await run_ivr(channel, ivr_services(redis), FACTS, SOUNDS)
    assert channel.played == sounds("ivr-menu", "ticket-enter-number", "ticket-not-found", "ticket-enter-number",
                                    "ticket-invalid-number", "ticket-enter-number", "please-hold")
    assert redis.asked == [ts.key("20261122999999")]  # garbage is never looked up
    assert outcome.queue == GENERAL_QUEUE and not any(name.endswith(v.TICKET) for name, _ in channel.set_calls)


async def test_a_wrong_number_then_the_right_one_is_read_back():
    redis = FakeRedis({ts.key(NUMBER): status_hash(state="closed", unit="")})
    channel = FakeChannel(digits=["5", "20261122999999", NUMBER, "0"])
    await run_ivr(channel, ivr_services(redis), FACTS, SOUNDS)
    assert f"{SOUNDS}/ticket-state-closed" in channel.played and f"{SOUNDS}/ticket-not-found" in channel.played
    assert channel.played[-2:] == sounds("ticket-after", "please-hold")


async def test_repeat_and_another_ticket_are_bounded_too():
    redis = FakeRedis({ts.key(NUMBER): status_hash(state="signed", unit="", due="")})
    # 1 = again (once allowed), 1 again = agent; then nothing more is asked
    channel = FakeChannel(digits=["5", NUMBER, "1", "1"])
    await run_ivr(channel, ivr_services(redis), FACTS, SOUNDS)
    assert channel.played.count(f"{SOUNDS}/ticket-state-signed") == 2
    assert channel.played[-1] == f"{SOUNDS}/please-hold"
    # 2 = another ticket, three times: the attempts are used up
    channel = FakeChannel(digits=["5", NUMBER, "2", NUMBER, "2", NUMBER, "2"])
    await run_ivr(channel, ivr_services(redis), FACTS, SOUNDS)
    assert channel.played.count(f"{SOUNDS}/ticket-enter-number") == 3
    assert channel.played[-1] == f"{SOUNDS}/please-hold"


async def test_zero_during_the_readback_goes_to_an_agent_at_once():
    redis = FakeRedis({ts.key(NUMBER): status_hash()})
    channel = FakeChannel(digits=["5", NUMBER])
    original = channel.play

    async def play(sound: str, escape_digits: str = "") -> str:
        await original(sound, escape_digits)
        return "0" if sound.endswith("/ticket-state-is") and "0" in escape_digits else ""

    channel.play = play  # type: ignore[method-assign]
    await run_ivr(channel, ivr_services(redis), FACTS, SOUNDS)
    assert channel.played[-2:] == sounds("ticket-state-is", "please-hold")


async def test_redis_down_apologises_and_goes_to_an_agent():
    channel = FakeChannel(digits=["5", NUMBER])
    outcome = await run_ivr(channel, ivr_services(FakeRedis(down=True)), FACTS, SOUNDS)
    assert channel.played == sounds("ivr-menu", "ticket-enter-number", "ticket-unavailable")
    assert outcome.queue == GENERAL_QUEUE


async def test_a_caller_who_hangs_up_during_the_readback_ends_the_query():
    redis = FakeRedis({ts.key(NUMBER): status_hash()})
    channel = FakeChannel(digits=["5", NUMBER], hang_up_after=8)
    with pytest.raises(ChannelHangup):
        await run_ivr(channel, ivr_services(redis), FACTS, SOUNDS)


# ── the callback survey ─────────────────────────────────────────────────────────────────────────────────
def survey_store(tmp_path: Path, redis: FakeRedis) -> survey.SurveyStore:
    return survey.SurveyStore(redis, tmp_path / "spool" / "surveys")


async def run(channel: FakeChannel, store: survey.SurveyStore) -> survey.SurveyEntry:
    return await survey.run_survey(channel, load_flows().survey, store, SOUNDS, call_id="c1", line="12318",
                                   caller="13907550001")


def test_the_stream_contract():
    assert survey.STREAM == "hotline:surveys"
    assert survey.RESULTS == ("satisfied", "basically_satisfied", "unsatisfied", "no_answer")
    assert survey.CHOICES == {"1": "satisfied", "2": "basically_satisfied", "3": "unsatisfied"}


async def test_a_valid_key_is_added_to_the_stream_and_thanked(tmp_path):
    redis = FakeRedis()
    record = await run(FakeChannel(digits=["2"]), store := survey_store(tmp_path, redis))
    assert record.result == "basically_satisfied"
    [(name, fields)] = redis.stream
    assert name == "hotline:surveys" and set(fields) == {"v", "call_id", "line", "caller", "result", "digits", "at"}
    assert {k: fields[k] for k in ("call_id", "line", "caller", "result", "digits")} == {   # no number kept
        "call_id": "c1", "line": "12318", "caller": "", "result": "basically_satisfied", "digits": "2"}
    at = dt.datetime.fromisoformat(fields["at"])
    assert at.utcoffset() == dt.timedelta(0) and abs((dt.datetime.now(dt.UTC) - at).total_seconds()) < 60
    assert store.spool.names() == []


async def test_a_wrong_key_reprompts_and_the_raw_digits_are_kept(tmp_path):
    redis = FakeRedis()
    channel = FakeChannel(digits=["8", "1"])
    record = await run(channel, survey_store(tmp_path, redis))
    assert (record.result, record.digits) == ("satisfied", "81")
    assert channel.played == sounds("survey-menu", "ivr-invalid", "survey-menu", "survey-thanks")


async def test_no_valid_key_is_recorded_as_no_answer_after_a_bounded_number_of_prompts(tmp_path):
    redis = FakeRedis()
    channel = FakeChannel(digits=["", "9"])
    record = await run(channel, survey_store(tmp_path, redis))
    assert (record.result, record.digits) == ("no_answer", "9")
    assert channel.played == sounds("survey-menu", "ivr-invalid", "survey-menu", "survey-goodbye")
    assert redis.stream[0][1]["result"] == "no_answer"


async def test_a_caller_who_hangs_up_during_the_survey_is_recorded_as_no_answer(tmp_path):
    redis = FakeRedis()
    channel = FakeChannel(digits=["2"], hang_up_after=0)
    with pytest.raises(ChannelHangup):
        await run(channel, survey_store(tmp_path, redis))
    assert [fields["result"] for _, fields in redis.stream] == ["no_answer"]


async def test_redis_down_spools_the_result_and_drain_adds_it_later(tmp_path):
    store = survey_store(tmp_path, FakeRedis(down=True))
    record = await run(FakeChannel(digits=["3"]), store)
    assert store.spool.names() == ["c1"]
    assert json.loads(store.spool.path("c1").read_text())["result"] == "unsatisfied"
    assert await store.drain_spool() == 0  # still down: stays spooled
    up = FakeRedis()
    assert await survey_store(tmp_path, up).drain_spool() == 1
    assert up.stream == [("hotline:surveys", {**record.to_fields(), "caller": ""})]   # drained without the number
    assert store.spool.names() == []


async def test_the_survey_route_reads_the_calls_facts_from_the_channel(tmp_path):
    redis = FakeRedis()
    ivr = ivr_services(None)
    ivr.surveys = survey_store(tmp_path, redis)
    channel = FakeChannel({v.CALL_ID: "1732.77", v.LINE: "12345", v.SOUNDS: SOUNDS}, digits=["1"])
    call = AgiCall(channel=channel, headers={"agi_callerid": "13907550009"}, services=Services(plan=PLAN, ivr=ivr))
    await ROUTES["survey"].handler(call)
    fields = redis.stream[0][1]
    assert (fields["call_id"], fields["line"], fields["caller"], fields["result"]) == \
        ("1732.77", "12345", "", "satisfied")   # the caller's number stays out of the stream


async def test_without_the_ivr_the_survey_route_does_nothing():
    channel = FakeChannel()
    await ROUTES["survey"].handler(AgiCall(channel=channel, headers={}, services=Services(plan=PLAN)))
    assert channel.log == []


# ── the dialplan side ───────────────────────────────────────────────────────────────────────────────────
@pytest.mark.parametrize("transport", ["fastagi", "classic"])
def test_every_queue_continues_to_the_survey_when_the_agent_hangs_up(transport, tmp_path):
    from hotline import confgen
    from hotline.site import SiteConfig
    from tests.unit.golden import FixedSecrets

    site = SiteConfig().model_copy(update={"agi_transport": transport})
    secrets = FixedSecrets(confgen.secret_names(site, PLAN))
    ext = confgen.render(PLAN, site, secrets, plan_text="x").files["extensions.conf"]  # type: ignore[arg-type]
    queues = [line for line in ext.splitlines() if ",Queue(" in line]
    assert queues and all(line.split("Queue(")[1].split(",")[1].startswith("tc") for line in queues), queues
    survey_ctx = ext.split(f"\n[{v.CTX_SURVEY}]\n")[1].split("\n[")[0]
    route = "AGI(${HOTLINE_AGI_URL},survey)" if transport == "classic" else "AGI(${HOTLINE_AGI_URL}/survey)"
    assert route in survey_ctx and survey_ctx.rstrip().endswith("Hangup()")
    queue_ctx = ext.split(f"\n[{v.CTX_QUEUE}]\n")[1].split("\n[")[0]
    assert queue_ctx.count('GotoIf($["${QUEUESTATUS}" = "CONTINUE"]?survey)') == 3
    assert f"n(survey),Goto({v.CTX_SURVEY},s,1)" in queue_ctx


# ── speech: what makes the e2e city and emergency scenarios work on 8 kHz audio ─────────────────────────
def test_upsampling_keeps_the_speech_band_and_adds_nothing_above_it():
    t8 = np.arange(8000) / 8000
    t16 = np.arange(16000) / 16000
    tone = np.sin(2 * np.pi * 1000 * t8).astype(np.float32)
    up = upsample_8k_to_16k(tone)
    ideal = np.sin(2 * np.pi * 1000 * t16)
    assert up.size == 16000 and np.max(np.abs(up[200:-200] - ideal[200:-200])) < 0.01
    noise = np.random.default_rng(1).uniform(-0.5, 0.5, 8000).astype(np.float32)
    spectrum = np.abs(np.fft.rfft(upsample_8k_to_16k(noise))) ** 2  # 1 Hz per bin
    assert spectrum[4500:].sum() / spectrum[:3500].sum() < 1e-4  # linear interpolation leaves about 5e-2


def test_a_grammar_becomes_whispers_hint():
    assert grammar_prompt(None) == PROMPT
    hint = grammar_prompt(["海口", "文昌"])
    assert "海口" in hint and "文昌" in hint


# ── emergency words in the last phrase still count ──────────────────────────────────────────────────────
async def test_emergency_words_only_in_the_final_transcript_still_hand_the_call_over(tmp_path):
    """Whisper's last phrase is transcribed after the caller stops: the flow awaits it (bounded)."""
    from ivr.speech import Transcript
    from tests.unit.test_flow import MemoryStore, SpeakingChannel, services

    class LateStream:
        partial = ""                            # nothing final while the caller speaks

        async def feed(self, pcm: bytes) -> None:
            pass

        async def finish(self) -> Transcript:
            return Transcript("车辆起火无人员伤亡", "late", 3.0, 0.5)

    class LateEngine:
        name = "late"

        def open(self, grammar=None, *, prompt=""):
            return LateStream()

    ivr, store, audiosocket = services(tmp_path)
    assert isinstance(store, MemoryStore)
    ivr.speech = LateEngine()  # type: ignore[assignment]
    channel = SpeakingChannel(audiosocket, digits=["3"])
    outcome = await run_ivr(channel, ivr, CallFacts(**{**FACTS.__dict__, "subplatform": "460100"}), SOUNDS)
    assert outcome.emergency == "119" and (v.EMERGENCY, "119") in channel.set_calls
    assert f"{SOUNDS}/ivr-emergency-transfer" in channel.played


async def test_the_agi_server_moves_spooled_prefills_surveys_and_revisits_into_redis(tmp_path):
    from agi_scripts.app import AgiApp
    from hotline.contracts.revisit import RevisitEntry
    from ivr.revisit import RevisitStore
    from ivr.prefill import Prefill
    from hotline.contracts.prefill import KEY
    from ivr.prefill_store import PrefillStore

    class Back(FakeRedis):
        def __init__(self):
            super().__init__()
            self.values: dict[str, str] = {}

        async def set(self, key: str, value: str, ex=None) -> None:
            self.values[key] = value

        async def publish(self, channel: str, message: str) -> None:
            pass

    down = FakeRedis(down=True)
    spool = tmp_path / "spool"
    await PrefillStore(None, spool / "prefill").save(Prefill(call_id="p1", transcript="停水"))
    await survey.SurveyStore(down, spool / "surveys").record(
        survey.SurveyEntry(call_id="s1", line="12345", caller="139", result="satisfied", digits="1"))
    assert await RevisitStore(down, spool / "revisits").record(
        RevisitEntry(out_id="rv-1", ticket="20261205000001", result="satisfied", solved="yes", digits="11")) == "spool"
    back = Back()
    ivr = ivr_services(back)
    ivr.store = PrefillStore(back, spool / "prefill")
    ivr.surveys = survey.SurveyStore(back, spool / "surveys")
    ivr.revisits = RevisitStore(back, spool / "revisits")
    app = AgiApp(agi=None, audiosocket=None, redis=back, ivr=ivr)  # type: ignore[arg-type]
    assert await app.drain_spools() == 3   # the 回访 result no longer waits for the next revisit call
    assert json.loads(back.values[KEY.format(call_id="p1")])["transcript"] == "停水"
    assert back.stream[0][1]["call_id"] == "s1"
    assert back.stream[1][1]["out_id"] == "rv-1" and back.stream[1][1]["result"] == "satisfied"
    assert await app.drain_spools() == 0
