"""The ASR pool on a test's Redis: real workers (``ivr.asr.worker``) on a real engine, and a media server's client."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass

import redis.asyncio as aioredis

from agi_scripts.app import redis_client
from hotline import access
from ivr.asr.client import AsrClient
from ivr.asr.worker import AsrWorker
from tests.support.redis_server import RedisServer


@dataclass
class Pool:
    client: AsrClient
    workers: list[AsrWorker]
    tasks: list[asyncio.Task[None]]

    @contextlib.asynccontextmanager
    async def down(self) -> AsyncIterator[None]:
        """Every worker stopped for the block (the pool's Redis and the client stay up), then started again."""
        for worker in self.workers:
            worker.stop()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        try:
            yield
        finally:
            self.workers = [AsrWorker(w.redis, w.engine, w.name) for w in self.workers]
            self.tasks = [asyncio.create_task(w.run(), name=w.name) for w in self.workers]


@contextlib.asynccontextmanager
async def asr_pool(server: RedisServer, engine, workers: int = 1, name: str = "test") -> AsyncIterator[Pool]:
    """``workers`` ASR workers connected as the ``asr`` ACL user, and a client as the IVR's ``ivr`` user."""
    worker_redis = [aioredis.from_url(server.user_url(access.REDIS_ASR_USER)) for _ in range(workers)]
    ivr_redis = redis_client(server.url, server.passwords[access.REDIS_IVR_SECRET])
    pool_workers = [AsrWorker(r, engine, f"{name}-{os.getpid()}-{i}") for i, r in enumerate(worker_redis)]
    tasks = [asyncio.create_task(w.run(), name=w.name) for w in pool_workers]
    client = AsrClient(ivr_redis, f"{name}-{os.getpid()}")
    await client.start()
    pool = Pool(client, pool_workers, tasks)
    try:
        yield pool
    finally:
        await client.stop()
        for worker in pool.workers:
            worker.stop()
        for task in pool.tasks:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(task, 10)
        for r in [*worker_redis, ivr_redis]:
            await r.aclose()
