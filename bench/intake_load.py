"""Queue-first intake under load (issue 12 (f)): many callers waiting in the queue at once, each describing the
matter, with the ASR pool shedding what it cannot transcribe in time.

A private center (Asterisk 22, FastAGI + AudioSocket media server in this process, a real Redis) in queue-first
mode, with no agent logged in, so everyone waits. ``--callers`` simulated citizens (Local channels, which the
site's per-source rate limit does not count and which use no RTP port) arrive spread evenly over ``--within``
seconds; each waits for the greeting, joins the queue, speaks ``--phrases`` real recordings (8 kHz copies of
shared/stt-samples, cycled) with a short pause between them, then stays on the line until the bench ends the call,
``--hold`` seconds after the last arrival. The ASR pool is ``--workers`` separate worker processes
(``hotline asr worker`` on Whisper base with the site's decoding, as ``hotline run`` starts them, ``--threads``
each).

Measured:
  calls        joined the queue (QueueCallerJoin), still held at the end of the hold (joined, neither
               QueueCallerLeave nor Hangup; cross-checked with AMI QueueSummary), dropped (a citizen's channel
               that hung up before the bench ended the call: must be 0)
  queue        arrival (Newchannel of the inbound half) → QueueCallerJoin, p50/p99
  phrases      submitted by the media server and what came of each (ok / shed / lost / failed), as the media
               server's client saw it, with hotline:asr:stats and the speaker turns in Redis beside it
  share        calls with at least one ok turn in hotline:transcript:<call id>
  latency      submit → result at the media server, of ok phrases (queue wait + Whisper compute)
  CPU          seconds of Asterisk, of this Python process (the media server's FastAGI + AudioSocket + listening
               sessions, *and* the harness: citizens' FastAGI, the AMI event log), of the worker processes and of
               Redis, from the first arrival to the end of the hold

    .venv/bin/python -m bench.intake_load --callers 200 --within 60 --workers 1 [--hold 120]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import logging
import os
import resource
import subprocess
import sys
import tempfile
import threading
import traceback
import time
import wave
from dataclasses import dataclass, field
from pathlib import Path

from agi_scripts.routes import Route
from bench.asr_workers import asr_workers, worker_env
from bench.stats import pct
from hotline.ami import AmiEvent
from hotline.channelvars import CTX_LISTEN
from hotline.contracts.asr import STATS_KEY, deadline as deadline_of, PhraseJob, PhraseResult
from hotline.contracts.transcript import Turn
from hotline.contracts.transcript import key as transcript_key
from hotline.site import Intake
from ivr.asr.client import AsrClient
from tests.support.asr import asr_pool
from tests.support.caller import Citizen
from tests.support.center import running_center
from tests.support.ivr import IvrRig, ivr_rig

# Real recordings without emergency words (those would take the caller out of the queue), 3.3–4.5 s each.
SAMPLES = ("BAC009S0150W0015", "BAC009S0150W0101", "BAC009S0150W0201", "BAC009S0252W0151",
           "BAC009S0724W0121", "BAC009S0764W0121")
CLK_TCK = os.sysconf("SC_CLK_TCK")


# ── what the bench watches ─────────────────────────────────────────────────────────────────────────────
def proc_cpu(pid: int | None) -> float:
    """User + system CPU seconds of a process (all its threads) from /proc; NaN when it is gone."""
    if pid is None:
        return float("nan")
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / CLK_TCK   # utime, stime (fields 14 and 15 of stat)


def box_cpu() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, from /proc/stat: every process, ours or not."""
    with open("/proc/stat", encoding="ascii") as fh:
        values = [int(x) for x in fh.readline().split()[1:]]
    idle = values[3] + values[4]   # idle + iowait
    return (sum(values[:8]) - idle) / CLK_TCK, sum(values[:8]) / CLK_TCK


