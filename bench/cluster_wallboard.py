"""多节点集群 (issue 15): the cluster wallboard's event → snapshot latency with two nodes.

Starts the e2e cluster (tests/support/cluster.py: Kamailio, Asterisk nodes on 127.0.0.2 and 127.0.0.3), a real Redis
and a SQLite desk database, and the listeners as ``hotline listener`` runs them on a cluster site (``build_listener``:
one AMI connection per node, each node's part of the board and the merged board under one WATCH). An agent whose
phone never answers is logged in on both nodes, so callers wait. CALLS callers join the queue, alternately on n1 and
n2, GAP seconds apart; then they are hung up one by one.

Latency of one event: from the ``Timestamp`` Asterisk puts on the node's QueueCallerJoin / QueueCallerLeave /
QueueCallerAbandon (manager.conf timestampevents; this machine's clock) to the first merged board received on the
``hotline:wallboard`` channel (a subscriber in this process, ``time.time()``) whose waiting total reflects it (the
k-th join: waiting ≥ k; the k-th hang-up: waiting ≤ CALLS − k). It includes the node's AMI delivery, the listener's
coalescing (``board_interval`` 0.1 s), the node's part, the merge and the publish.

    .venv/bin/python -m bench.cluster_wallboard [--calls 30] [--gap 0.3]

Needs root (Asterisk runs in a chroot) and Kamailio. Figures are from a loaded, shared box.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import tempfile
import time
from pathlib import Path

import redis.asyncio as aioredis

from agent_desk.db.migrate import upgrade
from agent_desk.process import build_listener
from agent_desk.supervision.warnings import CHANNEL
from agent_desk.telephony import agents
from bench.stats import pct
from hotline.numberplan import GENERAL_QUEUE
from tests.support.cluster import RunningCluster, running_cluster
from tests.support.redis_server import RedisServer

AGENT = "8002"   # the cluster's agent whose phone never registers: rung in vain, callers keep waiting


async def collect(redis: aioredis.Redis, boards: list[tuple[float, int]], ready: asyncio.Event) -> None:
    pubsub = redis.pubsub()
    await pubsub.subscribe(CHANNEL)
    ready.set()
    try:
        async for message in pubsub.listen():
            if message.get("type") != "message":
                continue
            board = json.loads(message["data"])
            if board.get("type") == "snapshot":
                boards.append((time.time(), int(board["totals"]["waiting"])))
    finally:
        await pubsub.aclose()


def queue_events(cluster: RunningCluster, names: set[str], cids: set[str]) -> list[float]:
    """The Timestamp of each call's first event among ``names`` (an abandon and its leave are one departure)."""
    first: dict[str, float] = {}
    for node in cluster.nodes.values():
        for e in node.events.events:
            cid = e.vars.get("HOTLINE_CALL_ID") or e.get("Linkedid")
            if e.name in names and cid in cids:
                first[cid] = min(first.get(cid, float("inf")), float(e.get("Timestamp")))
    return sorted(first.values())


def latencies(events: list[float], boards: list[tuple[float, int]], reflects) -> list[float]:
    out = []
    for k, at in enumerate(events, start=1):
        seen = next((t for t, waiting in boards if t >= at and reflects(k, waiting)), None)
        if seen is not None:
            out.append(seen - at)
    return out


async def run(calls: int, gap: float) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-cluster-board-") as tmp:
        home = Path(tmp)
        redis_server = RedisServer.start(home / "redis")
        database_url = f"sqlite:///{home / 'desk.db'}"
        upgrade(database_url)
        try:
            async with running_cluster(home / "cluster") as cluster:
                process = build_listener(cluster.site, cluster.plan, cluster.secrets, database_url=database_url,
                                         redis_url=redis_server.user_url("desk"))
                await asyncio.wait_for(process.start(retry=0.5), 60)
                reader = aioredis.Redis.from_url(redis_server.authenticated_url, decode_responses=True)
                boards: list[tuple[float, int]] = []
                ready = asyncio.Event()
                collecting = asyncio.create_task(collect(reader, boards, ready))
                await ready.wait()
                try:
                    for node in cluster.nodes.values():
                        await agents.login(node.ami, AGENT, [GENERAL_QUEUE])
                    placed: list[tuple[str, str]] = []
                    for k in range(calls):
                        node_id = ("n1", "n2")[k % 2]
                        placed.append((node_id, await cluster.queue_call(node_id, GENERAL_QUEUE)))
                        await asyncio.sleep(gap)
                    await until(lambda: boards and boards[-1][1] == calls, 20)
                    for node_id, cid in placed:
                        node = cluster.nodes[node_id]
                        for e in node.events.find(lambda e, c=cid: e.name == "Newchannel" and e.get("Linkedid") == c):
                            with contextlib.suppress(Exception):
                                await node.ami.hangup(e["Channel"])
                        await asyncio.sleep(gap)
                    await until(lambda: boards and boards[-1][1] == 0, 20)
                    await asyncio.sleep(0.5)
                finally:
                    collecting.cancel()
                    await asyncio.gather(collecting, return_exceptions=True)
                    await reader.aclose()
                    superseded = sum(lis.merges_superseded for lis in process.listeners)
                    published = sum(lis.boards_published for lis in process.listeners)
                    await process.stop()
                cids = {cid for _, cid in placed}
                joins = queue_events(cluster, {"QueueCallerJoin"}, cids)
                leaves = queue_events(cluster, {"QueueCallerLeave", "QueueCallerAbandon"}, cids)
                join_ms = [x * 1000 for x in latencies(joins, boards, lambda k, w: w >= k)]
                leave_ms = [x * 1000 for x in latencies(leaves, boards, lambda k, w: w <= calls - k)]
        finally:
            redis_server.stop()
    both = join_ms + leave_ms
    load = os.getloadavg()
    print(f"\ncluster wallboard, 2 nodes, {calls} callers ({gap:.2f} s apart, alternating nodes), then hung up "
          f"one by one; load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} (2 CPUs, shared)")
    print(f"{'event':<24}{'n':>5}{'p50 ms':>10}{'p95 ms':>10}{'max ms':>10}")
    for name, values in (("caller joins", join_ms), ("caller leaves", leave_ms), ("all", both)):
        print(f"{name:<24}{len(values):>5}{pct(values, 50):>10.0f}{pct(values, 95):>10.0f}"
              f"{max(values, default=float('nan')):>10.0f}")
    print(f"merged boards published {published}, merges superseded by another node's newer part {superseded}; "
          f"boards received {len(boards)}")


async def until(check, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise RuntimeError("the board did not reach the expected waiting count")
        await asyncio.sleep(0.05)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=30)
    parser.add_argument("--gap", type=float, default=0.3)
    args = parser.parse_args()
    asyncio.run(run(args.calls, args.gap))


if __name__ == "__main__":
    main()
