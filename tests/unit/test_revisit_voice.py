"""智能回访 answered by voice: the phrase matcher on real phrasings (negations never read as their positive), and
the question flow with the real ``Ears`` / ``AnswerSession`` over a fake channel whose AudioSocket() feeds scripted
frames, a fake AudioSocket server and a fake engine whose transcript is scripted. Every fake raises on the
unexpected; a key pressed while listening wins; unclear or failing speech is asked again by keys."""

from __future__ import annotations

import asyncio
import math
import struct
from collections.abc import AsyncIterator

import pytest

from hotline.contracts.revisit import BASICALLY_SATISFIED, SATISFIED, UNSATISFIED
from ivr import revisit
from ivr import ticket_status as ts
from ivr.capture import Frame
from ivr.speech import Transcript
from tests.support.fake_channel import FakeChannel, UnexpectedCall

SOUNDS = "/snd"
TICKET = "20261205000123"
FRAME = 320   # 20 ms of 8 kHz 16-bit audio


@pytest.mark.parametrize(("text", "expected"), [
    ("满意", SATISFIED), ("我很满意。", SATISFIED), ("非常满意", SATISFIED), ("：满意，", SATISFIED),
    ("基本满意", BASICALLY_SATISFIED), ("还算满意吧", BASICALLY_SATISFIED), ("比较满意", BASICALLY_SATISFIED),
    ("不满意", UNSATISFIED), ("不太满意", UNSATISFIED), ("我不是很满意", UNSATISFIED), ("非常不满意！", UNSATISFIED),
    ("不怎么满意", UNSATISFIED),
    ("转人工", "0"), ("三人工。", "0"), ("我要人工服务", "0"),
    ("满意，不满意", None), ("一般吧", None), ("", None), ("普通话的回答。", None), ("解决了", None),
    ("普满意：", None), ("部满意", None), ("满意度", None),   # a misheard 不满意 (Whisper base), never 满意
])
def test_satisfaction_phrases(text, expected) -> None:
    assert revisit.hear(text, revisit.SATISFACTION_WORDS) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("解决了", "yes"), ("问题已经解决了", "yes"), ("已解决", "yes"), ("解决好了", "yes"),
    ("没解决", "no"), ("还没有解决", "no"), ("我没有解决。", "no"), ("未解决", "no"), ("没能解决", "no"),
    ("转人工", "0"),
    ("鸡鸡。", None), ("满意", None), ("解决了，没解决", None), ("解决", None), ("煤解决了", None),
])
def test_solved_phrases(text, expected) -> None:
    assert revisit.hear(text, revisit.SOLVED_WORDS) == expected


def test_the_grammar_names_one_phrase_per_answer_and_the_agent() -> None:
    assert revisit.grammar(revisit.SATISFACTION_WORDS) == ["不满意", "基本满意", "满意", "转人工"]
    assert revisit.grammar(revisit.SOLVED_WORDS) == ["没解决", "解决了", "转人工"]
    for words, answers in ((revisit.SOLVED_WORDS, ["no", "yes", "0"]),
                           (revisit.SATISFACTION_WORDS, [UNSATISFIED, BASICALLY_SATISFIED, SATISFIED, "0"])):
        assert [revisit.hear(phrase, words) for phrase in revisit.grammar(words)] == answers


# ── the flow with the real Ears and AnswerSession ────────────────────────────────────────────────────────────────
def tone(seconds: float, amplitude: int = 8000) -> list[Frame]:
    samples = [int(amplitude * math.sin(2 * math.pi * 440 * i / 8000)) for i in range(int(8000 * seconds))]
    pcm = struct.pack(f"<{len(samples)}h", *samples)
    return [Frame("audio", pcm[i:i + FRAME]) for i in range(0, len(pcm), FRAME)]


def silence(seconds: float) -> list[Frame]:
    return [Frame("audio", bytes(FRAME)) for _ in range(int(seconds * 50))]


class FakeAudioSocket:
    def __init__(self) -> None:
        self.sessions: dict[str, revisit.AnswerSession] = {}
        self.forgotten: list[str] = []

    @property
    def address(self) -> str:
        return "127.0.0.1:1"

    def expect(self, session: revisit.AnswerSession) -> str:
        key = f"k{len(self.sessions)}"
        self.sessions[key] = session
        return key

    def forget(self, key: str) -> None:
        self.forgotten.append(key)


class FakeStream:
    def __init__(self, text: str | Exception):
        self.text = text
        self.fed = 0
        self.finished = False

    @property
    def partial(self) -> str:
        return ""

    async def feed(self, pcm: bytes) -> None:
        self.fed += len(pcm)

    async def finish(self) -> Transcript:
        self.finished = True
        if isinstance(self.text, Exception):
            raise self.text
        return Transcript(text=self.text, engine="fake", audio_seconds=self.fed / 16000, compute_seconds=0.0)