class LoopLag:
    """How late this process's event loop wakes up (the media server, the FastAGI server and the harness share
    it): a stall of a second or two stops the listening legs' paced silence, and AudioSocket() gives up."""

    def __init__(self, tick: float = 0.05):
        self.tick = tick
        self.lags: list[float] = []
        self.stalls: list[tuple[float, float]] = []   # (when, seconds) of every lag over 0.5 s
        self.stacks: collections.Counter[str] = collections.Counter()   # where the loop's thread was during stalls
        self.beat = time.monotonic()
        self._watching = threading.Event()

    def watch(self) -> None:
        """A thread that samples the loop thread's stack while the loop is more than 0.5 s late."""
        loop_thread = threading.get_ident()

        def sample() -> None:
            while not self._watching.wait(0.1):
                if time.monotonic() - self.beat > 0.5:
                    frame = sys._current_frames().get(loop_thread)
                    if frame is not None:
                        self.stacks["".join(traceback.format_stack(frame)[-6:])] += 1

        threading.Thread(target=sample, name="loop-watchdog", daemon=True).start()

    def stop(self) -> None:
        self._watching.set()

    async def run(self, started: float) -> None:
        while True:
            before = self.beat = time.monotonic()
            await asyncio.sleep(self.tick)
            lag = time.monotonic() - before - self.tick
            self.lags.append(lag)
            if lag > 0.5:
                self.stalls.append((time.monotonic() - started, lag))


def self_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@dataclass
class Calls:
    """Per call (the citizen's Local channel id): what AMI said, recorded as it arrives (O(1) per event)."""

    cids: set[str] = field(default_factory=set)
    originated: dict[str, float] = field(default_factory=dict)
    arrived: dict[str, float] = field(default_factory=dict)      # Newchannel of the inbound half (<cid>-2)
    joined: dict[str, float] = field(default_factory=dict)       # first QueueCallerJoin
    queue_of: dict[str, str] = field(default_factory=dict)
    left: dict[str, float] = field(default_factory=dict)         # QueueCallerLeave
    hung_up: dict[str, tuple[float, str, str]] = field(default_factory=dict)  # first Hangup of either half
    queued: dict[str, asyncio.Event] = field(default_factory=dict)
    listen_legs: int = 0
    listen_legs_ended: list[float] = field(default_factory=list)
    events: int = 0

    def add(self, cid: str) -> None:
        self.cids.add(cid)
        self.queued[cid] = asyncio.Event()

    def __call__(self, e: AmiEvent) -> None:
        self.events += 1
        if e.name == "Newchannel":
            if e.get("Channel").startswith(f"Local/citizen@{CTX_LISTEN}-") and e.get("Channel").endswith(";1"):
                self.listen_legs += 1
            uid = e.get("Uniqueid")
            if uid.endswith("-2") and uid[:-2] in self.cids:
                self.arrived.setdefault(uid[:-2], e.received)
        elif e.name == "QueueCallerJoin":
            cid = e.get("Linkedid")
            if cid in self.cids and cid not in self.joined:
                self.joined[cid] = e.received
                self.queue_of[cid] = e.get("Queue")
                self.queued[cid].set()
        elif e.name == "QueueCallerLeave":
            cid = e.get("Linkedid")
            if cid in self.cids:
                self.left.setdefault(cid, e.received)
        elif e.name == "Hangup":
            uid = e.get("Uniqueid")
            cid = uid[:-2] if uid.endswith("-2") else uid
            if cid in self.cids:
                self.hung_up.setdefault(cid, (e.received, e.get("Channel"), f"{e.get('Cause')} {e.get('Cause-txt')}"))
            elif e.get("Channel").startswith(f"Local/citizen@{CTX_LISTEN}-") and e.get("Channel").endswith(";1"):
                self.listen_legs_ended.append(e.received)


