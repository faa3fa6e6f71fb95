"""The media server's side of the ASR pool: submit a phrase, get a future for what came of it.

    client = AsrClient(redis, server_id)     # redis.asyncio client (bytes, not decode_responses), the ``ivr`` user
    await client.start()
    future = await client.submit(job, pcm)   # AsrUnavailable when Redis cannot take it: mark the phrase lost
    result = await future                    # PhraseResult: ok | shed | lost | failed; never hangs
    await client.stop()

Each future resolves with the worker's result, or with a ``lost`` result made here when nothing came within
``deadline(priority)`` (the class's max_age plus a compute allowance), e.g. while Redis or every worker is down.
The reply stream is read from the last id seen, so a Redis restart costs the replies that were in flight (their
phrases time out as lost) and nothing else: the reader reconnects by itself.

Overload, agent side: an agent-side phrase is the first to go (``hotline.contracts.asr``), and one submitted
while this client's backlog is far above what the pool is finishing for it would only be shed by a worker once it
has aged past the agent's max_age, after costing a stream entry of audio and a worker's read. So the client sheds
it at once: it keeps the rate of phrases the pool computed for it over the last ``RATE_WINDOW`` seconds, and an
agent phrase is shed locally when the backlog (jobs of every class still out, all of which a worker takes before
an agent phrase) is at least ``AGENT_SHED_FACTOR`` times what that rate finishes within the agent's max_age, and
at least ``AGENT_SHED_FLOOR`` (so a cold start or a quiet pool never sheds). Citizen and waiting phrases are never
refused here: the workers shed them by age, after every agent phrase.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError, ResponseError

from hotline.contracts.asr import (
    AUDIO_FIELD,
    COMPUTE_ALLOWANCE,
    JOB_FIELD,
    JOB_STREAM_MAXLEN,
    REPLY_PREFIX,
    RESULT_FIELD,
    STATS_KEY,
    PhraseJob,
    PhraseResult,
    ResultStatus,
    job_class,
)
from hotline.contracts.base import ContractMismatch, text_fields

log = logging.getLogger(__name__)

RATE_WINDOW = 30.0        # seconds of results the pool's pace is measured over
AGENT_SHED_FACTOR = 2.0   # backlog this many times what the pool finishes within the agent's max_age: shed agent
AGENT_SHED_FLOOR = 8      # ... and never below this many outstanding phrases


class AsrUnavailable(RuntimeError):
    """Redis could not take the phrase (down, unreachable, too slow): the caller marks the phrase lost."""


def local_result(job: PhraseJob, status: ResultStatus, error: str) -> PhraseResult:
    """A result the media server makes itself (shed before submitting, lost past the deadline)."""
    return PhraseResult(job_id=job.job_id, call_id=job.call_id, speaker=job.speaker, seq=job.seq, status=status,
                        worker="", queued_seconds=max(0.0, time.time() - job.enqueued_at), error=error)


class Pace:
    """How many phrases per second the pool has been computing for this client (a sliding window)."""

    def __init__(self, window: float = RATE_WINDOW, clock: Callable[[], float] = time.monotonic):
        self.window = window
        self.clock = clock
        self.started = clock()
        self._done: collections.deque[float] = collections.deque()

    def record(self) -> None:
        self._done.append(self.clock())

    def rate(self) -> float:
        now = self.clock()
        while self._done and self._done[0] < now - self.window:
            self._done.popleft()
        return len(self._done) / max(1.0, min(self.window, now - self.started))


def agent_overloaded(backlog: int, rate: float, *, agent_max_age: float | None = None,
                     factor: float = AGENT_SHED_FACTOR, floor: int = AGENT_SHED_FLOOR) -> bool:
    """True when an agent phrase submitted now would wait far past its max_age behind ``backlog`` phrases that the
    pool works off at ``rate`` per second."""
    max_age = job_class("agent").max_age if agent_max_age is None else agent_max_age
    return backlog >= max(floor, factor * rate * max_age)


@dataclass
class _Outstanding:
    job: PhraseJob
    future: asyncio.Future[PhraseResult]
    timer: asyncio.TimerHandle | None = None


class AsrClient:
    """One media server's connection to the ASR pool (see the module's docstring)."""

    def __init__(self, redis: aioredis.Redis, server_id: str, *, compute_allowance: float = COMPUTE_ALLOWANCE,
                 submit_timeout: float = 1.0, block_ms: int = 1000, retry_seconds: float = 0.5):
        self.redis = redis
        self.server_id = server_id
        self.reply_stream = REPLY_PREFIX + server_id
        self.compute_allowance = compute_allowance
        self.submit_timeout = submit_timeout
        self.block_ms = block_ms
        self.retry_seconds = retry_seconds
        self.pace = Pace()
        self._outstanding: dict[str, _Outstanding] = {}
        self._last_id: bytes | str | None = None
        self._reader: asyncio.Task[None] | None = None
        self._background: set[asyncio.Task[None]] = set()
        self.connected = False

    @property
    def backlog(self) -> int:
        """Phrases submitted by this client whose result has not come yet."""
        return len(self._outstanding)

    def deadline(self, job: PhraseJob) -> float:
        return job_class(job.priority).max_age + self.compute_allowance

    async def start(self) -> None:
        """Start reading replies; the stream's current end is taken first, so no reply to this run is skipped."""
        if self._last_id is None:
            try:
                async with asyncio.timeout(self.submit_timeout):
                    self._last_id = await self._first_id()
            except (RedisError, OSError, TimeoutError):
                pass   # Redis is down: nothing can be submitted until the reader has it again
        if self._reader is None:
            self._reader = asyncio.create_task(self._read_replies(), name=f"asr-replies-{self.server_id}")

    async def stop(self) -> None:
        reader, self._reader = self._reader, None
        if reader is not None:
            while not reader.done():   # redis-py may turn a cancelled read into a connection error: insist
                reader.cancel()
                await asyncio.wait({reader}, timeout=1.0)
            if not reader.cancelled() and reader.exception() is not None:
                log.error("ASR replies: the reader had failed: %r", reader.exception())
        for job_id in list(self._outstanding):
            self._resolve_locally(job_id, "lost", "the media server stopped waiting")
        for task in list(self._background):
            task.cancel()

    async def submit(self, job: PhraseJob, audio: bytes) -> asyncio.Future[PhraseResult]:
        """Queue ``job`` with its audio (8 kHz 16-bit mono PCM); the future resolves with what came of it."""
        if job.reply_to != self.reply_stream:
            job = job.model_copy(update={"reply_to": self.reply_stream})
        future: asyncio.Future[PhraseResult] = asyncio.get_running_loop().create_future()
        if job.priority == "agent" and agent_overloaded(self.backlog, self.pace.rate()):
            future.set_result(local_result(job, "shed", f"backlog {self.backlog} far above the pool's pace "
                                                         f"({self.pace.rate():.2f} phrases/s)"))
            self._count("jobs", "shed")
            return future
        if job.job_id in self._outstanding:
            raise ValueError(f"job {job.job_id} is already outstanding")
        # Registered before the write, so a reply can never come before its future exists.
        self._outstanding[job.job_id] = _Outstanding(job, future)
        try:
            async with asyncio.timeout(self.submit_timeout):
                async with self.redis.pipeline(transaction=True) as pipe:
                    pipe.xadd(job_class(job.priority).stream, {JOB_FIELD: job.encode(), AUDIO_FIELD: audio},
                              maxlen=JOB_STREAM_MAXLEN, approximate=True)
                    pipe.hincrby(STATS_KEY, "jobs", 1)
                    await pipe.execute()
        except (RedisError, OSError, TimeoutError) as exc:
            del self._outstanding[job.job_id]
            raise AsrUnavailable(f"Redis did not take phrase {job.job_id}: {exc or type(exc).__name__}") from exc
        outstanding = self._outstanding.get(job.job_id)
        if outstanding is not None:
            outstanding.timer = asyncio.get_running_loop().call_later(
                self.deadline(job), self._resolve_locally, job.job_id, "lost",
                f"no result within {self.deadline(job):.0f} s")
        return future

    def _resolve_locally(self, job_id: str, status: ResultStatus, error: str) -> None:
        outstanding = self._outstanding.pop(job_id, None)
        if outstanding is None:
            return
        if outstanding.timer is not None:
            outstanding.timer.cancel()
        if not outstanding.future.done():
            outstanding.future.set_result(local_result(outstanding.job, status, error))
        if self._reader is not None:   # not while stopping: Redis may be what is gone
            self._count(status)

    def _deliver(self, fields: dict[bytes | str, bytes | str]) -> None:
        try:
            result = PhraseResult.decode(text_fields(fields).get(RESULT_FIELD, ""))
        except ContractMismatch as exc:
            log.error("ASR reply on %s unreadable (%s); ignored", self.reply_stream, exc)
            return
        outstanding = self._outstanding.pop(result.job_id, None)
        if outstanding is None:
            return   # answered after its deadline (already counted lost), or another run of this server's
        if outstanding.timer is not None:
            outstanding.timer.cancel()
        if result.status in ("ok", "failed"):
            self.pace.record()
        if not outstanding.future.done():
            outstanding.future.set_result(result)

    async def _first_id(self) -> bytes | str:
        """Where to start reading: after the stream's last entry (older replies are another run's)."""
        try:
            info = await self.redis.xinfo_stream(self.reply_stream)
        except ResponseError:   # no such key yet
            return "0-0"
        last: bytes | str = info["last-generated-id"]
        return last

    async def _read_replies(self) -> None:
        while self._reader is not None:
            try:
                if self._last_id is None:
                    self._last_id = await self._first_id()
                replies: Any = await self.redis.xread({self.reply_stream: self._last_id}, count=100,
                                                      block=self.block_ms)
                if not self.connected:
                    log.info("ASR replies: reading %s", self.reply_stream)
                    self.connected = True
                for _stream, entries in replies or []:
                    for entry_id, fields in entries:
                        self._last_id = entry_id
                        self._deliver(fields)
            except (RedisError, OSError) as exc:
                if self.connected:
                    log.warning("ASR replies: Redis unavailable (%s); phrases in flight will time out as lost", exc)
                    self.connected = False
                await asyncio.sleep(self.retry_seconds)

    def _count(self, *counters: str) -> None:
        """Best-effort pool counters for the wallboard: never awaited by a call, never raises."""
        async def count() -> None:
            try:
                async with asyncio.timeout(self.submit_timeout):
                    async with self.redis.pipeline(transaction=True) as pipe:
                        for counter in counters:
                            pipe.hincrby(STATS_KEY, counter, 1)
                        await pipe.execute()
            except (RedisError, OSError, TimeoutError):
                pass

        task = asyncio.get_running_loop().create_task(count())
        self._background.add(task)
        task.add_done_callback(self._background.discard)
