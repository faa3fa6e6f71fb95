"""The listening session without Asterisk: phrases cut at pauses, turns in each speaker's order whatever order the
pool answers in, the prefill filled from the citizen's words, emergency words while waiting, reconnections."""

from __future__ import annotations

import asyncio

import numpy as np

from hotline.contracts.asr import PhraseJob, PhraseResult
from hotline.contracts.prefill import Prefill
from ivr.capture import Frame
from ivr.listen import ListenLimits, ListenSession
from ivr.prefill_store import PrefillStore
from ivr.speech import SAMPLE_RATE
from ivr.transcript_store import TranscriptStore


def tone(seconds: float) -> bytes:
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    return (np.sin(2 * np.pi * 440 * t) * 8000).astype("<i2").tobytes()


def silence(seconds: float) -> bytes:
    return bytes(int(seconds * SAMPLE_RATE) * 2)


def frames_of(*chunks: bytes, pace: float = 0.0):
    """20 ms frames; ``pace`` seconds between frames (0: as fast as the session takes them)."""
    async def gen():
        for chunk in chunks:
            for i in range(0, len(chunk), 320):
                yield Frame("audio", chunk[i:i + 320])
                if pace:
                    await asyncio.sleep(pace)
        yield Frame("hangup")
    return gen()


class ScriptedPool:
    """Answers each phrase with the next scripted text, the later phrases first; raises on a phrase too many."""

    reply_stream = "test"

    def __init__(self, texts: list[str]):
        self.texts = list(texts)
        self.jobs: list[PhraseJob] = []
        self.futures: list[asyncio.Future[PhraseResult]] = []

    async def submit(self, job: PhraseJob, audio: bytes) -> asyncio.Future[PhraseResult]:
        if not self.texts:
            raise AssertionError(f"unexpected phrase {job.seq}")
        assert len(audio) > 0
        self.jobs.append(job)
        future: asyncio.Future[PhraseResult] = asyncio.get_running_loop().create_future()
        self.futures.append(future)
        text = self.texts.pop(0)
        asyncio.get_running_loop().call_later(0.3 if job.seq == 0 else 0.05, future.set_result, PhraseResult(
            job_id=job.job_id, call_id=job.call_id, speaker=job.speaker, seq=job.seq, status="ok", text=text,
            engine="scripted"))
        return future


def session(pool, tmp_path, prefill=None, speaker="citizen") -> ListenSession:
    return ListenSession(call_id="c1", speaker=speaker, asr=pool, transcripts=TranscriptStore(None),
                         prefills=PrefillStore(None, tmp_path / "spool"), prefill=prefill,
                         limits=ListenLimits(drain_seconds=5))


async def test_phrases_become_turns_in_order_and_fill_the_prefill(tmp_path):
    pool = ScriptedPool(["我在海口市龙华区", "小区门口的路灯坏了"])
    prefill = Prefill(call_id="c1", status="listening")
    s = session(pool, tmp_path, prefill)
    await s.consume(frames_of(silence(0.5), tone(1.0), silence(1.0), tone(1.2), silence(1.0)))
    result = await s.finish()
    assert [(j.seq, j.phase, j.priority) for j in pool.jobs] == [(0, "waiting", "waiting"), (1, "waiting", "waiting")]
    assert [(t.seq, t.text) for t in s.turns] == [(0, "我在海口市龙华区"), (1, "小区门口的路灯坏了")]
    assert prefill.transcript == "我在海口市龙华区，小区门口的路灯坏了" and prefill.status == "final"
    assert prefill.places and prefill.places[0]["name"] in ("海口市", "海口", "龙华区")
    assert result.phrases == 2 and result.emergency == ""


async def test_emergency_words_while_waiting_stop_the_leg(tmp_path):
    pool = ScriptedPool(["楼下的车着火了"])
    s = session(pool, tmp_path, Prefill(call_id="c1", status="listening"))
    ended = await s.consume(frames_of(tone(1.0), silence(1.0), *[silence(1.0)] * 5, pace=0.005))
    assert ended == "emergency" and (await s.finish()).emergency == "119"


async def test_a_dropped_connection_reconnects_to_the_same_session(tmp_path):
    pool = ScriptedPool(["第一句", "第二句"])
    s = session(pool, tmp_path, Prefill(call_id="c1", status="listening"))
    assert await s.consume(frames_of(tone(1.0), silence(1.0))) == "hangup"
    await s.consume(frames_of(tone(1.0), silence(1.0)))
    await s.finish()
    assert [t.seq for t in s.turns] == [0, 1] and s.connections == 2


async def test_nothing_transcribed_says_failed_not_no_speech(tmp_path):
    class DeadPool:
        reply_stream = "test"

        async def submit(self, job, audio):
            raise ConnectionError("Redis down")

    prefill = Prefill(call_id="c1", status="listening")
    s = session(DeadPool(), tmp_path, prefill)
    await s.consume(frames_of(tone(1.0), silence(1.0)))
    await s.finish()
    assert [(t.status, t.text) for t in s.turns] == [("lost", "")]
    assert prefill.status == "failed"
