"""A complete local center for end-to-end tests and benchmarks: the real number plan rendered for free
loopback ports, the FastAGI server in this event loop, a real Asterisk 22, and a second Asterisk (the
peer gateway) that plays the carrier, sub-centers, retained seats and emergency centers over real SIP.
Everything is started here and stopped by its own pid.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import itertools
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import AsyncIterator

import jinja2
import yaml

from agi_scripts.routes import Services
from agi_scripts.server import AgiServer
from hotline import access, confgen
from hotline.ami import AmiClient
from hotline.numberplan import NumberPlan, load_plan
from hotline.paths import PROJECT_ROOT, Paths
from launcher.asterisk import AsteriskInstance
from hotline.secrets import SecretStore
from hotline.site import SiteConfig, load_site
from ivr import prompts
from tests.support.events import EventLog
from tests.support.ports import free_port

PEER_TEMPLATES = PROJECT_ROOT / "tests" / "e2e" / "peer"
TRANSITION_DAY = dt.date(2021, 10, 1)   # inside every cancelled number's transition window
AFTER_CUTOVER = dt.date(2022, 1, 1)     # after every cut-over

OUTBOUND_CHANNELS = 2   # the center's limit of simultaneous calls out to citizens
_CENTERS = itertools.count()
# The peer shares the center's harmless files (modules, indications, ...), never its ports or identities.
PEER_OWN = {"asterisk.conf", "manager.conf", "pjsip.conf", "extensions.conf", "logger.conf", "rtp.conf",
            "http.conf", "queues.conf"}


@dataclass
class Center:
    paths: Paths
    plan: NumberPlan
    site: SiteConfig
    secrets: SecretStore
    asterisk: AsteriskInstance
    peer: AsteriskInstance
    agi: AgiServer
    ami: AmiClient
    peer_ami: AmiClient
    events: EventLog
    peer_events: EventLog
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))

    def new_call_id(self) -> str:
        """Fixed width: Asterisk refuses a new channel id that begins another live channel's id (t1-1 while t1-10
        is up), which looked like a lost call under load (bench/dialplan_agi_cps.py, BENCHMARKS.md)."""
        return f"t{os.getpid()}-{next(self._ids):06d}"

    def set_today(self, day: dt.date) -> None:
        """Pin the dialplan's date through the site config (not the clock) and reload the dialplan."""
        self.apply_site(today=day)

    def apply_site(self, **changes) -> None:
        """Change the site config the way an operator would: edit, regenerate, reload the dialplan."""
        self.site = self.site.model_copy(update=changes)
        self.paths.site.write_text(yaml.safe_dump(self.site.model_dump(mode="json"), allow_unicode=True))
        self.render()

    def render(self) -> None:
        confgen.render(self.plan, load_site(self.paths.site), self.secrets,
                       self.paths.plan.read_text(encoding="utf-8")).write(self.paths.asterisk_etc)
        self.asterisk.reload_config("dialplan reload")

    def messages_log(self) -> str:
        return (self.asterisk.log_dir / "messages.log").read_text(errors="replace")


def _site(tag: str, ports: dict[str, int], plan: NumberPlan, rtp_ports: int, rtp_base: int) -> dict:
    return {
        "name": tag,
        "instance_dir": f"/srv/hotline/{tag}",
        "ami_port": ports["ami"],
        "sip_port": ports["sip"],
        "http_port": ports["http"],
        "https_port": ports["https"],
        "agi_port": ports["agi"],
        "desk_port": ports["desk"],
        "rtp_start": rtp_base,
        "rtp_end": rtp_base + rtp_ports - 1,
        "today": TRANSITION_DAY.isoformat(),
        "agents": {"first": 8001, "count": 4},
        "trunk_overrides": {name: {"host": "127.0.0.1", "port": ports["peer_sip"]} for name in plan.trunks},
        # the peer is also the carrier the center calls citizens back through (回拨), at most two at once
        "carrier": {"host": "127.0.0.1", "port": ports["peer_sip"]},
        "callbacks": {"outbound_channels": OUTBOUND_CHANNELS},
    }


def _render_peer(target: Path, context: dict, center_files: dict[str, str]) -> None:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(PEER_TEMPLATES), undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    target.mkdir(parents=True, exist_ok=True)
    for template in sorted(PEER_TEMPLATES.glob("*.conf")):
        (target / template.name).write_text(env.get_template(template.name).render(context))
    for name, text in center_files.items():
        if name not in PEER_OWN:
            (target / name).write_text(text)


