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

Layouts ``before`` and ``after`` (the default) are issue 17's command cut side by side in one run: the queue-first
entry route (``bench.agi_process --queue-first``) in its own process, called from a bench copy of the entry context
without the tags as AGI() arguments and with every variable its own ``SET VARIABLE`` (before: 4 commands), and
with them and one ``EXEC MSet`` (after: 1 command). Under each row, where the round trip went by Asterisk's
events (connect → first command, executing, between commands, last command → AGISTATUS), the same round trip by
the channel's own clock (``STRFTIME`` around AGI(): the AMI ``Timestamp`` is written when the manager's
taskprocessor formats an event, so under a burst it includes that queue's delay), the AGI commands per call, the
connections per call (res_agi opens one per AGI(): no reuse) and Asterisk's own CPU (/proc/<pid>/stat). The
taskprocessors with the deepest queues are printed at the end.

    .venv/bin/python -m bench.dialplan_agi_cps [--calls 200] [--concurrency 1,20,50,200]
        [--layouts before,after|single,process,processes] [--media 2]
    .venv/bin/python -m bench.dialplan_agi_cps --held 0,50,200 --rate 2,5,10 [--arrivals 50] [--finish both]

``--held``: a center at N concurrent calls as it is, not a burst: N calls held in their queue while arrivals come
at steady rates, each arrival's round trip measured the same way (``bench.held_arrivals``).

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
from dataclasses import dataclass
from pathlib import Path

from hotline import channelvars as v
from hotline.numberplan import GENERAL_QUEUE
from hotline.ami import AmiEvent
from hotline.paths import PROJECT_ROOT
from launcher.stack import renice_threads
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


