"""A cluster on this machine for end-to-end tests (issue 15): Kamailio on 127.0.0.1, Asterisk nodes on 127.0.0.2,
127.0.0.3 … (one Asterisk root, each node its own config and instance directory), the FastAGI server in this event
loop, and the peer Asterisk as the carrier, which sends its calls to Kamailio, and as the agents' phones, which
register with Kamailio (the last agent with a wrong password, which must be refused). Only loopback addresses, ever.

Every process is started here and stopped by its own pid. A node can be killed (SIGKILL: a machine that dies, not
a clean stop, so the proxy learns it only by its silence) and started again.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import yaml

from agi_scripts.routes import Services
from agi_scripts.server import AgiServer
from hotline import access, confgen
from hotline import channelvars as v
from hotline.ami import AmiClient, AmiEvent
from hotline.confgen import cluster as cluster_conf
from hotline.numberplan import NumberPlan, load_plan
from hotline.paths import PROJECT_ROOT, Paths
from hotline.secrets import SecretStore
from hotline.site import SiteConfig, load_site
from ivr import prompts
from launcher.asterisk import AsteriskInstance
from tests.support.center import _render_peer
from tests.support.events import EventLog
from tests.support.ports import free_port

PROXY_ADDRESS = "127.0.0.1"
NODE_ADDRESSES = ("127.0.0.2", "127.0.0.3", "127.0.0.4")
CARRIER_CHANNEL = "PJSIP/carrier-"   # a citizen's call as a node sees it (its carrier trunk is the proxy)
CITIZEN = "13907550002"
_CLUSTERS = itertools.count()        # clusters running side by side get their own directories


@dataclass
class Node:
    id: str
    site: SiteConfig
    asterisk: AsteriskInstance
    ami: AmiClient
    events: EventLog

    def callers(self, since: float = 0.0) -> set[str]:
        """Caller numbers of the citizens' calls this node received (from its own AMI events)."""
        return {e.get("CallerIDNum") for e in self.events.events
                if e.name == "Newchannel" and e.get("Channel").startswith(CARRIER_CHANNEL) and e.received > since}

    def calls_up(self) -> set[str]:
        """Caller numbers of the citizens' calls on this node that have not hung up (from its AMI events)."""
        up: dict[str, str] = {}
        for e in self.events.events:
            if not e.get("Channel").startswith(CARRIER_CHANNEL):
                continue
            if e.name == "Newchannel":
                up[e.get("Uniqueid")] = e.get("CallerIDNum")
            elif e.name == "Hangup":
                up.pop(e.get("Uniqueid"), None)
        return set(up.values())


