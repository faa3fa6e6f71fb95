"""智能回访 campaign on the real Asterisk: how fast the desk starts automated calls, how many outbound channels it
holds against the trunk's limit, and how many verdicts it records per minute.

A private center and the peer Asterisk (the carrier and the citizens' phones) on loopback. TICKETS tickets in
待回访 (dispatched, replied, approved through the desk's API); one campaign with max_channels = the trunk's limit
(site ``callbacks.outbound_channels`` = CHANNELS, the dialplan's GROUP_COUNT); the desk's campaign runner (real
clock, quiet hours off) originates ``Local/s@hotline-outbound`` with the IVR's ``revisit`` route on the other
half. Every citizen answers and presses 1 (solved) and 1 (satisfied) when asked (AMI PlayDTMF at the peer), so
every call ends with a verdict that closes its ticket.

Figures: calls started per second (campaign start → last call originated), the most outbound calls at once
(counted from the center's AMI: the Local halves that dial out), verdicts recorded per minute (first call → last
verdict stored), and any call refused as trunk busy.

    .venv/bin/python -m bench.revisit [--tickets 30] [--channels 4]

Needs root (Asterisk runs in a chroot). Only loopback is used.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import sys
import tempfile
import time
from pathlib import Path

import redis.asyncio as aioredis

from agi_scripts.app import ivr_services
from agi_scripts.routes import Services
from agent_desk.callbacks.rules import CallbackPolicy
from agent_desk.callbacks.runner import CampaignRunner
from hotline.ami import AmiEvent
from tests.support.center import Center, running_center
from tests.support.desk import close_rig, make_rig
from tests.support.events import most_outbound_at_once
from tests.support.redis_server import RedisServer


def ok(response, status=200) -> dict:
    assert response.status_code == status, response.text
    return response.json()


def awaiting(rig, n: int) -> str:
    body = {"channel": "phone", "citizen_name": "王小明", "citizen_phone": f"1390755{n:04d}", "title": "停水",
            "content": "小区停水三天。", "demand": "尽快恢复供水", "appeal_type": "complaint",
            "location": "琼海市嘉积镇", "topic": "03-water"}
    number = ok(rig.call("agent", "POST", "/api/v1/tickets", json=body), 201)["number"]
    for who, action, payload in (("agent", "dispatch", {"host_unit": rig.units["water"]}), ("water", "sign", None),
                                 ("water", "reply", {"content": "已恢复供水"}), ("boss", "approve_reply", None)):
        ok(rig.call(who, "POST", f"/api/v1/tickets/{number}/actions/{action}",
                    **({"json": payload} if payload is not None else {})))
    return number


class Citizens:
    """Presses 1 at each question of every automated call: the center's GET DATA on the revisit half tells when,
    its Dial says which number, the peer's CitizenCalled which channel to send the key from."""

    def __init__(self, center: Center):
        self.center, self.numbers, self.channels = center, {}, {}
        self.pressed = 0
        self.tasks: set[asyncio.Task[None]] = set()
        center.ami.subscribe(self.on_center)
        center.peer_ami.subscribe(self.on_peer)

    def on_peer(self, event: AmiEvent) -> None:
        if event.name == "UserEvent" and event.get("UserEvent") == "CitizenCalled":
            self.channels[event.get("Number")] = event.get("Channel")

    def on_center(self, event: AmiEvent) -> None:
        if event.name == "DialBegin" and event.get("Uniqueid").startswith("rv-"):
            self.numbers[event.get("Uniqueid").removesuffix("-o")] = event.get("DialString").split("@")[0]
        elif (event.name == "AGIExecStart" and event.get("Uniqueid").startswith("rv-")
              and event.get("Command").startswith("GET DATA ")):
            task = asyncio.get_running_loop().create_task(self.press(event.get("Uniqueid")))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    async def press(self, out_id: str) -> None:
        await asyncio.sleep(0.3)
        channel = self.channels.get(self.numbers.get(out_id, ""))
        if channel:
            await self.center.peer_ami.action({"Action": "PlayDTMF", "Channel": channel, "Digit": "1",
                                               "Duration": "200"})
            self.pressed += 1


