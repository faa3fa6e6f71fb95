"""未接来电回拨: the time from an abandoned call to its callback task, visible over the API.

A private center and the peer Asterisk on loopback, the desk with its own AMI listener and call tracker (as
``hotline run`` gives them). Calls go through the real dialplan and are abandoned three ways:

- ``ivr``: the citizen rings the 12345 line (``Local/12345@hotline-inbound``) and hangs up half a second after
  the call began, in the greeting / entry route, before any queue;
- ``queue``: the call waits in a special seat's queue (SEAT_QUEUE), whose only agent is logged in but their phone
  does not answer (peer softphone mode ``noanswer``); the citizen hangs up after 2 s of waiting;
- ``no_agent``: the call goes to the general queue with nobody logged into it. The plan's general queue takes a
  call even when empty (nobody is sent away by the dialplan), so this caller too hangs up after 2 s.

Each call has a caller number of its own. The clock starts at the AMI ``Hangup`` event's ``Timestamp`` (the first
channel of the call to hang up: the citizen leaving, or the system sending them away) and stops when the caller's
task first appears in ``GET /api/v1/callbacks`` (as the supervisor, who sees numbers unmasked), polled every
POLL seconds in the desk's own event loop (so a figure is late by up to POLL plus one GET). At 1 abandon at a time
(sequential, CALLS per way) and at 20 at once (the three ways mixed): p50 / p95 / max.

    .venv/bin/python -m bench.callback_tasks [--calls 4] [--burst 20]

Needs root (Asterisk runs in a chroot). Only loopback is used.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import os
import sys
import tempfile
import time
from pathlib import Path

import httpx
import redis.asyncio as aioredis

from agi_scripts.app import ivr_services
from agi_scripts.routes import Services
from agent_desk.callbacks.rules import CallbackPolicy
from agent_desk.telephony import recordings_dir
from bench.stats import pct
from hotline import channelvars as v
from hotline.numberplan import GENERAL_QUEUE
from tests.support.agents import hang_up_everything, logged_in, peer_mode, softphones
from tests.support.caller import Citizen, Citizens
from tests.support.center import Center, running_center
from tests.support.desk import DeskRig, close_rig, listening, make_rig
from tests.support.redis_server import RedisServer

POLL = 0.1
SEAT_QUEUE = "expert-12320"   # the ``queue`` way's queue: its agent logged in, the phone never answered
WAYS = ("ivr", "queue", "no_agent")
POLICY = CallbackPolicy(quiet_start=dt.time(0, 0), quiet_end=dt.time(0, 0))


class Bench:
    def __init__(self, center: Center, rig: DeskRig, citizens: Citizens):
        self.center, self.rig, self.citizens = center, rig, citizens
        self.serial = 0
        self.http = httpx.AsyncClient(transport=httpx.ASGITransport(app=rig.app), base_url="http://127.0.0.1",
                                      timeout=30)

    def caller(self) -> str:
        self.serial += 1
        return f"1390756{self.serial:04d}"

    async def abandon(self, way: str, caller: str) -> str:
        """Place one call that is abandoned ``way``; returns its call id once it has ended."""
        center = self.center
        mark = center.events.mark()
        if way == "ivr":
            async def leave_at_once(c: Citizen) -> None:
                await asyncio.sleep(0.5)
                await c.hang_up()

            cid = await self.citizens.call("12345", leave_at_once, caller_id=caller)
        else:
            cid = center.new_call_id()
            queue = SEAT_QUEUE if way == "queue" else GENERAL_QUEUE
            await center.ami.originate(
                "Local/s@hotline-queue", caller_id=f'"市民" <{caller}>', channel_id=cid, data="600",
                variables={f"__{v.QUEUE}": queue, f"__{v.CALL_ID}": cid, f"__{v.LINE}": "12345"})
            ended = await center.events.wait(lambda e: e.name == "Hangup" and e.get("Linkedid") == cid, 2.0, mark)
            if ended is None:
                with contextlib.suppress(Exception):
                    await center.ami.hangup(cid)
        await center.events.wait_for(lambda e: e.name == "Hangup" and e.get("Linkedid") == cid, 20,
                                     f"call {cid} to end", mark)
        return cid

    def hung_up_at(self, cid: str) -> float:
        return min(float(e.get("Timestamp")) for e in self.center.events.events
                   if e.name == "Hangup" and e.get("Linkedid") == cid)

    def queued(self, cid: str) -> bool:
        return any(e.name == "QueueCallerJoin" and e.get("Linkedid") == cid for e in self.center.events.events)

    async def visible(self, callers: set[str], timeout: float = 120) -> dict[str, float]:
        """When each caller's task first shows in the worklist (wall clock)."""
        seen: dict[str, float] = {}
        headers = self.rig.as_("boss")
        deadline = time.monotonic() + timeout
        while len(seen) < len(callers) and time.monotonic() < deadline:
            response = await self.http.get("/api/v1/callbacks", headers=headers)
            now = time.time()
            assert response.status_code == 200, response.text
            for item in response.json()["items"]:
                if item["caller"] in callers and item["caller"] not in seen:
                    seen[item["caller"]] = now
            await asyncio.sleep(POLL)
        return seen

    async def round(self, ways: list[str]) -> list[tuple[str, float, bool]]:
        """Abandon one call per entry of ``ways`` at once; (way, seconds hang-up → task, joined a queue)."""
        callers = [self.caller() for _ in ways]
        watcher = asyncio.create_task(self.visible(set(callers)))
        cids = await asyncio.gather(*(self.abandon(way, c) for way, c in zip(ways, callers, strict=True)))
        seen = await watcher
        missing = [c for c in callers if c not in seen]
        if missing:
            raise AssertionError(f"no task within the timeout for {len(missing)} abandoned calls: {missing}")
        return [(way, seen[c] - self.hung_up_at(cid), self.queued(cid))
                for way, c, cid in zip(ways, callers, cids, strict=True)]


