"""Asterisk's memory over calls: does it level off, or does something of ours leak per call? (issue 17)

The soak (``bench.soak``) saw Asterisk's resident memory grow about 28 KB per call. This benchmark places the calls
alone, in batches, on a private center (real Asterisk 22 + the FastAGI server in this process, as
``bench.dialplan_agi_cps``): each call runs the 12345 flow (the entry route, the queue context with its recording
probe and MixMonitor, the queue join) and is hung up as soon as it joins the queue. After each batch, once
Asterisk holds no channel of it any more, it reads what Asterisk holds: resident memory (``/proc/<pid>/status``
VmRSS, and VmData: the heap), threads, channels (``core show channels count``), what waits in its taskprocessors,
and ``memory show summary`` when this Asterisk was built with MALLOC_DEBUG (it says so when it was not).

With ``--answered`` every call is answered instead: ``--concurrency`` stand-in agents (``tests.support.stand_in``:
queue members that answer, talk ``--talk`` seconds and hang up) take them, so each call also rings a member,
runs the agent-connect dialplan (its listening-leg check and the recording check), is bridged and recorded by
MixMonitor: the path of an answered call, as the soak's.

Printed per batch: RSS, its growth per call over the batch, and the rest; at the end the slope of RSS over the
calls (scipy's ``linregress``) over the first and the second half of the batches: memory that levels off has a
second-half slope near zero.

    .venv/bin/python -m bench.asterisk_memory [--batches 10] [--calls 100] [--concurrency 20] [--answered]

Needs root (Asterisk runs in a chroot). Only loopback is used.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import re
import sys
import tempfile
import time
from pathlib import Path

from scipy.stats import linregress

from bench.dialplan_agi_cps import channel_id, one_call, taskprocessors
from hotline import channelvars as v
from hotline.numberplan import GENERAL_QUEUE
from hotline.paths import PROJECT_ROOT
from tests.support.center import Center, running_center
from tests.support.stand_in import stand_in_agent


async def answered_call(center: Center, cid: str) -> float | None:
    """One call into the 12345 flow that a stand-in agent answers; None if it never reached one (lost)."""
    await center.ami.originate(
        "Local/s@hotline-entry", caller_id="<13907550001>", channel_id=cid,
        variables={f"__{v.LINE}": "12318", f"__{v.QUEUE}": GENERAL_QUEUE, f"__{v.CALL_ID}": cid})
    try:
        await center.events.wait_for(lambda e: e.name == "AgentConnect" and e.get("Linkedid") == cid, 60,
                                     f"{cid} reaches an agent")
        await center.events.wait_for(lambda e: e.name == "Hangup" and e.get("Uniqueid") == f"{cid}-2", 60,
                                     f"{cid} ends")
    except AssertionError as exc:
        print(f"# LOST {cid}: {exc}", file=sys.stderr, flush=True)
        return None
    return 0.0


def status_kb(pid: int) -> dict[str, int]:
    """VmRSS, VmData (KB) and Threads of ``pid`` from /proc/<pid>/status."""
    found = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmData", "Threads"):
            found[key] = int(value.split()[0])
    return found


def active_channels(output: str) -> int:
    match = re.search(r"(\d+) active channels?", output)
    return int(match.group(1)) if match else -1


def queued_total(output: str) -> int:
    """What waits in all taskprocessors together (``core show taskprocessors``' In Queue column)."""
    return sum(int(f[2]) for f in (line.split() for line in output.splitlines())
               if len(f) >= 6 and f[1].isdigit() and f[2].isdigit())


async def drained(center: Center, timeout: float = 60) -> int:
    """Wait until Asterisk holds no channel (the batch's calls are all gone); the count left at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        count = active_channels(await asyncio.to_thread(center.asterisk.cli, "core show channels count"))
        if count == 0 or time.monotonic() > deadline:
            return count
        await asyncio.sleep(0.2)


async def batch(center: Center, label: str, calls: int, concurrency: int, answered: bool = False) -> int:
    """Place ``calls`` calls, ``concurrency`` at a time; the number lost (never joined the queue, or with
    ``answered`` never reached an agent)."""
    gate = asyncio.Semaphore(concurrency)
    lost = 0
    place = answered_call if answered else one_call

    async def guarded(i: int) -> None:
        nonlocal lost
        async with gate:
            if await place(center, channel_id(label, concurrency, i)) is None:
                lost += 1

    await asyncio.gather(*(guarded(i) for i in range(calls)))
    center.events.events.clear()   # this process's memory is not what is measured
    return lost


async def main(batches: int, calls: int, concurrency: int, answered: bool = False, talk: float = 0.5) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-mem-") as home:
        async with running_center(Path(home), artifacts=PROJECT_ROOT / "test-artifacts" / "bench") as center, \
                contextlib.AsyncExitStack() as agents:
            if answered:
                for i in range(concurrency):
                    await agents.enter_async_context(stand_in_agent(center.ami, f"{8100 + i}", talk))
            pid = center.asterisk.status()["pid"]
            summary = await asyncio.to_thread(center.asterisk.cli, "memory show summary", False)
            malloc_debug = "No such command" not in summary and bool(summary.strip())
            debug = "available" if malloc_debug else "not built in (no MALLOC_DEBUG)"
            how = f"answered by {concurrency} stand-in agents, {talk:g} s each" if answered else "hung up at the queue"
            print(f"# Asterisk memory over calls: {batches} batches of {calls} calls, {concurrency} at a time, {how}; "
                  f"pid {pid}; memory show summary: {debug}")
            await batch(center, "w", calls, concurrency, answered)   # warm-up: module caches, thread pools, first files
            await drained(center)
            base = status_kb(pid)
            print(f"{'calls':>6} | {'RSS KB':>8} | {'Δ KB/call':>9} | {'heap KB':>8} | {'threads':>7} | "
                  f"{'channels':>8} | {'queued in taskprocessors':>24} | lost")
            print(f"{0:>6} | {base['VmRSS']:>8} | {'-':>9} | {base['VmData']:>8} | {base['Threads']:>7} | "
                  f"{0:>8} | {'-':>24} | -", flush=True)
            points: list[tuple[int, int]] = [(0, base["VmRSS"])]
            previous = base["VmRSS"]
            for b in range(batches):
                lost = await batch(center, chr(ord("a") + b % 26), calls, concurrency, answered)
                left = await drained(center)
                now = status_kb(pid)
                queued = queued_total(await asyncio.to_thread(center.asterisk.cli, "core show taskprocessors"))
                done = (b + 1) * calls
                points.append((done, now["VmRSS"]))
                print(f"{done:>6} | {now['VmRSS']:>8} | {(now['VmRSS'] - previous) / calls:>9.1f} | "
                      f"{now['VmData']:>8} | {now['Threads']:>7} | {left:>8} | {queued:>24} | {lost}", flush=True)
                previous = now["VmRSS"]
            half = len(points) // 2
            first, second = linregress(*zip(*points[:half + 1])), linregress(*zip(*points[half:]))
            print(f"# RSS slope: first half {first.slope:.1f} KB per call, second half {second.slope:.1f} KB per "
                  f"call (r² {second.rvalue ** 2:.2f}); total {points[-1][1] - points[0][1]} KB over "
                  f"{points[-1][0]} calls")
            busiest = sorted(taskprocessors(await asyncio.to_thread(center.asterisk.cli, "core show taskprocessors")),
                             key=lambda t: -t[2])[:5]
            print("# deepest taskprocessors (name, processed, max depth): "
                  + "; ".join(f"{n} {p} {d}" for n, p, d in busiest))
            if malloc_debug:
                print("# memory show summary:\n" + summary)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=10)
    parser.add_argument("--calls", type=int, default=100, help="calls per batch")
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--answered", action="store_true", help="stand-in agents answer every call")
    parser.add_argument("--talk", type=float, default=0.5, help="seconds each answered call lasts (--answered)")
    args = parser.parse_args()
    if not (1 <= args.batches <= 200 and 1 <= args.calls <= 10_000 and 1 <= args.concurrency <= 500):
        parser.error("--batches 1-200, --calls 1-10000, --concurrency 1-500")
    asyncio.run(main(args.batches, args.calls, args.concurrency, args.answered, args.talk))
    sys.exit(0)
