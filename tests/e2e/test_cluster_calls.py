"""A call on another node, end to end (issue 15, point 4): 三方转接 to a sub-center and 录音回放 for a citizen's call
on n2 of a two-node cluster (Kamailio on 127.0.0.1, nodes on 127.0.0.2 and 127.0.0.3, the peer as the carrier, the
agents' phones and the sub-centers). The desk is ``build_desk`` on the cluster's site and the listener is
``build_listener`` on every node, sharing one database, as ``hotline run --desk-only`` and ``hotline listener`` do,
so the call becomes a record.

- The agent's 三方转接 to 12366 through the desk's API: the far leg is dialled by n2 on its own trunk to the sub-center
  (the peer answers as 12366), the ConfBridge is on n2, the agent leaves, the citizen and the sub-center stay; n1
  sees none of it.
- After the call ends, its recording (written by n2 under its own instance directory) plays through the desk's API;
  a desk whose machine does not see n2's recordings folder answers a 404 that says so (not "the disk was full").

The timings printed here are from a shared, loaded machine; they are observations, not bounds.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest
from sqlalchemy import select

from agent_desk.db import models as m
from agent_desk.process import DeskProcess, build_desk, build_listener
from agent_desk.telephony import agents, conference_members
from agent_desk.telephony.recording import WAV_HEADER_BYTES, recording_path, recordings_dir
from hotline.numberplan import GENERAL_QUEUE
from hotline.paths import PROJECT_ROOT
from tests.support.cluster import desk_api, until, RunningCluster, running_cluster
from tests.support.desk import DeskRig, close_rig, make_rig

pytestmark = pytest.mark.asterisk

AGENT = "8001"            # the peer registers 8001 with Kamailio (8002, the last, with a wrong password: never)
SUB_CENTER = "12366"      # 国家税务总局海南省税务局12366分中心, on trunk subcenter-12366
HALF_A_SECOND = 8000      # bytes of 8 kHz 16-bit mono sound: a recording that holds the conversation, not a header


@pytest.fixture(scope="module")
async def cluster(tmp_path_factory) -> AsyncIterator[RunningCluster]:
    async with running_cluster(tmp_path_factory.mktemp("cluster-calls"),
                               artifacts=PROJECT_ROOT / "test-artifacts" / "cluster-calls") as running:
        yield running


@pytest.fixture
async def desk(cluster: RunningCluster, new_database, redis_server):
    """The cluster's desk and its listener (every node), on one database. Both read recordings where this machine
    shows the nodes' Asterisk paths (one Asterisk root for every node here, a chroot when the tests use one)."""
    database = new_database("sqlite")
    host_dir = str(cluster.nodes["n1"].asterisk.host_path(recordings_dir(cluster.site)))
    common = {"database_url": database, "redis_url": redis_server.authenticated_url, "recordings_host_dir": host_dir}
    process = build_desk(cluster.site, cluster.plan, cluster.secrets, listener=False, **common)
    rig = make_rig(app=process.app)   # migrates the database, adds the users
    with rig.app.state.db.session() as session:
        session.scalar(select(m.User).where(m.User.username == rig.user("agent"))).extension = AGENT
    listener = build_listener(cluster.site, cluster.plan, cluster.secrets, **common)
    await process.start()
    await listener.start(retry=1)
    try:
        await until(lambda: set(process.app.state.telephony.up()) == set(cluster.nodes), 30,
                    "the desk logged into both nodes")
        yield process, rig, listener
    finally:
        # Every step runs, each bounded: one that stalls is named here instead of ending as the suite's 300 s
        # timeout (one run of this module, on a loaded box, spent its last 4½ minutes in this teardown unnamed).
        steps: list[tuple[str, Callable[[], Awaitable[object]]]] = [
            *((f"logging {AGENT} out on {node_id}", lambda ami=node.ami: agents.logout(ami, AGENT))
              for node_id, node in cluster.nodes.items()),
            ("hanging up the peer's calls", cluster.hang_up_peer_calls),
            ("hanging up the nodes' channels", lambda: hang_up_nodes(cluster)),
            ("stopping the listener", listener.stop), ("stopping the desk", process.stop)]
        stalled = []
        for step, work in steps:
            try:
                await asyncio.wait_for(work(), 30)
            except TimeoutError:
                stalled.append(step)
            except Exception:   # a step that fails (a node already gone) must not skip the rest
                pass
        close_rig(rig)
        assert not stalled, f"teardown: more than 30 s {', '.join(stalled)}"