@contextlib.asynccontextmanager
async def running_center(home: Path, artifacts: Path | None = None, rtp_ports: int = 200,
                         agents: dict | None = None) -> AsyncIterator[Center]:
    """``rtp_ports``: RTP ports for each of the two instances (a benchmark holding many calls wants more).
    ``agents``: the site's agents section instead of four plain softphones; with ``webrtc`` the peer registers
    none (browsers do)."""
    home.mkdir(parents=True, exist_ok=True)
    nth = next(_CENTERS)  # centers running side by side get their own directories and RTP ranges
    tag = f"t{os.getpid()}" + (f"-{nth}" if nth else "")
    rtp_base = 21000 + 2 * nth * max(rtp_ports, 500)
    plan_path = PROJECT_ROOT / "asterisk_conf" / "numbers.yaml"
    plan = load_plan(plan_path)
    ports = {name: free_port() for name in ("ami", "sip", "http", "https", "agi", "desk", "peer_sip", "peer_ami")}
    paths = Paths(home=home, plan=plan_path, site=home / "site.yaml")
    site_data = _site(tag, ports, plan, rtp_ports, rtp_base)
    if agents is not None:
        site_data["agents"] = agents
    paths.site.write_text(yaml.safe_dump(site_data, allow_unicode=True))
    site = load_site(paths.site)
    secrets = SecretStore(paths.secrets)
    secrets.ensure(confgen.secret_names(site, plan) + ["peer-ami"])
    rendered = confgen.render(plan, site, secrets)
    rendered.write(paths.asterisk_etc)
    prompts.render_all(prompts.catalogue(plan), paths.sounds)

    peer_dir = f"/srv/hotline/{tag}-peer"
    peer_etc = home / "peer-etc"
    _render_peer(peer_etc, {
        "dir": peer_dir, "ami_port": ports["peer_ami"], "ami_user": "peer", "ami_secret": secrets.get("peer-ami"),
        "sip_port": ports["peer_sip"], "center_sip_port": ports["sip"],
        "trunks": {name: secrets.get(f"sip-trunk-{name}") for name in plan.trunks},
        "carrier_user": site.carrier.username, "carrier_password": secrets.get(f"sip-{site.carrier.username}"),
        # Agent softphones register from the peer; the last one with a wrong password (must be refused).
        "agents": ({} if site.agents.webrtc
                   else {ext: secrets.get(f"sip-agent-{ext}") for ext in site.agents.extensions()}),
        "agent_badauth": site.agents.extensions()[-1],
        "rtp_start": rtp_base + rtp_ports, "rtp_end": rtp_base + 2 * rtp_ports - 1,
    }, rendered.files)

    agi = AgiServer(Services(plan=plan), host="127.0.0.1", port=ports["agi"])
    await agi.start()
    asterisk = AsteriskInstance.create(
        instance_dir=site.instance_dir, etc_source=paths.asterisk_etc, sounds_source=paths.sounds,
        ami_port=site.ami_port, ami_user=access.AMI_OPERATOR_USER, ami_secret=secrets.get(access.AMI_OPERATOR_SECRET),
    )
    peer = AsteriskInstance.create(
        instance_dir=peer_dir, etc_source=peer_etc, ami_port=ports["peer_ami"], ami_user="peer",
        ami_secret=secrets.get("peer-ami"),
    )
    clients: list[AmiClient] = []
    try:
        await asyncio.to_thread(asterisk.up)
        await asyncio.to_thread(peer.up)
        # The harness drives Asterisk as the operator (every class); the desk's own user is narrower.
        ami = AmiClient("127.0.0.1", site.ami_port, access.AMI_OPERATOR_USER, secrets.get(access.AMI_OPERATOR_SECRET))
        clients.append(ami)
        events = EventLog()
        ami.subscribe(events)
        await ami.connect()
        peer_ami = AmiClient("127.0.0.1", ports["peer_ami"], "peer", secrets.get("peer-ami"))
        clients.append(peer_ami)
        peer_events = EventLog()
        peer_ami.subscribe(peer_events)
        await peer_ami.connect()
        yield Center(paths, plan, site, secrets, asterisk, peer, agi, ami, peer_ami, events, peer_events)
    finally:
        for client in clients:
            client.close()
        await asyncio.to_thread(peer.down)
        await asyncio.to_thread(asterisk.down)
        await agi.stop()
        if artifacts is not None:
            artifacts.mkdir(parents=True, exist_ok=True)
            for instance, name in ((asterisk, "center"), (peer, "peer")):
                for log in ("messages.log", "full.log"):
                    if (instance.log_dir / log).exists():
                        shutil.copy(instance.log_dir / log, artifacts / f"{name}-{log}")
        for instance in (asterisk, peer):
            shutil.rmtree(instance.host_path(instance.instance_dir), ignore_errors=True)


async def ami_back(center: Center, timeout: float = 60) -> None:
    """Until the session's own AMI client answers a Ping again (after Asterisk restarted, it logs in by itself)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            await center.ami.action({"Action": "Ping"}, timeout=2)
            return
        except Exception:
            assert time.monotonic() < deadline, "the center's AMI did not come back"
            await asyncio.sleep(0.5)