class Meter:
    """The media server's ASR client, timed: every phrase submitted and what came of it (a ``Transcriber``)."""

    def __init__(self, client: AsrClient):
        self.client = client
        self.submitted = 0
        self.unavailable = 0
        self.cancelled = 0
        self.results: list[tuple[PhraseJob, PhraseResult, float]] = []   # job, result, submit → result seconds
        self.submitted_at: list[float] = []   # monotonic time of every submission

    @property
    def reply_stream(self) -> str:
        return self.client.reply_stream

    @property
    def outstanding(self) -> int:
        return self.submitted - len(self.results) - self.cancelled

    async def submit(self, job: PhraseJob, audio: bytes) -> asyncio.Future[PhraseResult]:
        started = time.monotonic()
        try:
            future = await self.client.submit(job, audio)
        except Exception:
            self.unavailable += 1
            raise
        self.submitted += 1
        self.submitted_at.append(started)

        def done(f: asyncio.Future[PhraseResult]) -> None:
            if f.cancelled():   # the listening session stopped waiting for it (its drain ran out)
                self.cancelled += 1
            elif f.exception() is None:
                self.results.append((job, f.result(), time.monotonic() - started))

        future.add_done_callback(done)
        return future


class Problems(logging.Handler):
    """Every WARNING or worse this process logs (the media server, the FastAGI server, the listening sessions)."""

    def __init__(self, path: Path):
        super().__init__(logging.WARNING)
        self.counts: collections.Counter[str] = collections.Counter()
        self.file = path.open("w", encoding="utf-8")
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.counts[f"{record.levelname} {record.name}: {record.msg if isinstance(record.msg, str) else ''}"[:140]] += 1
        self.file.write(self.format(record) + "\n")
        self.file.flush()


# ── the run ────────────────────────────────────────────────────────────────────────────────────────────
def seconds_of(path: Path) -> float:
    with wave.open(str(path)) as w:
        return w.getnframes() / w.getframerate()


async def read_turns(rig: IvrRig, call_id: str) -> list[Turn]:
    return [Turn.decode(fields[b"turn"]) for _id, fields in await rig.redis.xrange(transcript_key(call_id))]


async def run(args: argparse.Namespace) -> None:
    artifacts = Path(args.artifacts or tempfile.mkdtemp(prefix="bench-intake-load-"))
    artifacts.mkdir(parents=True, exist_ok=True)
    problems = Problems(artifacts / "python-warnings.log")
    logging.getLogger().addHandler(problems)
    logging.getLogger().setLevel(logging.INFO)
    with tempfile.TemporaryDirectory(prefix="bench-intake-load-") as tmp:
        home = Path(tmp)
        from ivr.speech.whisper_engine import assemble_model

        model = assemble_model(home / "whisper-base")
        async with running_center(home / "center", artifacts=artifacts) as center:
            # Citizens are Local channels, which the per-source limit does not count; raised anyway, so a change
            # there could never be what this bench measures.
            center.apply_site(inbound_calls_per_source=max(100, 2 * args.callers))
            async with ivr_rig(center, None, home / "ivr", samples=SAMPLES, intake=Intake()) as rig, \
                    asr_pool(rig.redis_server, None, 0, name="load") as pool, \
                    asr_workers(rig.redis_server, worker_env(home, rig.redis_server, model),
                                [f"load-{os.getpid()}-{i}" for i in range(args.workers)], args.threads,
                                log_dir=artifacts) as workers:
                meter = Meter(pool.client)
                rig.services.asr = meter   # the media server's pool client: listening legs start from now on
                # A citizen's FastAGI route lives as long as the call (the harness's default is 300 s).
                caller = rig.citizens.server.routes["caller"]
                rig.citizens.server.routes["caller"] = Route(caller.handler, timeout=args.within + args.hold + 600)
                await measure(args, center, rig, meter, workers, problems, artifacts)
    logging.getLogger().removeHandler(problems)