def api(process: DeskProcess) -> httpx.AsyncClient:
    return desk_api(process.app)



async def hang_up_nodes(cluster: RunningCluster) -> None:
    for node in cluster.nodes.values():
        for event in await node.ami.action_list({"Action": "CoreShowChannels"}):
            if event.name == "CoreShowChannel":
                with contextlib.suppress(Exception):
                    await node.ami.hangup(event["Channel"])


async def answered_row(rig: DeskRig, call_id: str, timeout: float = 20) -> m.Call:
    """The call as the listener recorded it, once it has an agent."""
    deadline = time.monotonic() + timeout
    while True:
        with rig.app.state.db.session() as session:
            row = session.scalar(select(m.Call).where(m.Call.call_id == call_id))
            if row is not None and row.answered_at is not None:
                session.expunge(row)
                return row
        assert time.monotonic() < deadline, f"call {call_id} not recorded as answered by the listener"
        await asyncio.sleep(0.2)


async def test_three_way_to_a_sub_center_on_n2_then_its_recording_plays(cluster: RunningCluster, desk,
                                                                        tmp_path) -> None:
    process, rig, _listener = desk
    as_agent = rig.as_("agent")
    n1, n2 = cluster.nodes["n1"], cluster.nodes["n2"]
    deadline = time.monotonic() + 20
    while not await asyncio.to_thread(cluster.proxy.contacts, AGENT):
        assert time.monotonic() < deadline, f"agent {AGENT}'s phone is not registered with the proxy"
        await asyncio.sleep(0.3)

    async with api(process) as http:
        reply = await http.post("/api/v1/agents/me/login", headers=as_agent)
        assert reply.status_code == 200, reply.text

        # a citizen's call on n2, answered by the agent, recorded by the listener of n2
        n1_mark, n2_mark, peer_mark = n1.events.mark(), n2.events.mark(), cluster.peer_events.mark()
        cid = await cluster.queue_call("n2", GENERAL_QUEUE)
        connect = await n2.events.wait_for(lambda e: e.name == "AgentConnect" and e.get("Linkedid") == cid, 30,
                                           f"agent {AGENT} answering n2's call {cid}", n2_mark)
        citizen, agent_leg = connect["Channel"], connect["DestChannel"]
        row = await answered_row(rig, cid)
        # n2 records under its own instance directory, and the call row says so
        assert row.recording == recording_path(recordings_dir(cluster.site, "n2"), cid), row.recording
        await asyncio.sleep(1.5)   # a moment of conversation into the queue's MixMonitor

        # 三方转接 from the agent's desk: n2 dials the sub-center on its own trunk and holds the conference
        started = time.monotonic()
        reply = await http.post("/api/v1/calls/current/transfer", headers=as_agent,
                                json={"kind": "three_way", "target": SUB_CENTER, "agent_stays": True})
        bridged_in = time.monotonic() - started
        assert reply.status_code == 200, reply.text
        body = reply.json()
        result = body["result"]
        assert (result["outcome"], result["call_id"], result["agent_stayed"]) == ("bridged", cid, True), body
        assert body["pending"] == "leave" and "纳税服务热线" in body["message"], body
        far = result["far_channel"]
        assert far.startswith(f"PJSIP/trunk-subcenter-{SUB_CENTER}-"), far
        assert set(await conference_members(n2.ami, result["conference"])) == {citizen, agent_leg, far}
        # the sub-center (the peer) answered a call on its 12366 trunk
        assert [e for e in cluster.peer_events.events[peer_mark:] if e.name == "Newchannel"
                and e.get("Channel").startswith(f"PJSIP/subcenter-{SUB_CENTER}-")], "the sub-center never saw the call"

        # the agent leaves: the citizen and the sub-center stay, on n2
        reply = await http.post("/api/v1/calls/current/transfer/leave", headers=as_agent)
        assert reply.status_code == 200, reply.text
        assert set(reply.json()["remaining"]) == {citizen, far}, reply.text
        await n2.events.wait_for(lambda e: e.name == "Hangup" and e.get("Channel") == agent_leg, 10,
                                 "the agent's leg ends", n2_mark)
        await asyncio.sleep(1.0)   # the two stay together, not only at the moment the agent left
        assert set(await conference_members(n2.ami, result["conference"])) == {citizen, far}

        # nothing of this call ran on n1
        on_n1 = [e for e in n1.events.events[n1_mark:]
                 if e.name in ("Newchannel", "ConfbridgeJoin", "OriginateResponse", "BlindTransfer")]
        assert on_n1 == [], [(e.name, e.get("Channel")) for e in on_n1]

        # the call ends; the hand-off is on the call's record, once
        await cluster.hang_up_peer_calls()
        await hang_up_nodes(cluster)
        await n2.events.wait_for(lambda e: e.name == "Hangup" and e.get("Channel") == citizen, 15,
                                 "the citizen's leg ends", n2_mark)
        with rig.app.state.db.session() as session:
            row = session.scalar(select(m.Call).where(m.Call.call_id == cid))
            outcomes = [(e["Kind"], e["Target"], e["Outcome"]) for e in row.transfers if e.get("TransferID")]
        assert outcomes.count(("three_way", SUB_CENTER, "bridged")) == 1, row.transfers
        assert ("three_way", SUB_CENTER, "agent_left") in outcomes, row.transfers

        # 录音回放: n2's recording through the desk's API (MixMonitor closes the file after the hang-up)
        url = f"/api/v1/calls/{cid}/recording"
        deadline = time.monotonic() + 15
        while (played := await http.get(url, headers=as_agent)).status_code == 404:
            assert time.monotonic() < deadline, played.text
            await asyncio.sleep(0.3)
        assert played.status_code == 200, played.text
        assert played.headers["content-type"] == "audio/wav" and played.content[:4] == b"RIFF"
        assert len(played.content) > WAV_HEADER_BYTES + HALF_A_SECOND, len(played.content)
        assert (await http.get(url, headers=rig.as_("boss"))).status_code == 200
        with rig.app.state.db.session() as session:
            plays = session.scalars(select(m.AuditEntry).where(m.AuditEntry.action == "play_recording",
                                                               m.AuditEntry.object_id == cid)).all()
        assert sorted(p.username for p in plays) == sorted([rig.user("agent"), rig.user("boss")])

        # a desk on a machine that mounts only its own recordings folder (not n2's): a 404 that says where it is
        settings = process.app.state.settings
        own_mount = tmp_path / "monitor-copy"
        own_mount.mkdir()
        process.app.state.settings = dataclasses.replace(settings, recordings_host_dir=str(own_mount))
        try:
            elsewhere = await http.get(url, headers=as_agent)
        finally:
            process.app.state.settings = settings
        assert elsewhere.status_code == 404, elsewhere.text
        assert elsewhere.json()["error"] == "recording_elsewhere", elsewhere.text
        assert "另一台电话节点" in elsewhere.json()["message"] and "录音盘已满" not in elsewhere.json()["message"]

    print(f"\n[cluster calls] 三方转接 to {SUB_CENTER} from n2: bridged {bridged_in * 1000:.0f} ms after the desk's "
          f"request; n2's recording {len(played.content)} bytes")