async def one_call(center: Center, cid: str, context: str = "hotline-entry") -> float | None:
    """Setup time (originate → queue join) of one call; None if it never joined (reported as lost)."""
    started = time.monotonic()  # the clock AmiEvent.received uses
    await center.ami.originate(
        f"Local/s@{context}", caller_id="<13907550001>", channel_id=cid,
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


ENTRY_CONTEXTS = ("hotline-entry", "bench-entry-before", "bench-entry-after")


@dataclass
class AgiSplit:
    """One entry route's round trip as Asterisk stamped it, cut where Asterisk's own events cut it."""

    total: float = 0.0      # Newexten AGI() → VarSet AGISTATUS
    connect: float = 0.0    # Newexten AGI() → first AGIExecStart: connect, headers, the route's work before it
    executing: float = 0.0  # Σ AGIExecStart → AGIExecEnd: Asterisk running the commands
    between: float = 0.0    # Σ AGIExecEnd → next AGIExecStart: waiting for the next command
    close: float = 0.0      # last AGIExecEnd → AGISTATUS: the route ending, the close reaching Asterisk
    commands: int = 0


def asterisk_agi_splits(events: list[AmiEvent], prefix: str) -> list[AgiSplit]:
    """Per call whose id starts with ``prefix``, in Asterisk's own timestamps, the entry route's round trip and
    where it went (``AgiSplit``)."""
    open_: dict[str, tuple[float, AgiSplit]] = {}
    last: dict[str, float] = {}   # the latest AGI step of the call (start, or a command's end)
    command_start: dict[str, float] = {}
    done: list[AgiSplit] = []
    for e in events:
        linked = e.get("Linkedid")
        if not linked.startswith(prefix) or not e.get("Timestamp"):
            continue
        at = float(e["Timestamp"])
        if e.name == "Newexten" and e.get("Application") == "AGI" and e.get("Context") in ENTRY_CONTEXTS:
            if linked not in open_:
                open_[linked] = (at, AgiSplit())
                last[linked] = at
        elif e.name == "AGIExecStart" and linked in open_:
            split = open_[linked][1]
            if split.commands == 0:
                split.connect = at - last[linked]
            else:
                split.between += at - last[linked]
            split.commands += 1
            command_start[linked] = at
        elif e.name == "AGIExecEnd" and linked in command_start:
            open_[linked][1].executing += at - command_start.pop(linked)
            last[linked] = at
        elif e.name == "VarSet" and e.get("Variable") == "AGISTATUS" and linked in open_:
            started, split = open_.pop(linked)
            split.total = at - started
            if split.commands:
                split.close = at - last.pop(linked)
            else:
                split.connect = split.total
            done.append(split)
    return done


def asterisk_agi_times(events: list[AmiEvent], prefix: str) -> tuple[list[float], list[float]]:
    """Per call: the entry route's round trip, and the part of it Asterisk spent waiting for Python (the round
    trip less the time Asterisk spent executing the commands)."""
    splits = asterisk_agi_splits(events, prefix)
    return [s.total for s in splits], [s.total - s.executing for s in splits]


def cpu_pressure() -> float:
    """Seconds in which some runnable task of the box waited for a CPU, so far (/proc/pressure/cpu, PSI)."""
    try:
        some = Path("/proc/pressure/cpu").read_text().splitlines()[0]
        return int(some.rsplit("total=", 1)[1]) / 1e6
    except (OSError, IndexError, ValueError):
        return float("nan")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far, all its threads (/proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def run_level(center: Center, calls: int, concurrency: int, label: str,
                    context: str = "hotline-entry") -> dict:
    gate = asyncio.Semaphore(concurrency)
    setups: list[float] = []
    lost: list[int] = []
    agi_before = len(center.agi.durations)

    async def guarded(i: int) -> None:
        async with gate:
            setup = await one_call(center, channel_id(label, concurrency, i), context)
            (setups.append(setup) if setup is not None else lost.append(i))

    load_before = os.getloadavg()[0]
    pid = center.asterisk.status()["pid"]
    cpu_before, pressure_before = cpu_seconds(pid), cpu_pressure()
    started = time.perf_counter()
    await asyncio.gather(*(guarded(i) for i in range(calls)))
    elapsed = time.perf_counter() - started
    asterisk_cpu = cpu_seconds(pid) - cpu_before
    pressure = (cpu_pressure() - pressure_before) / elapsed
    splits = asterisk_agi_splits(center.events.events, f"b{label}{concurrency:04d}-")
    clock = channel_clock_times(center.events.events, f"b{label}{concurrency:04d}-")
    center.events.events.clear()  # keep the event log small between levels
    agi = list(center.agi.durations)[agi_before:]
    return {"cps": calls / elapsed, "elapsed": elapsed, "setup": setups, "agi": agi,
            "asterisk": [x.total for x in splits], "python": [x.total - x.executing for x in splits],
            "splits": splits, "clock": clock, "asterisk_cpu": asterisk_cpu, "pressure": pressure, "lost": len(lost),
            "load": (load_before, os.getloadavg()[0])}


@contextlib.asynccontextmanager
async def separate_agi_process(center: Center, nice: int = 0, count: int = 1,
                               flags: tuple[str, ...] = ()) -> AsyncIterator[dict]:
    """The FastAGI server in ``count`` processes of its own on the center's FastAGI port (several: sharing it with
    SO_REUSEPORT, as ``hotline run --media N``), in place of the in-process one; yields a dict that receives their
    server-side ``durations``, their ``cpu`` seconds summed and the calls each ``served`` when they stop."""
    await center.agi.stop()
    profile = os.environ.get("BENCH_AGI_PROFILE")
    procs = []
    report: dict = {"durations": [], "cpu": 0.0, "run_delay": 0.0, "served": [], "pids": []}
    try:
        for i in range(count):
            proc = await asyncio.create_subprocess_exec(
                "nice", "-n", str(nice), sys.executable, "-m", "bench.agi_process", "--port", str(center.agi.port),
                *(["--shared-port"] if count > 1 else []), *flags,
                *(["--profile", f"{profile}.{i}" if count > 1 else profile] if profile else []),
                cwd=PROJECT_ROOT, stdout=asyncio.subprocess.PIPE)
            procs.append(proc)
            report["pids"].append(proc.pid)   # `nice` execs the server: the same pid
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
                report["run_delay"] += one.get("run_delay", 0.0)
                report["served"].append(len(one["durations"]))
        await center.agi.start()


def ms(x: float) -> str:
    return f"{x * 1000:7.1f}"


# The entry context before and after issue 17's command cut, as bench contexts added over AMI: ``before`` calls AGI()
# without the tags as arguments (the route reads them back: GET FULL VARIABLE), ``after`` as [hotline-entry] now.
# Both stamp the channel's own clock around AGI() (BENCH_T0/BENCH_T1, microseconds): the AMI Timestamp header is
# written when the manager's taskprocessor formats the event, so under a burst it carries that queue's delay too.
STAMP = "${STRFTIME(,,%s.%6q)}"
TAGS = ",".join(f"${{{name}}}" for name in (v.CALL_ID, v.LINE, v.LINE_CLASS, v.QUEUE, v.SUBPLATFORM))


def entry_context(arguments: str) -> list[tuple[str, str]]:
    return [
        ("Set", f"{v.AGI_STATUS}={v.AGI_NONE}"),
        ("Set", f"BENCH_T0={STAMP}"),
        ("AGI", f"${{{v.AGI_URL}}}/entry{arguments}"),
        ("Set", f"BENCH_T1={STAMP}"),
        ("GotoIf", f'$["${{AGISTATUS}}" != "SUCCESS" | "${{{v.AGI_STATUS}}}" != "{v.AGI_OK}"]?{v.CTX_AGI_FAIL},s,1'),
        ("GotoIf", f"$[${{DIALPLAN_EXISTS({v.CTX_TRANSFER},${{{v.EMERGENCY}}},1)}}]?"
                   f"{v.CTX_TRANSFER},${{{v.EMERGENCY}}},1"),
        ("Goto", f"{v.CTX_QUEUE},s,1"),
    ]


BENCH_CONTEXTS = {"bench-entry-before": entry_context(""), "bench-entry-after": entry_context("," + TAGS)}


async def install_bench_contexts(center: Center) -> None:
    for context, steps in BENCH_CONTEXTS.items():
        for priority, (application, data) in enumerate(steps, 1):
            await center.ami.action({"Action": "DialplanExtensionAdd", "Context": context, "Extension": "s",
                                     "Priority": str(priority), "Application": application,
                                     "ApplicationData": data, "Replace": "yes"})


def channel_clock_times(events: list[AmiEvent], prefix: str) -> list[float]:
    """Per call whose id starts with ``prefix``: BENCH_T1 − BENCH_T0, the AGI() round trip by the channel's clock."""
    stamps: dict[str, dict[str, float]] = {}
    for e in events:
        if e.name == "VarSet" and e.get("Variable") in ("BENCH_T0", "BENCH_T1") and \
                e.get("Linkedid").startswith(prefix):
            stamps.setdefault(e.get("Linkedid"), {})[e.get("Variable")] = float(e.get("Value"))
    return [s["BENCH_T1"] - s["BENCH_T0"] for s in stamps.values() if len(s) == 2]


def split_line(result: dict, calls: int, layout: str) -> str:
    """Where the round trip went (Asterisk's timestamps), the commands per call, and Asterisk's own CPU."""
    splits: list[AgiSplit] = result["splits"]
    parts = []
    for name in ("connect", "executing", "between", "close"):
        values = [getattr(x, name) for x in splits]
        parts.append(f"{name} p50/p99 {ms(pct(values, 50)).strip()}/{ms(pct(values, 99)).strip()}")
    commands = statistics.fmean(x.commands for x in splits) if splits else float("nan")
    if result["clock"]:
        parts.append(f"channel clock p50/p99 {ms(pct(result['clock'], 50)).strip()}/"
                     f"{ms(pct(result['clock'], 99)).strip()}")
    cpu = result["asterisk_cpu"]
    return (f"#   {layout}: AGI commands per call {commands:.2f}; " + "; ".join(parts) + " ms; Asterisk CPU "
            f"{cpu / result['elapsed'] * 100:.0f} % of a core ({cpu / calls * 1000:.2f} ms per call); box CPU "
            f"pressure {result['pressure'] * 100:.0f} % (share of the time some task waited for a CPU)")


async def main(calls: int, levels: list[int], layouts: list[str], fallback: bool, agi_nice: int,
               asterisk_nice: int, media: int = 2) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-cps-") as home:
        async with running_center(Path(home), artifacts=PROJECT_ROOT / "test-artifacts" / "bench") as center:
            if asterisk_nice:   # every thread of the center's Asterisk (not the peer's), as `hotline run` does
                renice_threads(center.asterisk.status()["pid"], asterisk_nice)
            await run_level(center, 10, 2, "warm")  # warm-up: first calls pay module and file caches
            print(f"# dialplan + FastAGI entry: {calls} calls per level, Local channels, one box "
                  f"({center.asterisk.status()['mode']} Asterisk, {os.cpu_count()} CPUs)")
            print(f"{'N':>3} | {'layout':>7} | {'cps':>6} | {'no AGI cps':>10} | {'setup p50 ms':>12} | "
                  f"{'setup p99 ms':>12} | {'AGI(ast) p50':>12} | {'AGI(ast) p99':>12} | {'AGI(ast) max':>12} | "
                  f"{'waiting py p99':>14} | {'AGI(srv) p99':>12} | {'load 1m':>9} | lost")
            results: dict[tuple[int, str], dict] = {}
            if "before" in layouts or "after" in layouts:
                await install_bench_contexts(center)
            for n in levels:
                without = None
                if fallback:
                    await center.agi.stop()
                    try:
                        without = await run_level(center, calls, n, "n")
                    finally:
                        await center.agi.start()
                for layout in layouts:
                    label = {"single": "s", "process": "p", "processes": "m", "before": "b", "after": "a"}[layout]
                    if layout == "single":
                        result = await run_level(center, calls, n, label)
                        server, cpu = result["agi"], ""
                    else:
                        count = media if layout == "processes" else 1
                        flags = {"before": ("--queue-first", "--one-by-one"), "after": ("--queue-first",)}
                        context = {"before": "bench-entry-before", "after": "bench-entry-after"}.get(layout,
                                                                                                  "hotline-entry")
                        async with separate_agi_process(center, agi_nice, count, flags.get(layout, ())) as report:
                            result = await run_level(center, calls, n, label, context)
                        server = report["durations"]
                        # One connection per AGI() (res_agi opens a socket per call: no reuse): served == calls.
                        cpu = (f"  (AGI process CPU {report['cpu'] / calls * 1000:.2f} ms per call, waiting for a "
                               f"CPU {report['run_delay'] / calls * 1000:.2f} ms per call; "
                               f"connections per call {sum(report['served']) / calls:.2f}")
                        cpu += f"; calls per process {report['served']})" if count > 1 else ")"
                    results[(n, layout)] = result
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
                    print(split_line(result, calls, shown), flush=True)
            if "before" in layouts and "after" in layouts:
                for title, key in (("AMI timestamps", "asterisk"), ("the channel's clock", "clock")):
                    print(f"# entry route AGI() round trip before → after the command cut, by {title} "
                          "(ms; ratio after/before)")
                    for n in levels:
                        b, a = results[(n, "before")][key], results[(n, "after")][key]
                        print(f"#   N={n:>3} " + "  ".join(
                            f"p{q} {ms(pct(b, q)).strip()} → {ms(pct(a, q)).strip()} "
                            f"({pct(a, q) / pct(b, q):.2f})" for q in (50, 95, 99)))
            busiest = sorted(taskprocessors(await asyncio.to_thread(center.asterisk.cli,
                                                                    "core show taskprocessors")),
                             key=lambda t: -t[2])[:8]
            print("# Asterisk taskprocessors with the deepest queues over the run (name, processed, max depth): "
                  + "; ".join(f"{name} {processed} {depth}" for name, processed, depth in busiest))
            durations = list(center.agi.durations)
            if durations:
                print(f"# FastAGI entry route in this process over all its calls: n={len(durations)} "
                      f"mean={ms(statistics.fmean(durations)).strip()} ms "
                      f"p50={ms(pct(durations, 50)).strip()} p90={ms(pct(durations, 90)).strip()} "
                      f"p99={ms(pct(durations, 99)).strip()} max={ms(max(durations)).strip()} ms")


async def held_main(held: list[int], rates: list[float], arrivals: int, agi_nice: int, asterisk_nice: int,
                    finishes: list[str]) -> int:
    """``--held``: calls held in their queue while arrivals come at steady rates (``bench.held_arrivals``)."""
    from bench import held_arrivals

    with tempfile.TemporaryDirectory(prefix="bench-held-") as home:
        async with running_center(Path(home), artifacts=PROJECT_ROOT / "test-artifacts" / "bench") as center:
            if asterisk_nice:
                renice_threads(center.asterisk.status()["pid"], asterisk_nice)
            print(f"# {center.asterisk.status()['mode']} Asterisk at nice {asterisk_nice}")
            return await held_arrivals.main(center, held, rates, arrivals, agi_nice, finishes)


def taskprocessors(output: str) -> list[tuple[str, int, int]]:
    """(name, processed, max depth) of each line of ``core show taskprocessors``."""
    rows = []
    for line in output.splitlines():
        fields = line.split()
        if len(fields) >= 6 and fields[1].isdigit() and fields[3].isdigit():
            rows.append((fields[0], int(fields[1]), int(fields[3])))
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--concurrency", default="1,20,50,200")
    parser.add_argument("--layouts", default="before,after",
                        help="single, process, processes, before and/or after (comma-separated); before/after: the "
                             "queue-first entry route in its own process before and after issue 17's command cut")
    parser.add_argument("--media", type=int, default=2,
                        help="processes of the `processes` layout, sharing the FastAGI port (hotline run --media N)")
    parser.add_argument("--no-fallback", action="store_true", help="skip the run with the FastAGI server stopped")
    parser.add_argument("--agi-nice", type=int, default=0,
                        help="the separate AGI process's niceness (negative: before other processes; needs root)")
    parser.add_argument("--asterisk-nice", type=int, default=0, help="the center's Asterisk's niceness (its threads)")
    parser.add_argument("--held", help="held mode: calls held in a queue per level, e.g. 0,50,200")
    parser.add_argument("--rate", default="2,5,10", help="held mode: arrivals per second, one level each")
    parser.add_argument("--arrivals", type=int, default=60, help="held mode: calls placed per rate")
    parser.add_argument("--finish", choices=("early", "wait", "both"), default="early",
                        help="held mode: the route's last commands with the end of the script (early, as served), "
                             "each answered first (wait, the baseline), or both side by side")
    args = parser.parse_args()
    if args.held is not None:
        try:
            held = [int(x) for x in args.held.split(",")]
            rates = [float(x) for x in args.rate.split(",")]
        except ValueError:
            parser.error("--held: whole numbers, --rate: numbers, comma-separated")
        if not all(0 <= h <= 9999 for h in held) or not all(0 < r <= 1000 for r in rates) \
                or not 0 < args.arrivals < 1_000_000:
            parser.error("--held 0 to 9999, --rate above 0 up to 1000, --arrivals 1 to 999999")
        finishes = ["wait", "early"] if args.finish == "both" else [args.finish]
        sys.exit(1 if asyncio.run(held_main(held, rates, args.arrivals, args.agi_nice, args.asterisk_nice, finishes))
                 else 0)
    if not 0 < args.calls < 1_000_000:
        parser.error("--calls: 1 to 999999 (the channel ids are fixed width)")
    layouts = args.layouts.split(",")
    if not set(layouts) <= {"single", "process", "processes", "before", "after"}:
        parser.error("--layouts: single, process, processes, before and/or after")
    if not 1 <= args.media <= 32:
        parser.error("--media: 1 to 32")
    asyncio.run(main(args.calls, [int(x) for x in args.concurrency.split(",")], layouts, not args.no_fallback,
                     args.agi_nice, args.asterisk_nice, args.media))
    sys.exit(0)
