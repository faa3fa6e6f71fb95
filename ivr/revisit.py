"""智能回访: the automated callback call, on the IVR half of ``Local/s@hotline-outbound``.

The desk originates ``Local/s@hotline-outbound`` (the citizen dialled over the carrier with 12345 as caller ID,
within the trunk's limit) with this route on the other half ([hotline-revisit]); it runs once the citizen
answered. The citizen hears, in order: this is 12345 回访 (``revisit-intro``), the ticket number digit by digit,
the matter (the ticket's topic and its host unit, each from a pre-rendered prompt: no free-text speech), then two
questions by key:

- 是否解决: 1 已解决, 2 未解决;
- 满意度: 1 满意, 2 基本满意, 3 不满意.

Where the media server has a speech engine (``Ears``), each question is first asked "请按键或直接说出…": a key pressed
during the question or while listening wins; otherwise the answer is heard over AudioSocket() and matched against
the few phrases of ``SOLVED_WORDS`` / ``SATISFACTION_WORDS`` / ``AGENT_WORDS`` (``hear``). Nothing heard, a phrase
that matches no answer or more than one, or the engine failing: the question is asked again by keys. A verdict is
never guessed: only a key or one unambiguous phrase counts.

At any question 0 hands the citizen to an agent (``to_agent``; the dialplan queues them) and 9 records 不再回访
(``opted_out``). A key out of range or no key re-prompts, ``ATTEMPTS`` tries in all, then the call ends as
``no_answer`` (as does hanging up mid-way). The result goes to the desk on the Redis stream of
``hotline.contracts.revisit`` (spooled when Redis is down, and moved on by the media server's periodic drain,
``agi_scripts.app``); the desk writes it into the ticket's lifecycle by the province's rules
(``agent_desk.callbacks.revisit``).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import yaml
from redis.asyncio import Redis

from hotline.contracts.revisit import (BASICALLY_SATISFIED, NO_ANSWER, OPTED_OUT, SATISFIED, STREAM, STREAM_MAXLEN,
                                       TO_AGENT, UNSATISFIED, RevisitEntry)
from hotline.paths import PROJECT_ROOT
from ivr import ticket_status as ts
from ivr.capture import Frame
from ivr.channel import Channel, ChannelHangup, still_up
from ivr.speech import SAMPLE_RATE, SpeechEngine, SpeechStream
from ivr.speech.audio import PauseDetector, rms_dbfs
from ivr.spool import ResultStream

log = logging.getLogger(__name__)

AGENT_KEY, OPT_OUT_KEY = "0", "9"
SOLVED_KEYS = {"1": "yes", "2": "no"}
SATISFACTION_KEYS = {"1": SATISFIED, "2": BASICALLY_SATISFIED, "3": UNSATISFIED}
ATTEMPTS = 3            # tries per question (the first and two re-prompts)
TIMEOUT_MS = 6000       # the wait for a key after each question
ESCAPES = "0123456789*#"
TOPICS = PROJECT_ROOT / "hotline" / "data" / "topics.yaml"

# 说出的回答: what a citizen may say at each question and what it means; the first phrase of each answer is the one
# the prompt suggests and the engine is told to expect. Answers are tried in order and each match is cut out of
# the text before the next answer looks, so 不满意 / 不太满意 never also count as 满意, nor 没有解决 as 解决了. Kept
# narrow on purpose: a phrase not listed is "unclear" and the question is asked again by keys (不再回访 stays key 9).
AGENT_WORDS: tuple[str, tuple[str, ...]] = (AGENT_KEY, ("转人工", "人工服务", "找人工", "人工"))
SOLVED_WORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("no", ("没解决", "还没有解决", "没有解决", "没能解决", "未解决", "不解决")),
    ("yes", ("解决了", "已经解决", "解决好了", "已解决")),
)
SATISFACTION_WORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (UNSATISFIED, ("不满意", "不是很满意", "不怎么满意", "不太满意")),
    (BASICALLY_SATISFIED, ("基本满意", "基本上满意", "还算满意", "比较满意")),
    (SATISFIED, ("满意",)),
)
# What may be said around a verdict's phrase ("我很满意", "问题已经解决了"). A verdict counts only when every other
# character heard is one of these: the engine mishearing 不满意 as 普满意 must not count as 满意 (it did: Whisper base
# on the prompts' voice). Asking for an agent needs no such care (a person takes over; nothing is recorded).
FILLERS = ("问题", "事情", "这个", "已经", "非常", "特别", "十分", "感觉", "觉得", "我", "们", "很", "挺", "真", "都",
           "还", "是", "的", "了", "啊", "呀", "吧", "呢", "嗯", "哦", "噢", "对", "就", "也")
_NOT_HAN = re.compile(r"[^\u4e00-\u9fff]+")
_FILLER = re.compile("|".join(sorted(FILLERS, key=len, reverse=True)))


def hear(text: str, classes: tuple[tuple[str, tuple[str, ...]], ...]) -> str | None:
    """The one answer ``text`` gives among ``classes`` (plus 转人工 → AGENT_KEY), or None: nothing matched, two
    different answers did (e.g. "满意，不满意"), or a verdict came with words that are not ``FILLERS`` (普满意)."""
    rest = _NOT_HAN.sub("", text)
    found: set[str] = set()
    for value, phrases in (AGENT_WORDS, *classes):
        for phrase in phrases:
            if phrase in rest:
                found.add(value)
                rest = rest.replace(phrase, "|")
    if len(found) != 1:
        return None
    value = found.pop()
    unexplained = _FILLER.sub("", rest.replace("|", ""))
    return value if value == AGENT_KEY or not unexplained else None


def grammar(classes: tuple[tuple[str, tuple[str, ...]], ...]) -> list[str]:
    """The phrases the engine is told to expect (Vosk: its grammar; Whisper: a hint in its prompt)."""
    return [phrases[0] for _value, phrases in classes] + [AGENT_WORDS[1][0]]


@dataclass(frozen=True)
class Question:
    keys_prompt: str
    voice_prompt: str
    keys: dict[str, str]
    words: tuple[tuple[str, tuple[str, ...]], ...]


@dataclass(frozen=True)
class Prompts:
    """The prompt ids the call plays (texts in ``ivr/prompts.yaml``)."""

    intro: str = "revisit-intro"            # 这里是12345热线回访，您反映的工单编号是
    matter: str = "revisit-matter"          # 反映的事项是
    unit: str = "revisit-unit"              # 承办单位是
    solved: str = "revisit-solved"          # 是否已解决: 1 / 2, 0 人工, 9 不再回访 (keys only)
    satisfaction: str = "revisit-satisfaction"
    solved_voice: str = "revisit-solved-voice"  # the same, "请按键或直接说出…" (a speech engine listens)
    satisfaction_voice: str = "revisit-satisfaction-voice"
    unclear: str = "revisit-unclear"        # 没有听清: asked again by keys
    invalid: str = "ivr-invalid"
    thanks: str = "revisit-thanks"
    opted_out: str = "revisit-opted-out"
    to_agent: str = "please-hold"
    goodbye: str = "revisit-goodbye"


PROMPTS = Prompts()


def topic_prompt(code: str) -> str:
    """The prompt id of a topic (``hotline/data/topics.yaml`` code, e.g. 03-water)."""
    return f"topic-{code}"


def topic_names() -> dict[str, str]:
    data = yaml.safe_load(TOPICS.read_text(encoding="utf-8"))
    return {t["code"]: t["name"] for t in data["topics"]}


def prompt_texts() -> dict[str, str]:
    """The topic prompts the call reads the matter with (rendered with the catalogue, ``ivr.prompts``)."""
    return {topic_prompt(code): name for code, name in topic_names().items()}


def matter_prompts(topic: str | None, unit_name: str | None) -> tuple[str, str]:
    """(topic prompt id, unit prompt id) for a ticket, "" where no prompt is rendered (that part is not read)."""
    topic_id = topic_prompt(topic) if topic and topic in topic_names() else ""
    unit_id = ts.unit_prompt(unit_name) if unit_name and unit_name in ts.unit_names() else ""
    return topic_id, unit_id


async def matter_of(tickets: Redis | None, ticket: str, topic: str) -> tuple[str, str]:
    """(topic prompt id, unit prompt id) of the ticket: its topic from the call, its host unit from the ticket's
    status the desk keeps in Redis (a status that cannot be read just leaves the unit out)."""
    try:
        status = await ts.lookup(tickets, ticket)
    except ts.StatusUnavailable as exc:
        log.warning("回访 of %s: no unit to read (%s)", ticket, exc)
        status = None
    return matter_prompts(topic, status.unit_name if status is not None else None)


def readout(ticket: str, topic_id: str, unit_id: str, prompts: Prompts = PROMPTS) -> list[str]:
    """What the citizen hears before the questions, in order (prompt ids)."""
    sounds = [prompts.intro] + [ts.digit_prompt(d, yao=True) for d in ticket]
    if topic_id:
        sounds += [prompts.matter, topic_id]
    if unit_id:
        sounds += [prompts.unit, unit_id]
    return sounds


class RevisitStore(ResultStream):
    """The 回访 results on ``STREAM`` (``ivr.spool.ResultStream``: the spool when Redis is down)."""

    def __init__(self, redis: Redis | None, spool: Path, maxlen: int = STREAM_MAXLEN):
        super().__init__(redis, spool, STREAM, maxlen)

    async def record(self, entry: RevisitEntry) -> str:
        """"redis", "spool" or "lost"; never raises (it runs as the citizen leaves)."""
        return await self.put(entry.out_id, entry.to_fields())


# ── spoken answers ───────────────────────────────────────────────────────────
@dataclass(frozen=True)
class Listening:
    no_speech_seconds: float = 5.0    # nothing said this long after the question: ask again by keys
    end_silence: float = 0.8          # a pause this long after speech ends the answer
    max_seconds: float = 6.0          # an answer is a few words: cut here
    recognise_seconds: float = 15.0   # the engine's verdict on the answer, at most (a loaded box)
    # the quiet audio before the answer's first sound: less, and the citizen was already speaking when listening
    # began (talking over the question), so the answer's start is lost and 不满意 cut to 满意 would count as its
    # opposite (measured: Whisper base hears the prompts' 不满意 with its first 150-200 ms cut as 满意). Such an answer
    # is asked again by keys. Counted in audio, not on the clock: a busy media server reads frames late. (A line
    # that sends no audio while quiet has no lead-in to count: its answers are taken by keys.)
    lead_in: float = 0.1


@dataclass(frozen=True)
class Heard:
    key: str = ""          # a key pressed while listening (it wins)
    speech: bool = False   # the citizen said something
    clipped: bool = False  # ... but had begun before listening did (``Listening.lead_in``): not counted


class AnswerSession:
    """One spoken answer over AudioSocket(): the audio goes to the speech stream until a pause after speech, the
    limit, or no speech at all; a key ends it at once and wins. The answer's audio is not kept on disk (only its
    verdict matters here, and the call's own recording has it)."""

    paced = False   # the citizen's own channel: the server keeps AudioSocket() alive (agi_scripts.audiosocket)

    def __init__(self, stream: SpeechStream, limits: Listening):
        self.stream = stream
        self.limits = limits
        self.result: asyncio.Future[Heard] = asyncio.get_running_loop().create_future()

    async def consume(self, frames: AsyncIterator[Frame]) -> Heard:
        detector = PauseDetector(pause=self.limits.end_silence, min_speech=0.25)
        heard, key, seconds = False, "", 0.0
        started = asyncio.get_running_loop().time()
        quiet_before: float | None = None   # seconds of quiet audio before the first sound
        iterator = frames.__aiter__()
        try:
            while True:
                waited = asyncio.get_running_loop().time() - started
                # Phones with silence suppression send nothing while quiet: limits also on the wall clock.
                timeout = self.limits.end_silence if heard else self.limits.no_speech_seconds - waited
                if timeout <= 0 or waited >= self.limits.max_seconds + self.limits.no_speech_seconds:
                    break
                try:
                    frame = await asyncio.wait_for(iterator.__anext__(), timeout)
                except (StopAsyncIteration, TimeoutError):
                    break
                if frame.kind == "dtmf":
                    key = frame.data.decode("ascii", "replace")
                    if key in ESCAPES:
                        break
                    key = ""
                    continue
                if frame.kind != "audio":
                    break
                await self.stream.feed(frame.data)
                if quiet_before is None and rms_dbfs(frame.data) > detector.threshold_db:
                    quiet_before = seconds
                    log.info("回访 answer: first sound after %.2f s of audio (%.2f s since listening began)",
                             seconds, asyncio.get_running_loop().time() - started)
                seconds += len(frame.data) / 2 / SAMPLE_RATE
                ended = detector.push(frame.data)
                heard = heard or detector.heard_speech or ended
                if (ended and heard) or seconds >= self.limits.max_seconds:
                    break
        except (ConnectionError, asyncio.IncompleteReadError) as exc:
            log.info("回访 answer: audio connection ended (%s)", exc)
        spoke = heard and not key
        clipped = spoke and quiet_before is not None and quiet_before < self.limits.lead_in
        result = Heard(key=key, speech=spoke, clipped=clipped)
        if not self.result.done():
            self.result.set_result(result)
        return result


