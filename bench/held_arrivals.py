"""The entry route's AGI round trip as a center at "N concurrent calls" sees it: N calls held, arrivals steady.

``bench.dialplan_agi_cps``'s default mode places N calls *at once* (a burst, the worst case). A center at 200
concurrent calls has 200 calls in progress while new ones arrive a few per second. This mode (``--held``) first
brings H calls up through the entry route (answered first, as the inbound context answers a real call, then the
same bench copy of ``[hotline-entry]`` as the ``after`` layout, the queue-first route in an AGI process of its own)
and keeps them waiting in their queue (nobody is logged in: the plan's queues take calls when empty, a sub-platform's
overflows to the general queue after its wait; each held call's other Local half runs ``Wait``, so it hears the
queue's tone and announcements as a caller does), then places ``--arrivals``
calls at a steady rate (one every 1/rate s) and measures each arrival's entry-route round trip exactly as the
burst mode does: the channel's clock around AGI(), Asterisk's AMI events (``Newexten AGI`` → ``AGISTATUS``, and
``AGIExecStart``/``AGIExecEnd``) and the server's own measure. Each arrival is hung up when it joins a queue, so
the number in progress stays H. Held levels run from the smallest up, the held calls of one level kept for the
next; the held = 0 row of each rate is the ratio's base.

Per level: Asterisk's and the AGI process's CPU, the AGI process's run delay, the box's CPU pressure and load
average. Lost = 0 is asserted per level: every arrival joined a queue within 30 s, and every held call is still in a
queue at the end of the level; the exit status is 1 otherwise.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.dialplan_agi_cps import (
    AgiSplit, asterisk_agi_splits, channel_clock_times, cpu_pressure, cpu_seconds, install_bench_contexts, ms,
    one_call, run_level, separate_agi_process,
)
from bench.stats import pct
from hotline import channelvars as v
from hotline.ami import AmiError
from hotline.numberplan import GENERAL_QUEUE
from tests.support.center import Center

CONTEXT = "bench-entry-after"
# A held call is answered first, as the inbound context answers every real call before the entry route; an
# unanswered Local call is hung up by its originate's ring timeout (30 s) while it waits in the queue.
HELD_CONTEXT = "bench-held"
HOLD_SECONDS = 900   # the held call's other Local half: Wait() longer than any run
BRING_UP_AT_ONCE = 10


def held_prefix(run: int) -> str:
    return f"bh{run:04d}-"


def held_id(i: int, run: int = 0) -> str:
    """Fixed width (see ``channel_id``): no id is a prefix of another live one. ``run``: the variant's number."""
    return f"{held_prefix(run)}{i:06d}"


def arrival_prefix(held: int, rate: float, run: int = 0) -> str:
    return f"bq{held:04d}r{round(rate * 10):04d}v{run}-"


async def hold_call(center: Center, cid: str) -> bool:
    """Place one call through the entry route and leave it waiting in its queue; False if it never joined."""
    await center.ami.originate(
        f"Local/s@{HELD_CONTEXT}", caller_id="<13907550001>", channel_id=cid, application="Wait",
        data=str(HOLD_SECONDS),
        variables={f"__{v.LINE}": "12318", f"__{v.QUEUE}": GENERAL_QUEUE, f"__{v.CALL_ID}": cid},
    )
    try:
        await center.events.wait_for(
            lambda e: e.name == "QueueCallerJoin" and e.get("Linkedid") == cid, 30, f"{cid} joins the queue")
    except AssertionError as exc:
        print(f"# LOST held call {cid}: {exc}", file=sys.stderr, flush=True)
        return False
    return True


async def bring_up(center: Center, first: int, last: int, run: int = 0) -> int:
    """Held calls ``first`` .. ``last - 1``, ``BRING_UP_AT_ONCE`` at a time; the number that never joined."""
    gate = asyncio.Semaphore(BRING_UP_AT_ONCE)

    async def one(i: int) -> bool:
        async with gate:
            return await hold_call(center, held_id(i, run))

    joined = await asyncio.gather(*(one(i) for i in range(first, last)))
    center.events.events.clear()
    return joined.count(False)


async def still_queued(center: Center, run: int = 0) -> int:
    """Held calls waiting in a queue now (QueueStatus over every queue)."""
    entries = await center.ami.action_list({"Action": "QueueStatus"})
    return sum(1 for e in entries if e.name == "QueueEntry" and e.get("Uniqueid", "").startswith(held_prefix(run)))