@dataclass
class Proxy:
    """Kamailio, from the rendered kamailio.cfg, in the foreground (-DD) as our own child."""

    directory: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def control(self) -> str:
        return f"unix:{self.directory}/kamailio_ctl"

    def start(self, sip_port: int, timeout: float = 20) -> None:
        run = self.directory / "run"
        run.mkdir(exist_ok=True)
        with open(self.directory / "kamailio.log", "ab") as log:
            self.process = subprocess.Popen(
                ["kamailio", "-f", str(self.directory / "kamailio.cfg"), "-DD", "-E", "-Y", str(run),
                 "-P", str(run / "kamailio.pid"), "-w", str(run)],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"Kamailio exited ({self.process.returncode}):\n{self.log_tail()}")
            with contextlib.suppress(RuntimeError):
                if self.rpc("core.version"):
                    return
            time.sleep(0.2)
        raise RuntimeError(f"Kamailio did not answer on {self.control} in {timeout:.0f} s:\n{self.log_tail()}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)

    def rpc(self, *command: str) -> str:
        proc = subprocess.run(["kamcmd", "-s", self.control, *command], capture_output=True, text=True, timeout=10)
        if proc.returncode != 0:
            raise RuntimeError(f"kamcmd {' '.join(command)}: {proc.stderr or proc.stdout}")
        return proc.stdout

    def active(self) -> dict[str, bool]:
        """Each node's SIP address → whether the dispatcher sends it calls (flags A…) or has it out (I…/D…)."""
        text = self.rpc("dispatcher.list")
        return {uri: flags.startswith("A") for uri, flags in re.findall(r"URI:\s*(\S+)\s+FLAGS:\s*(\S+)", text)}

    def failovers(self) -> int:
        """Calls a node failed to answer that moved to the next node (kamailio.cfg logs each one)."""
        path = self.directory / "kamailio.log"
        return path.read_text(errors="replace").count("failed the call: taken out") if path.exists() else 0

    def contacts(self, extension: str) -> list[str]:
        """The contacts registered for an agent's extension (Kamailio's usrloc), none if the agent has no phone."""
        try:
            text = self.rpc("ul.lookup", "location", f"s:{extension}")   # s: or kamcmd sends the digits as a number
        except RuntimeError as exc:
            if "not found" in str(exc).lower():
                return []
            raise
        return re.findall(r"Address:\s*(\S+)", text)

    def agent_calls(self, extension: str) -> int:
        """The agent's calls (ringing or answered) from every node, as the proxy counts them (its dialog profile)."""
        return int(self.rpc("dlg.profile_get_size", "agent", f"s:{extension}").strip())

    def busy_replies(self, extension: str) -> int:
        """Calls to the agent a node sent while the agent had a call (kamailio.cfg answers each 486 and logs it)."""
        return self._log_count(f"agent {extension} has a call already")

    def wrapup_replies(self, extension: str) -> int:
        """Calls to the agent a node sent while the agent was in wrap-up after a queue call (486, logged)."""
        return self._log_count(f"agent {extension} is in wrap-up after a call")

    def _log_count(self, line: str) -> int:
        path = self.directory / "kamailio.log"
        return (path.read_text(errors="replace") if path.exists() else "").count(line)

    def log_tail(self, lines: int = 30) -> str:
        path = self.directory / "kamailio.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""


@dataclass
class RunningCluster:
    site: SiteConfig
    plan: NumberPlan
    secrets: SecretStore
    nodes: dict[str, Node]
    proxy: Proxy
    peer: AsteriskInstance
    peer_ami: AmiClient
    peer_events: EventLog
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def uri_of(self, node_id: str) -> str:
        node = self.nodes[node_id].site
        return f"sip:{node.bind}:{node.sip_port}"

    async def call(self, caller: str, number: str = "12345", seconds: int = 60) -> str:
        """A citizen's call from the carrier (the peer) to the proxy; the peer's channel id."""
        cid = f"c{os.getpid()}-{next(self._ids):06d}"
        await self.peer_ami.originate(f"PJSIP/{number}@center", caller_id=f'"市民" <{caller}>', channel_id=cid,
                                      application="Wait", data=str(seconds))
        return cid

    async def answered(self, cid: str, timeout: float = 20) -> bool:
        """Whether the peer's call was answered (by whichever node) within ``timeout``."""
        event = await self.peer_events.wait(
            lambda e: e.get("Uniqueid") == cid and (
                (e.name == "Newstate" and e.get("ChannelState") == "6") or e.name == "Hangup"), timeout)
        return event is not None and event.name == "Newstate"

    def node_of(self, caller: str) -> str | None:
        for node_id, node in self.nodes.items():
            if caller in node.callers():
                return node_id
        return None

    def kill_node(self, node_id: str) -> set[str]:
        """SIGKILL the node's Asterisk (a machine that dies); the callers whose calls were up on it, now lost."""
        node = self.nodes[node_id]
        lost = node.calls_up()
        pid = node.asterisk.pid()
        if pid is None:
            raise RuntimeError(f"node {node_id} is not running")
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while node.asterisk.pid() is not None and time.monotonic() < deadline:
            time.sleep(0.05)
        return lost

    async def start_node(self, node_id: str) -> None:
        node = self.nodes[node_id]
        await asyncio.to_thread(node.asterisk.up)
        deadline = time.monotonic() + 30
        while True:   # the AMI client reconnects by itself; wait until it has
            try:
                await node.ami.action({"Action": "Ping"}, timeout=2)
                return
            except Exception:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.5)

    async def until_active(self, node_id: str, active: bool, timeout: float = 30) -> float:
        """Seconds until the dispatcher has the node in (``active``) or out; fails after ``timeout``."""
        started = time.monotonic()
        uri = self.uri_of(node_id)
        while time.monotonic() - started < timeout:
            if (await asyncio.to_thread(self.proxy.active)).get(uri) is active:
                return time.monotonic() - started
            await asyncio.sleep(0.05)
        raise AssertionError(f"node {node_id} not {'in' if active else 'out'} after {timeout:.0f} s: "
                             f"{self.proxy.rpc('dispatcher.list')}")

    async def queue_call(self, node_id: str, queue: str) -> str:
        """A citizen's call waiting in ``queue`` on one node (a Local channel standing in for the carrier leg,
        tagged as a 12345 call, as tests/support/agents.py does on one center); its call id (the Linkedid)."""
        cid = f"q{os.getpid()}-{next(self._ids):06d}"
        await self.nodes[node_id].ami.originate(
            f"Local/s@{v.CTX_QUEUE}", caller_id=f'"市民" <{CITIZEN}>', channel_id=cid, data="600",
            timeout_ms=120000,   # the queue answers only when an agent does: let the caller wait up to 2 minutes
            variables={f"__{v.QUEUE}": queue, f"__{v.CALL_ID}": cid, f"__{v.LINE}": "12345"})
        return cid

    def marks(self) -> dict[str, int]:
        """Where each node's AMI event log is now, for ``seen``."""
        return {node_id: node.events.mark() for node_id, node in self.nodes.items()}

    def seen(self, marks: dict[str, int], predicate) -> tuple[str, AmiEvent] | None:
        """The first event since ``marks`` (per node) on any node's AMI that matches: (node id, event)."""
        for node_id, node in self.nodes.items():
            for event in node.events.events[marks[node_id]:]:
                if predicate(event):
                    return node_id, event
        return None

    def phone_calls(self, extension: str, since: int = 0) -> int:
        """Calls that reached the agent's phone (the peer's channels on that phone's endpoint)."""
        return sum(1 for e in self.peer_events.events[since:]
                   if e.name == "Newchannel" and e.get("Channel").startswith(f"PJSIP/phone-{extension}-"))

    async def hang_up_peer_calls(self) -> None:
        for event in await self.peer_ami.action_list({"Action": "CoreShowChannels"}):
            if event.name == "CoreShowChannel":
                with contextlib.suppress(Exception):
                    await self.peer_ami.hangup(event["Channel"])



