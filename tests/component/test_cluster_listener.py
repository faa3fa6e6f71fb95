"""A cluster's listeners (issue 15): one per node from the site config, and the one board they write together in a
real Redis (each node's part, the merged board under ``SNAPSHOT_KEY`` and on the wallboard channel); after a restart
each forwards the prefill of its own node's calls only."""

from __future__ import annotations

import asyncio
import json
import time
from types import MappingProxyType

import pytest
import redis as sync_redis
import redis.asyncio as aioredis

from agent_desk.auth.roles import Role
from agent_desk.auth.sessions import create_user
from agent_desk.calls import pop
from agent_desk.calls.listener import DUTY_KEY, AmiSettings, CallListener
from agent_desk.calls.tracker import CallTracker
from agent_desk.db import models as m
from agent_desk.db.session import Database
from agent_desk.process import build_listener
from agent_desk.supervision import cluster_board
from agent_desk.supervision.wallboard import SNAPSHOT_KEY, Wallboard
from agent_desk.supervision.warnings import CHANNEL
from hotline import access, channelvars as v
from hotline.ami import AmiEvent
from hotline.contracts.prefill import CHANNEL as PREFILL_CHANNEL
from hotline.contracts.prefill import Prefill
from hotline.numberplan import GENERAL_QUEUE, load_plan
from hotline.paths import PROJECT_ROOT
from hotline.secrets import SecretStore
from hotline.site import SiteConfig, on_node

PLAN = load_plan(PROJECT_ROOT / "asterisk_conf" / "numbers.yaml")
NODES = [{"id": "n1", "address": "127.0.0.2", "ami_port": 5101}, {"id": "n2", "address": "127.0.0.3",
                                                                     "ami_port": 5102}]


def site(cluster: bool = True) -> SiteConfig:
    return SiteConfig.model_validate({"name": "t", **({"cluster": {"proxy": "127.0.0.1", "nodes": NODES}}
                                                      if cluster else {})})


def secrets(tmp_path) -> SecretStore:
    store = SecretStore(tmp_path / "secrets")
    store.ensure([access.AMI_DESK_SECRET, access.REDIS_DESK_SECRET])
    return store


def test_a_cluster_site_gets_a_listener_per_node(tmp_path):
    url = f"sqlite:///{tmp_path / 'desk.db'}"
    every = build_listener(site(), PLAN, secrets(tmp_path), database_url=url)
    try:
        assert [(lis.node, lis.ami_settings.host, lis.ami_settings.port, lis.cluster_nodes)
                for lis in every.listeners] == [("n1", "127.0.0.2", 5101, ("n1", "n2")),
                                                ("n2", "127.0.0.3", 5102, ("n1", "n2"))]
        assert every.listeners[1].tracker.node == "n2"
        assert len({lis.duty_holder for lis in every.listeners}) == 2
    finally:
        every.db.dispose()
    one = build_listener(site(), PLAN, secrets(tmp_path), node="n2", database_url=url)
    assert [lis.node for lis in one.listeners] == ["n2"]
    one.db.dispose()
    single = build_listener(site(cluster=False), PLAN, secrets(tmp_path), database_url=url)
    assert [(lis.node, lis.cluster_nodes) for lis in single.listeners] == [("", ())]
    single.db.dispose()
    with pytest.raises(ValueError, match="no node 'n3' in the site config \\(its nodes: n1, n2\\)"):
        build_listener(site(), PLAN, secrets(tmp_path), node="n3", database_url=url)
    with pytest.raises(ValueError, match="none: the site has no cluster section"):
        build_listener(site(cluster=False), PLAN, secrets(tmp_path), node="n1", database_url=url)


def test_nodes_whose_asterisk_names_collide_are_refused_with_the_site():
    """Each node's Uniqueids start with its systemname (hotline-<site name>-<node id>, cut to 32 characters): two
    nodes with the same one could give two calls the same id, and the call records would collide. Such a site does
    not load, so no part of the center (rendering, listener, desk) ever runs on it."""
    with pytest.raises(ValueError, match="not all different"):
        SiteConfig.model_validate({"name": "a" * 28, "cluster": {"proxy": "127.0.0.1", "nodes": [
            {"id": "node1", "address": "127.0.0.2"}, {"id": "node2", "address": "127.0.0.3"}]}})


def join(uniqueid: str, at: float) -> AmiEvent:
    return AmiEvent("QueueCallerJoin", MappingProxyType({"Timestamp": f"{at:.6f}", "Uniqueid": uniqueid,
                                                         "Queue": GENERAL_QUEUE}), 0.0,
                    MappingProxyType({v.CALL_ID: uniqueid, v.LINE: "12345"}))


