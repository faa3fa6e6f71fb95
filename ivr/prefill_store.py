"""Where prefills live: Redis under the call's id (with a TTL), published for the desk as they change.

If Redis is down the prefill is written to a local spool directory instead, so nothing the caller
said is lost; ``drain_spool`` moves spooled prefills into Redis once it is back.
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from ivr.prefill import Prefill

log = logging.getLogger(__name__)

KEY = "hotline:prefill:{call_id}"
CHANNEL = "hotline:prefill"
TTL_SECONDS = 24 * 3600


class PrefillStore:
    def __init__(self, redis: aioredis.Redis | None, spool: Path):
        self.redis = redis
        self.spool = spool
        self._last_publish: dict[str, float] = {}

    async def save(self, prefill: Prefill, *, publish_every: float = 0.0) -> str:
        """Store and publish; returns "redis" or "spool". Partial updates may be throttled per call."""
        now = time.monotonic()
        if publish_every and now - self._last_publish.get(prefill.call_id, 0.0) < publish_every:
            return "throttled"
        self._last_publish[prefill.call_id] = now
        payload = json.dumps(prefill.to_dict(), ensure_ascii=False)
        if self.redis is not None:
            try:
                async with self.redis.pipeline(transaction=True) as pipe:
                    pipe.set(KEY.format(call_id=prefill.call_id), payload, ex=TTL_SECONDS)
                    pipe.publish(CHANNEL, payload)
                    await pipe.execute()
                if prefill.status in ("final", "failed", "no_speech"):
                    self._last_publish.pop(prefill.call_id, None)
                return "redis"
            except (RedisError, OSError) as exc:
                log.warning("prefill %s: Redis unavailable (%s); spooling to %s", prefill.call_id, exc, self.spool)
        self._spool(prefill.call_id, payload)
        return "spool"

    def _spool(self, call_id: str, payload: str) -> None:
        self.spool.mkdir(parents=True, exist_ok=True)
        tmp = self.spool / f".{call_id}.tmp"
        tmp.write_text(payload, encoding="utf-8")
        os.replace(tmp, self.spool / f"{call_id}.json")

    async def load(self, call_id: str) -> dict | None:
        if self.redis is not None:
            try:
                raw = await self.redis.get(KEY.format(call_id=call_id))
                if raw is not None:
                    return json.loads(raw)
            except (RedisError, OSError):
                pass
        spooled = self.spool / f"{call_id}.json"
        return json.loads(spooled.read_text(encoding="utf-8")) if spooled.exists() else None

    async def drain_spool(self) -> int:
        """Move spooled prefills into Redis; returns how many moved."""
        if self.redis is None or not self.spool.is_dir():
            return 0
        moved = 0
        for path in sorted(self.spool.glob("*.json")):
            payload = path.read_text(encoding="utf-8")
            try:
                await self.redis.set(KEY.format(call_id=path.stem), payload, ex=TTL_SECONDS)
                await self.redis.publish(CHANNEL, payload)
            except (RedisError, OSError):
                break
            path.unlink()
            moved += 1
        return moved
