"""The live wallboard's pipeline: AMI events/s absorbed, and event → snapshot latency at a given rate.

The stream is the real Asterisk 22 events recorded for the wallboard's tests (tests/support/wallboard_events.json:
a call rung, answered, hung up; a pause; a call abandoned; login/logout), copied with fresh call ids, channels
and agents (50 agents) and shifted times. Every event enters the desk's real ``CallListener`` the way panoramisk
hands it over (``_on_ami``): parsed into typed call events for the call tracker (real SQLite + Redis, its apply
loop running) and applied to the ``Wallboard``, whose snapshot the listener publishes to a real Redis.

1. Absorb: the whole stream as fast as it comes: parse only (baseline), parse + wallboard apply, and the full
   listener (until the tracker's queue is drained and the last snapshot is published).
2. Latency at a fixed rate: events fed on a 10 ms tick; a Redis subscriber of ``hotline:wallboard`` (another
   connection, same process, monotonic clock) takes each snapshot; an event's latency is from entering the
   listener to the first snapshot whose version includes it.

    .venv/bin/python -m bench.wallboard [--copies 400] [--rates 100,500,2000] [--seconds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import statistics
import tempfile
import time
from pathlib import Path
from types import MappingProxyType

import redis.asyncio as aioredis

from agent_desk.calls import events as ev
from agent_desk.calls.listener import AmiSettings, CallListener
from agent_desk.calls.tracker import CallTracker
from agent_desk.db.migrate import upgrade
from agent_desk.db.session import Database
from agent_desk.supervision.wallboard import Wallboard
from agent_desk.supervision.warnings import CHANNEL
from bench.stats import pct
from hotline import channelvars as v
from hotline.ami import AmiEvent
from hotline.numberplan import load_plan
from hotline.paths import PROJECT_ROOT
from tests.support.redis_server import RedisServer
from tests.support.wallboard import recorded, stamp

AGENTS = 50
ID_FIELDS = ("Uniqueid", "Linkedid", "DestUniqueid", "DestLinkedid")


def stream(copies: int) -> list[AmiEvent]:
    """``copies`` of the recorded stream, each with its own ids, channels and agent, 20 s apart."""
    base = recorded()
    t0 = stamp(base[0])
    out = []
    for k in range(copies):
        agent = f"{8001 + k % AGENTS}"
        for e in base:
            fields = dict(e.fields)
            for key in ID_FIELDS:
                if fields.get(key):
                    fields[key] = f"{fields[key]}-c{k}"
            for key in ("Channel", "DestChannel"):
                if fields.get(key):
                    fields[key] = f"{fields[key]}-c{k}".replace("8001", agent)
            for key in ("CallerIDNum", "ConnectedLineNum"):   # every call its own citizen
                if len(fields.get(key, "")) == 11:
                    fields[key] = f"139{k:08d}"
            for key in ("Interface", "StateInterface", "MemberName", "Agent"):
                if fields.get(key):
                    fields[key] = fields[key].replace("8001", agent)
            if fields.get("Timestamp"):
                fields["Timestamp"] = f"{float(fields['Timestamp']) - t0 + 1_800_000_000 + 20 * k:.6f}"
            vars_ = dict(e.vars)
            if vars_.get(v.CALL_ID):
                vars_[v.CALL_ID] = f"{vars_[v.CALL_ID]}-c{k}"
            out.append(AmiEvent(e.name, MappingProxyType(fields), 0.0, MappingProxyType(vars_), e.dest_vars))
    return out


def make_board() -> Wallboard:
    return Wallboard.from_plan(load_plan(PROJECT_ROOT / "asterisk_conf" / "numbers.yaml"), 20)


def make_listener(db: Database, url: str, password: str) -> CallListener:
    def client():
        return aioredis.from_url(url, password=password, decode_responses=True)
    listener = CallListener(CallTracker(db, client()), AmiSettings("127.0.0.1", 0, "bench", "-"), client(),
                            make_board())
    listener.wallboard.set_connected(True)
    # The listener's own tasks without an AMI connection: events are handed to _on_ami as panoramisk would.
    listener._tasks = [asyncio.create_task(listener._apply_loop()), asyncio.create_task(listener._board_loop())]
    return listener


async def absorb(events: list[AmiEvent], db: Database, redis_server: RedisServer) -> dict[str, float]:
    rates = {}
    start = time.perf_counter()
    for e in events:
        ev.parse(e)
    rates["parse only (baseline)"] = len(events) / (time.perf_counter() - start)
    board = make_board()
    start = time.perf_counter()
    for e in events:
        ev.parse(e)
        board.apply(e)
    board.snapshot()
    rates["parse + wallboard apply"] = len(events) / (time.perf_counter() - start)
    listener = make_listener(db, redis_server.url, redis_server.password)
    start = time.perf_counter()
    for i, e in enumerate(events):
        listener._on_ami(e)
        if i % 200 == 199:
            await asyncio.sleep(0)   # panoramisk hands events over from its reader: the loop runs between reads
    await listener.drain()
    await listener.publish_board()
    rates["full listener (tracker + board + Redis)"] = len(events) / (time.perf_counter() - start)
    rates["snapshots published"] = listener.boards_published
    await close(listener)
    return rates


async def close(listener: CallListener) -> None:
    await listener.stop()
    await listener.tracker.redis.aclose()
    await listener.redis.aclose()


async def latency(events: list[AmiEvent], rate: int, seconds: float, db: Database,
                  redis_server: RedisServer) -> tuple[list[float], int, int]:
    listener = make_listener(db, redis_server.url, redis_server.password)
    sub = aioredis.from_url(redis_server.url, password=redis_server.password, decode_responses=True)
    pubsub = sub.pubsub()
    await pubsub.subscribe(CHANNEL)
    pending: list[tuple[int, float]] = []   # (board version including the event, when it entered)
    latencies: list[float] = []
    snapshots = 0

    async def read() -> None:
        nonlocal snapshots
        async for message in pubsub.listen():
            if message.get("type") != "message":
                continue
            arrived = time.monotonic()
            snap = json.loads(message["data"])
            if snap.get("type") != "snapshot":
                continue
            snapshots += 1
            while pending and pending[0][0] <= snap["version"]:
                latencies.append((arrived - pending.pop(0)[1]) * 1000)

    reader = asyncio.create_task(read())
    total = min(len(events), int(rate * seconds))
    per_tick = max(1, round(rate / 100))
    fed = 0
    next_tick = time.monotonic()
    while fed < total:
        for e in events[fed:fed + per_tick]:
            entered = time.monotonic()
            before = listener.wallboard.version
            listener._on_ami(e)
            if listener.wallboard.version != before:
                pending.append((listener.wallboard.version, entered))
        fed += per_tick
        next_tick += 0.01
        await asyncio.sleep(max(0.0, next_tick - time.monotonic()))
    deadline = time.monotonic() + 10
    while pending and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    missing = len(pending)
    reader.cancel()
    await pubsub.aclose()
    await sub.aclose()
    await close(listener)
    return latencies, snapshots, missing


async def main(copies: int, rates: list[int], seconds: float) -> None:
    logging.getLogger("agent_desk.calls").setLevel(logging.ERROR)   # "answered by …, who is no desk user"
    events = stream(copies)
    counting = make_board()
    useful = sum(counting.apply(e) for e in events)
    with tempfile.TemporaryDirectory(prefix="bench-wallboard-") as tmp:
        redis_server = RedisServer.start(Path(tmp) / "redis")
        try:
            url = f"sqlite:///{tmp}/bench.sqlite3"
            upgrade(url)
            db = Database(url)
            print(f"stream: {len(events)} recorded AMI events ({copies} copies, {AGENTS} agents), "
                  f"{useful} of them change the board")
            for name, rate in (await absorb(events, db, redis_server)).items():
                unit = "" if name == "snapshots published" else " events/s"
                print(f"  {name:42} {rate:10.0f}{unit}", flush=True)
            for rate in rates:
                fresh_url = f"sqlite:///{tmp}/bench-{rate}.sqlite3"   # each run starts from an empty database
                upgrade(fresh_url)
                fresh = Database(fresh_url)
                lat, snapshots, missing = await latency(events, rate, seconds, fresh, redis_server)
                fresh.dispose()
                print(f"\nat {rate} events/s for {seconds:.0f} s: {len(lat)} board changes, {snapshots} snapshots, "
                      f"{missing} never published")
                if lat:
                    print(f"  event → snapshot at the subscriber: p50 {statistics.median(lat):6.1f} ms   "
                          f"p99 {pct(lat, 99):6.1f} ms   max {max(lat):6.1f} ms")
            db.dispose()
        finally:
            redis_server.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=400)
    parser.add_argument("--rates", default="100,500,2000")
    parser.add_argument("--seconds", type=float, default=10)
    args = parser.parse_args()
    asyncio.run(main(args.copies, [int(r) for r in args.rates.split(",")], args.seconds))
