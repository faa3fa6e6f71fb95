"""Reading the IVR's result streams (满意度评价, 智能回访) on the desk: each entry stored exactly once.

An entry is acknowledged only after ``store`` kept it. Redis lost: the loop waits a second and reads again. The
database refusing (down, restarting): the entry stays pending and is tried again after ``retry_delay`` (what this
consumer read but did not acknowledge is read first). An entry of another contract version (a mixed deployment)
goes to the contract's rejected stream, kept for a person, and the stream moves on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError
from sqlalchemy.exc import OperationalError

from hotline.contracts import ContractMismatch

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ResultStream:
    stream: str
    group: str
    rejected: str
    maxlen: int
    what: str   # names the entries in the log ("survey", "回访 result")


async def consume(redis: Redis, source: ResultStream, consumer: str, decode: Callable[[dict[Any, Any]], Any],
                  store: Callable[[Any], Awaitable[None]], retry_delay: float = 2.0) -> None:
    """For ever: ``store(decode(fields))`` for each entry of ``source``, as ``consumer`` of its group."""
    while True:
        try:
            try:
                await redis.xgroup_create(source.stream, source.group, id="0", mkstream=True)
            except ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise
            for start in ("0", ">"):   # first what was read and not acknowledged, then what is new
                while True:
                    batch: Any = await redis.xreadgroup(source.group, consumer, {source.stream: start}, count=50,
                                                        block=1000 if start == ">" else None)
                    entries = batch[0][1] if batch else []
                    if not entries:
                        if start == "0":
                            break
                        continue
                    for entry_id, fields in entries:
                        await _take(redis, source, fields, decode, store)
                        await redis.xack(source.stream, source.group, entry_id)
        except (RedisError, OSError) as exc:
            log.warning("%s stream lost (%s); retrying", source.what, exc)
            await asyncio.sleep(1)
        except OperationalError as exc:
            log.warning("%s not stored, the database is unavailable (%s); it stays pending and is retried",
                        source.what, exc.orig)
            await asyncio.sleep(retry_delay)
        except Exception:
            log.exception("%s not stored; it stays pending and is retried", source.what)
            await asyncio.sleep(retry_delay)


async def _take(redis: Redis, source: ResultStream, fields: dict[Any, Any], decode: Callable[[dict[Any, Any]], Any],
                store: Callable[[Any], Awaitable[None]]) -> None:
    try:
        entry = decode(fields)
    except ContractMismatch as exc:
        log.error("%s not readable, kept in %s: %s", source.what, source.rejected, exc)
        await redis.xadd(source.rejected, fields, maxlen=source.maxlen, approximate=True)
        return
    await store(entry)
