"""The desk's actions across the nodes of a cluster (issue 15), against one scripted AMI per node that fails the test on
any action it was not told to expect: log-in, pause and log-out go to every connected node and to no node that is
away; one agent state is read from all nodes (and the nodes that differ are named); a node that returns is made to
match the others; actions on a call go to the node that carries it."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from agent_desk.api import agents as api_agents
from agent_desk.errors import DeskError
from agent_desk.telephony import agents as ag
from agent_desk.telephony import cluster as cl
from agent_desk.telephony import spy as sp
from agent_desk.telephony import transfers as tx
from agent_desk.telephony.link import SINGLE_NODE, NodeClient, NodeDown, TelephonyLink, nodes_of
from hotline.ami import AmiClient, AmiError, AmiEvent
from hotline.numberplan import load_plan
from hotline.site import SiteConfig
from tests.unit.golden import PLAN

OK = {"Response": "Success"}


class ScriptedNode(NodeClient):
    """One node's AMI: answers exactly the actions it is given, in order; anything else fails the test."""

    def __init__(self, node_id: str, siblings: dict[str, AmiClient], script: list, up: bool = True):
        super().__init__(node_id, "127.0.0.1", 9, "desk", "unused", siblings)
        self.manager.authenticated = up
        self.script = list(script)
        siblings[node_id] = self

    def _next(self, action: Mapping) -> object:
        assert self.script, f"node {self.node_id}: unexpected action {dict(action)}"
        expected, answer = self.script.pop(0)
        got = {k: action.get(k) for k in expected}
        assert got == expected, f"node {self.node_id}: expected {expected}, got {dict(action)}"
        if isinstance(answer, Exception):
            raise answer
        return answer

    async def action(self, action, timeout: float = 10.0) -> dict:   # type: ignore[override]
        return self._next(action)   # type: ignore[return-value]

    async def action_list(self, action, timeout: float = 10.0) -> list[AmiEvent]:   # type: ignore[override]
        return self._next(action)   # type: ignore[return-value]


def member(queue: str, ext: str = "8001", paused: bool = False, reason: str = "", penalty: int = 0,
           in_call: bool = False) -> AmiEvent:
    return AmiEvent("QueueMember", {"Queue": queue, "Location": f"PJSIP/{ext}", "Paused": "1" if paused else "0",
                                    "PausedReason": reason, "Status": "1", "InCall": "1" if in_call else "0",
                                    "Penalty": str(penalty)})


def membership(queue: str, ext: str = "8001", paused: bool = False, reason: str = "", penalty: int = 0,
               in_call: bool = False) -> ag.Membership:
    return ag.Membership(queue, ext, paused, reason, "1", in_call, penalty)


def link_of(nodes: dict[str, AmiClient], ids: tuple[str, ...] = ("n1", "n2")) -> TelephonyLink:
    return TelephonyLink(None, load_plan(PLAN), SiteConfig(), nodes=nodes, node_ids=ids)


def login_script(queue: str = "province") -> list:
    return [({"Action": "QueueStatus"}, []),
            ({"Action": "QueueAdd", "Queue": queue, "Interface": "PJSIP/8001", "Paused": "false"}, OK),
            ({"Action": "UserEvent", "AgentAction": "login", "Queues": queue}, OK)]


# ── actions on every node ────────────────────────────────────────────────────
async def test_a_login_goes_to_every_node():
    nodes: dict[str, AmiClient] = {}
    n1, n2 = ScriptedNode("n1", nodes, login_script()), ScriptedNode("n2", nodes, login_script())
    joined, where = await cl.login_with_skills(link_of(nodes), "8001", [ag.Skill("province")])
    assert joined == ["province"] and where == cl.Across(("n1", "n2"))
    assert n1.script == [] and n2.script == []


async def test_a_node_that_is_away_is_left_out_and_named():
    nodes: dict[str, AmiClient] = {}
    ScriptedNode("n1", nodes, [], up=False)   # any action sent to it fails the test
    n2 = ScriptedNode("n2", nodes, [
        ({"Action": "QueuePause", "Interface": "PJSIP/8001", "Paused": "true", "Reason": "meal"}, OK),
        ({"Action": "UserEvent", "AgentAction": "pause", "Reason": "meal"}, OK)])
    where = await cl.pause(link_of(nodes), "8001", "meal")
    assert where.done == ("n2",) and where.down == ("n1",)
    assert n2.script == []


