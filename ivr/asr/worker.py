"""One ASR worker: takes phrase jobs from the pool's streams, most urgent first, and answers each on its reply stream.

    worker = AsrWorker(redis, engine, name)   # redis.asyncio client (bytes), the ``asr`` user; a loaded SpeechEngine
    await worker.run()                        # until worker.stop()

Concurrency: one phrase at a time per worker (one engine instance, whose recognition runs in the engine's own
thread, so the loop keeps heart-beating and renewing its claim meanwhile). Whisper already uses every core it is
given for one phrase; more capacity is more processes (``hotline asr worker``), here or on other machines.

Each turn of the loop:
  1. every ``claim_idle_ms / 2``: XAUTOCLAIM, per stream in priority order, one job idle longer than
     ``claim_idle_ms`` (its worker died or lost Redis): redone, or answered ``lost`` once delivered more than
     ``MAX_DELIVERIES`` times (XPENDING's delivery count);
  2. a non-blocking XREADGROUP of one job per stream, most urgent first; if none has work, one blocking read on
     all of them (``block_ms``), so a new job of any class is taken at once;
  3. the job: ``shed`` without transcribing when older than its class's max_age (a reclaimed job is given the
     claim's delay on top), else transcribed (``ok``, or ``failed`` if the engine raised); the result goes to
     the job's ``reply_to`` stream, and the job is acknowledged and deleted (its audio leaves Redis) in the same
     transaction, with the pool's counter.
While a worker holds jobs its claims are renewed (XCLAIM JUSTID, which resets the idle time and not the
delivery count), so a long phrase on a live worker is not redone elsewhere; a killed worker stops renewing and
its phrase is claimed by another worker ``claim_idle_ms`` later. Redis going away is waited out (retry every
second); groups are recreated if the streams went with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError, ResponseError

from hotline import access
from hotline.contracts.asr import (
    AUDIO_FIELD,
    CLAIM_IDLE_MS,
    GROUP,
    JOB_CLASSES,
    JOB_FIELD,
    JOB_STREAMS,
    MAX_DELIVERIES,
    REPLY_PREFIX,
    REPLY_STREAM_MAXLEN,
    RESULT_FIELD,
    STATS_KEY,
    WORKERS_KEY,
    PhraseJob,
    PhraseResult,
    ResultStatus,
)
from hotline.contracts.base import ContractMismatch
from ivr.speech import SpeechEngine

log = logging.getLogger(__name__)

FRAME = 320                    # 20 ms of 8 kHz 16-bit audio: fed as the live call would feed it
REPLY_TTL_SECONDS = 24 * 3600  # a reply stream whose media server is gone for good expires
HEARTBEAT_TTL_SECONDS = 24 * 3600
_MAX_AGE = {c.stream: c.max_age for c in JOB_CLASSES}


def worker_redis(url: str, password: str | None, username: str | None = access.REDIS_ASR_USER) -> aioredis.Redis:
    """A worker's Redis connection (bytes: the audio is raw PCM), as the ``asr`` ACL user unless the URL has one."""
    return aioredis.from_url(url, username=username, password=password, socket_timeout=10,
                             socket_connect_timeout=2)