class FakeEngine:
    name = "fake"

    def __init__(self, texts: list[str | Exception]):
        self.texts = list(texts)
        self.grammars: list[list[str] | None] = []
        self.streams: list[FakeStream] = []

    def open(self, grammar: list[str] | None = None, *, prompt: str = "") -> FakeStream:
        if not self.texts:
            raise UnexpectedCall("a speech stream was not expected")
        self.grammars.append(grammar)
        self.streams.append(FakeStream(self.texts.pop(0)))
        return self.streams[-1]


class VoiceChannel(FakeChannel):
    """Keys as the fake's; AudioSocket() runs the registered session on the next scripted list of frames (what the
    citizen's phone sends); ``escapes``: a key pressed during that sound."""

    def __init__(self, digits: list[str], audio: list[list[Frame]], audiosocket: FakeAudioSocket,
                 escapes: dict[str, str] | None = None):
        super().__init__(digits=digits, variables={"CHANNEL(state)": "Up"})
        self.audio = list(audio)
        self.audiosocket = audiosocket
        self.escapes = dict(escapes or {})

    async def play(self, sound: str, escape_digits: str = "") -> str:
        await super().play(sound, escape_digits)
        key = self.escapes.pop(sound, "")
        assert not key or key in escape_digits
        return key

    async def exec(self, application: str, arguments: str) -> int:
        if application != "AudioSocket" or not self.audio:
            return await super().exec(application, arguments)
        key = arguments.split(",")[0]
        self.played.append(f"listen {key}")
        frames = self.audio.pop(0)

        async def feed() -> AsyncIterator[Frame]:
            for frame in frames:
                yield frame
            await asyncio.sleep(3600)   # the phone goes on sending nothing: the session's own limits end it

        await self.audiosocket.sessions[key].consume(feed())
        return 0


async def run(channel: VoiceChannel, engine: FakeEngine, audiosocket: FakeAudioSocket, tmp_path):
    store = revisit.RevisitStore(None, tmp_path / "spool")
    ears = revisit.Ears(engine, audiosocket, revisit.Listening(no_speech_seconds=0.5, end_silence=0.3))
    return await revisit.run_revisit(channel, store, SOUNDS, out_id="rv-1", ticket=TICKET, ears=ears)


def s(*ids: str) -> list[str]:
    return [f"{SOUNDS}/{i}" for i in ids]


READOUT = s("revisit-intro", *[ts.digit_prompt(d, yao=True) for d in TICKET])
SPEECH = silence(0.3) + tone(0.6) + silence(0.5)   # a breath, the answer, the pause that ends it


async def test_both_answers_spoken_give_the_verdict(tmp_path) -> None:
    sockets = FakeAudioSocket()
    engine = FakeEngine(["问题已经解决了。", "我很满意"])
    channel = VoiceChannel([], [SPEECH, SPEECH], sockets)
    entry = await run(channel, engine, sockets, tmp_path)
    assert (entry.result, entry.solved, entry.digits) == (SATISFIED, "yes", "")
    assert entry.said == "问题已经解决了。 / 我很满意"   # what the verdict was taken from, for the person reviewing it
    assert channel.played == READOUT + s("revisit-solved-voice") + ["listen k0"] + s("revisit-satisfaction-voice") + [
        "listen k1"] + s("revisit-thanks")
    assert engine.grammars == [revisit.grammar(revisit.SOLVED_WORDS), revisit.grammar(revisit.SATISFACTION_WORDS)]
    assert all(st.fed > 0 and st.finished for st in engine.streams) and sockets.forgotten == ["k0", "k1"]


async def test_not_quite_satisfied_is_unsatisfied_not_satisfied(tmp_path) -> None:
    sockets = FakeAudioSocket()
    entry = await run(VoiceChannel([], [SPEECH, SPEECH], sockets), FakeEngine(["没解决", "不太满意"]), sockets,
                      tmp_path)
    assert (entry.result, entry.solved) == (UNSATISFIED, "no")


async def test_a_key_during_the_question_wins_and_nothing_listens(tmp_path) -> None:
    sockets = FakeAudioSocket()
    channel = VoiceChannel([], [SPEECH], sockets, escapes={f"{SOUNDS}/revisit-solved-voice": "1"})
    entry = await run(channel, FakeEngine(["基本满意"]), sockets, tmp_path)
    assert (entry.result, entry.solved, entry.digits) == (BASICALLY_SATISFIED, "yes", "1")
    assert channel.played.count("listen k0") == 1 and "listen k1" not in channel.played


async def test_a_key_while_listening_wins_over_the_speech(tmp_path) -> None:
    sockets = FakeAudioSocket()
    engine = FakeEngine(["解决了", "满意"])
    channel = VoiceChannel([], [tone(0.3) + [Frame("dtmf", b"2")] + SPEECH, SPEECH], sockets)
    entry = await run(channel, engine, sockets, tmp_path)
    assert (entry.result, entry.solved, entry.digits) == (SATISFIED, "no", "2")
    assert not engine.streams[0].finished   # the key ended the answer: its speech was never judged


