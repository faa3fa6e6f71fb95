"""Calls per second the dialplan + FastAGI entry route sustain, and the FastAGI latency distribution.

Starts a private center (real Asterisk 22 + the FastAGI server in this process) on free loopback ports,
then for each concurrency N places CALLS calls into the 12345 flow (Local channels into hotline-entry,
tagged as line 12318, the way the inbound context leaves them) and hangs each up as soon as it joins
the queue. The same run is repeated with the FastAGI server stopped (the dialplan's fallback path) as
the baseline, and the ratio is printed side by side. A call that does not join a queue within 30 s is
counted as lost, and its AMI events and what Asterisk still holds for it are printed to stderr.

    .venv/bin/python -m bench.dialplan_agi_cps [--calls 200] [--concurrency 1,5,10,20]

Needs root (Asterisk runs in a chroot). Only loopback is used.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

from hotline import channelvars as v
from hotline.numberplan import GENERAL_QUEUE
from hotline.paths import PROJECT_ROOT
from tests.support.center import Center, running_center
from bench.stats import pct


def channel_id(label: str, concurrency: int, i: int) -> str:
    """The call's ChannelId, fixed width so that no id is a prefix of another's.

    Asterisk refuses a ChannelId that is a prefix of a live channel's unique id ("Channel Unique ID 'x-1'
    already in use by channel ...": OriginateResponse Failure, no channel at all). With ids like ``x-1`` and
    ``x-10`` in flight together, the call ``x-1`` was never placed whenever ``x-10``'s originate ran first:
    the benchmark then counted it as lost, though the dialplan never saw it.
    """
    return f"b{label}{concurrency:04d}-{i:06d}"


async def one_call(center: Center, cid: str) -> float | None:
    """Setup time (originate → queue join) of one call; None if it never joined (reported as lost)."""
    started = time.monotonic()  # the clock AmiEvent.received uses
    await center.ami.originate(
        "Local/s@hotline-entry", caller_id="<13907550001>", channel_id=cid,
        variables={f"__{v.LINE}": "12318", f"__{v.QUEUE}": GENERAL_QUEUE, f"__{v.CALL_ID}": cid},
    )
    try:
        joined = await center.events.wait_for(
            lambda e: e.name == "QueueCallerJoin" and e.get("Linkedid") == cid, 30, f"{cid} joins the queue")
    except AssertionError as exc:
        print(f"# LOST {cid}: {exc}\n{await describe_lost(center, cid)}", file=sys.stderr, flush=True)
        return None
    setup = joined.received - started
    citizen = next(e for e in center.events.events if e.name == "Newchannel" and e.get("Uniqueid") == cid)
    await center.ami.hangup(citizen["Channel"])
    await center.events.wait_for(
        lambda e: e.name == "Hangup" and e.get("Uniqueid") == f"{cid}-2", 30, f"{cid} hangs up")
    return setup


async def describe_lost(center: Center, cid: str) -> str:
    """What AMI said about a lost call (its own events, exactly), and what Asterisk says about it now."""
    ids = (cid, f"{cid}-2")
    events = center.events.find(lambda e: e.get("Uniqueid") in ids or e.get("Linkedid") == cid)
    lines = [f"#   {len(events)} AMI events of {cid}"]
    lines += [f"#   {e.name} {e.get('Channel')} {e.get('Response')}{e.get('Cause-txt')}"
              for e in events if e.name != "Newexten"]
    steps = [e for e in events if e.name == "Newexten"]
    lines.append("#   last dialplan step: " + (
        f"{steps[-1].get('Channel')} {steps[-1].get('Context')},{steps[-1].get('Extension')},"
        f"{steps[-1].get('Priority')} {steps[-1].get('Application')}({steps[-1].get('AppData')})"
        if steps else "none (the dialplan never ran it)"))
    channels = [e for e in await center.ami.action_list({"Action": "CoreShowChannels"}) if e.get("Uniqueid") in ids]
    for e in channels:
        lines.append(f"#   now in Asterisk: {e.get('Channel')} at {e.get('Context')},{e.get('Extension')},"
                     f"{e.get('Priority')} {e.get('Application')}({e.get('ApplicationData')}) {e.get('Duration')}")
    queued = [e for e in await center.ami.action_list({"Action": "QueueStatus", "Queue": GENERAL_QUEUE})
              if e.name == "QueueEntry" and e.get("Uniqueid") in ids]
    lines.append(f"#   channels in Asterisk now: {len(channels)}; in the queue now: {len(queued)}")
    return "\n".join(lines)


async def run_level(center: Center, calls: int, concurrency: int, label: str) -> dict:
    gate = asyncio.Semaphore(concurrency)
    setups: list[float] = []
    lost: list[int] = []
    agi_before = len(center.agi.durations)

    async def guarded(i: int) -> None:
        async with gate:
            setup = await one_call(center, channel_id(label, concurrency, i))
            (setups.append(setup) if setup is not None else lost.append(i))

    started = time.perf_counter()
    await asyncio.gather(*(guarded(i) for i in range(calls)))
    elapsed = time.perf_counter() - started
    center.events.events.clear()  # keep the event log small between levels
    agi = list(center.agi.durations)[agi_before:]
    return {"cps": calls / elapsed, "elapsed": elapsed, "setup": setups, "agi": agi, "lost": len(lost)}


def ms(x: float) -> str:
    return f"{x * 1000:7.1f}"


async def main(calls: int, levels: list[int]) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-cps-") as home:
        async with running_center(Path(home), artifacts=PROJECT_ROOT / "test-artifacts" / "bench") as center:
            await run_level(center, 10, 2, "warm")  # warm-up: first calls pay module and file caches
            print(f"# dialplan + FastAGI entry: {calls} calls per level, Local channels, one box "
                  f"({center.asterisk.status()['mode']} Asterisk)")
            print(f"{'N':>3} | {'with AGI cps':>12} | {'no AGI cps':>10} | {'ratio':>5} | "
                  f"{'setup p50 ms':>12} | {'setup p99 ms':>12} | {'AGI p50 ms':>10} | {'AGI p99 ms':>10} | "
                  "lost (AGI+no AGI)")
            for n in levels:
                with_agi = await run_level(center, calls, n, "a")
                await center.agi.stop()
                try:
                    without = await run_level(center, calls, n, "n")
                finally:
                    await center.agi.start()
                print(f"{n:>3} | {with_agi['cps']:12.1f} | {without['cps']:10.1f} | "
                      f"{with_agi['cps'] / without['cps']:5.2f} | {ms(pct(with_agi['setup'], 50)):>12} | "
                      f"{ms(pct(with_agi['setup'], 99)):>12} | {ms(pct(with_agi['agi'], 50)):>10} | "
                      f"{ms(pct(with_agi['agi'], 99)):>10} | {with_agi['lost']}+{without['lost']}", flush=True)
            durations = list(center.agi.durations)
            print(f"# FastAGI entry route over all calls: n={len(durations)} "
                  f"mean={ms(statistics.fmean(durations)).strip()} ms "
                  f"p50={ms(pct(durations, 50)).strip()} p90={ms(pct(durations, 90)).strip()} "
                  f"p99={ms(pct(durations, 99)).strip()} max={ms(max(durations)).strip()} ms")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--concurrency", default="1,5,10,20")
    args = parser.parse_args()
    if not 0 < args.calls < 1_000_000:
        parser.error("--calls: 1 to 999999 (the channel ids are fixed width)")
    asyncio.run(main(args.calls, [int(x) for x in args.concurrency.split(",")]))
    sys.exit(0)
