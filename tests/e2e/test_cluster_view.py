"""One view of a cluster (issue 15, point 4): two Asterisk nodes behind Kamailio (tests/support/cluster.py), a listener
per node built as ``hotline listener`` builds it on a cluster site (``build_listener``: one AMI connection per node),
a real Redis and a real PostgreSQL (a cluster's desk shares one PostgreSQL).

Calls wait in the queue on both nodes: the board in Redis shows as many as the nodes' own AMI (QueueStatus) count
together. A node is killed (SIGKILL): its calls leave the board and it is 节点离线; started again, it is rebuilt and
rejoins the board. The carrier's calls land on both nodes with distinct call ids (each node's systemname), their
records share the one database, and the day's figures (the KPIs' query) count the calls of both nodes. Last, the
agent whose phone registered once with the proxy takes a call on n2: the board shows it on a call, once, while n1's
own part has it idle.

Timings printed are from a shared, loaded machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time

import pytest
import redis.asyncio as aioredis
from sqlalchemy import select

from agent_desk.db import models as m
from agent_desk.process import ListenerProcess, build_listener
from agent_desk.settings import DeskSettings
from agent_desk.supervision import cluster_board, kpi
from agent_desk.supervision.periods import period_of
from agent_desk.supervision.wallboard import SNAPSHOT_KEY
from agent_desk.telephony import agents
from hotline.numberplan import GENERAL_QUEUE
from hotline.paths import PROJECT_ROOT
from tests.support.cluster import CARRIER_CHANNEL, RunningCluster, running_cluster

pytestmark = pytest.mark.asterisk
AGENT = "8002"   # its phone never registers (wrong password): a member the queue rings in vain, so callers wait
PHONE = "8001"   # its phone (the peer) registers with the proxy and answers


@pytest.fixture
async def cluster(tmp_path) -> RunningCluster:
    async with running_cluster(tmp_path, artifacts=PROJECT_ROOT / "test-artifacts" / "cluster-view") as running:
        yield running


@contextlib.asynccontextmanager
async def listening(cluster: RunningCluster, database_url: str, redis_url: str):
    process: ListenerProcess = build_listener(cluster.site, cluster.plan, cluster.secrets, database_url=database_url,
                                              redis_url=redis_url)
    assert [lis.node for lis in process.listeners] == list(cluster.nodes)
    await asyncio.wait_for(process.start(retry=0.5), 60)
    try:
        yield process
    finally:
        await process.stop()


async def node_waiting(cluster: RunningCluster, node_id: str) -> int:
    """Callers in the node's queues, from the node's own AMI."""
    status = await cluster.nodes[node_id].ami.action_list({"Action": "QueueStatus"})
    return sum(1 for e in status if e.name == "QueueEntry")


async def board_until(redis: aioredis.Redis, check, what: str, timeout: float = 20) -> dict:
    deadline, board = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        raw = await redis.get(SNAPSHOT_KEY)
        board = json.loads(raw) if raw else None
        if board is not None and check(board):
            return board
        await asyncio.sleep(0.1)
    raise AssertionError(f"the board never showed {what}; last: {json.dumps(board, ensure_ascii=False)[:1500]}")


def agent_on(board: dict, extension: str) -> dict:
    """The agent's entry on the board; one marked ``absent`` while the board does not list the agent yet (a board
    written before the node's listener saw the member: a wait keeps waiting, an assertion names it)."""
    return next((a for a in board["agents"] if a["extension"] == extension),
                {"extension": extension, "state": "absent", "call_id": None})


