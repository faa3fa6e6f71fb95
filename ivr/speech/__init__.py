"""Speech-to-text behind one interface: Vosk (streaming, grammars) and faster-whisper (Whisper base).

An engine is loaded once per process and opens one ``SpeechStream`` per caller utterance. Audio is
telephone audio: signed 16-bit little-endian mono PCM at 8 kHz, fed as it arrives; the stream keeps a
partial transcript while the caller speaks and returns the final one on ``finish``. Recognition runs
in worker threads so the event loop that carries calls never waits on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

SAMPLE_RATE = 8000  # telephone audio


@dataclass(frozen=True)
class Transcript:
    text: str
    engine: str
    audio_seconds: float
    compute_seconds: float


class SpeechStream(Protocol):
    @property
    def partial(self) -> str:
        """What has been recognised so far (empty before the first result)."""

    async def feed(self, pcm: bytes) -> None:
        """Add 8 kHz 16-bit mono PCM as it arrives."""

    async def finish(self) -> Transcript:
        """Flush and return the final transcript. The stream cannot be fed afterwards."""


class SpeechEngine(Protocol):
    name: str

    def open(self, grammar: list[str] | None = None, *, prompt: str = "") -> SpeechStream:
        """A stream for one utterance; ``grammar`` restricts recognition to those phrases where supported,
        ``prompt`` biases it towards words likely here (places, units) where the engine supports that."""


class EngineUnavailable(RuntimeError):
    """The engine's package or model is missing: prefill is disabled, the IVR keeps working."""