@pytest.fixture
async def listeners(tmp_path, redis_server):
    db = Database(f"sqlite:///{tmp_path / 'desk.db'}")   # not touched: the board needs no call records
    clients: list[aioredis.Redis] = []
    made = []
    for node in ("n1", "n2"):
        client = aioredis.Redis.from_url(redis_server.authenticated_url)
        clients.append(client)
        board = Wallboard.from_plan(PLAN, 20)
        board.set_connected(True)
        made.append(CallListener(CallTracker(db, None), AmiSettings("127.0.0.1", 1, "x", "y"), client, board,
                                 node=node, cluster_nodes=["n1", "n2"], system_name=f"hotline-t-{node}",
                                 duty_renew=0.1, duty_ttl=0.6))
    reader = aioredis.Redis.from_url(redis_server.authenticated_url)
    await reader.delete(SNAPSHOT_KEY, DUTY_KEY, *(cluster_board.node_key(n) for n in ("n1", "n2")))
    yield made, reader
    for client in [*clients, reader]:
        await client.aclose()
    db.dispose()


async def test_each_node_writes_its_part_and_the_board_is_the_merge_of_both(listeners) -> None:
    (n1, n2), reader = listeners
    now = time.time()
    n1.wallboard.apply(join("hotline-t-n1-1.1", now - 30))
    n2.wallboard.apply(join("hotline-t-n2-1.1", now - 5))
    n2.wallboard.apply(join("hotline-t-n2-2.1", now - 2))
    pubsub = reader.pubsub()
    await pubsub.subscribe(CHANNEL)
    await n1.publish_board()
    board = json.loads(await reader.get(SNAPSHOT_KEY))
    assert board["totals"]["waiting"] == 1   # n2 has written nothing yet: offline, its calls not shown
    assert [(n["node"], n["state_label"]) for n in board["nodes"]] == [("n1", "在线"), ("n2", "节点离线")]
    await n2.publish_board()
    board = json.loads(await reader.get(SNAPSHOT_KEY))
    assert board["totals"]["waiting"] == 3 and board["totals"]["longest_wait"] >= 30
    assert [n["online"] for n in board["nodes"]] == [True, True]
    part = json.loads(await reader.get(cluster_board.node_key("n2")))
    assert part["totals"]["waiting"] == 2 and "talk_seconds" in part["totals"]
    assert 0 < await reader.ttl(cluster_board.node_key("n2")) <= 24 * 3600
    published, deadline = [], time.monotonic() + 5
    while len(published) < 2:   # get_message answers None for the subscription's own confirmation too
        assert time.monotonic() < deadline, f"merged boards published on the wallboard channel: {len(published)}"
        message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1)
        if message is not None:
            published.append(json.loads(message["data"]))
    assert [b["totals"]["waiting"] for b in published] == [1, 3]
    await pubsub.aclose()

    # n2's Asterisk goes away: its listener says so, and its calls leave the board at its next publish
    n2.wallboard.set_connected(False)
    await n2.publish_board()
    board = json.loads(await reader.get(SNAPSHOT_KEY))
    assert board["totals"]["waiting"] == 1 and board["nodes"][1]["state_label"] == "节点离线"


async def test_a_merge_raced_by_another_nodes_part_gives_way_to_that_nodes_merge(listeners, redis_server,
                                                                                  monkeypatch) -> None:
    """n1 has read both parts and merged them when n2 writes a newer part: n1's board (without n2's new caller) is
    not written, and n2's merge, which has both, is the board."""
    (n1, n2), reader = listeners
    n1.wallboard.apply(join("a", time.time() - 3))
    await n2.publish_board()
    n2.wallboard.apply(join("b", time.time() - 1))
    real_merge = cluster_board.merge
    other = sync_redis.Redis.from_url(redis_server.authenticated_url)

    def merge_then_race(*args, **kwargs):
        board = real_merge(*args, **kwargs)   # n1's merge, of the parts it read
        other.set(cluster_board.node_key("n2"), json.dumps(n2.wallboard.snapshot(sums=True)))   # n2 moves on
        return board

    monkeypatch.setattr(cluster_board, "merge", merge_then_race)
    await n1.publish_board()
    monkeypatch.setattr(cluster_board, "merge", real_merge)
    other.close()
    assert n1.merges_superseded == 1
    board = json.loads(await reader.get(SNAPSHOT_KEY))
    assert board["totals"]["waiting"] == 0   # n2's earlier board stands: n1's stale merge was not written
    await n2.publish_board()
    board = json.loads(await reader.get(SNAPSHOT_KEY))
    assert board["totals"]["waiting"] == 2


async def duties_until(listeners: list[CallListener], expected: list[bool], timeout: float = 5) -> None:
    deadline = time.monotonic() + timeout
    while [lis.has_duties for lis in listeners] != expected:
        assert time.monotonic() < deadline, f"duties {[lis.has_duties for lis in listeners]}, expected {expected}"
        await asyncio.sleep(0.05)


