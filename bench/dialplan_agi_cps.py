"""Calls per second the dialplan + FastAGI entry route sustain, and the FastAGI latency distribution.

Starts a private center (real Asterisk 22 + the FastAGI server in this process) on free loopback ports,
then for each concurrency N places CALLS calls into the 12345 flow (Local channels into hotline-entry,
tagged as line 12318, the way the inbound context leaves them) and hangs each up as soon as it joins
the queue, once per layout of the FastAGI server: ``single``, in this process's event loop beside the
benchmark's AMI parsing (the single-process layout ``hotline run`` had before issue 17), and ``process``,
alone in a process of its own (``bench.agi_process``, as ``hotline run --media 1`` runs ``hotline agi serve``), and
``processes``, ``--media`` such processes sharing the FastAGI port with SO_REUSEPORT (``hotline run --media N``).
The same run is repeated with the FastAGI server stopped (the dialplan's fallback path) as the baseline,
and the ratio is printed side by side. A call that does not join a queue within 30 s is counted as lost,
and its AMI events and what Asterisk still holds for it are printed to stderr.

*AGI (Asterisk)* is the entry route's round trip as Asterisk stamps it (``timestampevents``): from the
``Newexten`` that starts ``AGI()`` to the ``VarSet`` of ``AGISTATUS`` when it returns, so it includes the
connect, the headers, every command of the route and the close, and nothing of this process's event
reading. *Waiting py* is the part of that round trip in which Asterisk waited for Python (the round trip less
the time between each AGI command's ``AGIExecStart`` and ``AGIExecEnd``): connect, headers, the route's own
work and the event loop's delays; the rest is Asterisk executing the commands. *AGI(srv)* is the server's own
measure (headers read → status set). The load average of the box is printed with each level.

    .venv/bin/python -m bench.dialplan_agi_cps [--calls 200] [--concurrency 1,20,50,200]
        [--layouts single,process,processes] [--media 2]

Needs root (Asterisk runs in a chroot). Only loopback is used.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

from hotline import channelvars as v
from hotline.numberplan import GENERAL_QUEUE
from hotline.ami import AmiEvent
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


def asterisk_agi_times(events: list[AmiEvent], prefix: str) -> tuple[list[float], list[float]]:
    """Per call whose id starts with ``prefix``, in Asterisk's own timestamps: the entry route's round trip (AGI()
    start → AGISTATUS set), and the part of it Asterisk spent waiting for Python (the round trip less the time
    between each command's ``AGIExecStart`` and ``AGIExecEnd``, which is Asterisk executing the command)."""
    started: dict[str, float] = {}
    executing: dict[str, float] = {}
    command_start: dict[str, float] = {}
    times: list[float] = []
    waiting: list[float] = []
    for e in events:
        linked = e.get("Linkedid")
        if not linked.startswith(prefix) or not e.get("Timestamp"):
            continue
        at = float(e["Timestamp"])
        if e.name == "Newexten" and e.get("Application") == "AGI" and e.get("Context") == "hotline-entry":
            started.setdefault(linked, at)
        elif e.name == "AGIExecStart" and linked in started:
            command_start[linked] = at
        elif e.name == "AGIExecEnd" and linked in command_start:
            executing[linked] = executing.get(linked, 0.0) + at - command_start.pop(linked)
        elif e.name == "VarSet" and e.get("Variable") == "AGISTATUS" and linked in started:
            total = at - started.pop(linked)
            times.append(total)
            waiting.append(total - executing.pop(linked, 0.0))
    return times, waiting


async def run_level(center: Center, calls: int, concurrency: int, label: str) -> dict:
    gate = asyncio.Semaphore(concurrency)
    setups: list[float] = []
    lost: list[int] = []
    agi_before = len(center.agi.durations)

    async def guarded(i: int) -> None:
        async with gate:
            setup = await one_call(center, channel_id(label, concurrency, i))
            (setups.append(setup) if setup is not None else lost.append(i))

    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    await asyncio.gather(*(guarded(i) for i in range(calls)))
    elapsed = time.perf_counter() - started
    asterisk, python = asterisk_agi_times(center.events.events, f"b{label}{concurrency:04d}-")
    center.events.events.clear()  # keep the event log small between levels
    agi = list(center.agi.durations)[agi_before:]
    return {"cps": calls / elapsed, "elapsed": elapsed, "setup": setups, "agi": agi, "asterisk": asterisk,
            "python": python, "lost": len(lost), "load": (load_before, os.getloadavg()[0])}


@contextlib.asynccontextmanager
async def separate_agi_process(center: Center, nice: int = 0, count: int = 1) -> AsyncIterator[dict]:
    """The FastAGI server in ``count`` processes of its own on the center's FastAGI port (several: sharing it with
    SO_REUSEPORT, as ``hotline run --media N``), in place of the in-process one; yields a dict that receives their
    server-side ``durations``, their ``cpu`` seconds summed and the calls each ``served`` when they stop."""
    await center.agi.stop()
    profile = os.environ.get("BENCH_AGI_PROFILE")
    procs = []
    report: dict = {"durations": [], "cpu": 0.0, "served": []}
    try:
        for i in range(count):
            proc = await asyncio.create_subprocess_exec(
                "nice", "-n", str(nice), sys.executable, "-m", "bench.agi_process", "--port", str(center.agi.port),
                *(["--shared-port"] if count > 1 else []),
                *(["--profile", f"{profile}.{i}" if count > 1 else profile] if profile else []),
                cwd=PROJECT_ROOT, stdout=asyncio.subprocess.PIPE)
            procs.append(proc)
            assert proc.stdout is not None
            ready = await asyncio.wait_for(proc.stdout.readline(), 60)
            assert ready.strip() == b"ready", ready
        yield report
    finally:
        for proc in procs:
            if proc.returncode is None:
                proc.terminate()
        for proc in procs:
            out, _ = await proc.communicate()
            with contextlib.suppress(ValueError, IndexError):
                one = json.loads(out.decode().strip().splitlines()[-1])
                report["durations"] += one["durations"]
                report["cpu"] += one["cpu"]
                report["served"].append(len(one["durations"]))
        await center.agi.start()


def ms(x: float) -> str:
    return f"{x * 1000:7.1f}"


async def main(calls: int, levels: list[int], layouts: list[str], fallback: bool, agi_nice: int,
               asterisk_nice: int, media: int = 2) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-cps-") as home:
        async with running_center(Path(home), artifacts=PROJECT_ROOT / "test-artifacts" / "bench") as center:
            if asterisk_nice:   # every thread of the center's Asterisk (not the peer's)
                pid = center.asterisk.status()["pid"]
                for task in Path(f"/proc/{pid}/task").iterdir():
                    os.setpriority(os.PRIO_PROCESS, int(task.name), asterisk_nice)
            await run_level(center, 10, 2, "warm")  # warm-up: first calls pay module and file caches
            print(f"# dialplan + FastAGI entry: {calls} calls per level, Local channels, one box "
                  f"({center.asterisk.status()['mode']} Asterisk, {os.cpu_count()} CPUs)")
            print(f"{'N':>3} | {'layout':>7} | {'cps':>6} | {'no AGI cps':>10} | {'setup p50 ms':>12} | "
                  f"{'setup p99 ms':>12} | {'AGI(ast) p50':>12} | {'AGI(ast) p99':>12} | {'AGI(ast) max':>12} | "
                  f"{'waiting py p99':>14} | {'AGI(srv) p99':>12} | {'load 1m':>9} | lost")
            for n in levels:
                without = None
                if fallback:
                    await center.agi.stop()
                    try:
                        without = await run_level(center, calls, n, "n")
                    finally:
                        await center.agi.start()
                for layout in layouts:
                    label = {"single": "s", "process": "p", "processes": "m"}[layout]
                    if layout == "single":
                        result = await run_level(center, calls, n, label)
                        server, cpu = result["agi"], ""
                    else:
                        count = media if layout == "processes" else 1
                        async with separate_agi_process(center, agi_nice, count) as report:
                            result = await run_level(center, calls, n, label)
                        server = report["durations"]
                        cpu = f"  (AGI process CPU {report['cpu'] / calls * 1000:.2f} ms per call"
                        cpu += f"; calls per process {report['served']})" if count > 1 else ")"
                    no_agi = f"{without['cps']:10.1f}" if without else f"{'-':>10}"
                    lost = f"{result['lost']}+{without['lost']}" if without else f"{result['lost']}"
                    shown = f"{media}×proc" if layout == "processes" else layout
                    print(f"{n:>3} | {shown:>7} | {result['cps']:6.1f} | {no_agi} | "
                          f"{ms(pct(result['setup'], 50)):>12} | {ms(pct(result['setup'], 99)):>12} | "
                          f"{ms(pct(result['asterisk'], 50)):>12} | {ms(pct(result['asterisk'], 99)):>12} | "
                          f"{ms(max(result['asterisk'], default=float('nan'))):>12} | "
                          f"{ms(pct(result['python'], 99)):>14} | "
                          f"{ms(pct(server, 99)):>12} | {result['load'][0]:4.1f}>{result['load'][1]:4.1f} | "
                          f"{lost}{cpu}", flush=True)
            durations = list(center.agi.durations)
            if durations:
                print(f"# FastAGI entry route in this process over all its calls: n={len(durations)} "
                      f"mean={ms(statistics.fmean(durations)).strip()} ms "
                      f"p50={ms(pct(durations, 50)).strip()} p90={ms(pct(durations, 90)).strip()} "
                      f"p99={ms(pct(durations, 99)).strip()} max={ms(max(durations)).strip()} ms")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--concurrency", default="1,20,50,200")
    parser.add_argument("--layouts", default="single,process",
                        help="single, process and/or processes (comma-separated)")
    parser.add_argument("--media", type=int, default=2,
                        help="processes of the `processes` layout, sharing the FastAGI port (hotline run --media N)")
    parser.add_argument("--no-fallback", action="store_true", help="skip the run with the FastAGI server stopped")
    parser.add_argument("--agi-nice", type=int, default=0,
                        help="the separate AGI process's niceness (negative: before other processes; needs root)")
    parser.add_argument("--asterisk-nice", type=int, default=0, help="the center's Asterisk's niceness (its threads)")
    args = parser.parse_args()
    if not 0 < args.calls < 1_000_000:
        parser.error("--calls: 1 to 999999 (the channel ids are fixed width)")
    layouts = args.layouts.split(",")
    if not set(layouts) <= {"single", "process", "processes"}:
        parser.error("--layouts: single, process and/or processes")
    if not 1 <= args.media <= 32:
        parser.error("--media: 1 to 32")
    asyncio.run(main(args.calls, [int(x) for x in args.concurrency.split(",")], layouts, not args.no_fallback,
                     args.agi_nice, args.asterisk_nice, args.media))
    sys.exit(0)
