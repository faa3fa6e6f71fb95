"""Prefill latency: from the caller's last word to the final prefill in Redis, through the real call path.

A private center (Asterisk 22, FastAGI + AudioSocket, Whisper base, a real Redis) takes calls from
simulated citizens who walk the menu with DTMF and speak a real recording (8 kHz). *Last word* is when
the citizen's playback of the recording ends (AMI AGIExecEnd on the citizen's half); *prefill* is when
the final prefill is published on Redis. The IVR waits for a 2.0 s pause before it decides the caller
has finished (configurable in ivr/flows.yaml), so the figure is printed with and without that pause.

    .venv/bin/python -m bench.prefill_latency [--calls 12] [--concurrency 1,3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path

from ivr.flow import load_flows
from hotline.contracts.prefill import CHANNEL
from ivr.speech.whisper_engine import WhisperEngine, assemble_model
from tests.support.caller import Citizen
from tests.support.center import running_center
from tests.support.ivr import ivr_rig, wait_queued_then_hang_up

SAMPLES = ["BAC009S0150W0015", "BAC009S0252W0438", "BAC009S0150W0101", "BAC009S0150W0201"]


async def main(calls: int, levels: list[int]) -> None:
    pause = load_flows().describe.end_silence
    with tempfile.TemporaryDirectory(prefix="bench-prefill-") as home:
        async with running_center(Path(home) / "center") as center:
            engine = WhisperEngine(assemble_model(Path(home) / "whisper-base"))
            async with ivr_rig(center, engine, Path(home) / "ivr", samples=tuple(SAMPLES)) as rig:
                final_at: dict[str, float] = {}
                pubsub = rig.redis.pubsub()
                await pubsub.subscribe(CHANNEL)

                async def listen() -> None:
                    async for message in pubsub.listen():
                        if message["type"] == "message":
                            data = json.loads(message["data"])
                            if data["status"] in ("final", "no_speech", "failed"):
                                final_at.setdefault(data["call_id"], time.monotonic())

                listener = asyncio.create_task(listen())
                print(f"# prefill latency, Whisper base, {calls} calls per level, pause to end a description: "
                      f"{pause:.1f} s")
                print(f"{'N':>3} | {'p50 s':>6} | {'p90 s':>6} | {'max s':>6} | {'p50 − pause':>11} | transcribed")
                for n in levels:
                    latencies: list[float] = []
                    gate = asyncio.Semaphore(n)

                    async def one(i: int, n: int, gate: asyncio.Semaphore, latencies: list[float],
                                  said: dict[str, float]) -> None:
                        sample = SAMPLES[i % len(SAMPLES)]

                        async def citizen(c: Citizen) -> None:
                            await c.walk_to_description("2", city="06")
                            await c.say(sample)
                            said[c.cid] = time.monotonic()
                            await c.quiet(4)
                            await wait_queued_then_hang_up(c)

                        async with gate:
                            cid = await rig.citizens.call("12345", citizen, caller_id=f"13907{n:02d}{i:04d}")
                            try:
                                await rig.citizens.done[cid]
                            except Exception:
                                print(f"# call {cid} failed:\n{rig.trail(cid)}", flush=True)
                                raise
                            call_id = rig.call_id(cid)
                            for _ in range(300):
                                if call_id in final_at:
                                    break
                                await asyncio.sleep(0.05)
                            latencies.append(final_at[call_id] - said[cid])

                    said: dict[str, float] = {}
                    await asyncio.gather(*(one(i, n, gate, latencies, said) for i in range(calls)))
                    latencies.sort()
                    p50 = statistics.median(latencies)
                    print(f"{n:>3} | {p50:6.2f} | {latencies[int(0.9 * (len(latencies) - 1))]:6.2f} | "
                          f"{latencies[-1]:6.2f} | {p50 - pause:11.2f} | {len(latencies)}/{calls}", flush=True)
                listener.cancel()
                await pubsub.aclose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=12)
    parser.add_argument("--concurrency", default="1,3")
    args = parser.parse_args()
    asyncio.run(main(args.calls, [int(x) for x in args.concurrency.split(",")]))