class AudioSocketLike(Protocol):   # the part of agi_scripts.audiosocket.AudioSocketServer used here
    @property
    def address(self) -> str: ...

    # Any: the server takes any audio consumer; ivr.flow's view of it names only the menu flow's sessions.
    def expect(self, session: Any) -> str: ...

    def forget(self, key: str) -> None: ...


@dataclass
class Ears:
    """The media server's speech engine and AudioSocket server: with them, questions may be answered by voice.
    ``broken`` after the engine failed once in this call: the rest of the call is by keys."""

    speech: SpeechEngine
    audiosocket: AudioSocketLike
    limits: Listening = Listening()
    broken: bool = field(default=False)

    async def listen(self, channel: Channel, phrases: list[str]) -> tuple[str, str]:
        """(key pressed, "") or ("", what was said) or ("", "") for nothing usable. Raises ChannelHangup when
        the citizen is gone."""
        try:
            stream = self.speech.open(grammar=phrases)
        except Exception:
            log.exception("回访: the speech engine would not open a stream; keys only")
            self.broken = True
            return "", ""
        session = AnswerSession(stream, self.limits)
        key = self.audiosocket.expect(session)
        try:
            await channel.exec("AudioSocket", f"{key},{self.audiosocket.address}")
        except ChannelHangup:
            # AudioSocket() also answers -1 when its connection ends: only a citizen who is gone is a hang-up.
            if not await still_up(channel):
                raise
        finally:
            self.audiosocket.forget(key)
        try:
            heard = await asyncio.wait_for(asyncio.shield(session.result), 3)
        except TimeoutError:
            log.warning("回访: AudioSocket ended without an answer session; keys only")
            self.broken = True
            return "", ""
        if heard.key or not heard.speech:
            return heard.key, ""
        if heard.clipped:
            log.info("回访: the answer began before listening did (talked over the question); asked again by keys")
            return "", ""
        try:
            transcript = await asyncio.wait_for(stream.finish(), self.limits.recognise_seconds)
        except Exception as exc:   # the engine failed or was too slow: the citizen is asked by keys
            log.warning("回访: no verdict from the speech engine (%r); keys only", exc)
            self.broken = True
            return "", ""
        return "", transcript.text


