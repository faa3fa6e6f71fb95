"""Listening to one side of a call, live: audio in, phrases out to the ASR pool, speaker turns and the prefill back.

A listening leg (``[hotline-listen]`` in the dialplan: ChanSpy on the call's channel, its voice over AudioSocket)
feeds a ``ListenSession`` from the moment the caller joins the queue (side ``citizen``) or the agent answers
(side ``agent``) until the channel hangs up. The session cuts the audio into phrases at pauses, sends each to
the ASR pool (``hotline.contracts.asr``) and writes the results as turns, in each side's order
(``hotline.contracts.transcript``). The citizen's turns also keep the prefill up to date, so the agent's pop
shows what the caller said while waiting and the form fills as they talk; while the caller is still waiting,
emergency words end the session with ``emergency`` set and the dialplan hands the call over.

Nothing here can hold up a call: the leg is a separate channel; a phrase the pool sheds, loses or never
answers becomes a turn saying so (the audio stays in the call's recording); Redis down loses turns, not calls.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import ClassVar, Protocol

from hotline.contracts.asr import JOB_CLASSES, PhraseJob, PhraseResult, deadline, job_class, priority_of
from hotline.contracts.prefill import Prefill
from hotline.contracts.transcript import Phase, Speaker, Turn
from hotline.contracts.transcript import Status as TurnStatus
from ivr.capture import Frame
from ivr.prefill import enrich
from ivr.prefill_store import PrefillStore
from ivr.speech import SAMPLE_RATE
from ivr.speech.audio import PauseDetector
from ivr.transcript_store import TranscriptStore

log = logging.getLogger(__name__)

BYTES_PER_SECOND = SAMPLE_RATE * 2
_TURN_STATUS: dict[str, TurnStatus] = {"ok": "ok", "shed": "shed", "lost": "lost", "failed": "lost"}


class Transcriber(Protocol):
    """The part of the ASR pool's client (``ivr.asr.client.AsrClient``) a session uses."""

    @property
    def reply_stream(self) -> str: ...

    async def submit(self, job: PhraseJob, audio: bytes) -> asyncio.Future[PhraseResult]: ...


@dataclass(frozen=True)
class ListenLimits:
    pause: float = 0.5          # a pause this long ends a phrase
    min_speech: float = 0.25    # less speech than this is noise, not a phrase
    max_phrase: float = 12.0    # a phrase is cut here even without a pause (the pool transcribes it meanwhile)
    preroll: float = 0.3        # audio kept before the speech starts, so the first syllable is not clipped
    # After the leg ends: how long the last phrases' text is awaited: the slowest class's deadline (a waiting
    # caller's phrase may be answered up to its max age plus the compute allowance after it was sent).
    drain_seconds: float = max(deadline(c.priority) for c in JOB_CLASSES) + 5


@dataclass
class ListenResult:
    ended_by: str            # hangup | emergency | error
    phrases: int
    audio_seconds: float
    emergency: str = ""


@dataclass
class _Pending:
    seq: int
    phase: Phase
    start: float
    end: float
    future: asyncio.Future[PhraseResult] | None    # None: not submitted (no pool, pool unreachable)
    status_if_none: TurnStatus = "lost"