async def measure(args, center, rig: IvrRig, meter: Meter, workers: list[subprocess.Popen], problems: Problems,
                  artifacts: Path) -> None:
    calls = Calls()
    center.ami.subscribe(calls)
    greeting = seconds_of(center.paths.sounds / "line-12345-greeting.wav")
    end = asyncio.Event()
    spoke: dict[str, float] = {}
    script_errors: dict[str, BaseException] = {}

    def script(i: int):
        async def citizen(c: Citizen) -> None:
            try:
                await asyncio.wait_for(calls.queued[c.cid].wait(), 120)
                for k in range(args.phrases):
                    await c.say(SAMPLES[(i + k) % len(SAMPLES)])
                    if k + 1 < args.phrases:
                        await c.quiet(args.gap)
                spoke[c.cid] = time.monotonic()
                await end.wait()
            except BaseException as exc:
                if not end.is_set():
                    script_errors[c.cid] = exc
                raise
            await c.hang_up()
        return citizen

    pids = {"asterisk": center.asterisk.pid(), "redis": rig.redis_server.proc.pid,
            **{f"worker {i}": p.pid for i, p in enumerate(workers)}}
    cpu0 = {name: proc_cpu(pid) for name, pid in pids.items()}
    cpu0["python (this process)"] = self_cpu()
    stats0 = await rig.redis.hgetall(STATS_KEY)
    print(f"# {args.callers} callers within {args.within:.0f} s, {args.phrases} recordings each, hold "
          f"{args.hold:.0f} s after the last arrival; {args.workers} ASR worker process(es), Whisper base, "
          f"{args.threads} thread(s) each; {os.cpu_count()} cores; greeting {greeting:.2f} s", flush=True)
    started = time.monotonic()
    originate_errors: list[str] = []

    async def arrive(i: int) -> None:
        await asyncio.sleep(max(0.0, started + i * args.within / args.callers - time.monotonic()))
        cid = center.new_call_id()
        calls.add(cid)
        calls.originated[cid] = time.monotonic()
        try:
            rig.citizens.scripts[cid] = script(i)
            rig.citizens.done[cid] = asyncio.get_running_loop().create_future()
            await center.ami.originate(
                "Local/12345@hotline-inbound", caller_id=f'"市民" <139{i:08d}>', channel_id=cid,
                application="AGI", data=f"agi://127.0.0.1:{rig.citizens.server.port}/caller", timeout_ms=60000)
        except Exception as exc:
            originate_errors.append(f"{cid}: {exc!r}")

    lag = LoopLag()
    lagging = asyncio.create_task(lag.run(started))
    lag.watch()
    box0 = box_cpu()
    progress = asyncio.create_task(report_progress(calls, meter, started, lag))
    await asyncio.gather(*(arrive(i) for i in range(args.callers)))
    last_arrival = time.monotonic()
    await asyncio.sleep(max(0.0, last_arrival + args.hold - time.monotonic()))
    ended_at = time.monotonic()
    # Calls held now: joined, not left, not hung up; and what Asterisk itself says of its queues.
    held = [c for c in calls.joined if c not in calls.left and c not in calls.hung_up]
    summary = await center.ami.action_list({"Action": "QueueSummary"})
    queue_callers = sum(int(e.get("Callers") or 0) for e in summary if e.name == "QueueSummary")
    channels = (await asyncio.to_thread(center.asterisk.cli, "core show channels count", False)).strip().splitlines()
    cpu1 = {name: proc_cpu(pid) for name, pid in pids.items()}
    cpu1["python (this process)"] = self_cpu()
    box1 = box_cpu()
    outstanding_at_end = meter.outstanding
    progress.cancel()
    lagging.cancel()
    lag.stop()
    audiosocket_timeouts = center.messages_log().count("app_audiosocket.c: Reached timeout")

    # End the calls (each citizen hangs up), let the listening sessions write their last turns.
    end.set()
    deadline = time.monotonic() + deadline_of("waiting") + 10   # the client resolves every phrase by then
    while time.monotonic() < deadline and (meter.outstanding or len(calls.listen_legs_ended) < calls.listen_legs):
        await asyncio.sleep(0.5)
    await asyncio.sleep(2)
    dropped = {c: calls.hung_up[c] for c in calls.cids if c in calls.hung_up and calls.hung_up[c][0] < ended_at}
    legs_lost = [t for t in calls.listen_legs_ended if t < ended_at]

    # Turns as the desk reads them.
    turns = {c: await read_turns(rig, rig.call_id(c)) for c in calls.cids}
    turn_status = collections.Counter(t.status for ts in turns.values() for t in ts)
    with_ok = sum(1 for ts in turns.values() if any(t.status == "ok" for t in ts))
    stats1 = await rig.redis.hgetall(STATS_KEY)
    pool_stats = {k.decode(): int(v) - int(stats0.get(k, 0)) for k, v in stats1.items()}

    statuses = collections.Counter(r.status for _j, r, _s in meter.results)
    ok_latency = [s for _j, r, s in meter.results if r.status == "ok"]
    written = {(t.call_id, t.seq) for ts in turns.values() for t in ts}
    no_turn = collections.Counter(r.status for j, r, _s in meter.results if (j.call_id, j.seq) not in written
                                  and not (r.status == "ok" and not r.text.strip()))
    last_word = max(spoke.values(), default=started)
    late = sum(1 for t in meter.submitted_at if t > last_word + 2)
    ok_compute = [r.compute_seconds for _j, r, _s in meter.results if r.status == "ok"]
    queue_wait = [calls.joined[c] - calls.arrived[c] for c in calls.joined if c in calls.arrived]
    setup = [calls.arrived[c] - calls.originated[c] for c in calls.arrived]
    span = ended_at - started

    print(f"\n# run: arrivals over {last_arrival - started:.1f} s, held until {span:.1f} s; {calls.events} AMI events")
    rows = [
        ("callers originated", f"{len(calls.cids)}"
         + (f" ({len(originate_errors)} originate errors)" if originate_errors else "")),
        ("joined the queue", f"{len(calls.joined)}  ({dict(collections.Counter(calls.queue_of.values()))})"),
        ("held at the end of the hold", f"{len(held)}  (AMI QueueSummary: {queue_callers} callers waiting; "
         f"{'; '.join(channels)})"),
        ("dropped (hung up before the end)", f"{len(dropped)}"),
        ("listening legs started / ended early", f"{calls.listen_legs} / {len(legs_lost)}  (AudioSocket() timeouts "
         f"in Asterisk's log: {audiosocket_timeouts})"),
        ("arrival → queue join p50 / p99 / max", f"{pct(queue_wait, 50):.2f} / {pct(queue_wait, 99):.2f} / "
         f"{max(queue_wait, default=float('nan')):.2f} s (greeting {greeting:.2f} s)"),
        ("originate → arrival p50 / p99", f"{pct(setup, 50):.2f} / {pct(setup, 99):.2f} s"),
        ("phrases submitted", f"{meter.submitted}  (+{meter.unavailable} not taken by Redis; "
         f"{outstanding_at_end} still out at the end of the hold)"),
        ("  ok / shed / lost / failed", " / ".join(str(statuses.get(s, 0)) for s in ("ok", "shed", "lost", "failed"))
         + f"  (as the media server got them; {meter.cancelled} given up by their session, no turn)"),
        ("  resolved but no turn written", ", ".join(f"{k} {v}" for k, v in sorted(no_turn.items())) or "0"),
        ("citizens done speaking (after start)", f"p50 {pct([t - started for t in spoke.values()], 50):.0f} s, "
         f"last {last_word - started:.0f} s; {len(spoke)} of {len(calls.cids)} said everything"),
        ("phrases submitted > 2 s after the last word", f"{late}  (the listening legs' audio running behind)"),
        ("  pool counters (hotline:asr:stats)", ", ".join(f"{k} {v}" for k, v in sorted(pool_stats.items()))),
        ("  turns in Redis ok / shed / lost", " / ".join(str(turn_status.get(s, 0)) for s in ("ok", "shed", "lost"))
         + "  (an ok phrase with no words writes no turn)"),
        ("calls with ≥ 1 ok turn", f"{with_ok} / {len(calls.cids)}  ({with_ok / max(1, len(calls.cids)):.0%})"),
        ("ok phrase submit → text p50 / p99", f"{pct(ok_latency, 50):.2f} / {pct(ok_latency, 99):.2f} s "
         f"(Whisper compute p50 {pct(ok_compute, 50):.2f} s)"),
        ("pool throughput", f"{statuses.get('ok', 0) / span:.2f} ok phrases/s over the run"),
    ]
    for name in cpu0:
        used = cpu1[name] - cpu0[name]
        rows.append((f"CPU {name}", f"{used:7.1f} s  ({used / span:.0%} of one core)"))
    ours = sum(cpu1[n] - cpu0[n] for n in cpu0)
    busy, total = box1[0] - box0[0], box1[1] - box0[1]
    rows.append(("CPU all other processes on the box", f"{busy - ours:7.1f} s  (the box was {busy / total:.0%} busy "
                                                       f"over {os.cpu_count()} cores)"))
    rows.append(("media server event loop lag p50 / p99 / max",
                 f"{pct(lag.lags, 50) * 1000:.0f} / {pct(lag.lags, 99) * 1000:.0f} / "
                 f"{max(lag.lags, default=0) * 1000:.0f} ms; {len(lag.stalls)} stalls over 0.5 s"
                 + (f" (at {', '.join(f'{t:.0f} s: {d:.1f} s' for t, d in lag.stalls[:8])})" if lag.stalls else "")))
    width = max(len(r[0]) for r in rows)
    for label, value in rows:
        print(f"{label:<{width}} | {value}")

    if dropped:
        print("\n# dropped calls (first 5):")
        for cid, (at, channel, cause) in list(dropped.items())[:5]:
            print(f"{cid} at {at - started:.1f} s: {channel} ({cause}); script: {script_errors.get(cid)!r}\n"
                  f"{rig.trail(cid)}")
    if originate_errors:
        print("# originate errors (first 5): " + "; ".join(originate_errors[:5]))
    never = [c for c in calls.cids if c not in calls.joined]
    if never:
        print(f"# {len(never)} calls never joined a queue; first: {never[0]}\n{rig.trail(never[0])}")
    if lag.stacks:
        print("\n# where the event loop's thread was while it was over 0.5 s late (samples every 0.1 s, top 3):")
        for stack, count in lag.stacks.most_common(3):
            print(f"--- {count} samples\n{stack}")
    if problems.counts:
        print("\n# warnings and errors logged by this process (count, first 140 characters of the message):")
        for message, count in problems.counts.most_common(12):
            print(f"{count:6d}  {message}")
    print(f"\n# logs: {artifacts} (python-warnings.log, the workers' logs; Asterisk's after the center stops)")