@dataclass
class _Answers:
    digits: str = ""
    solved: str = ""
    result: str = NO_ANSWER
    said: list[str] = field(default_factory=list)   # what was heard and counted, per question


async def _ask(channel: Channel, sounds: str, question: Question, prompts: Prompts, answers: _Answers,
               ears: Ears | None) -> str | None:
    """One question: the valid answer's value, AGENT_KEY / OPT_OUT_KEY, or None (no valid answer after
    ATTEMPTS). With ``ears`` the first try also listens; any later try is by keys."""
    valid = question.keys
    for attempt in range(ATTEMPTS):
        if attempt == 0 and ears is not None and not ears.broken:
            digit = await channel.play(f"{sounds}/{question.voice_prompt}", escape_digits=ESCAPES)
            if not digit:
                digit, text = await ears.listen(channel, grammar(question.words))
                if not digit:
                    value = hear(text, question.words) if text else None
                    log.info("回访: heard %r → %s", text, value or "unclear")
                    if value is not None:
                        answers.said.append(text)
                        return value
                    await channel.play(f"{sounds}/{prompts.unclear}")
                    continue
        else:
            digit = await channel.collect_digits(f"{sounds}/{question.keys_prompt}", 1, TIMEOUT_MS)
        answers.digits += digit
        if digit in (AGENT_KEY, OPT_OUT_KEY):
            return digit
        if digit in valid:
            return valid[digit]
        if attempt + 1 < ATTEMPTS:
            await channel.play(f"{sounds}/{prompts.invalid}")
    return None