@dataclass
class ListenSession:
    paced: ClassVar[bool] = True   # the server's silence is ChanSpy's clock (agi_scripts.audiosocket.AudioConsumer)
    call_id: str
    speaker: Speaker
    asr: Transcriber | None
    transcripts: TranscriptStore
    prefills: PrefillStore | None = None      # the citizen's side keeps the prefill
    prefill: Prefill | None = None
    limits: ListenLimits = ListenLimits()
    today: dt.date | None = None
    result: asyncio.Future[ListenResult] = field(init=False)
    emergency: str = ""
    started: bool = False   # the leg's audio connection arrived (consume ran)
    connections: int = 0
    ended_by: str = "hangup"
    turns: list[Turn] = field(default_factory=list)
    _texts: list[str] = field(default_factory=list)
    _base_text: str = ""
    _answered_at: float | None = None
    _started_at: float = field(default_factory=time.time)
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _pending: asyncio.Queue[_Pending | None] = field(default_factory=asyncio.Queue)
    _seq: int = 0
    _writer: asyncio.Task[None] | None = None
    _idle: asyncio.Event = field(default_factory=asyncio.Event)
    _cutter: _PhraseCutter = field(init=False)

    def __post_init__(self) -> None:
        self.result = asyncio.get_running_loop().create_future()
        self._cutter = _PhraseCutter(self.limits)
        self._idle.set()
        if self.prefill is not None:
            self._base_text = self.prefill.transcript   # the menu flow's description, if there was one

    # ── audio in ────────────────────────────────────────────────────────────────────────────────────────
    async def consume(self, frames: AsyncIterator[Frame]) -> str:
        """Take one audio connection's frames until it ends; returns how (hangup | error | emergency). A leg whose
        connection dropped (AudioSocket() gives up after 2 s without traffic) may connect again to the same
        session: phrases go on numbering, the prefill goes on filling. ``finish`` ends the session."""
        self.started = True
        self.connections += 1
        self._idle.clear()
        if self._writer is None:
            self._writer = asyncio.create_task(self._write_turns(), name=f"turns-{self.call_id}-{self.speaker}")
        cutter = self._cutter
        ended_by = "hangup"
        inbox: asyncio.Queue[Frame] = asyncio.Queue()
        reader = asyncio.create_task(_pump(frames, inbox), name=f"audio-{self.call_id}-{self.speaker}")
        try:
            while not self._stop.is_set():
                try:   # bounded: an emergency stops the leg, and a phone that sends nothing while quiet
                    frame = await asyncio.wait_for(inbox.get(), self.limits.pause)
                except TimeoutError:   # (silence suppression) has paused as surely as one sending silence
                    if (phrase := cutter.pause()) is not None:
                        await self._phrase(*phrase)
                    continue
                if frame.kind in ("hangup", "error"):
                    ended_by = frame.kind
                    break
                if frame.kind == "audio" and (phrase := cutter.push(frame.data)) is not None:
                    await self._phrase(*phrase)   # keys (dtmf frames) are the dialplan's business
            if self._stop.is_set():
                ended_by = "emergency"
            elif (phrase := cutter.pause()) is not None:   # the connection ended mid-phrase: it still counts
                await self._phrase(*phrase)
        except Exception:
            log.exception("listening to %s %s failed", self.call_id, self.speaker)
            ended_by = "error"
        finally:
            reader.cancel()
            self.ended_by = ended_by
            self._idle.set()
        return ended_by

    async def idle(self, timeout: float = 5.0) -> None:
        """Wait (bounded) until no connection is being consumed."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._idle.wait(), timeout)

    async def finish(self) -> ListenResult:
        """The leg is over: wait (bounded) for the last phrases' text, close the prefill, give the result."""
        if self._writer is not None:
            await self._pending.put(None)
            try:
                await asyncio.wait_for(asyncio.shield(self._writer), self.limits.drain_seconds)
            except TimeoutError:
                self._writer.cancel()
                log.warning("call %s %s: last phrases not transcribed within %.0f s", self.call_id, self.speaker,
                            self.limits.drain_seconds)
        await self._finish_prefill()
        log.debug("call %s %s: leg ended (%s) after %.1f s of audio, %d phrases, %d connection(s)", self.call_id,
                  self.speaker, self.ended_by, self._cutter.position, self._seq, self.connections)
        result = ListenResult(ended_by=self.ended_by, phrases=self._seq, audio_seconds=round(self._cutter.position, 2),
                              emergency=self.emergency)
        if not self.result.done():
            self.result.set_result(result)
        return result

    async def _phase(self) -> Phase:
        if self.speaker == "agent":
            return "conversation"
        if self._answered_at is None:
            self._answered_at = await self.transcripts.answered_at(self.call_id)
        return "waiting" if self._answered_at is None else "conversation"

    async def _phrase(self, audio: bytes, start: float, end: float) -> None:
        seq, self._seq = self._seq, self._seq + 1
        phase = await self._phase()
        pending = _Pending(seq=seq, phase=phase, start=round(start, 2), end=round(end, 2), future=None,
                           status_if_none="no_engine" if self.asr is None else "lost")
        if self.asr is not None:
            priority = priority_of(self.speaker, phase)
            job = PhraseJob(job_id=uuid.uuid4().hex, call_id=self.call_id, speaker=self.speaker, seq=seq,
                            phase=phase, priority=priority, start=pending.start, end=pending.end,
                            reply_to=self.asr.reply_stream)
            try:
                pending.future = await self.asr.submit(job, audio)
            except Exception as exc:   # the pool is unreachable: this phrase is lost, the next may get through
                log.warning("call %s %s #%d: not sent for transcription (%s)", self.call_id, self.speaker, seq, exc)
        log.debug("call %s %s #%d: phrase %.2f–%.2f s (%s) %s", self.call_id, self.speaker, seq, start, end, phase,
                  "sent" if pending.future is not None else "not sent")
        await self._pending.put(pending)

    # ── turns out ──────────────────────────────────────────────────────────────────────────────────────
    async def _write_turns(self) -> None:
        while (pending := await self._pending.get()) is not None:
            result: PhraseResult | None = None
            if pending.future is not None:
                # The client resolves every future by its class's deadline; this bound only guards against a bug.
                bound = job_class(priority_of(self.speaker, pending.phase)).max_age + 60
                try:
                    result = await asyncio.wait_for(pending.future, bound)
                except (TimeoutError, Exception) as exc:
                    log.warning("call %s %s #%d: no transcription (%r)", self.call_id, self.speaker, pending.seq, exc)
            status: TurnStatus = pending.status_if_none if result is None else _TURN_STATUS[result.status]
            text = result.text.strip() if result is not None and status == "ok" else ""
            if status == "ok" and not text:
                continue   # noise, a cough: nothing to show
            turn = Turn(call_id=self.call_id, speaker=self.speaker, seq=pending.seq, phase=pending.phase,
                        start=pending.start, end=pending.end, text=text, status=status,
                        engine=result.engine if result is not None else "")
            self.turns.append(turn)
            await self.transcripts.add(turn)
            if text and self.speaker == "citizen":
                self._texts.append(text)
                await self._update_prefill(turn)

    async def _update_prefill(self, turn: Turn) -> None:
        if self.prefill is None:
            return
        enrich(self.prefill, _joined([self._base_text, *self._texts]), self.today)
        self.prefill.engine = turn.engine or self.prefill.engine
        if self.prefill.emergency and turn.phase == "waiting" and not self.emergency:
            self.emergency = self.prefill.emergency   # the caller is still waiting: hand over now
            self._stop.set()
        if self.prefills is not None:
            await self.prefills.save(self.prefill)

    async def _finish_prefill(self) -> None:
        if self.prefill is None or self.prefills is None:
            return
        if self.prefill.status == "listening":
            untranscribed = [t for t in self.turns if t.status != "ok"]
            if self.prefill.transcript:
                self.prefill.status = "final"
            elif untranscribed:   # the caller spoke, but nothing came back: say so rather than "no speech"
                self.prefill.status = "failed"
                self.prefill.error = f"{len(untranscribed)} phrase(s) not transcribed ({untranscribed[0].status})"
            else:
                self.prefill.status = "no_speech"
        with contextlib.suppress(Exception):   # the store spools when Redis is down; never fail the leg's end
            await self.prefills.save(self.prefill)


