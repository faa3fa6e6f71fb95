"""The desk's actions on every node of a cluster (issue 15, points 3 and 4): Kamailio on 127.0.0.1 in front of two
Asterisk nodes, the agents' phones (the peer) registered with Kamailio, and the desk built by ``build_desk`` from the
cluster's site, logging into each node's AMI itself. The test reads each node's own AMI (the operator's login) to
see what the desk did there.

- 签入 once over the desk's API: the agent is a member of its queues on both nodes; 置忙 (with a reason): paused on
  both.
- A citizen's call on n2 answered by the agent: a supervisor's 监听 leg starts on n2 and the agent's 转队列 (a blind
  transfer) runs on n2, both through the desk's API, which found the call by asking the nodes.
- n1 killed (SIGKILL): the desk's log-in and pause still work on n2 and say that n1 is away; n1 started again: the
  desk re-applies the agent's state there (paused with the reason set while n1 was away, not the one n1's astdb kept).

The timings printed here are from a shared, loaded machine; they are observations, not bounds.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import statistics
import time

import httpx
import pytest
from sqlalchemy import select

from agent_desk.api.agents import NOT_REGISTERED
from agent_desk.db import models as m
from agent_desk.process import DeskProcess, build_desk
from agent_desk.telephony import agents
from agent_desk.telephony import cluster as cl
from agent_desk.telephony.link import TelephonyLink
from hotline.numberplan import GENERAL_QUEUE
from hotline.paths import PROJECT_ROOT
from tests.support.cluster import desk_api, until, RunningCluster, running_cluster
from tests.support.desk import close_rig, make_rig
from tests.support.ports import free_port

pytestmark = pytest.mark.asterisk

# The peer registers 8001 and 8002 with Kamailio, and 8003 with a wrong password: never.
AGENT, SUPERVISOR, UNREGISTERED = "8001", "8002", "8003"


@pytest.fixture(scope="module")
async def cluster(tmp_path_factory) -> RunningCluster:
    async with running_cluster(tmp_path_factory.mktemp("cluster-desk"), agents={"first": 8001, "count": 3},
                               artifacts=PROJECT_ROOT / "test-artifacts" / "cluster-desk") as running:
        yield running


@pytest.fixture
async def desk(cluster: RunningCluster, new_database, redis_server):
    """The cluster's desk as ``hotline run`` builds it (the listener in a process of its own, so not here)."""
    process = build_desk(cluster.site, cluster.plan, cluster.secrets, listener=False,
                         database_url=new_database("sqlite"), redis_url=redis_server.authenticated_url)
    rig = make_rig(app=process.app)
    with rig.app.state.db.session() as session:
        for short, extension in (("agent", AGENT), ("boss", SUPERVISOR), ("agent2", UNREGISTERED)):
            session.scalar(select(m.User).where(m.User.username == rig.user(short))).extension = extension
    await process.start()
    try:
        await until(lambda: set(link(process).up()) == set(cluster.nodes), 30, "the desk logged into both nodes")
        yield process, rig
    finally:
        with contextlib.suppress(Exception):
            for node in cluster.nodes.values():
                await agents.logout(node.ami, AGENT)
        await process.stop()
        close_rig(rig)
        await cluster.hang_up_peer_calls()


def link(process: DeskProcess) -> TelephonyLink:
    return process.app.state.telephony


def api(process: DeskProcess) -> httpx.AsyncClient:
    return desk_api(process.app)



async def members(cluster: RunningCluster, node_id: str) -> dict[str, tuple[bool, str]]:
    """The agent's queues on one node, from that node's own AMI (QueueStatus): queue → (paused, reason)."""
    return {mb.queue: (mb.paused, mb.reason if mb.paused else "")
            for mb in await agents.memberships(cluster.nodes[node_id].ami, AGENT)}


async def until_members(cluster: RunningCluster, node_id: str, want: dict[str, tuple[bool, str]],
                        timeout: float = 30) -> float:
    started = time.monotonic()
    while (have := await members(cluster, node_id)) != want:
        assert time.monotonic() - started < timeout, f"{node_id}: {have} after {timeout:.0f} s, not {want}"
        await asyncio.sleep(0.2)
    return time.monotonic() - started


