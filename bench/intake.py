"""Queue-first intake (issue 12), through the real call path: Asterisk 22, FastAGI + AudioSocket, the ASR pool
(Whisper base workers over Redis Streams), the desk; simulated citizens speaking real 8 kHz recordings.

(a) arrival → QueueCallerJoin, queue-first beside the menu flow, in one run. *Arrival* is the inbound half's
    Newchannel, *queued* its QueueCallerJoin (AMI). The menu caller behaves as a new caller: they hear each
    prompt to its end before keying (menu 2 投诉, city 06 琼海), then describe the matter (a real recording)
    and stop; the menu flow queues them after its 2 s end-of-speech pause.
(b) the share of calls whose pop would carry a transcript after a wait of W s: the caller starts describing the
    matter 2 s after joining the queue; the prefill in Redis at W s after the join is what the pop shows.
(c) live-transcript latency with one call: the agent has answered; the citizen says phrases with pauses; from
    the end of each phrase (the citizen's playback ends: AGIExecEnd on the citizen's half) to its turn on the
    agent's desk WebSocket.

    .venv/bin/python -m bench.intake [--calls 10] [--waits 10,20,40] [--per-wait 6] [--phrases 8] [--workers 1]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
import wave
from pathlib import Path

import websockets
from sqlalchemy import select

from agent_desk.db.models import User
from bench.stats import pct
from hotline.contracts.prefill import key as prefill_key
from hotline.site import Intake
from ivr.speech.whisper_engine import WhisperEngine, assemble_model
from tests.support.agents import hang_up_everything, logged_in, softphones
from tests.support.caller import Citizen
from tests.support.center import Center, running_center
from tests.support.desk import center_desk
from tests.support.ivr import MENU, IvrRig, ivr_rig

SAMPLES = ["BAC009S0150W0015", "BAC009S0252W0438", "BAC009S0150W0101", "BAC009S0150W0201", "BAC009S0252W0476"]
LINES = ["12345", "12318"]   # the main number, and a merged line with its longer greeting


def seconds_of(path: Path) -> float:
    with wave.open(str(path)) as w:
        return w.getnframes() / w.getframerate()


def arrival(rig: IvrRig, cid: str) -> float:
    return next(e.received for e in rig.center.events.events
                if e.name == "Newchannel" and e.get("Uniqueid") == rig.call_id(cid))


async def joined(rig: IvrRig, cid: str) -> float:
    event = await rig.center.events.wait_for(
        lambda e: e.name == "QueueCallerJoin" and e.get("Linkedid") == cid, 180, f"call {cid} queued")
    return event.received


def row(label: str, values: list[float]) -> str:
    return f"{label:<28} | {pct(values, 50):6.1f} | {pct(values, 99):6.1f} | {max(values):6.1f} | {len(values):>3}"


# ── (a) ────────────────────────────────────────────────────────────────────────────────────────────────
async def to_queue(rig: IvrRig, line: str, script, n: int, tag: int) -> list[float]:
    took = []
    for i in range(n):
        cid = await rig.citizens.call(line, script, caller_id=f"139075{tag:02d}{i:03d}")
        took.append(await joined(rig, cid) - arrival(rig, cid))
        await hang_up_everything(rig.center)
    return took


async def bench_arrival_to_queue(center: Center, home: Path, engine: WhisperEngine, calls: int, workers: int) -> None:
    sounds = center.paths.sounds

    async def new_caller_menu(c: Citizen) -> None:
        await c.until_center_runs("ivr-menu")
        await asyncio.sleep(seconds_of(sounds / "ivr-menu.wav"))
        await c.press("2")
        await c.until_center_runs("ivr-city")
        await asyncio.sleep(seconds_of(sounds / "ivr-city.wav"))
        await c.press("06")
        await c.until_center_runs("EXEC AudioSocket")
        await c.say(SAMPLES[0])
        await c.quiet(4)
        await asyncio.sleep(60)

    async def queue_first(c: Citizen) -> None:
        await c.until_queued()
        await asyncio.sleep(60)

    results: dict[tuple[str, str], list[float]] = {}
    async with ivr_rig(center, None, home / "qf", samples=tuple(SAMPLES), intake=Intake(), asr_engine=engine,
                       asr_workers=workers) as rig:
        for line in LINES:
            results[("queue-first", line)] = await to_queue(rig, line, queue_first, calls, 1)
    async with ivr_rig(center, engine, home / "menu", samples=tuple(SAMPLES), intake=MENU) as rig:
        for line in LINES:
            results[("menu (new caller)", line)] = await to_queue(rig, line, new_caller_menu, calls, 2)
    print(f"\n# (a) arrival → QueueCallerJoin, {calls} calls each, one at a time")
    print(f"{'flow / line':<28} | {'p50 s':>6} | {'p99 s':>6} | {'max s':>6} | {'n':>3}")
    for line in LINES:
        qf, menu = results[("queue-first", line)], results[("menu (new caller)", line)]
        print(row(f"queue-first {line}", qf))
        print(row(f"menu (new caller) {line}", menu))
        print(f"{'  menu ÷ queue-first (p50)':<28} | {pct(menu, 50) / pct(qf, 50):6.1f}×")


# ── (b) ────────────────────────────────────────────────────────────────────────────────────────────────
async def bench_pop_has_transcript(center: Center, home: Path, engine: WhisperEngine, waits: list[int],
                                   per_wait: int, workers: int) -> None:
    print(f"\n# (b) pops with a transcript after a wait of W s ({per_wait} calls per W, all waiting at once, "
          f"describing from 2 s after the join; {workers} ASR worker(s))")
    print(f"{'W s':>4} | {'with transcript':>15} | {'share':>6}")
    async with ivr_rig(center, None, home / "pop", samples=tuple(SAMPLES), intake=Intake(), asr_engine=engine,
                       asr_workers=workers) as rig:
        for wait in waits:
            async def one(i: int, wait: int = wait) -> bool:
                sample = SAMPLES[i % len(SAMPLES)]

                async def citizen(c: Citizen) -> None:
                    await c.until_queued()
                    await c.quiet(2)
                    await c.say(sample)
                    await asyncio.sleep(wait + 30)

                cid = await rig.citizens.call("12345", citizen, caller_id=f"13908{wait:03d}{i:03d}")
                at = await joined(rig, cid)
                await asyncio.sleep(max(0.0, at + wait - time.monotonic()))
                raw = await rig.redis.get(prefill_key(rig.call_id(cid)))
                return bool(raw and json.loads(raw)["transcript"])

            got = await asyncio.gather(*(one(i) for i in range(per_wait)))
            await hang_up_everything(center)
            print(f"{wait:>4} | {sum(got):>15} | {sum(got) / len(got):6.0%}", flush=True)


# ── (c) ────────────────────────────────────────────────────────────────────────────────────────────────
async def bench_live_latency(center: Center, home: Path, engine: WhisperEngine, phrases: int, workers: int) -> None:
    async with ivr_rig(center, None, home / "live", samples=tuple(SAMPLES), intake=Intake(), asr_engine=engine,
                       asr_workers=workers) as rig, center_desk(center, f"sqlite:///{home}/desk.sqlite3",
                                                                rig.redis_server.user_url("desk")) as desk:
        extension = softphones(center)[0]
        with desk.rig.app.state.db.session() as session:
            session.scalar(select(User).where(User.username == desk.rig.user("agent"))).extension = extension
        ended: list[float] = []
        arrived: list[tuple[int, float]] = []
        async with logged_in(center, extension), websockets.connect(
                desk.url.replace("http", "ws") + "/ws/desk", additional_headers=desk.rig.as_("agent")) as socket:
            json.loads(await socket.recv())
            talking = asyncio.Event()

            async def citizen(c: Citizen) -> None:
                await talking.wait()
                await c.quiet(2)
                for i in range(phrases):
                    await c.say(SAMPLES[i % len(SAMPLES)])
                    ended.append(time.monotonic())
                    await c.quiet(3)
                await asyncio.sleep(30)

            cid = await rig.citizens.call("12345", citizen, caller_id="13909000001")
            call_id = rig.call_id(cid)
            deadline = time.monotonic() + 120 + phrases * 10
            while time.monotonic() < deadline and len(arrived) < phrases:
                message = json.loads(await asyncio.wait_for(socket.recv(), 60))
                if message["type"] == "pop":
                    talking.set()
                if (message["type"] == "turn" and message["call_id"] == call_id
                        and message["turn"]["speaker"] == "citizen"):
                    arrived.append((message["turn"]["seq"], time.monotonic()))
            await hang_up_everything(center)
        latencies = [at - ended[seq] for seq, at in arrived if seq < len(ended)]
        print(f"\n# (c) end of a phrase → its turn on the agent's socket, one call in conversation, {phrases} phrases "
              f"(the phrase ends after a 0.5 s pause; {workers} ASR worker(s))")
        print(f"{'':<28} | {'p50 s':>6} | {'p99 s':>6} | {'max s':>6} | {'n':>3}")
        print(row("live turn latency", latencies))


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-intake-") as tmp:
        home = Path(tmp)
        async with running_center(home / "center") as center:
            engine = WhisperEngine(assemble_model(home / "whisper-base"))
            if "a" in args.parts:
                await bench_arrival_to_queue(center, home, engine, args.calls, args.workers)
            if "b" in args.parts:
                await bench_pop_has_transcript(center, home, engine, [int(w) for w in args.waits.split(",")],
                                               args.per_wait, args.workers)
            if "c" in args.parts:
                await bench_live_latency(center, home, engine, args.phrases, args.workers)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=10)
    parser.add_argument("--waits", default="10,20,40")
    parser.add_argument("--per-wait", type=int, default=6)
    parser.add_argument("--phrases", type=int, default=8)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--parts", default="abc")
    asyncio.run(main(parser.parse_args()))