async def test_a_node_never_reached_is_down_too():
    nodes: dict[str, AmiClient] = {}
    n1 = ScriptedNode("n1", nodes, [({"Action": "QueuePause", "Paused": "false"}, OK),
                                    ({"Action": "UserEvent", "AgentAction": "unpause"}, OK)])
    where = await cl.unpause(link_of(nodes), "8001")   # n2 never logged in: not in the mapping at all
    assert where.done == ("n1",) and where.down == ("n2",) and n1.script == []


async def test_no_node_up_is_a_chinese_503():
    nodes: dict[str, AmiClient] = {}
    ScriptedNode("n1", nodes, [], up=False)
    ScriptedNode("n2", nodes, [], up=False)
    with pytest.raises(NodeDown) as down:
        await cl.pause(link_of(nodes), "8001", "break")
    assert down.value.nodes == ["n1", "n2"]
    assert down.value.message == "电话系统节点n1、n2暂时无法连接，请稍后重试"
    with pytest.raises(DeskError) as refused:
        await api_agents._pause(link_of(nodes), "8001", "break")
    assert (refused.value.status, refused.value.code) == (503, "telephony_unavailable")
    assert "n1、n2" in refused.value.message


async def test_refused_by_every_node_is_the_refusal_by_one_is_named():
    nodes: dict[str, AmiClient] = {}
    not_in = AmiError("QueuePause: Interface not found")
    ScriptedNode("n1", nodes, [({"Action": "QueuePause"}, not_in)])
    ScriptedNode("n2", nodes, [({"Action": "QueuePause"}, not_in)])
    with pytest.raises(DeskError) as refused:   # the agent is logged in nowhere: today's 409
        await api_agents._pause(link_of(nodes), "8001", "break")
    assert refused.value.status == 409 and refused.value.message.startswith("置忙失败")

    nodes = {}
    ScriptedNode("n1", nodes, [({"Action": "QueuePause"}, not_in)])
    ScriptedNode("n2", nodes, [({"Action": "QueuePause"}, OK), ({"Action": "UserEvent"}, OK)])
    where = await cl.pause(link_of(nodes), "8001", "break")
    assert where.done == ("n2",) and dict(where.refused) == {"n1": str(not_in)}


async def test_a_single_node_link_is_the_one_connection():
    nodes: dict[str, AmiClient] = {}
    only = ScriptedNode("x", nodes, login_script())
    link = TelephonyLink(only, load_plan(PLAN), SiteConfig())
    assert not link.clustered and link.ami is only and list(link.up()) == [SINGLE_NODE]
    joined, where = await cl.login_with_skills(link, "8001", [ag.Skill("province")])
    assert joined == ["province"] and where.done == (SINGLE_NODE,) and where.down == ()


# ── one state from every node ────────────────────────────────────────────────
def test_the_state_is_what_most_nodes_say_and_the_odd_node_is_named():
    agree = [membership("province", paused=True, reason="meal")]
    view = cl.merge("8001", {"n1": [membership("province")], "n2": agree, "n3": agree}, down=["n4"])
    assert [(m.queue, m.paused, m.reason) for m in view.members] == [("province", True, "meal")]
    assert view.disagree == ["n1"] and view.down == ["n4"]


def test_a_tie_is_the_first_nodes_view_and_a_call_on_any_node_is_a_call():
    view = cl.merge("8001", {"n1": [membership("province")], "n2": [membership("province", in_call=True, penalty=2)]})
    assert view.members[0].penalty == 0 and view.members[0].in_call is True and view.disagree == ["n2"]
    same = cl.merge("8001", {"n1": [membership("province"), membership("province", ext="8002")],
                             "n2": [membership("province", in_call=True)]})
    assert same.disagree == [] and same.members[0].in_call   # the call is no disagreement; 8002 is not 8001