def report(title: str, rows: list[tuple[str, float, bool]]) -> None:
    print(f"\n## {title}")
    print(f"{'abandoned':<10} | {'calls':>5} | {'queued':>6} | {'p50 s':>6} | {'p95 s':>6} | {'max s':>6}")
    for way in (*WAYS, "all"):
        picked = [r for r in rows if way in (r[0], "all")]
        if not picked:
            continue
        times = [r[1] for r in picked]
        print(f"{way:<10} | {len(picked):>5} | {sum(r[2] for r in picked):>6} | {pct(times, 50):6.2f} | "
              f"{pct(times, 95):6.2f} | {max(times):6.2f}")


async def run(calls: int, burst: int) -> None:
    work = Path(tempfile.mkdtemp(prefix="bench-callback-tasks-"))
    redis_server = RedisServer.start(work / "redis")
    async with running_center(work / "center") as center:
        directory = recordings_dir(center.site)
        rig = make_rig(f"sqlite:///{work / 'desk.db'}", redis_server.authenticated_url, callbacks=POLICY,
                       recordings_dir=directory, recordings_host_dir=str(center.asterisk.host_path(directory)))
        ivr_redis = aioredis.from_url(redis_server.user_url("ivr"))
        center.agi.services = Services(plan=center.plan, ivr=ivr_services(center.plan, work / "ivr", ivr_redis,
                                                                          speech=None, audiosocket=None))
        citizens = Citizens(center)
        await citizens.start()
        agent = softphones(center)[0]
        try:
            async with listening(rig, center, directory), peer_mode(center, "softphone", agent, "noanswer"), \
                    logged_in(center, agent, [SEAT_QUEUE]):
                bench = Bench(center, rig, citizens)
                print(f"# abandoned call → its callback task over the API (loaded box: {os.cpu_count()} cores "
                      f"shared with other work; poll every {POLL:.1f} s)")
                sequential = []
                for way in WAYS:
                    for _ in range(calls):
                        sequential += await bench.round([way])
                        await hang_up_everything(center)
                report("one abandon at a time", sequential)
                mixed = [WAYS[i % len(WAYS)] for i in range(burst)]
                started = time.monotonic()
                at_once = await bench.round(mixed)
                report(f"{burst} abandons at once (all placed within {time.monotonic() - started:.1f} s)", at_once)
                await bench.http.aclose()
                await hang_up_everything(center)
        finally:
            await citizens.stop()
            await ivr_redis.aclose()
            close_rig(rig)
            redis_server.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=4, help="calls per way, one at a time")
    parser.add_argument("--burst", type=int, default=20, help="calls abandoned at once")
    args = parser.parse_args()
    asyncio.run(run(args.calls, args.burst))
    return 0


if __name__ == "__main__":
    sys.exit(main())
