"""Capturing what the caller says: audio frames in, recording and live transcript out, end of speech found.

A ``CaptureSession`` is fed the caller's audio as it arrives (over AudioSocket), writes it to a WAV
file, streams it to the speech engine, and decides when the caller has finished: a long enough pause
after speech, ``#``, the length limit, or no speech at all. Whatever was captured is kept, also when
the caller hangs up mid-sentence.
"""

from __future__ import annotations

import asyncio
import logging
import time
import wave
from dataclasses import dataclass
from pathlib import Path
from collections.abc import AsyncIterator, Awaitable, Callable

from ivr.speech import SAMPLE_RATE, SpeechStream
from ivr.speech.audio import PauseDetector
from hotline.private import private_dir, touch_private

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CaptureLimits:
    max_seconds: float = 60.0        # the longest description we take
    end_silence: float = 2.0         # a pause this long after speech ends the description
    no_speech_seconds: float = 8.0   # nothing said for this long: give up and go to an agent
    end_digits: str = "#"


@dataclass(frozen=True)
class Frame:
    kind: str        # "audio" | "dtmf" | "hangup" | "error"
    data: bytes = b""


@dataclass(frozen=True)
class CaptureResult:
    ended_by: str            # pause | dtmf | limit | no_speech | hangup | error
    audio_seconds: float
    heard_speech: bool
    recording: Path


class CaptureSession:
    paced = False   # the caller's own channel: silence now and then (agi_scripts.audiosocket.AudioConsumer)

    def __init__(self, recording: Path, stream: SpeechStream | None, limits: CaptureLimits = CaptureLimits(),
                 on_partial: Callable[[str], Awaitable[None]] | None = None):
        self.recording = recording
        self.stream = stream
        self.limits = limits
        self.on_partial = on_partial
        self.result: asyncio.Future[CaptureResult] = asyncio.get_running_loop().create_future()

    async def consume(self, frames: AsyncIterator[Frame]) -> CaptureResult:
        private_dir(self.recording.parent)   # the caller's voice: 0700 directory, 0600 file
        touch_private(self.recording)
        detector = PauseDetector(pause=self.limits.end_silence, min_speech=0.3)
        heard = False
        seconds = 0.0
        last_partial = ""
        ended_by = "hangup"
        with wave.open(str(self.recording), "wb") as wav:
            wav.setnchannels(1)
            wav.setsampwidth(2)
            wav.setframerate(SAMPLE_RATE)
            iterator = frames.__aiter__()
            started = time.monotonic()
            try:
                while True:
                    # Phones with silence suppression send no audio while the caller is quiet, so the
                    # pause and the no-speech limit are also measured on the wall clock.
                    waited = time.monotonic() - started
                    timeout = (self.limits.end_silence if heard
                               else max(0.05, self.limits.no_speech_seconds - waited))
                    try:
                        frame = await asyncio.wait_for(iterator.__anext__(), timeout)
                    except StopAsyncIteration:
                        break
                    except TimeoutError:
                        ended_by = "pause" if heard else "no_speech"
                        break
                    if frame.kind == "dtmf":
                        if frame.data.decode("ascii", "replace") in self.limits.end_digits:
                            ended_by = "dtmf"
                            break
                        continue
                    if frame.kind in ("hangup", "error"):
                        ended_by = frame.kind
                        break
                    wav.writeframes(frame.data)
                    seconds += len(frame.data) / 2 / SAMPLE_RATE
                    if self.stream is not None:
                        await self.stream.feed(frame.data)
                        if self.on_partial and self.stream.partial != last_partial:
                            last_partial = self.stream.partial
                            await self.on_partial(last_partial)
                    ended = detector.push(frame.data)
                    heard = heard or detector.heard_speech or ended
                    if ended and heard:
                        ended_by = "pause"
                        break
                    if seconds >= self.limits.max_seconds or waited >= self.limits.max_seconds:
                        ended_by = "limit"
                        break
                    if not heard and seconds >= self.limits.no_speech_seconds:
                        ended_by = "no_speech"
                        break
            except (ConnectionError, asyncio.IncompleteReadError) as exc:
                log.info("capture %s: audio connection ended (%s)", self.recording.name, exc)
        result = CaptureResult(ended_by=ended_by, audio_seconds=seconds, heard_speech=heard, recording=self.recording)
        if not self.result.done():
            self.result.set_result(result)
        return result
