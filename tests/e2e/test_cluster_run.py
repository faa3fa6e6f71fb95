"""A cluster started machine by machine with the README's commands (issue 15, point 1): ``hotline run --desk-only``,
``hotline run --node n1``, ``hotline run --node n2`` and ``hotline cluster proxy``, each a subprocess as an operator
would start it on its machine (here all on loopback: Kamailio on 127.0.0.1, the nodes on 127.0.0.2 and 127.0.0.3).
The peer Asterisk is the carrier: its call, sent to Kamailio, reaches a node's queue (seen on that node's own AMI).
Kamailio killed with SIGKILL is started again by ``hotline cluster proxy``'s supervisor, and a new call gets through.

One machine holds every role, so they share one state home (the secrets the desk's machine makes are the ones every
other machine would get as a copy); n2 runs no media process of its own (``--no-media``): both nodes' Asterisks reach
the FastAGI port on 127.0.0.1, which n1's media process holds.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from hotline import access
from hotline.ami import AmiClient
from hotline.confgen import cluster as cluster_conf
from hotline.numberplan import GENERAL_QUEUE, load_plan
from hotline.paths import PROJECT_ROOT
from hotline.secrets import SecretStore
from hotline.site import load_site
from launcher import asterisk as runner
from launcher.asterisk import AsteriskInstance
from tests.support.center import _render_peer
from tests.support.cluster import _site, site_ports
from tests.support.events import EventLog, named, poll

pytestmark = pytest.mark.asterisk

ARTIFACTS = PROJECT_ROOT / "test-artifacts" / "cluster-run"


class Launcher:
    """One ``hotline`` command as a machine's operator runs it: in the foreground, its output in a log file."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], logs: Path):
        self.name = name
        self.log_path = logs / f"{name}.log"
        self.log = open(self.log_path, "wb")   # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen([sys.executable, "-m", "launcher.cli", *argv], env=env, cwd=PROJECT_ROOT,
                                     stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for_file(self, path: Path, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        while not path.exists():
            if self.proc.poll() is not None:
                raise AssertionError(f"{self.name} exited early ({self.proc.returncode}):\n{self.output()[-3000:]}")
            if time.monotonic() > deadline:
                raise AssertionError(f"{path} did not appear within {timeout:.0f} s:\n{self.output()[-3000:]}")
            time.sleep(0.2)
        return json.loads(path.read_text())

    def stop(self) -> int | None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.log.close()
        return self.proc.returncode


def dispatcher(control: str) -> dict[str, bool]:
    proc = subprocess.run(["kamcmd", "-s", control, "dispatcher.list"], capture_output=True, text=True, timeout=10)
    if proc.returncode != 0:
        return {}
    return {uri: flags.startswith("A") for uri, flags in re.findall(r"URI:\s*(\S+)\s+FLAGS:\s*(\S+)", proc.stdout)}


def kamailio_pid(proxy_dir: Path) -> int | None:
    try:
        return int((proxy_dir / "run" / "kamailio.pid").read_text().strip())
    except (OSError, ValueError):
        return None


async def call_reaches_a_queue(peer: AmiClient, nodes: dict[str, EventLog], number: str, tag: str) -> str:
    """A citizen's call from the carrier (the peer) to 12345 at the proxy; the node whose queue it joined."""
    marks = {node: len(log.events) for node, log in nodes.items()}
    await peer.originate("PJSIP/12345@center", caller_id=f'"市民" <{number}>', channel_id=f"{tag}-{os.getpid()}",
                         application="Wait", data="30")

    def joined() -> str | None:
        for node, log in nodes.items():
            if any(named("QueueCallerJoin", Queue=GENERAL_QUEUE)(e) and e.get("CallerIDNum") == number
                   for e in log.events[marks[node]:]):
                return node
        return None

    return await poll(joined, 40, f"the call from {number} to join {GENERAL_QUEUE} on a node")


async def test_a_cluster_started_node_by_node_takes_calls_and_survives_a_killed_proxy(tmp_path):
    tag = f"cr{os.getpid()}"
    home = tmp_path / "home"
    proxy_dir = tmp_path / "proxy"
    ports = site_ports(2, "redis", "audiosocket")
    trunks = list(load_plan(PROJECT_ROOT / "asterisk_conf" / "numbers.yaml").trunks)
    site_data = _site(tag, ports, proxy_dir, 2, {}, trunks=trunks)
    site_data.update(redis_url=f"redis://127.0.0.1:{ports['redis']}/0",
                     database_url=f"sqlite:///{tmp_path}/desk.sqlite3", audiosocket_port=ports["audiosocket"],
                     speech={"engine": "none", "workers": 0})
    site_path = tmp_path / "site.yaml"
    site_path.write_text(yaml.safe_dump(site_data))
    env = {**os.environ, "HOTLINE_HOME": str(home), "HOTLINE_SITE": str(site_path)}
    logs = ARTIFACTS
    logs.mkdir(parents=True, exist_ok=True)
    launchers: list[Launcher] = []
    peer: AsteriskInstance | None = None
    clients: list[AmiClient] = []
    site = load_site(site_path)
    try:
        # The desk's machine first: it makes the secrets and migrates the database.
        desk = Launcher("desk", ["run", "--desk-only"], env, logs)
        launchers.append(desk)
        details = desk.wait_for_file(home / "run" / "stack.json", 180)
        assert details["role"] == "desk"
        # One after the other: on one machine they share the state home, and each node renders the prompts there.
        n1 = Launcher("n1", ["run", "--node", "n1", "--media", "1"], env, logs)
        launchers.append(n1)
        nodes = {"n1": n1.wait_for_file(home / "run" / "stack-n1.json", 180)}
        n2 = Launcher("n2", ["run", "--node", "n2", "--no-media"], env, logs)
        launchers.append(n2)
        nodes["n2"] = n2.wait_for_file(home / "run" / "stack-n2.json", 180)
        assert {n: (d["ami"]["host"], d["sip"]["host"]) for n, d in nodes.items()} == {
            "n1": ("127.0.0.2", "127.0.0.2"), "n2": ("127.0.0.3", "127.0.0.3")}
        proxy = Launcher("proxy", ["cluster", "proxy"], env, logs)
        launchers.append(proxy)
        proxy_details = proxy.wait_for_file(home / "run" / "stack-proxy.json", 60)
        control = proxy_details["control"]
        uris = set(proxy_details["nodes"].values())
        await poll(lambda: set(dispatcher(control)) == uris and all(dispatcher(control).values()), 30,
                   "both nodes in Kamailio's dispatcher")

        # The carrier: the peer Asterisk, sending its calls to the proxy.
        secrets = SecretStore(home / "secrets")
        secrets.ensure(["peer-ami"])
        plan = load_plan(PROJECT_ROOT / "asterisk_conf" / "numbers.yaml")
        rendered = cluster_conf.render_cluster(plan, site, secrets)
        peer_dir = f"/srv/hotline/{tag}-peer"
        _render_peer(tmp_path / "peer-etc", {
            "dir": peer_dir, "ami_port": ports["peer_ami"], "ami_user": "peer", "ami_secret": secrets.get("peer-ami"),
            "sip_port": ports["peer_sip"], "center_sip_port": ports["proxy"],
            "trunks": {name: secrets.get(f"sip-trunk-{name}") for name in plan.trunks},
            "carrier_user": site.carrier.username, "carrier_password": secrets.get(f"sip-{site.carrier.username}"),
            "agents": {}, "agent_badauth": "", "rtp_start": 24000, "rtp_end": 24999,
        }, rendered["n1"].files)
        peer = AsteriskInstance.create(instance_dir=peer_dir, etc_source=tmp_path / "peer-etc",
                                       ami_port=ports["peer_ami"], ami_user="peer", ami_secret=secrets.get("peer-ami"))
        await asyncio.to_thread(peer.up)
        peer_ami = AmiClient("127.0.0.1", ports["peer_ami"], "peer", secrets.get("peer-ami"))
        clients.append(peer_ami)
        await peer_ami.connect()
        operator = (access.AMI_OPERATOR_USER, secrets.get(access.AMI_OPERATOR_SECRET))
        events: dict[str, EventLog] = {}
        for node_id, node in nodes.items():
            client = AmiClient(node["ami"]["host"], node["ami"]["port"], *operator)
            events[node_id] = EventLog()
            client.subscribe(events[node_id])
            clients.append(client)
            await client.connect()

        first = await call_reaches_a_queue(peer_ami, events, "13900000001", "first")
        assert first in nodes

        # Kamailio dies (SIGKILL: no clean-up of its own); `hotline cluster proxy` starts it again.
        killed = kamailio_pid(proxy_dir)
        assert killed is not None
        os.kill(killed, signal.SIGKILL)
        started = time.monotonic()
        await poll(lambda: kamailio_pid(proxy_dir) not in (None, killed) and dispatcher(control), 60,
                   "a new Kamailio answering on its control socket")
        await poll(lambda: set(dispatcher(control)) == uris and all(dispatcher(control).values()), 30,
                   "both nodes back in the new Kamailio's dispatcher")
        print(f"\nKamailio killed → restarted with both nodes in: {time.monotonic() - started:.1f} s (loaded box)")
        assert "kamailio" in proxy.output() and "restarting in" in proxy.output()
        # Round-robin again through the new Kamailio: two calls, one on each node.
        callers = [await call_reaches_a_queue(peer_ami, events, f"1390000001{i}", f"after-{i}") for i in range(2)]
        assert sorted(callers) == ["n1", "n2"], callers
    finally:
        for client in clients:
            client.close()
        if peer is not None:
            await asyncio.to_thread(peer.down)
        codes = {launcher.name: launcher.stop() for launcher in reversed(launchers)}
        instances = [f"/srv/hotline/{tag}-n1", f"/srv/hotline/{tag}-n2", f"/srv/hotline/{tag}-peer"]
        for instance in map(Path, instances):
            shutil.rmtree(instance if runner.use_host_asterisk() else runner.default_root() / instance.relative_to("/"),
                          ignore_errors=True)
    assert codes == {launcher.name: 0 for launcher in launchers}, codes
    assert not (home / "run" / "stack-proxy.json").exists(), "the proxy's details are removed on a clean stop"