@dataclass
class _Entry:
    stream: str
    entry_id: bytes
    fields: dict[bytes, bytes]
    deliveries: int = 1
    reclaimed: bool = False
    finished: bool = False


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class AsrWorker:
    def __init__(self, redis: aioredis.Redis, engine: SpeechEngine, name: str, *,
                 claim_idle_ms: int = CLAIM_IDLE_MS, block_ms: int = 1000, heartbeat_seconds: float = 2.0,
                 clock: Callable[[], float] = time.time):
        self.redis = redis
        self.engine = engine
        self.name = name
        self.claim_idle_ms = claim_idle_ms
        self.block_ms = block_ms
        self.heartbeat_seconds = heartbeat_seconds
        self.clock = clock
        self.done = 0
        self.busy = False
        self._stopping = asyncio.Event()
        self._beat_now = asyncio.Event()
        self._groups_ready = False

    def stop(self) -> None:
        """Finish the phrase in hand, then return from ``run``."""
        self._stopping.set()

    async def run(self) -> None:
        beating = asyncio.create_task(self._heartbeats(), name=f"asr-heartbeat-{self.name}")
        next_claim = 0.0
        outage = False
        try:
            while not self._stopping.is_set():
                try:
                    if not self._groups_ready:
                        await self._ensure_groups()
                    entries: list[_Entry] = []
                    if time.monotonic() >= next_claim:
                        entries = await self._reclaim()
                        next_claim = time.monotonic() + self.claim_idle_ms / 2000
                    if not entries:
                        entries = await self._next()
                    async with self._renewing(entries):
                        for entry in entries:
                            await self._handle(entry)
                    if outage:
                        log.info("ASR worker %s: Redis is back", self.name)
                        outage = False
                except ResponseError as exc:
                    if "NOGROUP" not in str(exc):
                        raise
                    log.warning("ASR worker %s: consumer group gone (Redis restarted?); recreating", self.name)
                    self._groups_ready = False
                except (RedisError, OSError) as exc:
                    if not outage:
                        log.warning("ASR worker %s: Redis unavailable (%s); retrying", self.name, exc)
                        outage = True
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._stopping.wait(), 1.0)
        finally:
            beating.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beating
            with contextlib.suppress(RedisError, OSError):
                await self.redis.hdel(WORKERS_KEY, self.name)

    async def _ensure_groups(self) -> None:
        for stream in JOB_STREAMS:
            try:
                await self.redis.xgroup_create(stream, GROUP, id="0", mkstream=True)
            except ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise
        self._groups_ready = True

    async def _next(self) -> list[_Entry]:
        """The oldest new job of the most urgent stream that has one; else wait ``block_ms`` for any."""
        for stream in JOB_STREAMS:
            found = self._entries(await self.redis.xreadgroup(GROUP, self.name, {stream: ">"}, count=1))
            if found:
                return found
        found = self._entries(await self.redis.xreadgroup(GROUP, self.name, dict.fromkeys(JOB_STREAMS, ">"),
                                                          count=1, block=self.block_ms))
        # Several streams may answer one blocking read: every entry is ours now, most urgent first.
        return sorted(found, key=lambda e: JOB_STREAMS.index(e.stream))

    @staticmethod
    def _entries(reply: Any) -> list[_Entry]:
        return [_Entry(_text(stream), entry_id, fields)
                for stream, entries in (reply or []) for entry_id, fields in entries if fields]

    async def _reclaim(self) -> list[_Entry]:
        """One job idle past ``claim_idle_ms`` (a worker died holding it), most urgent stream first."""
        for stream in JOB_STREAMS:
            reply = await self.redis.xautoclaim(stream, GROUP, self.name, self.claim_idle_ms, start_id="0-0",
                                                count=1)
            claimed = [(entry_id, fields) for entry_id, fields in reply[1] if fields]   # trimmed entries: skipped
            if not claimed:
                continue
            entry_id, fields = claimed[0]
            pending = await self.redis.xpending_range(stream, GROUP, min=entry_id, max=entry_id, count=1)
            deliveries = int(pending[0]["times_delivered"]) if pending else MAX_DELIVERIES + 1
            log.warning("ASR worker %s: claimed %s %s (delivery %d)", self.name, stream, _text(entry_id),
                        deliveries)
            return [_Entry(stream, entry_id, fields, deliveries, reclaimed=True)]
        return []

    async def _handle(self, entry: _Entry) -> None:
        raw = entry.fields.get(JOB_FIELD.encode(), b"")
        try:
            job = PhraseJob.decode(raw)
        except ContractMismatch as exc:
            log.error("ASR worker %s: unreadable job %s on %s (%s); dropped", self.name, _text(entry.entry_id),
                      entry.stream, exc)
            await self._finish(entry, "failed")
            return
        if not job.reply_to.startswith(REPLY_PREFIX):
            log.error("ASR worker %s: job %s replies to %r, not a reply stream; dropped", self.name, job.job_id,
                      job.reply_to)
            await self._finish(entry, "failed")
            return
        age = self.clock() - job.enqueued_at
        max_age = _MAX_AGE[entry.stream] + (self.claim_idle_ms / 1000 if entry.reclaimed else 0.0)
        if entry.deliveries > MAX_DELIVERIES:
            await self._answer(entry, job, self._result(job, "lost", age, error=f"delivered {entry.deliveries} times"))
        elif age > max_age:
            await self._answer(entry, job, self._result(job, "shed", age, error=f"{age:.1f} s old"))
        else:
            self.busy = True
            self._beat_now.set()
            started = time.monotonic()
            try:
                transcript = await self._transcribe(job, entry.fields.get(AUDIO_FIELD.encode(), b""))
                result = self._result(job, "ok", age, text=transcript.text, engine=transcript.engine,
                                      compute=time.monotonic() - started)
            except Exception as exc:   # the engine's failure is this phrase's, not the worker's
                log.exception("ASR worker %s: phrase %s failed", self.name, job.job_id)
                result = self._result(job, "failed", age, compute=time.monotonic() - started,
                                      error=f"{type(exc).__name__}: {exc}"[:300])
            finally:
                self.busy = False
            await self._answer(entry, job, result)
            self.done += 1
            self._beat_now.set()

    async def _transcribe(self, job: PhraseJob, audio: bytes) -> Any:
        stream = self.engine.open(prompt=job.prompt)
        for i in range(0, len(audio), FRAME):
            await stream.feed(audio[i:i + FRAME])
        return await stream.finish()

    def _result(self, job: PhraseJob, status: ResultStatus, age: float, *, text: str = "", engine: str = "",
                compute: float = 0.0, error: str = "") -> PhraseResult:
        return PhraseResult(job_id=job.job_id, call_id=job.call_id, speaker=job.speaker, seq=job.seq, status=status,
                            text=text, engine=engine or self.engine.name, worker=self.name,
                            queued_seconds=round(max(0.0, age), 3), compute_seconds=round(compute, 3), error=error)

    async def _answer(self, entry: _Entry, job: PhraseJob, result: PhraseResult) -> None:
        await self._finish(entry, result.status, (job.reply_to, result))

    async def _finish(self, entry: _Entry, status: ResultStatus,
                      reply: tuple[str, PhraseResult] | None = None) -> None:
        """Answer (when the job could be read), acknowledge and delete the job in one transaction, and count it."""
        async with self.redis.pipeline(transaction=True) as pipe:
            if reply is not None:
                reply_to, result = reply
                pipe.xadd(reply_to, {RESULT_FIELD: result.encode()}, maxlen=REPLY_STREAM_MAXLEN, approximate=True)
                pipe.expire(reply_to, REPLY_TTL_SECONDS)
            pipe.xack(entry.stream, GROUP, entry.entry_id)
            pipe.xdel(entry.stream, entry.entry_id)
            pipe.hincrby(STATS_KEY, status, 1)
            await pipe.execute()
        entry.finished = True

    @contextlib.asynccontextmanager
    async def _renewing(self, entries: list[_Entry]) -> AsyncIterator[None]:
        """Keep the idle time of the jobs in hand near zero while this worker is alive and working through them."""
        async def renew() -> None:
            while True:
                await asyncio.sleep(self.claim_idle_ms / 3000)
                for entry in entries:
                    if not entry.finished:
                        try:
                            await self.redis.xclaim(entry.stream, GROUP, self.name, 0, [entry.entry_id], justid=True)
                        except (RedisError, OSError):
                            pass   # the result's write will tell

        task = asyncio.create_task(renew())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _heartbeats(self) -> None:
        while True:
            try:
                async with self.redis.pipeline(transaction=True) as pipe:
                    pipe.hset(WORKERS_KEY, self.name,
                              json.dumps({"at": round(self.clock(), 3), "done": self.done, "busy": self.busy}))
                    pipe.expire(WORKERS_KEY, HEARTBEAT_TTL_SECONDS)
                    await pipe.execute()
            except (RedisError, OSError):
                pass
            with contextlib.suppress(TimeoutError):   # every few seconds, and as soon as it starts or ends a phrase
                await asyncio.wait_for(self._beat_now.wait(), self.heartbeat_seconds)
            self._beat_now.clear()
