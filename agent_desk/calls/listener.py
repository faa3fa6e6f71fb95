"""The one process that owns the AMI connection (panoramisk) and feeds the call tracker.

Three inputs, one tracker: AMI events (parsed to typed call events, applied in arrival order), the IVR's
prefill channel in Redis (live transcript → the agent's page), and the IVR's survey stream (results stored on
the call and its tickets; a consumer group remembers what was stored, so a restart loses nothing).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
from dataclasses import dataclass

import redis.asyncio as aioredis
from redis.exceptions import RedisError, ResponseError

from agent_desk.calls import events as ev
from agent_desk.calls.tracker import CallTracker
from hotline.ami import AmiClient, AmiEvent
from ivr import survey
from ivr.prefill_store import CHANNEL as PREFILL_CHANNEL

log = logging.getLogger(__name__)

SURVEY_GROUP = "desk"


@dataclass(frozen=True)
class AmiSettings:
    host: str
    port: int
    username: str
    secret: str


class CallListener:
    def __init__(self, tracker: CallTracker, ami: AmiSettings, redis: aioredis.Redis | None):
        self.tracker, self.ami_settings, self.redis = tracker, ami, redis
        self.queue: asyncio.Queue[ev.CallEvent] = asyncio.Queue()
        self.ami: AmiClient | None = None
        self.events_seen = 0
        self.events_applied = 0
        self._tasks: list[asyncio.Task] = []

    def _on_ami(self, event: AmiEvent) -> None:
        self.events_seen += 1
        typed = ev.parse(event)
        if typed is not None:
            self.queue.put_nowait(typed)

    async def start(self) -> None:
        self.ami = AmiClient(self.ami_settings.host, self.ami_settings.port, self.ami_settings.username,
                             self.ami_settings.secret)
        self.ami.subscribe(self._on_ami)
        await self.ami.connect()
        self._tasks = [asyncio.create_task(self._apply_loop(), name="calls-apply")]
        if self.redis is not None:
            self._tasks += [asyncio.create_task(self._prefill_loop(), name="calls-prefill"),
                            asyncio.create_task(self._survey_loop(), name="calls-surveys")]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.ami is not None:
            self.ami.manager.close()

    async def drain(self) -> None:
        """Wait until every event received so far is applied (tests and benchmarks)."""
        while not self.queue.empty():
            await asyncio.sleep(0.01)
        await self.queue.join()

    async def _apply_loop(self) -> None:
        while True:
            event = await self.queue.get()
            try:
                await self.tracker.apply(event)
                self.events_applied += 1
            except Exception:  # one bad event must not stop the desk from seeing the next calls
                log.exception("call event not applied: %r", event)
            finally:
                self.queue.task_done()

    async def _prefill_loop(self) -> None:
        while True:
            try:
                pubsub = self.redis.pubsub()
                await pubsub.subscribe(PREFILL_CHANNEL)
                async for message in pubsub.listen():
                    if message.get("type") != "message":
                        continue
                    try:
                        await self.tracker.prefill_changed(json.loads(message["data"]))
                    except (ValueError, KeyError, TypeError):
                        log.warning("malformed prefill message ignored")
            except (RedisError, OSError) as exc:
                log.warning("prefill channel lost (%s); retrying", exc)
                await asyncio.sleep(1)

    async def _survey_loop(self) -> None:
        while True:
            try:
                try:
                    await self.redis.xgroup_create(survey.STREAM, SURVEY_GROUP, id="0", mkstream=True)
                except ResponseError as exc:
                    if "BUSYGROUP" not in str(exc):
                        raise
                # First what this consumer read but did not acknowledge (a crash), then new entries.
                for start in ("0", ">"):
                    while True:
                        batch = await self.redis.xreadgroup(SURVEY_GROUP, "listener", {survey.STREAM: start},
                                                            count=50, block=1000 if start == ">" else None)
                        entries = batch[0][1] if batch else []
                        if not entries:
                            if start == "0":
                                break
                            continue
                        for entry_id, fields in entries:
                            await asyncio.to_thread(self._store_survey, fields)
                            await self.redis.xack(survey.STREAM, SURVEY_GROUP, entry_id)
            except (RedisError, OSError) as exc:
                log.warning("survey stream lost (%s); retrying", exc)
                await asyncio.sleep(1)

    def _store_survey(self, fields: dict) -> None:
        fields = {(k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v)
                  for k, v in fields.items()}
        call_id = fields.get(survey.CALL_ID, "")
        if not call_id:
            log.warning("survey without call id ignored: %s", fields)
            return
        try:
            at = dt.datetime.fromisoformat(fields.get(survey.AT, ""))
        except ValueError:
            at = dt.datetime.now(dt.timezone.utc)
        if at.tzinfo is None:
            at = at.replace(tzinfo=dt.timezone.utc)
        self.tracker.record_survey(call_id, fields.get(survey.RESULT, ""), fields.get(survey.DIGITS, ""), at)