def site_ports(node_count: int, *extra: str) -> dict[str, int]:
    """A free port for every port a cluster's site (``_site``) names, and for each of ``extra``."""
    names = ["http", "https", "agi", "desk", "peer_sip", "peer_ami", "proxy", "ws", "wss", "rpc", *extra]
    names += [f"{kind}{i}" for i in range(node_count) for kind in ("sip", "ami")]
    return {name: free_port() for name in names}


def _site(tag: str, ports: dict[str, int], proxy_dir: Path, node_count: int, settings: dict,
          agents: dict | None = None, trunks: list[str] | tuple[str, ...] = ()) -> dict:
    return {
        "name": tag,
        "instance_dir": f"/srv/hotline/{tag}",
        "http_port": ports["http"], "https_port": ports["https"], "agi_port": ports["agi"],
        "desk_port": ports["desk"],
        "rtp_start": 23000, "rtp_end": 23999,
        "today": "2021-10-01",
        "agents": agents or {"first": 8001, "count": 2},
        # The peer is the carrier: it sends from 127.0.0.1, and the proxy forwards calls out to it.
        "carrier": {"host": "127.0.0.1", "port": ports["peer_sip"]},
        # ... and every sub-center, retained seat and emergency center: each node dials them itself on its own
        # trunks (a three-way call's far leg is on the citizen's node, not through the proxy), as on one node.
        "trunk_overrides": {name: {"host": "127.0.0.1", "port": ports["peer_sip"]} for name in trunks},
        "cluster": {
            "proxy": PROXY_ADDRESS, "proxy_port": ports["proxy"], "proxy_dir": str(proxy_dir),
            "ping_interval": 1, "node_timeout_ms": 1000, "ws_port": ports["ws"], "wss_port": ports["wss"],
            "rpc_port": ports["rpc"],
            **settings,
            "nodes": [{"id": f"n{i + 1}", "address": NODE_ADDRESSES[i], "sip_port": ports[f"sip{i}"],
                       "ami_port": ports[f"ami{i}"]} for i in range(node_count)],
        },
    }