async def phone_registered(cluster: RunningCluster, extension: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not await asyncio.to_thread(cluster.proxy.contacts, extension):
        assert time.monotonic() < deadline, f"{extension}'s phone is not registered with the proxy"
        await asyncio.sleep(0.3)


def node_state(board: dict, node_id: str) -> str:
    return next(n["state_label"] for n in board["nodes"] if n["node"] == node_id)


async def waiting_on_both(cluster: RunningCluster, expected: dict[str, int], timeout: float = 20) -> dict[str, int]:
    deadline = time.monotonic() + timeout
    while True:
        counts = {node_id: await node_waiting(cluster, node_id) for node_id in expected}
        if counts == expected or time.monotonic() > deadline:
            return counts
        await asyncio.sleep(0.2)


async def log_in(cluster: RunningCluster, node_id: str) -> None:
    with contextlib.suppress(Exception):   # after a restart the node may still have the member (astdb)
        await agents.logout(cluster.nodes[node_id].ami, AGENT)
    await agents.login(cluster.nodes[node_id].ami, AGENT, [GENERAL_QUEUE])


async def hang_up(cluster: RunningCluster, node_id: str, cid: str) -> None:
    node = cluster.nodes[node_id]
    for event in node.events.find(lambda e: e.name == "Newchannel" and e.get("Linkedid") == cid):
        with contextlib.suppress(Exception):
            await node.ami.hangup(event["Channel"])


async def test_one_board_over_both_nodes_a_dead_node_leaves_it_and_rejoins(cluster: RunningCluster, new_database,
                                                                           redis_server) -> None:
    database_url = new_database("postgresql")
    reader = aioredis.Redis.from_url(redis_server.authenticated_url, decode_responses=True)
    await reader.delete(SNAPSHOT_KEY)
    try:
        await scenario(cluster, database_url, redis_server, reader)
    finally:
        await reader.aclose()


async def scenario(cluster: RunningCluster, database_url: str, redis_server, reader: aioredis.Redis) -> None:
    async with listening(cluster, database_url, redis_server.user_url("desk")) as process:
        board = await board_until(reader, lambda b: [n["online"] for n in b["nodes"]] == [True, True],
                                  "both nodes online")
        assert board["totals"]["waiting"] == 0

        # ── callers waiting on both nodes: the board's count is the nodes' own counts added ──
        for node_id in cluster.nodes:
            await log_in(cluster, node_id)
        placed = {"n1": [await cluster.queue_call("n1", GENERAL_QUEUE) for _ in range(2)],
                  "n2": [await cluster.queue_call("n2", GENERAL_QUEUE) for _ in range(3)]}
        counts = await waiting_on_both(cluster, {"n1": 2, "n2": 3})
        assert counts == {"n1": 2, "n2": 3}, f"callers waiting, from each node's AMI: {counts}"
        board = await board_until(reader, lambda b: b["totals"]["waiting"] == sum(counts.values()),
                                  f"{sum(counts.values())} callers waiting")
        province = next(q for q in board["queues"] if q["queue"] == GENERAL_QUEUE)
        assert province["waiting"] == 5 and board["totals"]["longest_wait"] >= 0
        agent = next(a for a in board["agents"] if a["extension"] == AGENT)
        assert GENERAL_QUEUE in agent["queues"] and sum(board["agent_states"].values()) == 1   # once, not per node
        # the live call state says which node each waiting call is on (written after the call's row, so it can
        # come a moment after the board counts the caller)
        for node_id, cids in placed.items():
            for cid in cids:
                deadline = time.monotonic() + 20
                while (on := await reader.hget(f"hotline:live:call:{cid}", "node")) is None:
                    assert time.monotonic() < deadline, f"no live call state for {cid} within 20 s"
                    await asyncio.sleep(0.1)
                assert on == node_id, (cid, on)

        # the survey stream and the transcript relay: one listener of the two runs them (the duty lease)
        assert [lis.has_duties for lis in process.listeners].count(True) == 1

        # ── n2 dies: its callers leave the board, which says so ──
        n2 = process.listeners[1]
        assert n2.wallboard is not None
        first_build = n2.wallboard.last_rebuild
        killed = time.monotonic()
        cluster.kill_node("n2")
        board = await board_until(reader, lambda b: node_state(b, "n2") == "节点离线" and b["totals"]["waiting"] == 2,
                                  "n2 offline and only n1's 2 callers")
        gone = time.monotonic() - killed
        assert board["connected"] is True and node_state(board, "n1") == "在线"

        # ── n2 started again: rebuilt from its AMI, back on the board with its new caller ──
        started = time.monotonic()
        await cluster.start_node("n2")
        await log_in(cluster, "n2")
        placed["n2"].append(await cluster.queue_call("n2", GENERAL_QUEUE))
        counts = await waiting_on_both(cluster, {"n1": 2, "n2": 1})
        assert counts == {"n1": 2, "n2": 1}, counts
        board = await board_until(reader, lambda b: node_state(b, "n2") == "在线" and b["totals"]["waiting"] == 3,
                                  "n2 back with its new caller", timeout=30)
        back = time.monotonic() - started
        assert n2.wallboard.last_rebuild is not None and n2.wallboard.last_rebuild != first_build   # after its login
        print(f"\n[cluster view] n2 killed: off the board after {gone:.2f} s; started again: on the board with its "
              f"new caller {back:.1f} s after the start began; merges superseded by another node's newer part: "
              f"{sum(lis.merges_superseded for lis in process.listeners)}")

        # ── the waiting callers give up on both nodes: records of both nodes in one database, one day's figures ──
        for node_id, cids in (("n1", placed["n1"]), ("n2", placed["n2"][-1:])):
            for cid in cids:
                await hang_up(cluster, node_id, cid)
        await board_until(reader, lambda b: b["totals"]["waiting"] == 0 and b["totals"]["abandoned"] >= 3,
                          "the 3 callers abandoned")
        # carrier calls through the proxy: one per node (round robin), each node's call ids its own
        await cluster.until_active("n2", True)   # the proxy sends n2 calls again (its probes answered)
        numbers = ["13955500001", "13955500002"]
        for number in numbers:
            cid = await cluster.call(number, seconds=3)
            assert await cluster.answered(cid), f"the carrier's call from {number} was not answered"
        inbound: dict[str, str] = {}
        deadline = time.monotonic() + 10
        while len(inbound) < 2 and time.monotonic() < deadline:
            for node_id, node in cluster.nodes.items():
                for e in node.events.events:
                    if (e.name == "Newchannel" and e.get("Channel").startswith(CARRIER_CHANNEL)
                            and e.get("CallerIDNum") in numbers):
                        inbound[e.get("Uniqueid")] = node_id
            await asyncio.sleep(0.2)
        assert sorted(inbound.values()) == ["n1", "n2"], inbound
        for uniqueid, node_id in inbound.items():   # asterisk.conf systemname hotline-<site>-<node> prefixes them
            assert uniqueid.startswith(f"hotline-{cluster.nodes[node_id].site.name}-"), (uniqueid, node_id)

        queued = placed["n1"] + placed["n2"]
        deadline = time.monotonic() + 30
        while True:
            with process.db.session() as session:
                rows = {c.call_id: (c.outcome, c.queued_at is not None, c.ended_at is not None)
                        for c in session.scalars(select(m.Call).where(m.Call.call_id.in_([*inbound, *queued])))}
                figures = kpi.call_totals(session, kpi.Context.of(session, DeskSettings(database_url, "")),
                                          period_of("day"))
            done = {cid for cid, (_, _, ended) in rows.items() if ended}
            if (set(inbound) <= done and set(queued) <= set(rows)) or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.3)
        assert set(inbound) <= done, f"carrier calls without an ended record: {set(inbound) - done}"
        assert set(queued) <= set(rows), f"queued calls without a record: {set(queued) - set(rows)}"
        # n2's first three callers died with n2 (nothing ended them on record); the other three were abandoned
        abandoned = sorted(cid for cid in queued if rows[cid][0] == "abandoned")
        assert abandoned == sorted(placed["n1"] + placed["n2"][-1:]), rows
        # the day's figures are the KPIs' query over the one database (a fresh one: only this test's calls)
        offered = sum(1 for outcome, was_queued, ended in rows.values() if was_queued and ended)
        assert figures["offered"] == offered and offered >= 3, (figures, rows)
        # ── the agent whose phone registered once with the proxy takes a call on n2: on a call, once, on the board ──
        await phone_registered(cluster, PHONE)
        for node in cluster.nodes.values():
            await agents.login(node.ami, PHONE, [GENERAL_QUEUE])
        try:
            cid = await cluster.queue_call("n2", GENERAL_QUEUE)
            await cluster.nodes["n2"].events.wait_for(
                lambda e: e.name == "AgentConnect" and e.get("Linkedid") == cid, 30, f"{PHONE} answering on n2")
            board = await board_until(reader, lambda b: agent_on(b, PHONE)["state"] == "on_call",
                                      f"{PHONE} on a call")
            part = json.loads(await reader.get(cluster_board.node_key("n1")))
            assert agent_on(part, PHONE)["state"] == "idle"   # n1 sees a free member; the cluster knows better
            assert agent_on(board, PHONE)["call_id"] == cid and board["agent_states"]["on_call"] == 1
            assert [a["extension"] for a in board["agents"]].count(PHONE) == 1
            await hang_up(cluster, "n2", cid)
            await board_until(reader, lambda b: agent_on(b, PHONE)["state"] != "on_call", f"{PHONE} off the call")
        finally:
            for node in cluster.nodes.values():
                with contextlib.suppress(Exception):
                    await agents.logout(node.ami, PHONE)
        print(f"[cluster view] records: {len(rows)} (carrier calls on n1 and n2, queued calls on both); "
              f"day figures over both nodes: offered {figures['offered']}, "
              f"{json.dumps(figures['metrics'], ensure_ascii=False)[:300]}")