async def test_the_api_state_says_which_node_disagreed():
    nodes: dict[str, AmiClient] = {}
    ScriptedNode("n1", nodes, [({"Action": "QueueStatus"}, [member("province", paused=True, reason="meal")]),
                               ({"Action": "Getvar", "Variable": "PJSIP_AOR(8001,contact)"}, {"Value": ""})])
    ScriptedNode("n2", nodes, [({"Action": "QueueStatus"}, [member("province")])])
    state = await api_agents._state(link_of(nodes, ("n1", "n2", "n3")), "8001")
    assert [q.paused for q in state.queues] == [True] and state.queues[0].reason_label
    assert state.nodes_disagree == ["n2"] and state.nodes_down == ["n3"]
    assert state.model_dump(mode="json")["nodes_down"] == ["n3"]


# ── a node that comes back ───────────────────────────────────────────────────
async def test_a_returning_node_is_made_to_match_the_others():
    """Its astdb still has the agent unpaused in a queue taken away and lacks a queue added meanwhile, with the
    wrong penalty in the third; the others have it paused for a meal."""
    meal = dict(paused=True, reason="meal")
    reference = {"n2": [ag.Membership("province", "8001", True, "meal", "1", False, 0),
                        ag.Membership("leaders", "8001", True, "meal", "1", False, 0),
                        ag.Membership("expert-12320", "8001", True, "meal", "1", False, 4)]}
    nodes: dict[str, AmiClient] = {}
    back = ScriptedNode("n1", nodes, [
        ({"Action": "QueueStatus"}, [member("province"), member("sp-0898"), member("expert-12320", **meal),
                                     member("province", ext="8002")]),
        ({"Action": "QueueRemove", "Queue": "sp-0898", "Interface": "PJSIP/8001"}, OK),
        ({"Action": "QueuePause", "Queue": "province", "Paused": "true", "Reason": "meal"}, OK),
        ({"Action": "QueueAdd", "Queue": "leaders", "Penalty": "0", "Paused": "true"}, OK),
        ({"Action": "QueuePause", "Queue": "leaders", "Paused": "true", "Reason": "meal"}, OK),
        ({"Action": "QueuePenalty", "Queue": "expert-12320", "Penalty": "4"}, OK),
        # 8002: logged out on the others while n1 was away
        ({"Action": "QueueRemove", "Queue": "province", "Interface": "PJSIP/8002"}, OK),
    ])
    sent = await cl.reconcile(back, reference, ["8001", "8002"])
    assert sent == 6 and back.script == []


async def test_with_no_other_node_up_a_returning_node_keeps_its_own_state():
    nodes: dict[str, AmiClient] = {}
    back = ScriptedNode("n1", nodes, [])
    assert await cl.reconcile(back, {}, ["8001"]) == 0


async def test_a_refusal_while_reconciling_does_not_stop_the_rest():
    nodes: dict[str, AmiClient] = {}
    back = ScriptedNode("n1", nodes, [
        ({"Action": "QueueStatus"}, []),
        ({"Action": "QueueAdd", "Queue": "gone"}, AmiError("QueueAdd: No such queue")),
        ({"Action": "QueuePause", "Queue": "gone", "Paused": "false"}, AmiError("QueuePause: Interface not found")),
        ({"Action": "QueueAdd", "Queue": "province"}, OK),
        ({"Action": "QueuePause", "Queue": "province", "Paused": "false"}, OK),
    ])
    reference = {"n2": [ag.Membership("gone", "8001", False, "", "1", False, 0),
                        ag.Membership("province", "8001", False, "", "1", False, 0)]}
    assert await cl.reconcile(back, reference, ["8001"]) == 4 and back.script == []


# ── actions on a call go to its node ─────────────────────────────────────────
def channel(name: str, bridge: str = "b1") -> AmiEvent:
    return AmiEvent("CoreShowChannel", {"Channel": name, "BridgeId": bridge, "Application": "Queue",
                                        "Uniqueid": "1700000000.5"})


