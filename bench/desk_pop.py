"""Screen-pop latency and how many AMI events per second the desk's listener absorbs.

1. Live: a private center (Asterisk 22 + a peer Asterisk whose softphones register as agents over SIP),
   the desk under uvicorn, its listener on its own AMI connection, one WebSocket per agent. Calls are
   placed one at a time into the queue the agents serve and answered by a softphone; *pop latency* is from the
   moment AMI delivers AgentConnect (seen by the bench's own AMI connection, same process, monotonic clock) to
   the moment the pop arrives on that agent's WebSocket.
2. Replay: every AMI event the center emitted during the live part (real events, captured) is replayed
   into a fresh tracker (real SQLite + Redis) as fast as it takes them: events/s absorbed, against the
   baseline of parsing alone (no database, no Redis).

    .venv/bin/python -m bench.desk_pop [--calls 30]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path

import uvicorn
import websockets

from agent_desk.bootstrap import AMI_USER
from agent_desk.calls import events as ev
from agent_desk.calls.listener import AmiSettings, CallListener
from agent_desk.calls.tracker import CallTracker
from agent_desk.db.migrate import upgrade
from agent_desk.db.session import Database
from agent_desk.telephony import agents
from agent_desk.telephony import LiveCall
from hotline import channelvars as v
from hotline.numberplan import GENERAL_QUEUE
from tests.support.agents import CITIZEN, hang_up_call, softphones, wait_registered
from tests.support.center import running_center
from tests.support.desk import close_rig, make_rig
from tests.support.ports import free_port
from tests.support.redis_server import RedisServer
from bench.stats import pct


async def live(home: Path, rounds: int, n_agents: int) -> tuple[list[float], list, int]:
    redis_server = RedisServer.start(home / "redis")
    try:
        async with running_center(home / "center") as center:
            exts = softphones(center)[:n_agents]
            db_url = f"sqlite:///{home}/live.sqlite3"
            rig = make_rig(db_url, redis_server.authenticated_url)
            users = {}
            with rig.app.state.db.session() as session:
                from agent_desk.auth.roles import Role
                from agent_desk.auth.sessions import create_user
                for ext in exts:
                    user = create_user(session, f"{rig.tag}-a{ext}", "correct-horse-12345", Role.AGENT,
                                       extension=ext)
                    users[ext] = user.username
            port = free_port()
            server = uvicorn.Server(uvicorn.Config(rig.app, host="127.0.0.1", port=port, log_level="warning"))
            serving = asyncio.create_task(server.serve())
            settings = rig.app.state.settings
            listener = CallListener(CallTracker(rig.app.state.db, settings.async_redis()),
                                    AmiSettings("127.0.0.1", center.site.ami_port, AMI_USER, center.secrets.get("ami")),
                                    settings.async_redis())
            while not server.started:
                await asyncio.sleep(0.05)
            await listener.start()
            received: dict[str, float] = {}
            sockets = []
            for ext in exts:
                token = rig.client.post("/api/v1/auth/login", json={"username": users[ext],
                                                                 "password": "correct-horse-12345"}).json()["token"]
                rig.client.cookies.clear()
                socket = await websockets.connect(f"ws://127.0.0.1:{port}/ws/desk",
                                                  additional_headers={"Authorization": f"Bearer {token}"})
                await socket.recv()  # hello
                sockets.append(socket)

            async def read(socket) -> None:
                async for raw in socket:
                    message = json.loads(raw)
                    if message.get("type") == "pop":
                        received[message["call"]["call_id"]] = time.monotonic()

            readers = [asyncio.create_task(read(s)) for s in sockets]
            for ext in exts:
                assert (await wait_registered(center, ext)).registered, ext
                await agents.login(center.ami, ext, [GENERAL_QUEUE])
            latencies: list[float] = []
            for r in range(rounds):
                # One call at a time into the queue every agent serves (wrap-up spreads them over the agents).
                cid = center.new_call_id()
                await center.ami.originate(
                    "Local/s@hotline-queue", caller_id=f'"市民" <{CITIZEN}>', channel_id=cid, data="600",
                    variables={f"__{v.QUEUE}": GENERAL_QUEUE, f"__{v.CALL_ID}": cid, f"__{v.LINE}": "12345"})
                connect = await center.events.wait_for(
                    lambda e, cid=cid: e.name == "AgentConnect" and e.get("Linkedid") == cid, 60,
                    f"call {cid} answered")
                deadline = time.monotonic() + 10
                while time.monotonic() < deadline and cid not in received:
                    await asyncio.sleep(0.005)
                if cid in received:
                    latencies.append((received[cid] - connect.received) * 1000)
                await hang_up_call(center, LiveCall(cid, connect["Channel"], connect["DestChannel"]))
                print(f"  call {r + 1}/{rounds}: pop after {latencies[-1] if cid in received else float('nan'):.1f} ms",
                      flush=True)
            missing = rounds - len(latencies)
            for ext in exts:
                await agents.logout(center.ami, ext)
            for task in readers:
                task.cancel()
            for socket in sockets:
                await socket.close()
            await listener.drain()
            await listener.stop()
            await listener.tracker.redis.aclose()
            await listener.redis.aclose()
            server.should_exit = True
            await serving
            close_rig(rig)
            return latencies, list(center.events.events), missing
    finally:
        redis_server.stop()


async def replay(home: Path, captured: list, copies: int) -> tuple[float, float, int]:
    redis_server = RedisServer.start(home / "redis-replay")
    try:
        url = f"sqlite:///{home}/replay.sqlite3"
        upgrade(url)
        db = Database(url)
        with db.session() as session:  # the same agents, so replayed answers build and publish pops too
            from agent_desk.auth.roles import Role
            from agent_desk.auth.sessions import create_user
            for ext in sorted({ev.agent_of(e) for e in captured if e.name == "AgentConnect"}):
                create_user(session, f"replay-{ext}", "correct-horse-12345", Role.AGENT, extension=ext)
        import redis.asyncio as aioredis
        client = aioredis.from_url(redis_server.url, password=redis_server.password)
        tracker = CallTracker(db, client)
        stream = captured * copies
        start = time.perf_counter()
        typed = [ev.parse(e) for e in stream]
        parse_rate = len(stream) / (time.perf_counter() - start)
        start = time.perf_counter()
        for event in stream:
            parsed = ev.parse(event)
            if parsed is not None:
                await tracker.apply(parsed)
        absorb_rate = len(stream) / (time.perf_counter() - start)
        assert tracker.pops_sent == sum(e.name == "AgentConnect" for e in stream), tracker.pops_sent
        await client.aclose()
        db.dispose()
        return parse_rate, absorb_rate, sum(t is not None for t in typed)
    finally:
        redis_server.stop()


async def main(rounds: int, n_agents: int) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-pop-") as tmp:
        home = Path(tmp)
        print(f"live: {rounds} calls, one at a time, into a queue served by the peer's softphones", flush=True)
        latencies, captured, missing = await live(home, rounds, n_agents)
        print(f"\npop latency, AgentConnect → agent's WebSocket ({len(latencies)} pops, {missing} missing):")
        print(f"  p50 {statistics.median(latencies):7.1f} ms   p99 {pct(latencies, 99):7.1f} ms   "
              f"max {max(latencies):7.1f} ms")
        parse_rate, absorb_rate, useful = await replay(home, captured, copies=1)
        print(f"\nreplay of the {len(captured)} AMI events captured live ({useful} of them matter to the desk):")
        print(f"  {'parse only (baseline)':28} {parse_rate:10.0f} events/s")
        print(f"  {'parse + DB + Redis + pops':28} {absorb_rate:10.0f} events/s   ratio {absorb_rate / parse_rate:.3f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=30)
    args = parser.parse_args()
    asyncio.run(main(args.calls, 3))
