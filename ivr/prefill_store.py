"""Where prefills live: Redis under the call's id (with a TTL), published for the desk as they change.

If Redis is down the prefill is written to a local spool directory instead, so nothing the caller
said is lost; ``drain_spool`` moves spooled prefills into Redis once it is back.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from hotline.contracts import prefill as contract
from hotline.contracts.prefill import CHANNEL, TTL_SECONDS, Prefill, key
from ivr.spool import Spool

log = logging.getLogger(__name__)


class PrefillStore:
    def __init__(self, redis: aioredis.Redis | None, spool: Path):
        self.redis = redis
        self.spool = spool
        self._spooled = Spool(spool)
        self._last_publish: dict[str, float] = {}

    async def save(self, prefill: Prefill, *, publish_every: float = 0.0) -> str:
        """Store and publish; returns "redis" or "spool". Partial updates may be throttled per call."""
        now = time.monotonic()
        if publish_every and now - self._last_publish.get(prefill.call_id, 0.0) < publish_every:
            return "throttled"
        self._last_publish[prefill.call_id] = now
        payload = prefill.encode()
        if self.redis is not None:
            try:
                async with self.redis.pipeline(transaction=True) as pipe:
                    pipe.set(key(prefill.call_id), payload, ex=TTL_SECONDS)
                    pipe.publish(CHANNEL, payload)
                    await pipe.execute()
                if prefill.status in contract.FINISHED:
                    self._last_publish.pop(prefill.call_id, None)
                return "redis"
            except (RedisError, OSError) as exc:
                log.warning("prefill %s: Redis unavailable (%s); spooling to %s", prefill.call_id, exc, self.spool)
        self._spooled.put(prefill.call_id, payload)
        return "spool"

    async def load(self, call_id: str) -> Prefill | None:
        if self.redis is not None:
            try:
                raw = await self.redis.get(key(call_id))
                if raw is not None:
                    return Prefill.decode(raw)
            except (RedisError, OSError):
                pass
        spooled = self._spooled.get(call_id)
        return Prefill.decode(spooled) if spooled is not None else None

    async def drain_spool(self) -> int:
        """Move spooled prefills into Redis; returns how many moved."""
        if self.redis is None:
            return 0
        redis = self.redis

        async def send(call_id: str, payload: str) -> None:
            await redis.set(key(call_id), payload, ex=TTL_SECONDS)
            await redis.publish(CHANNEL, payload)

        return await self._spooled.drain(send)