async def test_the_agents_call_is_found_on_the_node_that_carries_it_and_acted_on_there():
    nodes: dict[str, AmiClient] = {}
    n1 = ScriptedNode("n1", nodes, [({"Action": "CoreShowChannels"}, [channel("PJSIP/8002-00000001")])])
    n2 = ScriptedNode("n2", nodes, [
        ({"Action": "CoreShowChannels"}, [channel("PJSIP/8001-0000000a")]),
        ({"Action": "Getvar", "Channel": "PJSIP/8001-0000000a", "Variable": "BRIDGEPEER"},
         {"Value": "PJSIP/carrier-00000009"}),
        ({"Action": "Getvar", "Channel": "PJSIP/carrier-00000009"}, {"Value": "call-n2-1"}),
        ({"Action": "CancelAtxfer", "Channel": "PJSIP/8001-0000000a"}, OK),
    ])
    link = link_of(nodes)
    assert link.ami is n1   # the handle code written for one node is given
    call = await tx.agent_call(link.ami, "8001")
    assert call is not None and call.node is n2 and call.call_id == "call-n2-1"
    await tx.cancel_attended_transfer(link.ami, call)   # handed n1's connection: still sent to n2
    assert n1.script == [] and n2.script == []


async def test_a_spy_leg_starts_on_the_node_of_the_call():
    nodes: dict[str, AmiClient] = {}
    n1 = ScriptedNode("n1", nodes, [({"Action": "CoreShowChannels"}, [])])
    n2 = ScriptedNode("n2", nodes, [
        ({"Action": "CoreShowChannels"}, [channel("PJSIP/8001-0000000a")]),
        ({"Action": "Getvar", "Variable": "BRIDGEPEER"}, {"Value": "PJSIP/carrier-00000009"}),
        ({"Action": "Getvar", "Channel": "PJSIP/carrier-00000009"}, {"Value": "call-n2-1"}),
        ({"Action": "Originate", "Channel": "PJSIP/8009", "Application": "ChanSpy",
          "Data": "PJSIP/8001-0000000a,qES"}, OK),
    ])
    session = await sp.spy(n1, "8009", "8001", "listen")
    assert session.call_id == "call-n2-1" and n1.script == [] and n2.script == []


async def test_ending_the_call_hangs_up_on_the_node_that_has_the_channel():
    nodes: dict[str, AmiClient] = {}
    n1 = ScriptedNode("n1", nodes, [({"Action": "Getvar", "Channel": "PJSIP/8001-0000000a"}, AmiError("No such"))])
    n2 = ScriptedNode("n2", nodes, [
        ({"Action": "Getvar", "Channel": "PJSIP/8001-0000000a"}, {"Value": "PJSIP/8001-0000000a"}),
        ({"Action": "Hangup", "Channel": "PJSIP/8001-0000000a"}, OK),
    ])
    await n1.hangup("PJSIP/8001-0000000a")
    assert n1.script == [] and n2.script == []


async def test_nodes_that_are_away_are_not_asked_for_the_call():
    nodes: dict[str, AmiClient] = {}
    n1 = ScriptedNode("n1", nodes, [({"Action": "CoreShowChannels"}, [])])
    ScriptedNode("n2", nodes, [], up=False)
    assert list(nodes_of(n1)) == ["n1"]
    assert await tx.agent_call(n1, "8001") is None and n1.script == []


async def test_a_single_nodes_agent_state_has_no_node_fields():
    nodes: dict[str, AmiClient] = {}
    only = ScriptedNode("x", nodes, [({"Action": "QueueStatus"}, [member("province")]),
                                     ({"Action": "Getvar", "Variable": "PJSIP_AOR(8001,contact)"}, {"Value": ""})])
    state = await api_agents._state(TelephonyLink(only, load_plan(PLAN), SiteConfig()), "8001")
    assert set(state.model_dump()) == set(state.model_dump(mode="json")) == {"extension", "queues", "registered"}


async def test_a_node_still_loading_its_queues_is_waited_for():
    """Asterisk lets AMI in before app_queue is loaded: until ListCommands has the queue actions, nothing is sent."""
    nodes: dict[str, AmiClient] = {}
    commands = {name: "…" for name in cl.QUEUE_ACTIONS}
    booting = ScriptedNode("n1", nodes, [({"Action": "ListCommands"}, {"Ping": "…"}),
                                         ({"Action": "ListCommands"}, AmiError("ListCommands: not yet")),
                                         ({"Action": "ListCommands"}, commands)])
    assert await cl.queues_ready(booting, timeout=5, every=0.01) and booting.script == []
    never = ScriptedNode("n2", nodes, [({"Action": "ListCommands"}, {"Ping": "…"})])
    assert not await cl.queues_ready(never, timeout=0) and never.script == []