async def hang_up_held(center: Center, run: int = 0) -> None:
    channels = await center.ami.action_list({"Action": "CoreShowChannels"})
    for e in channels:
        if e.get("Uniqueid", "").startswith(held_prefix(run)):
            with contextlib.suppress(AmiError):   # the other Local half has gone with the first
                await center.ami.hangup(e["Channel"])


def run_delay(pid: int) -> float:
    """Seconds process ``pid``'s main thread spent runnable but waiting for a CPU (/proc/<pid>/schedstat)."""
    try:
        return int(Path(f"/proc/{pid}/schedstat").read_text().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return float("nan")


@dataclass
class Level:
    held: int
    rate: float
    arrivals: int
    elapsed: float = 0.0
    splits: list[AgiSplit] = field(default_factory=list)
    clock: list[float] = field(default_factory=list)
    server: list[float] | None = None
    lost: int = 0
    held_lost: int = 0
    asterisk_cpu: float = 0.0
    agi_cpu: float = 0.0
    agi_waited: float = 0.0
    pressure: float = 0.0
    load: tuple[float, float] = (0.0, 0.0)


async def arrivals(center: Center, level: Level, agi_pid: int, run: int = 0) -> None:
    """``level.arrivals`` calls, one every 1/rate s (each placed on time, whether the previous has joined or not)."""
    prefix = arrival_prefix(level.held, level.rate, run)
    lost: list[int] = []

    async def arrival(i: int, at: float) -> None:
        await asyncio.sleep(max(0.0, at - time.monotonic()))
        if await one_call(center, f"{prefix}{i:06d}", CONTEXT) is None:
            lost.append(i)

    pid = center.asterisk.status()["pid"]
    level.load = (os.getloadavg()[0], 0.0)
    cpu, agi_cpu, waited, pressure = cpu_seconds(pid), cpu_seconds(agi_pid), run_delay(agi_pid), cpu_pressure()
    started = time.monotonic()
    await asyncio.gather(*(arrival(i, started + i / level.rate) for i in range(level.arrivals)))
    level.elapsed = time.monotonic() - started
    level.asterisk_cpu = cpu_seconds(pid) - cpu
    level.agi_cpu = cpu_seconds(agi_pid) - agi_cpu
    level.agi_waited = run_delay(agi_pid) - waited
    level.pressure = (cpu_pressure() - pressure) / level.elapsed
    level.load = (level.load[0], os.getloadavg()[0])
    level.lost = len(lost)
    level.splits = asterisk_agi_splits(center.events.events, prefix)
    level.clock = channel_clock_times(center.events.events, prefix)
    level.held_lost = level.held - await still_queued(center, run)
    center.events.events.clear()


def quantiles(values: list[float]) -> str:
    """p50/p95/p99/max, ms."""
    return "/".join(ms(x).strip() for x in (*(pct(values, q) for q in (50, 95, 99)), max(values, default=float("nan"))))


def row(level: Level, base: Level | None) -> str:
    ast = [s.total for s in level.splits]
    clock, amis = quantiles(level.clock), quantiles(ast)
    ratio = (f"{pct(level.clock, 99) / pct(base.clock, 99):5.2f}" if base is not None and base.clock
             and level.clock else "    -")
    n = level.arrivals
    return (f"{level.held:>4} | {level.rate:>4g} | {clock:>28} | {amis:>28} | {ratio} | "
            f"{level.asterisk_cpu / level.elapsed * 100:5.0f} % {level.asterisk_cpu / n * 1000:6.2f} | "
            f"{level.agi_cpu / n * 1000:5.2f} {level.agi_waited / n * 1000:6.2f} | {level.pressure * 100:4.0f} % | "
            f"{level.load[0]:4.1f}>{level.load[1]:4.1f} | {level.lost}+{level.held_lost}")


# --finish: how the route's last commands go (``agi_scripts.channel.FastAgiChannel.finish``); the flags of the AGI
# process for each. "both" runs the baseline first, then the current way, on the same center, and compares them.
FINISH_VARIANTS = {"early": (), "wait": ("--wait-last-reply",)}


async def main(center: Center, held_levels: list[int], rates: list[float], count: int, agi_nice: int,
               finishes: list[str] = ["early"]) -> int:   # noqa: B006 (read only)
    """Run every (held, rate) level once per ``finishes`` variant; print the tables (and, with two, the two side by
    side); return the calls lost in all (arrivals + held)."""
    await install_bench_contexts(center)
    for priority, (application, data) in enumerate((("Answer", ""), ("Goto", f"{CONTEXT},s,1")), 1):
        await center.ami.action({"Action": "DialplanExtensionAdd", "Context": HELD_CONTEXT, "Extension": "s",
                                 "Priority": str(priority), "Application": application, "ApplicationData": data,
                                 "Replace": "yes"})
    results: dict[str, dict[tuple[int, float], Level]] = {}
    lost = 0
    for run, finish in enumerate(finishes):
        print(f"# ── finish = {finish}: the route's last commands "
              f"{'sent with the end of the script' if finish == 'early' else 'answered one by one, then the end'}")
        results[finish], run_lost = await run_variant(center, held_levels, rates, count, agi_nice, run,
                                                      ("--queue-first", *FINISH_VARIANTS[finish]))
        lost += run_lost
    if len(results) == 2:
        (base_name, base), (name, new) = results.items()
        print(f"# side by side, AMI AGI() round trip p95 and p99 (ms): {base_name} → {name}, ratio {name}/{base_name}")
        for key, level in new.items():
            old = base.get(key)
            if old is None or not old.splits or not level.splits:
                continue
            o = [sp.total for sp in old.splits]
            n = [sp.total for sp in level.splits]
            print(f"{key[0]:>4} | {key[1]:>4g} | p95 {ms(pct(o, 95)).strip()} → {ms(pct(n, 95)).strip()} "
                  f"({pct(n, 95) / pct(o, 95):.2f}) | p99 {ms(pct(o, 99)).strip()} → {ms(pct(n, 99)).strip()} "
                  f"({pct(n, 99) / pct(o, 99):.2f})", flush=True)
    print(f"# lost: {lost} (arrivals that never joined a queue + held calls no longer in one)")
    return lost


async def run_variant(center: Center, held_levels: list[int], rates: list[float], count: int, agi_nice: int,
                      run: int, flags: tuple[str, ...]) -> tuple[dict[tuple[int, float], Level], int]:
    """Every level with one AGI process started with ``flags``; the levels and the calls lost."""
    levels: dict[tuple[int, float], Level] = {}
    held_now = 0
    async with separate_agi_process(center, agi_nice, 1, flags) as report:
        agi_pid = report["pids"][0]
        await run_level(center, 10, 2, f"warm{run}", CONTEXT)  # warm-up: first calls pay module and file caches
        served = 10   # the AGI process's durations arrive in call order, phase after phase: slice them by phase
        phases: list[tuple[Level | None, int]] = []
        print(f"# held calls + steady arrivals: {count} arrivals per rate, Local channels into {CONTEXT} "
              f"(queue-first entry route, AGI process of its own at nice {agi_nice}), {os.cpu_count()} CPUs")
        print(f"{'held':>4} | {'rate':>4} | {'channel clock p50/p95/p99/max':>28} | "
              f"{'AMI AGI() p50/p95/p99/max':>28} | "
              f"{'p99/h0':>5} | {'Asterisk core, ms/call':>22} | "
              f"{'AGI cpu/wait ms':>12} | {'psi':>6} | {'load 1m':>9} | lost arr+held")
        try:
            for held in sorted(held_levels):
                if held > held_now:
                    bring_started = time.monotonic()
                    missing = await bring_up(center, held_now, held, run)
                    phases.append((None, held - held_now))
                    held_now = held
                    print(f"# {held} calls held, each waiting in a queue (brought up in "
                          f"{time.monotonic() - bring_started:.1f} s, {missing} never joined; "
                          f"{await still_queued(center, run)} in a queue now)", flush=True)
                    if missing:
                        return levels, missing
                for rate in rates:
                    level = Level(held, rate, count)
                    await arrivals(center, level, agi_pid, run)
                    levels[(held, rate)] = level
                    phases.append((level, count))
                    print(row(level, levels.get((0, rate)) if held else None), flush=True)
        finally:
            await hang_up_held(center, run)
    durations = report["durations"][served:]
    if len(durations) == sum(n for _, n in phases):   # one entry route per call: the slices are exact
        for phase, n in phases:
            if phase is not None:
                phase.server = durations[:n]
            durations = durations[n:]
        print("# the server's own measure (headers read → status set), ms p50/p99 per level: " + "; ".join(
            f"held {lv.held} rate {lv.rate:g}: {ms(pct(lv.server, 50)).strip()}/{ms(pct(lv.server, 99)).strip()}"
            for lv in levels.values() if lv.server is not None))
    else:
        print(f"# the server's durations ({len(report['durations'])}) do not match the calls placed: not split "
              "per level", flush=True)
    return levels, sum(lv.lost + lv.held_lost for lv in levels.values())