async def registered(cluster: RunningCluster, extension: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not await asyncio.to_thread(cluster.proxy.contacts, extension):
        assert time.monotonic() < deadline, f"agent {extension}'s phone is not registered with the proxy"
        await asyncio.sleep(0.3)


async def test_login_needs_the_phone_registered_with_the_proxy(cluster: RunningCluster, desk) -> None:
    """签入 asks the proxy (every node's contact for an agent is the proxy, so the nodes cannot tell): a phone the proxy
    has no registration for is refused with the single node's message; a registered one logs in. A proxy that does
    not answer does not block 签入 and the reply says so."""
    process, rig = desk
    await registered(cluster, AGENT)
    assert await asyncio.to_thread(cluster.proxy.contacts, UNREGISTERED) == []
    async with api(process) as http:
        reply = await http.post("/api/v1/agents/me/login", headers=rig.as_("agent2"))
        assert reply.status_code == 409, reply.text
        assert reply.json()["error"] == "phone_not_registered", reply.text
        assert reply.json()["message"] == NOT_REGISTERED.format(ext=UNREGISTERED), reply.text
        for node_id in cluster.nodes:   # nothing was done on any node
            assert await agents.memberships(cluster.nodes[node_id].ami, UNREGISTERED) == [], node_id
        state = (await http.get("/api/v1/agents/me", headers=rig.as_("agent2"))).json()
        assert state["registered"] is False and "registration_unconfirmed" not in state, state

        reply = await http.post("/api/v1/agents/me/login", headers=rig.as_("agent"))
        assert reply.status_code == 200, reply.text
        assert reply.json()["registered"] is True and "registration_unconfirmed" not in reply.json()
        assert (await http.post("/api/v1/agents/me/logout", headers=rig.as_("agent"))).status_code == 200

        # the desk cannot reach the proxy's admin port (a closed port here): 签入 goes ahead, and the reply says so
        real = link(process)
        assert real.site.cluster is not None
        closed = real.site.cluster.model_copy(update={"rpc_port": free_port()})
        process.app.state.telephony = dataclasses.replace(real, site=real.site.model_copy(update={"cluster": closed}))
        try:
            reply = await http.post("/api/v1/agents/me/login", headers=rig.as_("agent2"))
        finally:
            process.app.state.telephony = real
        assert reply.status_code == 200, reply.text
        assert "无法向集群代理" in reply.json()["registration_unconfirmed"], reply.text
        assert (await http.post("/api/v1/agents/me/logout", headers=rig.as_("agent2"))).status_code == 200


async def test_the_proxys_admin_port_answers_only_ul_lookup_and_only_the_permitted_addresses(
        cluster: RunningCluster) -> None:
    assert cluster.site.cluster is not None
    for extension in (AGENT, SUPERVISOR):   # the peer registers both phones when it starts: not before this test
        await registered(cluster, extension)
    url = cl.rpc_url(cluster.site.cluster)
    lookup = {"jsonrpc": "2.0", "method": "ul.lookup", "params": ["location", AGENT], "id": 1}
    close = {"Connection": "close"}   # the proxy closes each connection after its reply
    async with httpx.AsyncClient(timeout=5, headers=close) as http:
        reply = await http.post(url, json=lookup)
        assert reply.status_code == 200 and reply.json()["result"]["AoR"] == AGENT, reply.text
        for other in ({**lookup, "method": "dispatcher.set_state", "params": ["ip", 1, "sip:127.0.0.2"]},
                      {**lookup, "method": "ul.rm", "params": ["location", AGENT]}):
            reply = await http.post(url, json=other)
            assert reply.status_code == 403, (other, reply.text)
        assert (await http.post(url.replace("/RPC", "/other"), json=lookup)).status_code == 403
    # 127.0.0.9 is neither a node nor in rpc_permit (loopback 127.0.0.1 only)
    async with httpx.AsyncClient(timeout=5, headers=close,
                                 transport=httpx.AsyncHTTPTransport(local_address="127.0.0.9")) as http:
        assert (await http.post(url, json=lookup)).status_code == 403
    assert await asyncio.to_thread(cluster.proxy.contacts, AGENT)   # still registered: ul.rm never ran

    # what a 签入 waits for: the desk's question to the proxy (one agent), and 坐席管理's (every agent at once)
    took = []
    for _ in range(20):
        started = time.perf_counter()
        found = await cl.proxy_registrations(cluster.site.cluster, [AGENT])
        took.append(time.perf_counter() - started)
        assert found[AGENT].registered and not found[AGENT].unconfirmed
    started = time.perf_counter()
    many = await cl.proxy_registrations(cluster.site.cluster, [str(8001 + i) for i in range(100)])
    hundred = time.perf_counter() - started
    assert [e for e, r in many.items() if r.registered] == [AGENT, SUPERVISOR]
    print(f"\n[cluster desk] ul.lookup from the desk: median {statistics.median(took) * 1000:.1f} ms, "
          f"max {max(took) * 1000:.1f} ms (20 asks); 100 agents at once: {hundred * 1000:.0f} ms")


async def test_the_desk_logs_in_pauses_and_acts_on_calls_on_every_node(cluster: RunningCluster, desk) -> None:
    process, rig = desk
    for extension in (AGENT, SUPERVISOR):   # the supervisor's phone rings for 监听 below
        await registered(cluster, extension)
    as_agent, as_boss = rig.as_("agent"), rig.as_("boss")
    async with api(process) as http:
        # 签入 once: a member of its queues (the site's default, province) on both nodes
        reply = await http.post("/api/v1/agents/me/login", headers=as_agent)
        assert reply.status_code == 200, reply.text
        state = reply.json()
        assert [q["queue"] for q in state["queues"]] == [GENERAL_QUEUE]
        assert state["nodes_down"] == [] and state["nodes_disagree"] == []
        for node_id in cluster.nodes:
            assert await members(cluster, node_id) == {GENERAL_QUEUE: (False, "")}, node_id

        # 置忙 with a reason: paused on both, one state
        reply = await http.post("/api/v1/agents/me/pause", headers=as_agent, json={"reason": "meal"})
        assert reply.status_code == 200, reply.text
        paused = [(q["paused"], q["reason"], q["reason_label"]) for q in reply.json()["queues"]]
        assert paused == [(True, "meal", "就餐")], paused
        for node_id in cluster.nodes:
            assert await members(cluster, node_id) == {GENERAL_QUEUE: (True, "meal")}, node_id
        assert (await http.post("/api/v1/agents/me/unpause", headers=as_agent)).status_code == 200
        for node_id in cluster.nodes:
            assert await members(cluster, node_id) == {GENERAL_QUEUE: (False, "")}, node_id

        # a citizen's call on n2, answered by the agent
        n1, n2 = cluster.nodes["n1"], cluster.nodes["n2"]
        n1_mark, n2_mark = n1.events.mark(), n2.events.mark()
        cid = await cluster.queue_call("n2", GENERAL_QUEUE)
        await n2.events.wait_for(lambda e: e.name == "AgentConnect" and e.get("Linkedid") == cid, 30,
                                 f"agent {AGENT} answering n2's call {cid}", n2_mark)

        # 监听: the supervisor's leg is started on n2, where the call is (ChanSpy reaches only its own node)
        reply = await http.post("/api/v1/calls/spy", headers=as_boss, json={"agent": AGENT, "mode": "listen"})
        assert reply.status_code == 202, reply.text
        spy_leg = reply.json()["spy_channel_id"]
        await n2.events.wait_for(lambda e: e.name == "Newchannel" and e.get("Uniqueid") == spy_leg, 10,
                                 f"the spy leg {spy_leg} on n2", n2_mark)
        assert not n1.events.find(lambda e: e.get("Uniqueid") == spy_leg)

        # 转队列 (a blind transfer) from the agent's desk: run on n2. Paused first, so the queue keeps the citizen
        # waiting instead of offering the call straight back to the same agent.
        reply = await http.post("/api/v1/agents/me/pause", headers=as_agent, json={"reason": "meal"})
        assert reply.status_code == 200, reply.text
        reply = await http.post("/api/v1/calls/current/transfer", headers=as_agent,
                                json={"kind": "queue", "target": GENERAL_QUEUE})
        assert reply.status_code == 200, reply.text
        result = reply.json()["result"]
        assert (result["kind"], result["outcome"], result["call_id"]) == ("queue", "queued", cid), result
        entries = [e for e in await n2.ami.action_list({"Action": "QueueStatus", "Queue": GENERAL_QUEUE})
                   if e.name == "QueueEntry"]
        assert entries, "the citizen is not waiting in n2's queue after the transfer"
        assert not [e for e in n1.events.events[n1_mark:] if e.name == "BlindTransfer"]   # nothing ran on n1
        await cluster.hang_up_peer_calls()
        for node in (n1, n2):
            for event in await node.ami.action_list({"Action": "CoreShowChannels"}):
                if event.name == "CoreShowChannel":
                    with contextlib.suppress(Exception):
                        await node.ami.hangup(event["Channel"])

        # n1 dies: the desk sees it away; log-in and pause still work on n2, and say n1 is away
        cluster.kill_node("n1")
        out = await until(lambda: "n1" not in link(process).up(), 15, "the desk seeing n1 away")
        reply = await http.post("/api/v1/agents/me/unpause", headers=as_agent)
        assert reply.status_code == 200, reply.text
        assert reply.json()["nodes_down"] == ["n1"]
        reply = await http.post("/api/v1/agents/me/login", headers=as_agent)
        assert reply.status_code == 200, reply.text
        reply = await http.post("/api/v1/agents/me/pause", headers=as_agent, json={"reason": "training"})
        assert reply.status_code == 200, reply.text
        assert reply.json()["nodes_down"] == ["n1"]
        assert [(q["paused"], q["reason"]) for q in reply.json()["queues"]] == [(True, "training")]
        assert await members(cluster, "n2") == {GENERAL_QUEUE: (True, "training")}

        # n1 back: its astdb says "meal"; the desk makes it match n2
        started = time.monotonic()
        await cluster.start_node("n1")
        await until(lambda: "n1" in link(process).up(), 30, "the desk logged into n1 again")
        back = time.monotonic() - started
        reapplied = await until_members(cluster, "n1", {GENERAL_QUEUE: (True, "training")})
        reply = await http.get("/api/v1/agents/me", headers=as_agent)
        assert reply.status_code == 200 and reply.json()["nodes_down"] == [] \
            and reply.json()["nodes_disagree"] == [], reply.text
        print(f"\n[cluster desk] n1 killed: the desk saw it away in {out:.1f} s; started again: the desk logged in "
              f"{back:.1f} s after the start began, the agent's state was on n1 {reapplied:.1f} s later")