@contextlib.asynccontextmanager
async def running_cluster(home: Path, artifacts: Path | None = None, node_count: int = 2,
                          settings: dict | None = None, agents: dict | None = None) -> AsyncIterator[RunningCluster]:
    """``settings``: more of the site's cluster section (e.g. ``{"algorithm": "call-load"}``). ``agents``: the
    site's agents section instead of two SIP phones at the peer; with ``webrtc`` the peer registers none (browsers
    register with the proxy over its WebSocket ports)."""
    home.mkdir(parents=True, exist_ok=True)
    nth = next(_CLUSTERS)
    tag = f"k{os.getpid()}" + (f"-{nth}" if nth else "")
    plan_path = PROJECT_ROOT / "asterisk_conf" / "numbers.yaml"
    plan = load_plan(plan_path)
    ports = site_ports(node_count)
    paths = Paths(home=home, plan=plan_path, site=home / "site.yaml")
    out = home / "cluster"
    site_data = _site(tag, ports, out / cluster_conf.PROXY, node_count, settings or {}, agents, list(plan.trunks))
    paths.site.write_text(yaml.safe_dump(site_data))
    site = load_site(paths.site)
    secrets = SecretStore(paths.secrets)
    secrets.ensure(confgen.secret_names(site, plan) + ["peer-ami"])
    rendered = cluster_conf.render_cluster(plan, site, secrets)
    for name, files in rendered.items():
        files.write(out / name)
    prompts.render_all(prompts.catalogue(plan), paths.sounds)

    peer_dir = f"/srv/hotline/{tag}-peer"
    _render_peer(home / "peer-etc", {
        "dir": peer_dir, "ami_port": ports["peer_ami"], "ami_user": "peer", "ami_secret": secrets.get("peer-ami"),
        "sip_port": ports["peer_sip"], "center_sip_port": ports["proxy"],   # the carrier sends to the proxy
        "trunks": {name: secrets.get(f"sip-trunk-{name}") for name in plan.trunks},
        "carrier_user": site.carrier.username, "carrier_password": secrets.get(f"sip-{site.carrier.username}"),
        # the agents' phones register with the proxy (center_sip_port); the last one with a wrong password
        "agents": ({} if site.agents.webrtc
                   else {ext: secrets.get(f"sip-agent-{ext}") for ext in site.agents.extensions()}),
        "agent_badauth": site.agents.extensions()[-1],
        "rtp_start": 24000, "rtp_end": 24999,
    }, rendered["n1"].files)

    agi = AgiServer(Services(plan=plan), host="127.0.0.1", port=ports["agi"])
    await agi.start()
    operator = (access.AMI_OPERATOR_USER, secrets.get(access.AMI_OPERATOR_SECRET))
    nodes: dict[str, Node] = {}
    assert site.cluster is not None
    for spec in site.cluster.nodes:
        node_site = cluster_conf.node_site(site, spec)
        instance = AsteriskInstance.create(
            instance_dir=node_site.instance_dir, etc_source=out / spec.id, sounds_source=paths.sounds,
            ami_port=spec.ami_port, ami_host=spec.address, ami_user=operator[0], ami_secret=operator[1])
        nodes[spec.id] = Node(spec.id, node_site, instance, AmiClient(spec.address, spec.ami_port, *operator),
                              EventLog())
    peer = AsteriskInstance.create(instance_dir=peer_dir, etc_source=home / "peer-etc", ami_port=ports["peer_ami"],
                                   ami_user="peer", ami_secret=secrets.get("peer-ami"))
    proxy = Proxy(out / cluster_conf.PROXY)
    peer_ami = AmiClient("127.0.0.1", ports["peer_ami"], "peer", secrets.get("peer-ami"))
    peer_events = EventLog()
    try:
        for node in nodes.values():
            await asyncio.to_thread(node.asterisk.up)
            node.ami.subscribe(node.events)
            await node.ami.connect()
        await asyncio.to_thread(peer.up)
        peer_ami.subscribe(peer_events)
        await peer_ami.connect()
        await asyncio.to_thread(proxy.start, ports["proxy"])
        running = RunningCluster(site, plan, secrets, nodes, proxy, peer, peer_ami, peer_events)
        for node_id in nodes:
            await running.until_active(node_id, True)
        yield running
    finally:
        peer_ami.close()
        for node in nodes.values():
            node.ami.close()
        await asyncio.to_thread(proxy.stop)
        await asyncio.to_thread(peer.down)
        for node in nodes.values():
            await asyncio.to_thread(node.asterisk.down)
        await agi.stop()
        if artifacts is not None:
            artifacts.mkdir(parents=True, exist_ok=True)
            if (proxy.directory / "kamailio.log").exists():
                shutil.copy(proxy.directory / "kamailio.log", artifacts / "kamailio.log")
            for name, instance in [*((n.id, n.asterisk) for n in nodes.values()), ("peer", peer)]:
                if (instance.log_dir / "messages.log").exists():
                    shutil.copy(instance.log_dir / "messages.log", artifacts / f"{name}-messages.log")
        for instance in [peer, *(n.asterisk for n in nodes.values())]:
            shutil.rmtree(instance.host_path(instance.instance_dir), ignore_errors=True)


def desk_api(app) -> httpx.AsyncClient:
    """HTTP to a cluster desk's app in this event loop (the desk's AMI connections live here, as in ``hotline run``)."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1", timeout=90)


async def until(check, timeout: float, what: str) -> float:
    """``check()`` every 0.1 s until true; the seconds it took, or the test fails saying what it waited for."""
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < timeout, f"not within {timeout:.0f} s: {what}"
        await asyncio.sleep(0.1)
    return time.monotonic() - started
