"""The IVR flow over the in-memory channel: menus, bounded retries, city, emergency hand-off, prefill."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from hotline import channelvars as v
from hotline.numberplan import GENERAL_QUEUE, load_plan
from hotline.paths import PROJECT_ROOT
from ivr.capture import CaptureSession, Frame
from ivr.entry import CallFacts
from ivr.flow import IvrServices, city_by_number, load_flows, run_ivr
from ivr.prefill import Prefill
from ivr.speech import Transcript
from tests.support.fake_channel import FakeChannel, UnexpectedCall

PLAN = load_plan(PROJECT_ROOT / "asterisk_conf" / "numbers.yaml")
FACTS = CallFacts(call_id="c1", line="12345", line_class="main", queue=GENERAL_QUEUE, subplatform="",
                  caller="13907550001")
SOUNDS = "/srv/hotline/main/sounds"


class MemoryStore:
    def __init__(self):
        self.saved: list[dict] = []

    async def save(self, prefill: Prefill, *, publish_every: float = 0.0) -> str:
        self.saved.append(prefill.to_dict())
        return "memory"


class ScriptedStream:
    """A speech stream that 'recognises' a fixed text once it has heard enough audio."""

    name = "scripted"

    def __init__(self, text: str):
        self.text, self.heard = text, 0

    @property
    def partial(self) -> str:
        return self.text if self.heard >= 8000 else ""

    async def feed(self, pcm: bytes) -> None:
        self.heard += len(pcm)

    async def finish(self) -> Transcript:
        return Transcript(self.text, "scripted", self.heard / 16000, 0.0)


class ScriptedEngine:
    name = "scripted"

    def __init__(self, text: str):
        self.text = text

    def open(self, grammar=None, *, prompt=""):
        return ScriptedStream(self.text)


class FakeAudioSocket:
    """Stands in for the AudioSocket server: the channel's AudioSocket() feeds the registered session."""

    address = "127.0.0.1:4574"

    def __init__(self):
        self.sessions: dict[str, CaptureSession] = {}

    def expect(self, session: CaptureSession) -> str:
        self.sessions["k"] = session
        return "k"

    def forget(self, key: str) -> None:
        self.sessions.pop(key, None)


class SpeakingChannel(FakeChannel):
    """A caller who, when the IVR opens the audio socket, speaks (loud frames) then goes quiet."""

    def __init__(self, audiosocket: FakeAudioSocket, speech_frames: int = 100, **kwargs):
        super().__init__(**kwargs)
        self.audiosocket, self.speech_frames = audiosocket, speech_frames

    async def exec(self, application: str, arguments: str) -> int:
        if application != "AudioSocket":
            raise UnexpectedCall(application)
        self.log.append(f"exec {application}")
        session = self.audiosocket.sessions["k"]
        loud = (b"\x00\x20" * 160)
        quiet = b"\x00\x00" * 160

        async def frames():
            for _ in range(self.speech_frames):
                yield Frame("audio", loud)
            for _ in range(200):
                yield Frame("audio", quiet)

        await session.consume(frames())
        return 0


def services(tmp_path: Path,
             text: str = "我要投诉琼海市嘉积镇自来水发黄") -> tuple[IvrServices, MemoryStore, FakeAudioSocket]:
    store, audiosocket = MemoryStore(), FakeAudioSocket()
    return IvrServices(plan=PLAN, flows=load_flows(), store=store, speech=ScriptedEngine(text),  # type: ignore[arg-type]
                       audiosocket=audiosocket, recordings=tmp_path), store, audiosocket


async def test_three_wrong_keys_go_to_an_agent_without_further_questions(tmp_path):
    ivr, store, _ = services(tmp_path)
    channel = FakeChannel(digits=["*", "8", ""])
    outcome = await run_ivr(channel, ivr, FACTS, SOUNDS)
    assert outcome.queue == GENERAL_QUEUE and outcome.capture is None
    assert channel.played.count(f"{SOUNDS}/ivr-menu") == 3
    assert channel.played.count(f"{SOUNDS}/ivr-invalid") == 2
    assert (f"__{v.QUEUE}", GENERAL_QUEUE) in channel.set_calls


async def test_a_special_seat_option_goes_straight_to_its_queue(tmp_path):
    ivr, _, _ = services(tmp_path)
    channel = FakeChannel(digits=["6"])
    outcome = await run_ivr(channel, ivr, FACTS, SOUNDS)
    assert outcome.queue == "minors-protection"
    assert (f"__{v.QUEUE}", "minors-protection") in channel.set_calls


async def test_emergency_menu_sets_the_emergency_target(tmp_path):
    ivr, _, _ = services(tmp_path)
    channel = FakeChannel(digits=["9", "2"])
    outcome = await run_ivr(channel, ivr, FACTS, SOUNDS)
    assert outcome.emergency == "120"
    assert (v.EMERGENCY, "120") in channel.set_calls


def test_city_numbers_follow_the_plans_sub_platform_order():
    assert city_by_number(PLAN, "01") == "460100"
    assert city_by_number(PLAN, "06") == "469002"
    assert city_by_number(PLAN, "20") == "460400499"
    for bad in ("00", "21", "6", "ab", ""):
        assert city_by_number(PLAN, bad) == ""


async def test_description_is_captured_transcribed_and_enriched(tmp_path):
    ivr, store, audiosocket = services(tmp_path)
    channel = SpeakingChannel(audiosocket, digits=["2", "6"])
    original_play = channel.play

    async def play(sound: str, escape_digits: str = "") -> str:
        await original_play(sound, escape_digits)
        return "0" if sound.endswith("/ivr-city") else ""

    channel.play = play  # type: ignore[method-assign]
    outcome = await run_ivr(channel, ivr, FACTS, SOUNDS)
    assert outcome.subplatform == "469002" and outcome.appeal_type == "complaint"
    final = await outcome.finalizing
    assert final.status == "final" and final.topic["code"] == "03-water"
    assert final.suggested_unit == "琼海市水务局"
    assert [p["name"] for p in final.places] == ["琼海市", "嘉积镇"]
    assert (tmp_path / "c1.wav").stat().st_size > 44
    assert store.saved[-1]["status"] == "final"


async def test_emergency_words_in_the_description_hand_the_call_over(tmp_path):
    ivr, _, audiosocket = services(tmp_path, text="楼下着火了，有人被困")
    channel = SpeakingChannel(audiosocket, digits=["3", "1"])
    outcome = await run_ivr(channel, ivr, CallFacts(**{**FACTS.__dict__, "subplatform": "460100"}), SOUNDS)
    assert outcome.emergency == "119"
    assert (v.EMERGENCY, "119") in channel.set_calls
    assert f"{SOUNDS}/ivr-emergency-transfer" in channel.played
    await outcome.finalizing


async def test_no_speech_engine_keeps_the_recording_and_still_queues(tmp_path):
    ivr, store, audiosocket = services(tmp_path)
    ivr.speech = None
    channel = SpeakingChannel(audiosocket, digits=["1"])
    outcome = await run_ivr(channel, ivr, CallFacts(**{**FACTS.__dict__, "subplatform": "460100"}), SOUNDS)
    final = await outcome.finalizing
    assert final.status == "failed" and "unavailable" in final.error
    assert (tmp_path / "c1.wav").stat().st_size > 44
    assert outcome.queue == GENERAL_QUEUE


def test_flows_file_is_validated():
    flows = load_flows()
    assert set(flows.menu.options) == set("123456790")
    with pytest.raises(yaml.YAMLError):
        load_flows(Path(__file__))  # not YAML of the right shape
