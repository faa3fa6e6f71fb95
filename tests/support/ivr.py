"""The full IVR on a running center (AudioSocket, a speech engine, a real Redis) and simulated citizens."""

from __future__ import annotations

import asyncio
import contextlib
import json
from pathlib import Path
from collections.abc import AsyncIterator

import redis.asyncio as aioredis

from agi_scripts.app import ivr_services, redis_client
from agi_scripts.audiosocket import AudioSocketServer
from agi_scripts.routes import Services
from hotline import access
from hotline.numberplan import GENERAL_QUEUE
from hotline.site import Intake
from ivr.flow import IvrServices
from tests.support.asr import Pool, asr_pool
from hotline.contracts.prefill import KEY
from tests.support.caller import CALLER_DATA, Citizen, Citizens
from tests.support.center import Center
from tests.support.redis_server import RedisServer
from tests.support.samples import references, to_8k


MENU = Intake(mode="menu")   # the older flow: menu, city, description, then the queue


class IvrRig:
    def __init__(self, center: Center, services: IvrServices, redis: aioredis.Redis, redis_server: RedisServer,
                 citizens: Citizens, refs: dict[str, str], work: Path):
        self.center, self.services, self.redis = center, services, redis
        self.redis_server, self.citizens, self.refs, self.work = redis_server, citizens, refs, work
        self.asr_pool: Pool | None = None

    async def prefill(self, call_id: str, status: tuple[str, ...] = ("final",), timeout: float = 30) -> dict:
        deadline = asyncio.get_running_loop().time() + timeout
        last = None
        while asyncio.get_running_loop().time() < deadline:
            raw = await self.redis.get(KEY.format(call_id=call_id))
            last = json.loads(raw) if raw else None
            if last and last["status"] in status:
                return last
            await asyncio.sleep(0.1)
        raise AssertionError(f"prefill of {call_id} not in {status} within {timeout} s; last: {last}")

    async def queued(self, cid: str, queue: str = GENERAL_QUEUE, timeout: float = 90):
        try:
            return await self.center.events.wait_for(
                lambda e: e.name == "QueueCallerJoin" and e.get("Linkedid") == cid and e.get("Queue") == queue,
                timeout, f"call {cid} joins {queue}")
        except AssertionError as exc:
            raise AssertionError(f"{exc}; what the call did:\n{self.trail(cid)}") from None

    def trail(self, cid: str) -> str:
        """What a call did, from AMI: for failure messages."""
        lines = [f"{e.get('Uniqueid')} {e.name} {e.get('Command') or e.get('Result') or e.get('AppData')}"
                 for e in self.center.events.of_call(cid)
                 if e.name in ("AGIExecStart", "AGIExecEnd", "Newexten", "Hangup")]
        done = self.citizens.done.get(cid)
        if done is not None and done.done() and done.exception() is not None:
            lines.append(f"the citizen's script failed: {done.exception()!r}")
        return "\n".join(lines)

    @staticmethod
    def call_id(cid: str) -> str:
        """The center's call id (HOTLINE_CALL_ID) is the inbound half's unique id."""
        return f"{cid}-2"


async def wait_queued_then_hang_up(citizen: Citizen) -> None:
    await citizen.center.events.wait_for(
        lambda e: e.name == "QueueCallerJoin" and e.get("Linkedid") == citizen.cid, 60,
        f"call {citizen.cid} queued")
    await citizen.hang_up()


def caller_sound_dirs(center: Center) -> tuple[Path, Path]:
    """Where the citizen's recordings go: the center's sounds (kept by a config reload) and its instance."""
    return (center.paths.sounds / CALLER_DATA,
            center.asterisk.host_path(center.site.instance_dir + "/sounds/" + CALLER_DATA))


@contextlib.asynccontextmanager
async def ivr_rig(center: Center, speech, work: Path, samples: tuple[str, ...], *, intake: Intake = MENU,
                  asr_engine=None, asr_workers: int = 0) -> AsyncIterator[IvrRig]:
    """The IVR on ``center``: the menu flow unless ``intake`` says otherwise. With ``asr_workers``, the live
    transcript's ASR pool: that many workers (``ivr.asr.worker``, as the ``asr`` Redis user) on ``asr_engine``,
    and the media server's client of the pool."""
    redis_server = RedisServer.start(work / "redis")
    redis = aioredis.from_url(redis_server.url, password=redis_server.password)   # the test's: every key
    ivr_redis = redis_client(redis_server.url, redis_server.passwords[access.REDIS_IVR_SECRET])   # the IVR's ACL user
    audiosocket = AudioSocketServer("127.0.0.1", 0)
    await audiosocket.start()
    stack = contextlib.AsyncExitStack()
    asr = pool = None
    if asr_workers:
        pool = await stack.enter_async_context(asr_pool(redis_server, asr_engine, asr_workers))
        asr = pool.client
    services = ivr_services(center.plan, work, ivr_redis, speech=speech, audiosocket=audiosocket, intake=intake,
                            asr=asr)
    # The citizen's recordings join the center's sounds (so a config reload keeps them) and its instance.
    for target in caller_sound_dirs(center):
        for name in samples:
            to_8k(name, target)
    citizens = Citizens(center)
    await citizens.start()
    original = center.agi.services
    center.agi.services = Services(plan=center.plan, ivr=services)
    try:
        rig = IvrRig(center, services, redis, redis_server, citizens, references(), work)
        rig.asr_pool = pool
        yield rig
    finally:
        center.agi.services = original
        await citizens.stop()
        await audiosocket.stop()
        await stack.aclose()
        for task in list(services.background):
            await task
        await redis.aclose()
        await ivr_redis.aclose()
        redis_server.stop()
