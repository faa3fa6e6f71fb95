"""Benchmark (d): how many calls this box transcribes live through the ASR pool before latency passes 3 s, with one
worker process and with two.

    .venv/bin/python -m bench.asr_pool [--configs 1x2,2x1,2x2] [--levels 1,2,3,4,6,8] [--seconds 30]

A real redis-server with the center's ACL users; real ``hotline asr worker`` processes (``WxT``: W processes with T
Whisper threads each) as the ``asr`` user; one media server's ``AsrClient`` as the ``ivr`` user. N simulated calls
talk at once: each alternates citizen and agent turns, each turn one real recording of 2–4 s (shared/stt-samples
at 8 kHz) spoken in real time followed by a 0.3–1.0 s gap, so a call keeps about one phrase a second of audio
coming. A phrase is submitted the moment its audio ends; its latency is end of phrase → result at the client. A
phrase shed (by the client or a worker) or lost counts as a latency of infinity, so "p99 ≤ 3 s" also means at most
1 % not transcribed. Each level runs ``--seconds`` of calls, then waits until every phrase is answered; a config
stops after two levels in a row fail. The machine's load average is printed with each level: other work on the
box takes cores from the workers.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import tempfile
import time
import uuid
import wave
from dataclasses import dataclass, field
from pathlib import Path

import redis

from agi_scripts.app import redis_client
from bench.asr_workers import asr_workers, worker_env
from bench.stats import pct
from hotline import access
from hotline.contracts.asr import STATS_KEY, WORKERS_KEY, PhraseJob, PhraseResult
from hotline.paths import Paths
from ivr.asr.client import AsrClient, AsrUnavailable
from ivr.speech.whisper_engine import assemble_model
from tests.support.redis_server import RedisServer
from tests.support.samples import SAMPLES, to_8k

LIMIT = 3.0   # seconds, end of phrase → transcript


def phrases(workdir: Path) -> list[bytes]:
    """The recordings of 2–4 s, as 8 kHz 16-bit mono PCM."""
    found = []
    for path in sorted(SAMPLES.glob("*.wav")):
        with wave.open(str(to_8k(path.stem, workdir))) as wav:
            if 2.0 <= wav.getnframes() / wav.getframerate() <= 4.0:
                found.append(wav.readframes(wav.getnframes()))
    return found


@dataclass
class Level:
    calls: int
    latencies: dict[str, list[float]] = field(default_factory=lambda: {"citizen": [], "agent": []})
    statuses: dict[str, int] = field(default_factory=dict)
    unavailable: int = 0   # submits Redis did not take within the client's timeout
    problems: list[str] = field(default_factory=list)

    def add(self, side: str, result: PhraseResult, latency: float) -> None:
        self.statuses[result.status] = self.statuses.get(result.status, 0) + 1
        if result.status in ("lost", "failed"):
            self.problems.append(f"{side} {result.status} after {latency:.1f} s: {result.error}")
        self.latencies[side].append(latency if result.status == "ok" else math.inf)

    @property
    def all(self) -> list[float]:
        return self.latencies["citizen"] + self.latencies["agent"]

    def p(self, q: float, side: str | None = None) -> float:
        return pct(self.latencies[side] if side else self.all, q)

    @property
    def not_done_share(self) -> float:
        return sum(1 for v in self.all if v == math.inf) / max(1, len(self.all))

    @property
    def passed(self) -> bool:
        return bool(self.all) and self.p(99) <= LIMIT


async def call(client: AsrClient, audio: list[bytes], level: Level, until: float, rng: random.Random,
               waits: list[asyncio.Future[None]]) -> None:
    call_id = uuid.uuid4().hex[:12]
    await asyncio.sleep(rng.uniform(0, 2.0))   # calls do not all start on the same frame
    side, seq = "citizen", {"citizen": 0, "agent": 0}
    while time.monotonic() < until:
        pcm = rng.choice(audio)
        await asyncio.sleep(len(pcm) / 16000)   # the phrase is being spoken
        job = PhraseJob(job_id=uuid.uuid4().hex, call_id=call_id, speaker=side, seq=seq[side], phase="conversation",
                        priority="agent" if side == "agent" else "citizen", reply_to="")
        seq[side] += 1
        ended = time.monotonic()
        try:
            future = await client.submit(job, pcm)
        except AsrUnavailable:
            level.unavailable += 1
        else:
            future.add_done_callback(lambda f, s=side, t=ended: level.add(s, f.result(), time.monotonic() - t))
            waits.append(asyncio.ensure_future(asyncio.wait([future])))
        await asyncio.sleep(rng.uniform(0.3, 1.0))
        side = "agent" if side == "citizen" else "citizen"


async def run_level(client: AsrClient, audio: list[bytes], calls: int, seconds: float, seed: int) -> Level:
    level = Level(calls)
    rng = random.Random(seed)
    waits: list[asyncio.Future[None]] = []
    until = time.monotonic() + seconds
    await asyncio.gather(*(call(client, audio, level, until, random.Random(rng.random()), waits)
                           for _ in range(calls)))
    if waits:
        await asyncio.gather(*waits)   # every future resolves: a result, or lost at its deadline
    return level


def row(config: str, level: Level) -> str:
    n = len(level.all)
    ok = level.statuses.get("ok", 0)
    ok_lat = sorted(v for v in level.all if v != math.inf)
    return (f"{config:5} | {level.calls:5} | {n:7} | {pct(ok_lat, 50):8.2f} | {level.p(99):7.2f} | "
            f"{level.p(99, 'citizen'):7.2f} | {level.p(99, 'agent'):7.2f} | {1 - ok / max(1, n):6.1%} | "
            f"{level.statuses.get('shed', 0):4} | {level.statuses.get('lost', 0) + level.unavailable:4} | "
            f"{os.getloadavg()[0]:4.1f} | {'yes' if level.passed else 'no'}")


async def main(configs: list[tuple[int, int]], levels: list[int], seconds: float) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-asr-") as tmp:
        work = Path(tmp)
        audio = phrases(work / "8k")
        model = assemble_model(Paths.from_env().home / "models" / "whisper-base")
        server = RedisServer.start(work / "redis")
        env = worker_env(work, server, model)
        admin = redis.Redis.from_url(server.authenticated_url, decode_responses=True)
        ivr = redis_client(server.url, server.passwords[access.REDIS_IVR_SECRET])
        client = AsrClient(ivr, "bench")
        await client.start()
        print(f"# {len(audio)} recordings of 2-4 s; {seconds:.0f} s of calls per level; p99 counts shed/lost as "
              f"infinite; {os.cpu_count()} cores", flush=True)
        print("# WxT   | calls | phrases | p50 (ok) | p99 all | p99 cit | p99 agt | not ok | shed | lost | load | "
              "p99<=3s", flush=True)
        best: dict[str, int] = {}
        try:
            for count, threads in configs:
                name = f"{count}x{threads}"
                admin.delete(WORKERS_KEY)
                async with asr_workers(server, env, [f"bench-{i}" for i in range(count)], threads):
                    await run_level(client, audio, count, 4, seed=0)   # warm-up: each model's first phrases
                    failures = 0
                    for calls in levels:
                        level = await run_level(client, audio, calls, seconds, seed=calls)
                        print(row(name, level), flush=True)
                        for problem in level.problems + [f"{level.unavailable} submits refused"] * bool(
                                level.unavailable):
                            print(f"#   {problem}", flush=True)
                        if level.passed:
                            best[name] = max(best.get(name, 0), calls)
                            failures = 0
                        else:
                            failures += 1
                            if failures == 2:
                                break
            stats = admin.hgetall(STATS_KEY)
            print(f"# pool counters: {json.dumps(stats, sort_keys=True)}")
            for count, threads in configs:
                name = f"{count}x{threads}"
                print(f"# {name}: {count} worker process(es) x {threads} thread(s): highest N with p99 <= "
                      f"{LIMIT:.0f} s: {best.get(name, 0)} calls", flush=True)
        finally:
            await client.stop()
            await ivr.aclose()
            admin.close()
            server.stop()


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--configs", default="1x2,2x1,2x2", help="W x T: worker processes x Whisper threads each")
    parser.add_argument("--levels", default="1,2,3,4,6,8", help="concurrent calls per level")
    parser.add_argument("--seconds", type=float, default=30.0, help="seconds of calls per level")
    return parser.parse_args()


if __name__ == "__main__":
    args = parse()
    asyncio.run(main([(int(w), int(t)) for w, t in (c.split("x") for c in args.configs.split(","))],
                     [int(n) for n in args.levels.split(",")], args.seconds))
