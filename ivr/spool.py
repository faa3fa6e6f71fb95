"""A local spool for what the IVR must not lose while Redis is down: one JSON file per item, atomically.

Used by the prefill store (``ivr.prefill_store``) and the callback survey (``ivr.survey``); each has its
own directory. ``drain`` hands spooled items, oldest name first, to a sender that puts them into Redis,
and removes each file only once its sender succeeded; it stops at the first failure (Redis still down).
"""

from __future__ import annotations

from typing import Any

import json
from pathlib import Path
from collections.abc import Awaitable, Callable

from redis.exceptions import RedisError

from hotline.private import private_dir, write_private


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