async def test_unclear_speech_is_asked_again_by_keys(tmp_path) -> None:
    sockets = FakeAudioSocket()
    channel = VoiceChannel(["1", "", ""], [SPEECH, SPEECH], sockets)
    entry = await run(channel, FakeEngine(["鸡鸡。", "满意，不满意"]), sockets, tmp_path)
    # 是否解决: heard nonsense → 没有听清, asked by keys (1); 满意度: two answers at once → unclear, asked by keys,
    # no key given: nothing is recorded that the citizen did not choose
    assert channel.played[len(READOUT):] == s("revisit-solved-voice") + ["listen k0"] + s(
        "revisit-unclear", "revisit-solved", "revisit-satisfaction-voice") + ["listen k1"] + s(
        "revisit-unclear", "revisit-satisfaction", "ivr-invalid", "revisit-satisfaction", "revisit-goodbye")
    assert (entry.solved, entry.result, entry.digits) == ("yes", "no_answer", "1")


async def test_silence_is_asked_again_by_keys_without_asking_the_engine(tmp_path) -> None:
    sockets = FakeAudioSocket()
    engine = FakeEngine(["满意", "满意"])
    channel = VoiceChannel(["2"], [silence(1.0), SPEECH], sockets)
    entry = await run(channel, engine, sockets, tmp_path)
    assert channel.played[len(READOUT):] == s("revisit-solved-voice") + ["listen k0"] + s(
        "revisit-unclear", "revisit-solved", "revisit-satisfaction-voice") + ["listen k1"] + s("revisit-thanks")
    assert not engine.streams[0].finished and engine.streams[1].finished
    assert (entry.solved, entry.result, entry.digits) == ("no", SATISFIED, "2")


async def test_an_answer_begun_before_listening_is_asked_again_by_keys(tmp_path) -> None:
    """The citizen talked over the question: the answer's first sound is the first audio heard, so its start (不 of
    不满意) may be lost. It is not judged (满意 would be the opposite verdict); the question is asked by keys."""
    sockets = FakeAudioSocket()
    engine = FakeEngine(["没解决", "满意"])
    channel = VoiceChannel(["3"], [SPEECH, tone(0.6) + silence(0.5)], sockets)
    entry = await run(channel, engine, sockets, tmp_path)
    assert (entry.solved, entry.result, entry.digits) == ("no", UNSATISFIED, "3")
    assert channel.played[-3:] == s("revisit-unclear", "revisit-satisfaction", "revisit-thanks")
    assert engine.streams[0].finished and not engine.streams[1].finished   # the clipped answer was never judged
    assert entry.said == "没解决"


async def test_the_engine_failing_turns_the_rest_of_the_call_to_keys(tmp_path) -> None:
    sockets = FakeAudioSocket()
    channel = VoiceChannel(["1", "3"], [SPEECH], sockets)
    entry = await run(channel, FakeEngine([RuntimeError("model gone")]), sockets, tmp_path)
    assert (entry.result, entry.solved, entry.digits) == (UNSATISFIED, "yes", "13")
    assert channel.played[len(READOUT):] == s("revisit-solved-voice") + ["listen k0"] + s(
        "revisit-unclear", "revisit-solved", "revisit-satisfaction", "revisit-thanks")


# ── the AGI route: voice only where the site asks for it ────────────────────────────────────────────────────────
@pytest.mark.parametrize("by_voice", [False, True])
async def test_the_route_listens_only_where_the_site_turned_voice_on(tmp_path, by_voice) -> None:
    from agi_scripts.app import ivr_services
    from agi_scripts.routes import AgiCall, Services, revisit as route
    from hotline import channelvars as v
    from hotline.numberplan import load_plan
    from hotline.paths import PROJECT_ROOT

    plan = load_plan(PROJECT_ROOT / "asterisk_conf" / "numbers.yaml")
    sockets = FakeAudioSocket()
    services = ivr_services(plan, tmp_path, None, speech=FakeEngine(["没解决", "满意"]), audiosocket=sockets)
    channel = VoiceChannel(["2", "1"], [SPEECH, SPEECH], sockets)
    channel.variables.update({v.SOUNDS: SOUNDS, v.OUT_ID: "rv-1", v.REVISIT_TICKET: TICKET, v.REVISIT_TOPIC: ""})
    await route(AgiCall(channel, {}, Services(plan=plan, ivr=services, revisit_by_voice=by_voice)))
    asked = [p for p in channel.played if "revisit-s" in p or p.startswith("listen")]
    if by_voice:
        assert asked == s("revisit-solved-voice") + ["listen k0"] + s("revisit-satisfaction-voice") + ["listen k1"]
    else:   # the engine is loaded (a menu-intake site) but the site did not ask: keys only, nothing listens
        assert asked == s("revisit-solved", "revisit-satisfaction") and sockets.sessions == {}
