"""A local spool for what the IVR must not lose while Redis is down: one JSON file per item, atomically.

Used by the prefill store (``ivr.prefill_store``) and, through ``ResultStream``, the callback survey
(``ivr.survey``) and the automated 回访 (``ivr.revisit``); each has its own directory. ``drain`` hands spooled
items, oldest name first, to a sender that puts them into Redis, and removes each file only once its sender
succeeded; it stops at the first failure (Redis still down).

Several media processes share one spool (``hotline run --media N``) and drain it at the same time. Each claims a
file before sending it by renaming it to ``<name>.json.<pid>.sending`` (atomic: one process wins, the others skip
it), so no item is sent twice, and a newer version of an item written while its old one is being sent stays for
the next drain. A claim whose process died (SIGKILL mid-send) is given back by the next drain of any process.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from hotline.private import private_dir, write_private

log = logging.getLogger(__name__)

CLAIMED = ".sending"   # the suffix of a file a drain has claimed: <name>.json.<pid>.sending


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True   # another user's process
    return True


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
        """The spooled item, also while a drain is sending it; None when there is none (or it was just sent)."""
        for path in (self.path(name), *self.directory.glob(f"{name}.json.*{CLAIMED}")):
            try:
                item: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
            except FileNotFoundError:
                continue
            return item
        return None

    def names(self) -> list[str]:
        if not self.directory.is_dir():
            return []
        return sorted(path.stem for path in self.directory.glob("*.json"))

    async def drain(self, send: Callable[[str, str], Awaitable[None]]) -> int:
        """``send(name, payload)`` each spooled item this process claims; returns how many were sent (and
        removed)."""
        self._give_back_orphans()
        moved = 0
        for name in self.names():
            claimed = self.directory / f"{name}.json.{os.getpid()}{CLAIMED}"
            try:
                self.path(name).rename(claimed)
            except FileNotFoundError:
                continue   # another process claimed it (or sent it) first
            payload = claimed.read_text(encoding="utf-8")
            try:
                await send(name, payload)
            except (RedisError, OSError):
                self._give_back(name, claimed)
                break
            claimed.unlink()
            moved += 1
        return moved

    def _give_back(self, name: str, claimed: Path) -> None:
        """The claimed file becomes ``<name>.json`` again, unless a newer version was written meanwhile (it wins)."""
        try:
            os.link(claimed, self.path(name))   # unlike rename, never replaces a newer version
        except FileExistsError:
            pass
        claimed.unlink()

    def _give_back_orphans(self) -> None:
        """Claims of processes that are gone (killed while sending): their items are sent by this drain."""
        if not self.directory.is_dir():
            return
        for claimed in self.directory.glob(f"*.json.*{CLAIMED}"):
            name, _, pid = claimed.name.removesuffix(CLAIMED).rpartition(".json.")
            if not pid.isdigit() or _alive(int(pid)):
                continue
            try:
                self._give_back(name, claimed)
            except FileNotFoundError:
                continue   # another process gave it back first


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
