"""FastAGI vs classic AGI (pyst2): what the transport costs per call, side by side in one run.

Both run the same entry route and IVR against the same Asterisk. Per call the benchmark measures, from
AMI events, the time from Asterisk starting AGI() to the route's first command (FastAGI: connect and
headers to a running server; classic: starting a Python process in the root, imports, settings, the
speech model) and the time Asterisk spends per AGI command afterwards (the menu's first command).
Each call is hung up as soon as the menu starts.

    .venv/bin/python -m bench.agi_transport_cost [--calls 20]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from ivr.speech.whisper_engine import WhisperEngine, assemble_model
from tests.support.center import Center, running_center
from tests.support.ivr import ivr_rig


async def one_call(center: Center, cid: str) -> tuple[float, float]:
    await center.ami.originate("Local/12345@hotline-inbound", caller_id="<13907550001>", channel_id=cid)
    started = await center.events.wait_for(
        lambda e: e.name == "Newexten" and e.get("Application") == "AGI" and e.get("Linkedid") == cid, 30,
        f"{cid} starts AGI")
    first = await center.events.wait_for(
        lambda e: e.name == "AGIExecStart" and e.get("Linkedid") == cid, 60, f"{cid} first AGI command")
    menu = await center.events.wait_for(
        lambda e: e.name == "AGIExecStart" and e.get("Linkedid") == cid and "ivr-menu" in e.get("Command"), 60,
        f"{cid} menu")
    commands = [e for e in center.events.of_call(cid) if e.name == "AGIExecStart" and e.received <= menu.received]
    citizen = next(e for e in center.events.events if e.name == "Newchannel" and e.get("Uniqueid") == cid)
    await center.ami.hangup(citizen["Channel"])
    await center.events.wait_for(lambda e: e.name == "Hangup" and e.get("Uniqueid") == f"{cid}-2", 30, "hangup")
    per_command = (menu.received - first.received) / max(1, len(commands) - 1)
    return first.received - started.received, per_command


async def measure(center: Center, label: str, calls: int) -> tuple[list[float], list[float]]:
    startup, per_command = [], []
    for i in range(calls):
        s, c = await one_call(center, f"x{label}-{i}")
        startup.append(s)
        per_command.append(c)
    center.events.events.clear()
    return startup, per_command


async def main(calls: int) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-agi-") as home:
        async with running_center(Path(home) / "center") as center:
            models = center.paths.home / "models"
            engine = WhisperEngine(assemble_model(models / "whisper-base"))
            async with ivr_rig(center, engine, Path(home) / "ivr", samples=()) as rig:
                center.asterisk.models_source = models
                center.secrets.ensure(["redis"])
                center.secrets.path("redis").write_text(rig.redis_server.password + "\n")
                await measure(center, "warm", 2)
                fast = await measure(center, "fast", calls)
                started = time.monotonic()
                center.apply_site(agi_transport="classic", redis_url=rig.redis_server.url)
                print(f"# classic-AGI environment ready in {time.monotonic() - started:.1f} s", flush=True)
                await measure(center, "cwarm", 2)
                classic = await measure(center, "classic", calls)
                center.apply_site(agi_transport="fastagi")
    print(f"# AGI transport cost per call, {calls} calls each, entry route + IVR up to the menu")
    print(f"{'transport':<10} | {'start→1st cmd p50 ms':>20} | {'p90 ms':>8} | {'per command p50 ms':>18}")
    for name, (startup, per_command) in (("FastAGI", fast), ("classic", classic)):
        startup.sort()
        print(f"{name:<10} | {statistics.median(startup) * 1000:20.1f} | "
              f"{startup[int(0.9 * (len(startup) - 1))] * 1000:8.1f} | {statistics.median(per_command) * 1000:18.2f}")
    print(f"# ratio classic / FastAGI (start→first command): "
          f"{statistics.median(classic[0]) / statistics.median(fast[0]):.0f}×")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20)
    asyncio.run(main(parser.parse_args().calls))
