"""智能回访 spoken answers: what the speech engine makes of each phrase, and what the IVR's matcher then records.

No recording of these words exists (``shared/stt-samples`` has none), so each phrase is spoken by the prompts'
voice (espeak-ng Mandarin via ``ivr.prompts``, 8 kHz, as ``tests.support.samples.synthesise`` makes it for the
e2e test), with 0.25 s of silence before and 0.5 s after, and transcribed by Whisper base with the question's
phrases as its hint (``open(grammar=...)``, as the call does), then matched by ``ivr.revisit.hear``. Each row is
right (the intended answer), unclear (nothing or several matched: the citizen is asked again by keys, harmless),
or WRONG (another answer was recorded: the harmful case).

    .venv/bin/python -m bench.revisit_voice
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
import wave
from pathlib import Path

from hotline.contracts.revisit import BASICALLY_SATISFIED, SATISFIED, UNSATISFIED
from ivr import revisit
from ivr.speech import SAMPLE_RATE, SpeechStream
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


async def transcribe(stream: SpeechStream, pcm: bytes) -> str:
    """Fed in 20 ms frames, as AudioSocket() delivers the citizen's voice."""
    for i in range(0, len(pcm), 320):
        await stream.feed(pcm[i:i + 320])
    return (await stream.finish()).text


def main() -> int:
    engine = WhisperEngine(assemble_model(whisper_model_dir(PROJECT_ROOT / "var", Speech())))
    counts = {"right": 0, "unclear": 0, "WRONG": 0}
    seconds: list[float] = []
    print(f"{'question':<12} | {'said':<10} | {'heard':<16} | {'recorded':<20} | verdict")
    with tempfile.TemporaryDirectory() as work:
        for question, words, cases in (("是否解决", revisit.SOLVED_WORDS, SOLVED),
                                       ("满意度", revisit.SATISFACTION_WORDS, SATISFACTION)):
            for n, (text, expected) in enumerate(cases):
                path = synthesise(f"{question}-{n}", text, Path(work))
                with wave.open(str(path)) as w:
                    pcm = bytes(SAMPLE_RATE // 2) + w.readframes(w.getnframes()) + bytes(SAMPLE_RATE)
                stream = engine.open(grammar=revisit.grammar(words))
                started = time.monotonic()
                heard = asyncio.run(transcribe(stream, pcm))
                seconds.append(time.monotonic() - started)
                got = revisit.hear(heard, words)
                verdict = "right" if got == expected else ("unclear" if got is None else "WRONG")
                counts[verdict] += 1
                print(f"{question:<12} | {text:<10} | {heard!r:<16} | {got or '(asked again by keys)':<20} | "
                      f"{verdict}")
    total = sum(counts.values())
    print(f"\n{total} phrases: right {counts['right']}, unclear {counts['unclear']}, WRONG {counts['WRONG']}; "
          f"recognition {sum(seconds) / len(seconds):.2f} s per answer on average (loaded box)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
