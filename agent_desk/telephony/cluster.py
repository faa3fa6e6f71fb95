"""Agents across the nodes of a cluster (issue 15): one log-in, pause, un-pause, log-out and skills, applied on every
node, and one agent state read from all of them.

Asterisk queues are per node, so an agent is a member of its queues on every node, paused on every node, with the
same penalties. The desk sends each action to every connected node (at once); a node that is away is left out and
named (``Across.down``), and gets the agents' current state when it comes back (``reconcile``). An action fails
(``NodeDown``, 503) only when no node could take it; a node that refused it while others took it is named too.

**Which state is the truth.** Today's single node keeps who is logged in, paused (and why) and with which penalties
in Asterisk itself (queue members, ``persistentmembers=yes``: astdb survives a restart); the desk keeps no copy.
In a cluster the desk's actions keep every node the same, so the nodes that stayed up are the record: a node that
returns is made to match them (members added, removed, paused, penalties set), whatever its own astdb says. With no
other node up there is nothing to compare with and a returning node keeps its own astdb (every node went away).

One state, several views: an agent's reported membership is what most nodes say (the first node's view on a tie);
the nodes whose view differs are named (``AgentView.disagree``). ``in_call`` is true when any node has the agent on a
call.

**Whether an agent's phone is registered** (签入 needs one): in a cluster every node's contact for an agent is the
proxy, so the nodes cannot tell; the proxy's location table can. The desk asks Kamailio's JSON-RPC (``ul.lookup
location <ext>``) over HTTP on the proxy's admin port (``registration``), with a short timeout. A proxy that does not
answer does not block 签入: the registration is then ``unconfirmed`` (a Chinese sentence saying so) and counted as
registered. Refusing would stop every 签入 of the center while only the desk's view of the proxy is gone, and nothing
is lost by letting it through: the proxy itself answers a node's call to an agent with no phone 480, so the queue
rings the next member, as it does for an agent whose phone went away after 签入.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

import httpx

from hotline.ami import AmiClient, AmiError
from hotline.site import Cluster

from agent_desk.telephony import agents as ag
from agent_desk.telephony.link import NodeDown, TelephonyLink

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class Across:
    """Where an action ran: the nodes that took it, the nodes that are away, the nodes that refused it (why)."""

    done: tuple[str, ...]
    down: tuple[str, ...] = ()
    refused: Mapping[str, str] = field(default_factory=dict)


async def on_every_node(link: TelephonyLink, action: Callable[[AmiClient], Awaitable[T]]
                        ) -> tuple[dict[str, T], Across]:
    """Run ``action`` on every connected node at once. ``NodeDown`` when no node is connected; the first node's
    ``AmiError`` when every connected node refused (the agent is not logged in anywhere, say)."""
    up = link.up()
    if not up:
        raise NodeDown(list(link.all_nodes()))
    names = list(up)
    outcomes = await asyncio.gather(*(action(up[n]) for n in names), return_exceptions=True)
    results: dict[str, T] = {}
    refused: dict[str, AmiError] = {}
    for node, outcome in zip(names, outcomes):
        if isinstance(outcome, AmiError):
            refused[node] = outcome
        elif isinstance(outcome, BaseException):
            raise outcome
        else:
            results[node] = outcome
    if not results:
        raise refused[names[0]]
    for node, exc in refused.items():
        log.warning("desk: node %s refused an agent action the others took: %s", node, exc)
    return results, Across(tuple(results), tuple(link.down()), {n: str(e) for n, e in refused.items()})


# ── the agent actions, on every node ─────────────────────────────────────────
async def login_with_skills(link: TelephonyLink, extension: str, skills: Iterable[ag.Skill]
                            ) -> tuple[list[str], Across]:
    wanted = list(skills)
    joined, where = await on_every_node(link, lambda ami: ag.login_with_skills(ami, extension, wanted))
    return next(iter(joined.values())), where


async def logout(link: TelephonyLink, extension: str) -> tuple[list[str], Across]:
    left, where = await on_every_node(link, lambda ami: ag.logout(ami, extension))
    return list(dict.fromkeys(q for queues in left.values() for q in queues)), where


async def pause(link: TelephonyLink, extension: str, reason: str) -> Across:
    return (await on_every_node(link, lambda ami: ag.pause(ami, extension, reason)))[1]


async def unpause(link: TelephonyLink, extension: str) -> Across:
    return (await on_every_node(link, lambda ami: ag.unpause(ami, extension)))[1]


# ── one state from every node ────────────────────────────────────────────────
def _view(members: Iterable[ag.Membership]) -> frozenset[tuple[str, bool, str, int]]:
    """What the desk keeps the same on every node: queue, paused, reason (while paused), penalty."""
    return frozenset((m.queue, m.paused, m.reason if m.paused else "", m.penalty) for m in members)


@dataclass(frozen=True)
class AgentView:
    """An agent's queue membership as the desk reports it, from every connected node."""

    extension: str
    members: list[ag.Membership]         # the view most nodes share (the first node's on a tie)
    disagree: list[str]                  # nodes whose view differs (being brought in line, or refusing)
    down: list[str]                      # nodes not asked: away


