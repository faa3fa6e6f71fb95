"""Three-way transfer (三方转接): time from the transfer call to the three-way bridge, and how many
concurrent three-way calls the box holds.

Starts a private center and the peer Asterisk (sub-center PBX + agent softphones) on free loopback ports.
A citizen's call (Local channel) is connected to agent 8001's softphone on the peer over SIP; then
``agent_desk.telephony.three_way_transfer`` dials 12366 over its trunk (the peer answers) and joins the
citizen, the agent and the sub-center agent in one ConfBridge. The far ends and the softphone send audio
(music on hold), so the center mixes real audio in every room.

1. Latency: RUNS sequential transfers; setup = from calling the function to the third ConfbridgeJoin.
2. Capacity: ramp the number of concurrent three-way calls (all held up) by STEP until a transfer fails, a
   held call drops, or CAP (bounded by the RTP ports given to each instance: two RTP legs per call).

    .venv/bin/python -m bench.transfer [--runs 30] [--step 10] [--cap 80]

Needs root (Asterisk runs in a chroot). Only loopback is used.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from agent_desk.telephony import LiveCall, Outcome, three_way_transfer
from hotline import channelvars as v
from tests.support.agents import peer_mode, wait_registered
from tests.support.center import Center, running_center
from bench.stats import pct

AGENT = "8001"
TARGET = "12366"


async def citizen_with_agent(center: Center) -> LiveCall | None:
    cid = center.new_call_id()
    await center.ami.originate(f"Local/{AGENT}@{v.CTX_AGENTS}", caller_id="<13907550003>", channel_id=cid,
                               data="3600", variables={f"__{v.CALL_ID}": cid, f"__{v.LINE}": "12345"})
    try:
        answered = await center.events.wait_for(
            lambda e: e.name == "DialEnd" and e.get("Linkedid") == cid and e.get("DialStatus") == "ANSWER", 30,
            f"agent answers {cid}")
    except AssertionError:
        return None
    return LiveCall(cid, answered["Channel"], answered["DestChannel"], AGENT)


async def hang_up_all(center: Center) -> None:
    for e in await center.ami.action_list({"Action": "CoreShowChannels"}):
        if e.name == "CoreShowChannel":
            try:
                await center.ami.hangup(e["Channel"])
            except Exception:
                pass
    for _ in range(100):
        if not [e for e in await center.ami.action_list({"Action": "CoreShowChannels"}) if e.name == "CoreShowChannel"]:
            return
        await asyncio.sleep(0.2)


def cpu_seconds(pid: int | None) -> float:
    if pid is None:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def latency(center: Center, runs: int) -> list[float]:
    setups = []
    phases = []
    for _ in range(runs):
        call = await citizen_with_agent(center)
        if call is None:
            print("# citizen did not reach the agent", file=sys.stderr)
            continue
        result = await three_way_transfer(center.ami, call, TARGET, plan=center.plan)
        if result.outcome == Outcome.BRIDGED and result.setup_seconds is not None:
            setups.append(result.setup_seconds)
            phases.append((result.answered_at - result.started_at, result.bridged_at - result.answered_at))
        else:
            print(f"# transfer {result.outcome} {result.detail}", file=sys.stderr)
        await hang_up_all(center)
    slow = [p for p in phases if sum(p) > 1.0]
    if slow:
        print(f"# {len(slow)} slow runs (dial+answer s, join s): " + ", ".join(f"({a:.3f}, {j:.3f})" for a, j in slow))
    return setups


async def rooms(center: Center) -> int:
    return len([e for e in await center.ami.action_list({"Action": "ConfbridgeListRooms"})
                if e.name == "ConfbridgeListRooms"])


async def capacity(center: Center, step: int, cap: int) -> list[dict]:
    levels = []
    held: list = []
    while len(held) < cap:
        want = min(step, cap - len(held))
        cpu0, t0 = cpu_seconds(center.asterisk.pid()), time.monotonic()

        async def one():
            call = await citizen_with_agent(center)
            if call is None:
                return None
            return await three_way_transfer(center.ami, call, TARGET, plan=center.plan, join_timeout=20)

        results = await asyncio.gather(*[one() for _ in range(want)])
        ok = [r for r in results if r is not None and r.outcome == Outcome.BRIDGED]
        held += ok
        await asyncio.sleep(5)  # hold them all, mixing, for a while
        cpu1, t1 = cpu_seconds(center.asterisk.pid()), time.monotonic()
        live = await rooms(center)
        level = {"held": len(held), "new_ok": len(ok), "new_failed": want - len(ok), "rooms": live,
                 "setup_p50": pct([r.setup_seconds for r in ok], 50), "setup_max": max([r.setup_seconds for r in ok],
                                                                                    default=float("nan")),
                 "answer_p50": pct([r.answered_at - r.started_at for r in ok], 50),
                 "join_p50": pct([r.bridged_at - r.answered_at for r in ok], 50),
                 "center_cpu": (cpu1 - cpu0) / (t1 - t0)}
        levels.append(level)
        print(f"  {level['held']:4d} | {level['new_ok']:3d}/{want:<3d} | {live:5d} | {level['setup_p50']:7.3f} | "
              f"{level['setup_max']:7.3f} | {level['answer_p50']:9.3f} | {level['join_p50']:7.3f} | "
              f"{level['center_cpu'] * 100:6.0f}%", flush=True)
        if len(ok) < want or live < len(held):
            break
    return levels


async def main(runs: int, step: int, cap: int) -> None:
    rtp_ports = max(200, cap * 2 * 2 + 40)  # two RTP legs per call on each instance, each an even/odd pair
    async with running_center(Path(tempfile.mkdtemp(prefix="bench-transfer-")), rtp_ports=rtp_ports) as center:
        assert (await wait_registered(center, AGENT, 30)).registered, "softphone did not register"
        async with peer_mode(center, "gateway", TARGET, "talk"), peer_mode(center, "softphone", AGENT, "talk"):
            setups = await latency(center, runs)
            print(f"# three-way transfer setup (function call -> third ConfbridgeJoin), {len(setups)}/{runs} runs")
            print(f"  p50 {pct(setups, 50) * 1000:.1f} ms | p90 {pct(setups, 90) * 1000:.1f} ms | "
                  f"p99 {pct(setups, 99) * 1000:.1f} ms | max {max(setups) * 1000:.1f} ms | "
                  f"mean {statistics.mean(setups) * 1000:.1f} ms")
            print(f"# concurrent three-way calls held (step {step}, cap {cap}, {rtp_ports} RTP ports per instance)")
            print("  held | new ok | rooms | p50 s   | max s   | answer p50 | join p50 | center CPU (of one core)")
            levels = await capacity(center, step, cap)
            last = levels[-1]
            verdict = "cap reached" if last["held"] >= cap and not last["new_failed"] else "stopped on failure"
            print(f"# {verdict}: {last['held']} concurrent three-way calls held, {os.cpu_count()} cores")
            await hang_up_all(center)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--step", type=int, default=10)
    parser.add_argument("--cap", type=int, default=80)
    args = parser.parse_args()
    asyncio.run(main(args.runs, args.step, args.cap))
