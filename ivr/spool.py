"""A local spool for what the IVR must not lose while Redis is down: one JSON file per item, atomically.

Used by the prefill store (``ivr.prefill_store``) and, through ``ResultStream``, the callback survey
(``ivr.survey``) and the automated 回访 (``ivr.revisit``); each has its own directory. ``drain`` hands spooled
items, oldest name first, to a sender that puts them into Redis, and removes each file only once its sender
succeeded; it stops at the first failure (Redis still down).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from hotline.private import private_dir, write_private

log = logging.getLogger(__name__)


class Spool:
    def __init__(self, directory: Path):
        self.directory = directory

    def path(self, name: str) -> Path:
        return self.directory / f"{name}.json"

    def put(self, name: str, payload: str) -> Path:
        """Write ``payload`` (JSON text) as ``<name>.json``, replacing an older version atomically."""
        private_dir(self.directory)   # callers' numbers and words: 0700 directory, 0600 files
        return write_private(self.path(name), payload)

    def get(self, name: str) -> dict[str, Any] | None:
        path = self.path(name)
        return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None

    def names(self) -> list[str]:
        if not self.directory.is_dir():
            return []
        return sorted(path.stem for path in self.directory.glob("*.json"))

    async def drain(self, send: Callable[[str, str], Awaitable[None]]) -> int:
        """``send(name, payload)`` each spooled item; returns how many were sent (and removed)."""
        moved = 0
        for name in self.names():
            path = self.path(name)
            payload = path.read_text(encoding="utf-8")
            try:
                await send(name, payload)
            except (RedisError, OSError):
                break
            path.unlink()
            moved += 1
        return moved


class ResultStream:
    """What an IVR route hands to the desk at the end of a call: XADD to ``stream`` (capped by size, and by age
    when ``max_age_days`` is set: the stream is a hand-over, not an archive), or the spool when Redis is down.
    ``put`` never raises: it runs as the caller leaves."""

    def __init__(self, redis: Redis | None, spool: Path, stream: str, maxlen: int, max_age_days: int | None = None):
        self.redis, self.spool, self.stream = redis, Spool(spool), stream
        self.maxlen, self.max_age_days = maxlen, max_age_days

    async def _add(self, fields: dict[str, str]) -> None:
        assert self.redis is not None
        entry: dict[Any, Any] = dict(fields)   # redis-py's key type is invariant over str | bytes
        await self.redis.xadd(self.stream, entry, maxlen=self.maxlen, approximate=True)
        if self.max_age_days is not None:
            oldest_ms = int((time.time() - self.max_age_days * 86400) * 1000)
            await self.redis.xtrim(self.stream, minid=f"{oldest_ms}-0", approximate=False)   # exact: few entries

    async def put(self, name: str, fields: dict[str, str]) -> str:
        """"redis", "spool" or "lost" (neither took it: logged)."""
        if self.redis is not None:
            try:
                await self._add(fields)
                return "redis"
            except (RedisError, OSError) as exc:
                log.warning("%s %s: Redis unavailable (%s); spooling to %s", self.stream, name, exc,
                            self.spool.directory)
        try:
            self.spool.put(name, json.dumps(fields, ensure_ascii=False))
        except OSError:
            log.exception("%s %s lost: neither Redis nor the spool took it", self.stream, name)
            return "lost"
        return "spool"

    async def drain_spool(self) -> int:
        """Move spooled entries into the stream; returns how many moved."""
        if self.redis is None:
            return 0

        async def send(_name: str, payload: str) -> None:
            await self._add(json.loads(payload))

        return await self.spool.drain(send)