def merge(extension: str, by_node: Mapping[str, list[ag.Membership]], down: Iterable[str] = ()) -> AgentView:
    """One view of an agent from each node's memberships (``by_node`` in the site's node order). Pure."""
    nodes = list(by_node)
    views = {n: _view(m for m in by_node[n] if m.extension == extension) for n in nodes}
    if not nodes:
        return AgentView(extension, [], [], list(down))
    counts = Counter(views.values())
    best = max(counts.values())
    chosen = next(n for n in nodes if counts[views[n]] == best)
    busy = {m.queue for n in nodes for m in by_node[n] if m.extension == extension and m.in_call}
    members = [m if m.in_call or m.queue not in busy else _with_call(m)
               for m in by_node[chosen] if m.extension == extension]
    return AgentView(extension, members, [n for n in nodes if views[n] != views[chosen]], list(down))


def _with_call(m: ag.Membership) -> ag.Membership:
    return ag.Membership(m.queue, m.extension, m.paused, m.reason, m.status, True, m.penalty)


async def memberships(link: TelephonyLink) -> tuple[dict[str, list[ag.Membership]], list[str]]:
    """Every node's queue memberships (of every agent), by node id, and the nodes that are away."""
    found, where = await on_every_node(link, lambda ami: ag.memberships(ami))
    return found, list(where.down) + list(where.refused)


async def agent_view(link: TelephonyLink, extension: str) -> AgentView:
    by_node, down = await memberships(link)
    return merge(extension, by_node, down)


async def agent_views(link: TelephonyLink, extensions: Iterable[str]) -> dict[str, AgentView]:
    by_node, down = await memberships(link)
    return {ext: merge(ext, by_node, down) for ext in extensions}


# ── a node that comes back ───────────────────────────────────────────────────
QUEUE_ACTIONS = ("QueueStatus", "QueueAdd", "QueueRemove", "QueuePause", "QueuePenalty")


async def queues_ready(node: AmiClient, timeout: float = 60.0, every: float = 0.5) -> bool:
    """Whether the node's queue actions are there, waiting up to ``timeout`` s: a starting Asterisk lets AMI log in
    before it has loaded app_queue (``QueueAdd: Invalid/unknown command``), and until then its QueueStatus is an
    empty list, which must not be taken for "no agent is logged in here". ListCommands needs no privilege class
    (ModuleCheck would need ``system``, which the desk's AMI user does not have)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            reply = await node.action({"Action": "ListCommands"})
            if all(name in reply for name in QUEUE_ACTIONS):
                return True
        except AmiError:
            pass
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(every)


async def reconcile(node: AmiClient, reference: Mapping[str, list[ag.Membership]], extensions: Iterable[str]) -> int:
    """Make a returning node's agents' memberships match ``reference`` (the other connected nodes' memberships, by
    node id): add, remove, pause or un-pause (with the reason) and set penalties. Returns the actions sent. With
    no reference (no other node up) nothing is changed: the node's own astdb is all there is."""
    if not reference:
        return 0
    have = await ag.memberships(node)
    sent = 0
    for ext in extensions:
        want = {m.queue: m for m in merge(ext, reference).members}
        mine = {m.queue: m for m in have if m.extension == ext}
        interface = ag.member_interface(ext)
        for queue in mine.keys() - want.keys():
            await _quietly(node, {"Action": "QueueRemove", "Queue": queue, "Interface": interface})
            sent += 1
        for queue, w in want.items():
            m = mine.get(queue)
            if m is None:   # added paused, then (un)paused with the reason: never offered a call in between
                await _quietly(node, {"Action": "QueueAdd", "Queue": queue, "Interface": interface,
                                      "MemberName": ag.member_name(ext), "StateInterface": interface,
                                      "Penalty": str(w.penalty), "Paused": "true"})
                sent += 1
            elif m.penalty != w.penalty:
                await _quietly(node, {"Action": "QueuePenalty", "Queue": queue, "Interface": interface,
                                      "Penalty": str(w.penalty)})
                sent += 1
            if m is None or m.paused != w.paused or (w.paused and m.reason != w.reason):
                pause = {"Action": "QueuePause", "Queue": queue, "Interface": interface,
                         "Paused": "true" if w.paused else "false"}
                if w.paused:
                    pause["Reason"] = w.reason
                await _quietly(node, pause)
                sent += 1
    return sent


async def _quietly(node: AmiClient, action: dict[str, str]) -> None:
    """One reconciling action; a refusal (the queue is gone from this node's plan, say) is logged, the rest go on."""
    try:
        await node.action(action)
    except AmiError as exc:
        log.warning("desk: re-applying %s on a returning node: %s", action, exc)