class _PhraseCutter:
    """Cuts a side's audio into phrases: at a pause after speech, or at the longest phrase. Keeps a little audio
    before the speech starts and drops longer silences. Positions are seconds of this side's audio."""

    def __init__(self, limits: ListenLimits):
        self.limits = limits
        self.detector = self._detector()
        self.buffer = bytearray()
        self.start = 0.0
        self.position = 0.0
        self.preroll = int(limits.preroll * BYTES_PER_SECOND) // 2 * 2

    def _detector(self) -> PauseDetector:
        return PauseDetector(pause=self.limits.pause, min_speech=self.limits.min_speech)

    def push(self, pcm: bytes) -> tuple[bytes, float, float] | None:
        """Add audio; returns (audio, start, end) when it completes a phrase."""
        self.buffer += pcm
        self.position += len(pcm) / BYTES_PER_SECOND
        ended = self.detector.push(pcm)
        speaking = self.detector.heard_speech
        if ended or (speaking and len(self.buffer) >= self.limits.max_phrase * BYTES_PER_SECOND):
            return self._cut()
        if not speaking and len(self.buffer) > self.preroll + BYTES_PER_SECOND:
            drop = len(self.buffer) - self.preroll   # silence: keep only the pre-roll
            del self.buffer[:drop]
            self.start += drop / BYTES_PER_SECOND
        return None

    def pause(self) -> tuple[bytes, float, float] | None:
        """No audio for a while (or the end): the phrase in progress, if speech was heard."""
        return self._cut() if self.detector.heard_speech else None

    def _cut(self) -> tuple[bytes, float, float]:
        phrase = (bytes(self.buffer), self.start, self.position)
        self.buffer.clear()
        self.start = self.position
        self.detector = self._detector()
        return phrase


async def _pump(frames: AsyncIterator[Frame], inbox: asyncio.Queue[Frame]) -> None:
    """Move the connection's frames into ``inbox``; the end of the connection is a hangup frame."""
    try:
        async for frame in frames:
            inbox.put_nowait(frame)
    finally:
        inbox.put_nowait(Frame("hangup"))


def _joined(parts: list[str]) -> str:
    text = ""
    for part in (p.strip() for p in parts):
        if not part:
            continue
        if text and text[-1] not in "。！？，；,.!?;":
            text += "，"
        text += part
    return text