async def report_progress(calls: Calls, meter: Meter, started: float, lag: LoopLag) -> None:
    box = box_cpu()
    while True:
        await asyncio.sleep(10)
        now = box_cpu()
        busy, box = (now[0] - box[0]) / (now[1] - box[1]), now
        recent = lag.lags[-200:]
        waiting = len([c for c in calls.joined if c not in calls.left and c not in calls.hung_up])
        statuses = collections.Counter(r.status for _j, r, _s in meter.results)
        print(f"  t={time.monotonic() - started:5.0f} s  arrived {len(calls.arrived):4d}  waiting {waiting:4d}  "
              f"hung up {len(calls.hung_up):3d}  phrases {meter.submitted:4d} (ok {statuses.get('ok', 0)}, "
              f"shed {statuses.get('shed', 0)}, lost {statuses.get('lost', 0)}, out {meter.outstanding})  "
              f"box {busy:.0%} busy, loop lag max {max(recent, default=0):.2f} s",
              flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--callers", type=int, default=200)
    parser.add_argument("--within", type=float, default=60.0, help="seconds over which the callers arrive")
    parser.add_argument("--workers", type=int, default=1, help="ASR worker processes")
    parser.add_argument("--threads", type=int, default=2, help="Whisper threads per worker (the site's default: 2)")
    parser.add_argument("--hold", type=float, default=120.0,
                        help="seconds every caller stays on the line after the last one arrived")
    parser.add_argument("--phrases", type=int, default=3, help="recordings each caller says while waiting")
    parser.add_argument("--gap", type=int, default=2, help="seconds of silence between two recordings")
    parser.add_argument("--artifacts", help="where logs go (default: a new directory under /tmp)")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
