"""多节点集群 (issue 15): calls per second through Kamailio to one node vs two vs three, side by side in one run,
and the time Kamailio takes to stop sending calls to a node that dies.

Starts the e2e cluster with three nodes (tests/support/cluster.py: Kamailio on 127.0.0.1, Asterisk nodes on 127.0.0.2,
127.0.0.3 and 127.0.0.4, the FastAGI server in this process). SIPp plays the carrier (bench/cluster_carrier.xml): it
offers each rate for SECONDS seconds to 12345 at the proxy, answers the proxy's digest challenge with the carrier's
generated secret, holds each answered call 2 s (the node answers, plays the greeting, runs its IVR entry route), then
hangs up. Per rate, the one-, two- and three-node layouts (the nodes left out disabled in the dispatcher: `kamcmd
dispatcher.set_state d`) run one after the other on the same proxy, the same FastAGI server and the same box. Printed:
calls answered and failed, INVITE→200 response time (p50, p95), how the calls were spread (each node's own AMI), the
load average.

Then a node is killed (SIGKILL) TRIALS times with no calls flowing: the time until `dispatcher.list` shows it out is the
probes' detection alone (a call sent to it meanwhile also takes it out, after node_timeout_ms, and moves on).

    .venv/bin/python -m bench.cluster [--rates 10,20,40] [--seconds 5] [--trials 3] [--nodes 3]

Needs root (Asterisk runs in a chroot), Kamailio (scripts/setup.sh) and SIPp (Debian sip-tester). Only loopback is used.
All nodes share this one machine's CPUs: a second or third node adds no CPU here, so the ratio shows the proxy's cost
and spread, not the scale-out of separate machines; and the machine is shared with other work (see the load column).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from tests.support.cluster import RunningCluster, running_cluster
from tests.support.ports import free_port


SCENARIO = Path(__file__).with_name("cluster_carrier.xml")


@dataclass
class SippRun:
    rate: int
    calls: int
    ok: int
    failed: int
    response_ms: list[float]   # INVITE with the login → 200 OK, per successful call
    per_node: dict[str, int]

    def line(self, layout: str) -> str:
        rt = sorted(self.response_ms)
        p50 = rt[len(rt) // 2] if rt else float("nan")
        p95 = rt[int(len(rt) * 0.95)] if rt else float("nan")
        return (f"{layout:11}  offered {self.rate:3d} calls/s × {self.calls}: {self.ok} answered, "
                f"{self.failed} failed  "
                f"INVITE→200 p50 {p50:6.1f} ms p95 {p95:6.1f} ms  per node {self.per_node}  "
                f"load {os.getloadavg()[0]:.1f}")


def sipp(cluster: RunningCluster, rate: int, calls: int, workdir: Path) -> SippRun:
    """SIPp as the carrier, offering ``rate`` calls/s to the proxy; each answered call held 2 s, then BYE."""
    workdir.mkdir(parents=True, exist_ok=True)
    settings = cluster.site.cluster
    assert settings is not None
    since = time.monotonic()
    proc = subprocess.run(
        ["sipp", f"{settings.proxy}:{settings.proxy_port}", "-sf", str(SCENARIO), "-s", "12345",
         "-i", "127.0.0.1", "-p", str(free_port()), "-mp", str(free_port()),
         "-au", cluster.site.carrier.username, "-ap", cluster.secrets.get(f"sip-{cluster.site.carrier.username}"),
         "-r", str(rate), "-m", str(calls), "-l", str(rate * 10), "-timeout", "90s", "-nostdin",
         "-trace_stat", "-stf", "stat.csv", "-trace_rtt", "-rtt_freq", "1"],
        cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=150)
    stats = [line.split(";") for line in (workdir / "stat.csv").read_text().splitlines()]
    final = dict(zip(stats[0], stats[-1]))
    rtt_files = sorted(workdir.glob("*_rtt.csv"))
    response = [float(row.split(";")[1]) for f in rtt_files for row in f.read_text().splitlines()[1:] if row.strip()]
    for f in [workdir / "stat.csv", *rtt_files]:
        f.unlink()
    if proc.returncode not in (0, 1):
        raise RuntimeError(f"sipp exited {proc.returncode}: {proc.stderr[-1000:]}")
    per_node = {node_id: len(node.callers(since)) for node_id, node in cluster.nodes.items()}
    return SippRun(rate, calls, int(final["SuccessfulCall(C)"]), int(final["FailedCall(C)"]), response, per_node)


async def drained(cluster: RunningCluster, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while any(node.calls_up() for node in cluster.nodes.values()):
        if time.monotonic() > deadline:
            raise RuntimeError("calls still up on the nodes a minute after SIPp ended")
        await asyncio.sleep(0.2)


LAYOUTS = {1: "one node", 2: "two nodes", 3: "three nodes"}


async def use_nodes(cluster: RunningCluster, count: int) -> None:
    """The dispatcher sends calls to the first ``count`` nodes only (the others disabled, not dead: no probes)."""
    for i, node_id in enumerate(cluster.nodes):
        cluster.proxy.rpc("dispatcher.set_state", "ap" if i < count else "d", "1", cluster.uri_of(node_id))
    for node_id in list(cluster.nodes)[:count]:
        await cluster.until_active(node_id, True)


async def main(rates: list[int], seconds: int, trials: int, nodes: int) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-cluster-") as home:
        async with running_cluster(Path(home), node_count=nodes) as cluster:
            workdir = Path(home) / "sipp"
            for rate in rates:
                for count in range(1, nodes + 1):
                    await use_nodes(cluster, count)
                    run = await asyncio.to_thread(sipp, cluster, rate, rate * seconds, workdir)
                    print(run.line(LAYOUTS.get(count, f"{count} nodes")), flush=True)
                    await drained(cluster)
            await use_nodes(cluster, nodes)

            victim = list(cluster.nodes)[-1]
            detection: list[float] = []
            for _ in range(trials):
                cluster.kill_node(victim)
                killed = time.monotonic()
                await cluster.until_active(victim, False)
                detection.append(time.monotonic() - killed)
                await cluster.start_node(victim)
                await cluster.until_active(victim, True)
            settings = cluster.site.cluster
            assert settings is not None
            if detection:
                print(f"dead node {victim} out of the dispatcher (probes only; ping every {settings.ping_interval} s, "
                      f"timeout {settings.node_timeout_ms} ms, {settings.failed_probes} failed probe): "
                      + ", ".join(f"{d:.2f} s" for d in detection) + f"  median {statistics.median(detection):.2f} s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", default="10,20,40", help="offered calls per second, comma-separated")
    parser.add_argument("--seconds", type=int, default=5, help="seconds of offered load per rate and layout")
    parser.add_argument("--trials", type=int, default=3, help="node deaths to time")
    parser.add_argument("--nodes", type=int, default=3, choices=(2, 3), help="the largest layout (one to this many)")
    args = parser.parse_args()
    asyncio.run(main([int(r) for r in args.rates.split(",")], args.seconds, args.trials, args.nodes))