# ── whether an agent's phone is registered: the proxy's location table ───────
RPC_TIMEOUT = 2.0   # seconds: a 签入 waits at most this long for the proxy
RPC_AT_ONCE = 8      # lookups in flight at once (坐席管理 asks for every agent; the proxy closes each connection)
PROXY_UNREACHABLE = ("无法向集群代理（Kamailio）确认分机{ext}的话机是否已注册（{why}）：签入照常办理；"
                     "话机若未注册，来电不会振铃到该分机，请检查话机或网页电话")


def rpc_url(cluster: Cluster) -> str:
    host = f"[{cluster.proxy}]" if ":" in cluster.proxy else cluster.proxy
    return f"http://{host}:{cluster.rpc_port}/RPC"


class ProxyUnanswered(Exception):
    """The proxy's JSON-RPC did not give a usable answer (no connection, timeout, an error other than "not found")."""


def parse_lookup(extension: str, reply: object) -> ag.Registration:
    """A JSON-RPC reply to ``ul.lookup location <ext>`` → the agent's registration. Kamailio 5.6 answers a phone
    that is not registered with an error (HTTP 500, code 500, "AOR not found in location table"; older releases
    said 404). Pure; ``ProxyUnanswered`` for anything else."""
    if not isinstance(reply, dict):
        raise ProxyUnanswered(f"not a JSON-RPC reply: {reply!r:.200}")
    error = reply.get("error")
    if error is not None:
        if isinstance(error, dict) and (error.get("code") == 404
                                        or str(error.get("message", "")).startswith("AOR not found")):
            return ag.Registration(extension, False, ())
        raise ProxyUnanswered(f"JSON-RPC error {error!r:.200}")
    result = reply.get("result")
    entries = result.get("Contacts") if isinstance(result, dict) else None
    if not isinstance(entries, list):
        raise ProxyUnanswered(f"no Contacts in {result!r:.200}")
    contacts = [c.get("Contact") for c in entries if isinstance(c, dict)]
    found = [c for c in contacts if isinstance(c, dict) and isinstance(c.get("Address"), str)]
    return ag.Registration(extension, bool(found), tuple(c["Address"] for c in found),
                           str(found[0].get("User-Agent", "")) if found else "")


async def proxy_registrations(cluster: Cluster, extensions: Iterable[str],
                              transport: httpx.AsyncBaseTransport | None = None) -> dict[str, ag.Registration]:
    """Each agent's registration from the proxy, asked at once; an agent the proxy could not tell about is
    ``unconfirmed`` (and counted as registered: see the module's note)."""
    extensions = list(map(str, extensions))
    # Connection: close, since the proxy closes every HTTP connection after its reply (a kept one would fail the next
    # request that reused it)
    at_once = asyncio.Semaphore(RPC_AT_ONCE)
    gone: list[str] = []   # why the proxy could not be reached: the agents not asked yet are not asked (a list of 750
    # agents must not wait 2 s for each group of RPC_AT_ONCE)
    # verify=False: the admin port is plain http:// (rpc_url), so no certificate is ever checked; it only spares
    # loading the CA bundle for each client (about 24 ms of every 签入 on the test machine)
    async with httpx.AsyncClient(timeout=RPC_TIMEOUT, transport=transport, headers={"Connection": "close"},
                                 verify=False) as http:
        async def one(ext: str) -> ag.Registration:
            if not ext.isdigit():
                return ag.Registration(ext, False, ())
            async with at_once:
                if gone:
                    return ag.Registration(ext, True, (), "", PROXY_UNREACHABLE.format(ext=ext, why=gone[0]))
                return await ask(ext)

        async def ask(ext: str) -> ag.Registration:
            try:
                reply = await http.post(rpc_url(cluster), json={
                    "jsonrpc": "2.0", "method": "ul.lookup", "params": ["location", ext], "id": 1})
                if reply.status_code not in (200, 500):   # 500: a JSON-RPC error, e.g. "AOR not found"
                    raise ProxyUnanswered(f"HTTP {reply.status_code}")
                return parse_lookup(ext, reply.json())
            except (httpx.HTTPError, ValueError, ProxyUnanswered) as exc:   # ValueError: a body that is not JSON
                why = "超时" if isinstance(exc, httpx.TimeoutException) else (
                    "连接失败" if isinstance(exc, httpx.TransportError) else "应答无法识别")
                log.warning("desk: the proxy at %s could not say whether %s is registered: %r",
                            rpc_url(cluster), ext, exc)
                if isinstance(exc, httpx.TransportError):
                    gone.append(why)
                return ag.Registration(ext, True, (), "", PROXY_UNREACHABLE.format(ext=ext, why=why))
        found = await asyncio.gather(*(one(ext) for ext in extensions))
    return dict(zip(extensions, found))


async def registrations(link: TelephonyLink, extensions: Iterable[str]) -> dict[str, ag.Registration]:
    """The agents' phones' registrations: a single node's PJSIP contacts, a cluster's proxy's location table."""
    if link.site.cluster is None:
        return await ag.registrations(link.ami, extensions)
    return await proxy_registrations(link.site.cluster, extensions)


async def registration(link: TelephonyLink, extension: str) -> ag.Registration:
    return (await registrations(link, [extension]))[str(extension)]
