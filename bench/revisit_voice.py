"""智能回访 spoken answers: what the speech engine makes of each phrase, and what the IVR then records.

No recording of these words exists (``shared/stt-samples`` has none), so each phrase is spoken by the prompts'
voice (espeak-ng Mandarin via ``ivr.prompts``, 8 kHz, as ``tests.support.samples.synthesise`` makes it for the
e2e test) and goes through the call's own path: 20 ms frames into ``ivr.revisit.AnswerSession`` (the pause that
ends the answer, and the lead-in guard: an answer whose first sound is the first audio heard is asked again by
keys), Whisper base with the question's phrases as its hint (``open(grammar=...)``), then ``ivr.revisit.hear``.
Each phrase is spoken after 0.25, 0.5 and 1 s of quiet, and begun 0.1 and 0.2 s before listening did (the citizen
talking over the question: the start of the answer is lost). Each answer is right (the intended answer), unclear
(the citizen is asked again by keys: harmless) or WRONG (another answer recorded: the harmful case), now and with
the matcher and session before the guards (any listed phrase found anywhere in the text; no lead-in check), side by
side.

    .venv/bin/python -m bench.revisit_voice
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
import wave
from collections.abc import AsyncIterator
from pathlib import Path

from hotline.contracts.revisit import BASICALLY_SATISFIED, SATISFIED, UNSATISFIED
from ivr import revisit
from ivr.capture import Frame
from ivr.speech import SAMPLE_RATE
from ivr.speech.loader import whisper_model_dir
from ivr.speech.whisper_engine import WhisperEngine, assemble_model
from hotline.paths import PROJECT_ROOT
from hotline.site import Speech
from tests.support.samples import synthesise

SOLVED = [("解决了", "yes"), ("已经解决了", "yes"), ("问题已经解决了", "yes"), ("没解决", "no"), ("还没有解决", "no"),
          ("转人工", "0")]
SATISFACTION = [("满意", SATISFIED), ("我很满意", SATISFIED), ("非常满意", SATISFIED),
                ("基本满意", BASICALLY_SATISFIED), ("比较满意", BASICALLY_SATISFIED), ("不满意", UNSATISFIED),
                ("不太满意", UNSATISFIED), ("转人工", "0")]


def hear_before(text: str, classes: tuple[tuple[str, tuple[str, ...]], ...]) -> str | None:
    """The matcher before the guards (the baseline): any listed phrase anywhere in the text counts."""
    rest, found = "".join(c for c in text if "\u4e00" <= c <= "\u9fff"), set()
    for value, phrases in (revisit.AGENT_WORDS, *classes):
        for phrase in phrases:
            if phrase in rest:
                found.add(value)
                rest = rest.replace(phrase, "|")
    return found.pop() if len(found) == 1 else None


async def frames(pcm: bytes) -> AsyncIterator[Frame]:
    """As AudioSocket() delivers the citizen's voice: 20 ms frames."""
    for i in range(0, len(pcm), 320):
        yield Frame("audio", pcm[i:i + 320])


async def answer(engine: WhisperEngine, pcm: bytes, words) -> tuple[str, bool, float]:
    """(what the engine heard, whether the session judged the start clipped, recognition seconds)."""
    stream = engine.open(grammar=revisit.grammar(words))
    heard = await revisit.AnswerSession(stream, revisit.Listening()).consume(frames(pcm))
    started = time.monotonic()
    text = (await stream.finish()).text if heard.speech else ""
    return text, heard.clipped, time.monotonic() - started


def grade(got: str | None, expected: str) -> str:
    return "right" if got == expected else ("unclear" if got is None else "WRONG")


def main() -> int:
    engine = WhisperEngine(assemble_model(whisper_model_dir(PROJECT_ROOT / "var", Speech())))
    conditions = [(f"{lead:.2f} s quiet first", lead) for lead in (0.25, 0.5, 1.0)] + [
        (f"begun {-lead:.1f} s before", lead) for lead in (-0.1, -0.2)]
    counts = {(c, when): {"right": 0, "unclear": 0, "WRONG": 0} for c, _ in conditions for when in ("before", "now")}
    seconds: list[float] = []
    print(f"{'condition':<20} | {'question':<8} | {'said':<8} | {'heard':<18} | {'before':<20} | now")
    with tempfile.TemporaryDirectory() as work:
        for question, words, cases in (("是否解决", revisit.SOLVED_WORDS, SOLVED),
                                       ("满意度", revisit.SATISFACTION_WORDS, SATISFACTION)):
            for n, (text, expected) in enumerate(cases):
                path = synthesise(f"{question}-{n}", text, Path(work))
                with wave.open(str(path)) as w:
                    voice = w.readframes(w.getnframes())
                for condition, lead in conditions:
                    pcm = (bytes(2 * int(SAMPLE_RATE * lead)) if lead > 0 else b"") + voice[
                        2 * int(SAMPLE_RATE * -lead) if lead < 0 else 0:] + bytes(SAMPLE_RATE * 2)
                    heard, clipped, took = asyncio.run(answer(engine, pcm, words))
                    seconds.append(took)
                    before = hear_before(heard, words)
                    now = None if clipped else revisit.hear(heard, words)
                    counts[(condition, "before")][grade(before, expected)] += 1
                    counts[(condition, "now")][grade(now, expected)] += 1
                    shown = "(clipped: keys)" if clipped else (now or "(keys)")
                    was = f"{before or '(keys)'} {grade(before, expected)}"
                    print(f"{condition:<20} | {question:<8} | {text:<8} | {heard!r:<18} | {was:<20} | "
                          f"{shown} {grade(now, expected)}")
    print(f"\n{'condition':<20} | {'before: right / unclear / WRONG':<32} | now: right / unclear / WRONG")
    for condition, _ in conditions:
        b, w = counts[(condition, "before")], counts[(condition, "now")]
        print(f"{condition:<20} | {b['right']:>5} / {b['unclear']:>7} / {b['WRONG']:>5}{'':<11} | "
              f"{w['right']:>3} / {w['unclear']:>7} / {w['WRONG']:>5}")
    total = {when: {k: sum(counts[(c, when)][k] for c, _ in conditions) for k in ("right", "unclear", "WRONG")}
             for when in ("before", "now")}
    print(f"{'all':<20} | {total['before']['right']:>5} / {total['before']['unclear']:>7} / "
          f"{total['before']['WRONG']:>5}{'':<11} | {total['now']['right']:>3} / {total['now']['unclear']:>7} / "
          f"{total['now']['WRONG']:>5}")
    print(f"recognition {sum(seconds) / len(seconds):.2f} s per answer on average")
    return 0


if __name__ == "__main__":
    sys.exit(main())