# ── a cluster node's recording ───────────────────────────────────────────────
def test_a_cluster_nodes_recording_is_read_beside_the_desks_recordings_directory(tmp_path):
    """A node writes under ``<instance_dir>-<node id>/spool/monitor``; the desk reads it where the host shows that
    path (the nodes on its machine, in Asterisk's root): never out of that directory, never another layout."""
    from agent_desk.settings import DeskSettings
    from agent_desk.telephony.recording import WAV_HEADER_BYTES, host_file

    root = tmp_path / "root"   # Asterisk's root (chroot): the host shows /srv/c-n2/... at root/srv/c-n2/...
    settings = DeskSettings("sqlite://", "redis://", recordings_dir="/srv/c/spool/monitor",
                            recordings_host_dir=str(root / "srv/c/spool/monitor"))
    for directory in ("srv/c/spool/monitor", "srv/c-n2/spool/monitor", "srv/c-n2/secret", "srv/other/spool/monitor"):
        (root / directory).mkdir(parents=True)
        (root / directory / "a.wav").write_bytes(b"R" * (WAV_HEADER_BYTES + 320))
    assert host_file(settings, "/srv/c/spool/monitor/a.wav") == (root / "srv/c/spool/monitor/a.wav").resolve()
    assert host_file(settings, "/srv/c-n2/spool/monitor/a.wav") == (root / "srv/c-n2/spool/monitor/a.wav").resolve()
    for elsewhere in ("/srv/c-n2/spool/monitor/../secret/a.wav", "/srv/c-n2/secret/a.wav",
                      "/srv/other/spool/monitor/a.wav", "/srv/c-N2/spool/monitor/a.wav",
                      "/srv/c-n2/x/spool/monitor/a.wav", "/srv/c-n2"):
        assert host_file(settings, elsewhere) is None, elsewhere
    # a desk that reads its recordings from a mount of its own: a node's are not there
    mounted = DeskSettings("sqlite://", "redis://", recordings_dir="/srv/c/spool/monitor",
                           recordings_host_dir=str(root / "srv/c/spool/monitor-copy"))
    assert host_file(mounted, "/srv/c-n2/spool/monitor/a.wav") is None


def test_a_nodes_recordings_are_watched_where_they_are_read(tmp_path):
    """The recordings watch (``agent_desk.calls.recording_watch``) looks where the desk plays them from: the node's
    folder beside the desk's, or nowhere (a desk reading its own mount does not see the node's)."""
    from agent_desk.calls.recording_watch import RecordingWatch
    from agent_desk.settings import DeskSettings
    from agent_desk.telephony.recording import host_directory

    root = tmp_path / "root"
    (root / "srv/c-n2/spool/monitor").mkdir(parents=True)
    settings = DeskSettings("sqlite://", "redis://", recordings_dir="/srv/c/spool/monitor",
                            recordings_host_dir=str(root / "srv/c/spool/monitor"))
    assert host_directory(settings, "/srv/c/spool/monitor") == root / "srv/c/spool/monitor"
    assert host_directory(settings, "/srv/c-n2/spool/monitor/") == root / "srv/c-n2/spool/monitor"
    assert host_directory(settings, "/srv/other/spool/monitor") is None
    mounted = DeskSettings("sqlite://", "redis://", recordings_dir="/srv/c/spool/monitor",
                           recordings_host_dir=str(root / "srv/c/spool/monitor-copy"))
    assert host_directory(mounted, "/srv/c-n2/spool/monitor") is None
    assert host_directory(DeskSettings("sqlite://", "redis://"), "/srv/c/spool/monitor") is None
    # readable by the rule but not on this machine (the node's spool not mounted here): not watched
    assert RecordingWatch("/srv/c-n2/spool/monitor", root / "srv/c-n2/spool/monitor").active
    assert not RecordingWatch("/srv/c/spool/monitor", root / "srv/c/spool/monitor").active