async def run(tickets: int, channels: int) -> None:
    work = Path(tempfile.mkdtemp(prefix="bench-revisit-"))
    redis_server = RedisServer.start(work / "redis")
    policy = CallbackPolicy(quiet_start=dt.time(0, 0), quiet_end=dt.time(0, 0), outbound_channels=channels,
                            citizen_ring_seconds=20)
    async with running_center(work / "center", rtp_ports=max(200, 8 * channels)) as center:
        center.apply_site(callbacks=center.site.callbacks.model_copy(update={"outbound_channels": channels}))
        rig = make_rig(f"sqlite:///{work / 'desk.db'}", redis_server.authenticated_url, callbacks=policy)
        ivr_redis = aioredis.from_url(redis_server.user_url("ivr"))
        center.agi.services = Services(plan=center.plan, ivr=ivr_services(center.plan, work / "ivr", ivr_redis,
                                                                          speech=None, audiosocket=None))
        desk_redis = aioredis.from_url(redis_server.user_url("desk"), decode_responses=True)
        try:
            numbers = [awaiting(rig, n) for n in range(tickets)]
            citizens = Citizens(center)
            mark = center.events.mark()
            body = {"name": "bench", "ticket_numbers": numbers, "max_channels": channels, "attempts": 1,
                    "window_start": "00:00", "window_end": "23:59"}
            cid = ok(rig.call("boss", "POST", "/api/v1/campaigns", json=body), 201)["id"]
            runner = CampaignRunner(rig.app.state.db, policy, ami=lambda: center.ami, redis=desk_redis,
                                    interval=0.2)
            t0 = time.monotonic()
            runner.start()
            started_at: list[float] = []
            verdict_at: list[float] = []
            seen = 0
            deadline = t0 + 60 + 30 * tickets / channels
            while time.monotonic() < deadline:
                if runner.started > seen:
                    started_at += [time.monotonic() - t0] * (runner.started - seen)
                    seen = runner.started
                progress = ok(rig.call("boss", "GET", f"/api/v1/campaigns/{cid}"))
                done = progress["progress"]["satisfied"]
                verdict_at += [time.monotonic() - t0] * (done - len(verdict_at))
                if progress["state"] == "finished":
                    break
                await asyncio.sleep(0.25)
            await runner.stop()
            window = center.events.events[mark:]
            most = most_outbound_at_once(window)
            busy = sum(e.name == "UserEvent" and e.get("Result") == "trunk_busy" and e.get("OutID").startswith("rv-")
                       for e in window)
            final = ok(rig.call("boss", "GET", f"/api/v1/campaigns/{cid}"))["progress"]
            span = (started_at[-1] - started_at[0]) if len(started_at) > 1 else 0.0
            verdict_span = (verdict_at[-1] - started_at[0]) if verdict_at and started_at else 0.0
            print(f"# 智能回访 campaign: {tickets} tickets, trunk limit = max_channels = {channels} "
                  f"(loaded box: {os.cpu_count()} cores shared)")
            print(f"calls started: {runner.started} in {span:.1f} s after the first "
                  f"({runner.started / span if span else float('nan'):.2f} calls/s started over the campaign)")
            first = started_at[0] if started_at else float("nan")
            burst = started_at[min(channels, len(started_at)) - 1] - first if started_at else float("nan")
            print(f"first call originated {first:.2f} s after the runner started; the first {channels} "
                  f"(one per channel) within {burst:.2f} s")
            print(f"most outbound calls at once (center AMI): {most} (limit {channels}); refused as trunk busy: {busy}")
            print(f"verdicts recorded: {len(verdict_at)} in {verdict_span:.1f} s "
                  f"({60 * len(verdict_at) / verdict_span if verdict_span else float('nan'):.1f} per minute); "
                  f"keys pressed {citizens.pressed}")
            print(f"progress: {final}")
        finally:
            await desk_redis.aclose()
            await ivr_redis.aclose()
            close_rig(rig)
            redis_server.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=30)
    parser.add_argument("--channels", type=int, default=4)
    args = parser.parse_args()
    asyncio.run(run(args.tickets, args.channels))
    return 0


if __name__ == "__main__":
    sys.exit(main())
