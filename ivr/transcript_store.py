"""Where the live transcript's turns go: the call's Redis stream (for a desk reading back) and the channel (live).

Redis down: the turn is logged as lost here (the audio stays in the call's recording) and the call goes on.
"""

from __future__ import annotations

import logging

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from hotline.contracts import transcript as contract
from hotline.contracts.transcript import Turn

log = logging.getLogger(__name__)


class TranscriptStore:
    def __init__(self, redis: aioredis.Redis | None):
        self.redis = redis
        self.failed = 0

    async def add(self, turn: Turn) -> bool:
        if self.redis is None:
            return False
        payload = turn.encode()
        try:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.xadd(contract.key(turn.call_id), {"turn": payload}, maxlen=contract.MAXLEN, approximate=True)
                pipe.expire(contract.key(turn.call_id), contract.TTL_SECONDS)
                pipe.publish(contract.CHANNEL, payload)
                await pipe.execute()
            return True
        except (RedisError, OSError) as exc:
            self.failed += 1
            log.warning("transcript %s %s #%d not stored (%s)", turn.call_id, turn.speaker, turn.seq, exc)
            return False

    async def mark_answered(self, call_id: str, at: float) -> None:
        """The agent answered at ``at`` (epoch seconds): the citizen's later phrases are the conversation's."""
        if self.redis is None:
            return
        try:
            await self.redis.set(contract.answered_key(call_id), f"{at:.3f}", ex=contract.TTL_SECONDS)
        except (RedisError, OSError) as exc:
            log.warning("call %s: answer time not stored (%s)", call_id, exc)

    async def answered_at(self, call_id: str) -> float | None:
        if self.redis is None:
            return None
        try:
            raw = await self.redis.get(contract.answered_key(call_id))
        except (RedisError, OSError):
            return None
        return float(raw) if raw else None