async def test_one_listener_at_a_time_runs_the_redis_duties_and_another_takes_over_when_it_dies(listeners) -> None:
    """The survey stream and the transcript relay: one listener of the cluster (a lease in Redis); the lease of a
    listener that vanished (its machine died: no release) lapses, and the other listener takes the duties over."""
    (n1, n2), reader = listeners
    loops = [asyncio.create_task(n1._duty_loop())]
    await duties_until([n1, n2], [True, False])
    loops.append(asyncio.create_task(n2._duty_loop()))
    await asyncio.sleep(1.0)   # several renewals: n2 never gets it while n1 renews
    assert [n1.has_duties, n2.has_duties] == [True, False]
    assert await reader.get(DUTY_KEY) == n1.duty_holder.encode()
    assert {t.get_name() for t in n1._duties} == {"calls-surveys", "calls-transcript"}

    # n1's machine dies: its loop stops without releasing (as a SIGKILL would); the lease lapses, n2 takes it
    died = time.monotonic()
    loops[0].cancel()
    await asyncio.gather(loops[0], return_exceptions=True)
    await reader.set(DUTY_KEY, n1.duty_holder, px=600)   # the lease as n1 left it: held, not released
    await duties_until([n1, n2], [False, True])
    took = time.monotonic() - died
    assert took < 0.6 + 0.1 + 1.0, f"n2 took over after {took:.2f} s"
    assert await reader.get(DUTY_KEY) == n2.duty_holder.encode()

    # n2 stopped on purpose hands the lease back at once
    loops[1].cancel()
    await asyncio.gather(loops[1], return_exceptions=True)
    await n2._release_lease()
    assert await reader.get(DUTY_KEY) is None and not n2.has_duties


async def test_after_a_restart_each_nodes_listener_forwards_only_its_own_calls_prefill(tmp_path, new_database,
                                                                                      redis_server) -> None:
    """Both nodes' listeners, as ``hotline listener`` builds them, start again while a call on n1 and one on n2 are
    with their agents: each reads back its own node's call only (the call id starts with the node's Asterisk
    systemname), so each prefill update reaches the agent once, not once per listener hearing the channel."""
    the_site = site()
    every = build_listener(the_site, PLAN, secrets(tmp_path), database_url=new_database("sqlite"),
                           redis_url=redis_server.authenticated_url)
    n1, n2 = every.listeners
    assert (n1.system_name, n2.system_name) == ("hotline-t-n1", "hotline-t-n2")
    calls = {"n1": "hotline-t-n1-1733390000.17", "n2": "hotline-t-n2-1733390000.17"}
    agents: dict[str, int] = {}
    with every.db.session() as session:
        for node, call_id in calls.items():
            user = create_user(session, f"agent-{node}-{time.monotonic_ns()}", "correct-horse-12345", Role.AGENT,
                               extension=f"800{node[1]}")
            now = m.utcnow()
            session.add(m.Call(call_id=call_id, line="12345", agent_user_id=user.id, started_at=now, answered_at=now))
            agents[node] = user.id
    reader = aioredis.Redis.from_url(redis_server.authenticated_url)
    loops: list[asyncio.Task] = []
    try:
        for listener in (n1, n2):
            await listener.read_back()   # what start() does after its AMI login
        assert n1.tracker.agent_of_call == {calls["n1"]: agents["n1"]}
        assert n2.tracker.agent_of_call == {calls["n2"]: agents["n2"]}

        pubsub = reader.pubsub()
        await pubsub.subscribe(*(pop.channel_for(user_id) for user_id in agents.values()))
        loops = [asyncio.create_task(listener._prefill_loop()) for listener in (n1, n2)]
        deadline = time.monotonic() + 10
        while dict(await reader.pubsub_numsub(PREFILL_CHANNEL)).get(PREFILL_CHANNEL.encode(), 0) < 2:
            assert time.monotonic() < deadline, "the two listeners never subscribed to the prefill channel"
            await asyncio.sleep(0.05)
        for status in ("transcribing", "final"):   # two updates of each call
            for call_id in calls.values():
                await reader.publish(PREFILL_CHANNEL, Prefill(call_id=call_id, line="12345", status=status,
                                                              transcript="小区停水").encode())
        wanted = sorted((pop.channel_for(agents[node]), call_id, status)
                        for node, call_id in calls.items() for status in ("transcribing", "final"))
        got: list[tuple[str, str, str]] = []
        # Until all four came (a loaded machine is slow), then 2 s more: a second copy would come within ms.
        deadline, quiet_until = time.monotonic() + 20, None
        while time.monotonic() < (quiet_until or deadline):
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.2)
            if message is not None:
                body = json.loads(message["data"])
                got.append((message["channel"].decode(), body["call_id"], body["prefill"]["status"]))
            if quiet_until is None and len(got) >= len(wanted):
                quiet_until = time.monotonic() + 2
        assert sorted(got) == wanted, got
        await pubsub.aclose()
    finally:
        for loop in loops:
            loop.cancel()
        await asyncio.gather(*loops, return_exceptions=True)
        for listener in (n1, n2):
            assert listener.redis is not None and listener.tracker.redis is not None
            await listener.redis.aclose()
            await listener.tracker.redis.aclose()
        await reader.aclose()
        every.db.dispose()


def test_a_call_id_belongs_to_the_node_whose_systemname_starts_it_exactly():
    assert on_node("hotline-t-n1-1733390000.17", "hotline-t-n1")
    assert not on_node("hotline-t-n1-1733390000.17", "hotline-t-n2")
    assert not on_node("hotline-t-n1-b-1733390000.17", "hotline-t-n1")   # node n1-b's call, not n1's
    assert not on_node("q123-000001", "hotline-t-n1")