async def _questions(channel: Channel, sounds: str, ticket: str, topic_id: str, unit_id: str, prompts: Prompts,
                     answers: _Answers, ears: Ears | None) -> None:
    for sound in readout(ticket, topic_id, unit_id, prompts):
        key = await channel.play(f"{sounds}/{sound}", escape_digits=AGENT_KEY + OPT_OUT_KEY)
        if key:   # 0 or 9 during the read-out counts as at a question
            answers.digits += key
            answers.result = TO_AGENT if key == AGENT_KEY else OPTED_OUT
            return
    solved = await _ask(channel, sounds, Question(prompts.solved, prompts.solved_voice, SOLVED_KEYS, SOLVED_WORDS),
                        prompts, answers, ears)
    if solved in (AGENT_KEY, OPT_OUT_KEY):
        answers.result = TO_AGENT if solved == AGENT_KEY else OPTED_OUT
        return
    if solved is None:
        return
    answers.solved = solved
    satisfaction = await _ask(channel, sounds, Question(prompts.satisfaction, prompts.satisfaction_voice,
                                                        SATISFACTION_KEYS, SATISFACTION_WORDS), prompts, answers, ears)
    if satisfaction in (AGENT_KEY, OPT_OUT_KEY):
        answers.result = TO_AGENT if satisfaction == AGENT_KEY else OPTED_OUT
    elif satisfaction is not None:
        answers.result = satisfaction


