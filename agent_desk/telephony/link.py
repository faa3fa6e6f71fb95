"""The desk's handle on the phone system: its AMI connection to every Asterisk node, the number plan and the site.

``hotline run`` puts one on ``app.state.telephony`` once the desk is connected; request handlers get it through
``agent_desk.api.deps.telephony`` (503 with a Chinese message while no node is reachable).

A single node (a site without ``cluster:``) has one connection, the node id ``SINGLE_NODE`` (""), exactly as
before. A cluster (issue 15) has one connection per node (``nodes``, by node id), each logged in and retried on its
own: a node that is away is only missing from ``up()``, and the actions that need it say so (503, ``NodeDown``).
``ami`` stays the one connection of a single node and, in a cluster, is any connected node's: code that only needs
"an Asterisk" (originating a call back to a citizen) keeps working; actions on agents and on calls use the per-node
functions (``agent_desk.telephony.cluster``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from hotline.ami import AmiClient
from hotline.numberplan import NumberPlan
from hotline.site import SiteConfig

from agent_desk.telephony._ami import channel_exists

SINGLE_NODE = ""   # the node id of a center on one Asterisk (agent_desk.bootstrap.SINGLE_NODE)


class NodeClient(AmiClient):
    """One cluster node's AMI connection, which knows its node id and the desk's other nodes' connections, so that a
    function handed any node's client (``TelephonyLink.ami``) can find the node that carries an agent's call."""

    def __init__(self, node_id: str, host: str, port: int, username: str, secret: str,
                 siblings: Mapping[str, AmiClient]):
        super().__init__(host, port, username, secret)
        self.node_id = node_id
        self.siblings = siblings   # node id → connection, this one included (the desk's live mapping)

    async def hangup(self, channel: str) -> None:
        """Hang up ``channel`` on the node that has it (the desk's "end the call" is handed any node's connection);
        this node's refusal when none has it."""
        if not await channel_exists(self, channel):
            for client in nodes_of(self).values():
                if client is not self and await channel_exists(client, channel):
                    await client.action({"Action": "Hangup", "Channel": channel})
                    return
        await super().hangup(channel)


def connected(ami: AmiClient) -> bool:
    return bool(ami.manager.authenticated)


def nodes_of(ami: AmiClient) -> dict[str, AmiClient]:
    """Every connected node's client, by node id, given one of them (a single node: itself, as ``SINGLE_NODE``)."""
    if isinstance(ami, NodeClient):
        return {node: client for node, client in ami.siblings.items() if connected(client)}
    return {SINGLE_NODE: ami}


def node_id_of(ami: AmiClient) -> str:
    return ami.node_id if isinstance(ami, NodeClient) else SINGLE_NODE


@dataclass(frozen=True)
class TelephonyLink:
    ami_: AmiClient | None
    plan: NumberPlan
    site: SiteConfig
    # A cluster: node id → that node's connection once it has logged in at least once (the desk's live mapping),
    # and every node id of the site, logged in or not. Left empty for a single node.
    nodes: Mapping[str, AmiClient] = field(default_factory=dict)
    node_ids: tuple[str, ...] = ()

    @property
    def clustered(self) -> bool:
        return bool(self.node_ids)

    def all_nodes(self) -> tuple[str, ...]:
        return self.node_ids if self.clustered else (SINGLE_NODE,)

    def up(self) -> dict[str, AmiClient]:
        """The connected nodes' clients, by node id, in the site's order."""
        if not self.clustered:
            return {SINGLE_NODE: self.ami_} if self.ami_ is not None and connected(self.ami_) else {}
        return {n: self.nodes[n] for n in self.node_ids if n in self.nodes and connected(self.nodes[n])}

    def down(self) -> list[str]:
        up = self.up()
        return [n for n in self.all_nodes() if n not in up]

    def node(self, node_id: str) -> AmiClient:
        """The connection of one node; ``NodeDown`` while it is away."""
        client = self.up().get(node_id)
        if client is None:
            raise NodeDown([node_id])
        return client

    @property
    def ami(self) -> AmiClient:
        """A single node's connection; in a cluster, the first connected node's (the first node's while none is)."""
        if not self.clustered:
            assert self.ami_ is not None
            return self.ami_
        up = self.up()
        if up:
            return next(iter(up.values()))
        return next(iter(self.nodes.values())) if self.nodes else _never_connected(self)

    @property
    def connected(self) -> bool:
        return bool(self.up())


def _never_connected(link: TelephonyLink) -> AmiClient:
    raise NodeDown(list(link.all_nodes()))


class NodeDown(RuntimeError):
    """An action needs nodes that are away; ``message`` is for people (中文)."""

    def __init__(self, nodes: list[str]):
        self.nodes = nodes
        names = "、".join(n for n in nodes if n) or "电话系统"
        super().__init__(f"nodes down: {nodes}")
        self.message = f"电话系统节点{names}暂时无法连接，请稍后重试" if any(nodes) else \
            "电话系统暂时无法连接，请稍后重试或使用软电话操作"