async def run_revisit(channel: Channel, store: RevisitStore, sounds: str, *, out_id: str, ticket: str,
                      topic_id: str = "", unit_id: str = "", prompts: Prompts = PROMPTS,
                      ears: Ears | None = None) -> RevisitEntry:
    """Read out, ask, record (also when the citizen hangs up mid-way), then close the call; returns the entry.
    ``ChannelHangup`` is absorbed after recording: the citizen is gone, and the answer is kept. ``ears``: the
    questions may also be answered by voice."""
    answers = _Answers()
    try:
        await _questions(channel, sounds, ticket, topic_id, unit_id, prompts, answers, ears)
    except ChannelHangup:
        log.info("回访 %s: the citizen hung up (%r)", out_id, answers.digits)
    finally:
        entry = RevisitEntry.model_validate({"out_id": out_id, "ticket": ticket, "result": answers.result,
                                             "solved": answers.solved, "digits": answers.digits[:32],
                                             "said": " / ".join(answers.said)[:200]})
        where = await store.record(entry)
        log.info("回访 %s of %s: %s solved=%r (keys %r, said %r) → %s", out_id, ticket, entry.result, entry.solved,
                 entry.digits, entry.said, where)
    closing = {TO_AGENT: prompts.to_agent, OPTED_OUT: prompts.opted_out, NO_ANSWER: prompts.goodbye}
    try:
        await channel.play(f"{sounds}/{closing.get(entry.result, prompts.thanks)}")
    except ChannelHangup:
        pass
    return entry
