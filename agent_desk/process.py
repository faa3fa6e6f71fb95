"""The desk as a running process: the web app, the AMI listener that feeds it, and the desk's phone link.

``build_desk`` is the one place that assembles it from the site, the number plan and the secrets. ``hotline
run``, ``hotline desk serve`` (the Docker deployment's desk) and the tests all build the desk here, so the
names, rules, listener, screen pops, wallboard and transfers are the same however the desk is started.

Two layouts. With the listener in the process (``listener=True``, the default: ``hotline desk serve``, the tests)
the listener is the one AMI client (calls become records, live state, pops and the wallboard) and the desk's own
actions (transfers, agent control) use its connection through ``app.state.telephony``. Without it
(``listener=False``: ``hotline run``, where ``hotline listener`` is a process of its own, issue 17) the desk
logs into AMI for its actions alone, retrying in the background while Asterisk is away (the phone controls say
503 meanwhile), and ``build_listener`` assembles the listener process. Nothing the listener produces for the
desk crosses in memory: pops, live state and the wallboard go through Redis, call records through the database.

A cluster (site ``cluster:``, issue 15): the desk logs into every node's AMI for its actions, each node retried on its
own (``bootstrap.node_ami_settings``), in either layout; ``app.state.telephony`` names the nodes that are up, and a
node that logs in again gets the agents' queue state of the nodes that stayed up (``telephony.cluster.reconcile``).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

from fastapi import FastAPI

from agent_desk.app import create_app
from agent_desk.bootstrap import SINGLE_NODE, ami_settings, desk_settings, node_ami_settings, private_database
from agent_desk.calls.listener import AmiSettings, CallListener
from agent_desk.calls.recording_watch import RecordingWatch
from agent_desk.calls.tracker import CallTracker
from agent_desk.callbacks.runner import CampaignRunner
from agent_desk.db.session import Database
from agent_desk.settings import DeskSettings
from agent_desk.supervision.wallboard import Wallboard
from agent_desk.telephony import agents, cluster
from agent_desk.telephony.link import NodeClient, TelephonyLink
from agent_desk.telephony.recording import host_directory, recordings_dir
from agent_desk.tickets.status import StatusProjection
from hotline import housekeeping
from hotline.ami import AmiClient, AmiError
from hotline.numberplan import NumberPlan
from hotline.secrets import SecretStore
from hotline.site import SiteConfig

log = logging.getLogger(__name__)

AMI_RETRY = 2.0   # seconds between the desk's AMI login attempts while Asterisk is away


@dataclass
class DeskProcess:
    settings: DeskSettings
    app: FastAPI
    listener: CallListener | None
    plan: NumberPlan
    site: SiteConfig
    ami_settings: AmiSettings | None = None   # the desk's own AMI login, when the listener runs elsewhere
    # A cluster (issue 15): every node's AMI login, by node id. The desk then logs into each node for its actions,
    # whether or not the listener runs in this process (the listener's connections are the listener's).
    node_settings: dict[str, AmiSettings] | None = None
    _ami: AmiClient | None = field(default=None, repr=False)
    _ami_login: asyncio.Task[None] | None = field(default=None, repr=False)
    _nodes: dict[str, AmiClient] = field(default_factory=dict, repr=False)
    _node_tasks: set[asyncio.Task[Any]] = field(default_factory=set, repr=False)
    _resync: asyncio.Task[int] | None = field(default=None, repr=False)
    _housekeeping: asyncio.Task[None] | None = field(default=None, repr=False)
    campaigns: CampaignRunner | None = field(default=None, repr=False)   # 智能回访 (agent_desk.callbacks.runner)

    @property
    def tracker(self) -> CallTracker | None:
        return self.listener.tracker if self.listener is not None else None

    @property
    def wallboard(self) -> Wallboard | None:
        return self.listener.wallboard if self.listener is not None else None

    async def start(self) -> None:
        """Log the listener into AMI (the desk's phone link from then on) and rewrite the IVR's view of ticket
        states in the background (Redis may have lost it: a restart, an outage). Call after the app started."""
        if self.node_settings is not None:
            if self.listener is not None:
                await self.listener.start()
            self._log_into_nodes(self.node_settings)
        elif self.listener is not None:
            await self.listener.start()
            assert self.listener.ami is not None
            self.app.state.telephony = TelephonyLink(self.listener.ami, self.plan, self.site)
        elif self.ami_settings is not None:
            self._ami_login = asyncio.create_task(self._log_into_ami(self.ami_settings), name="desk-ami")
        self._resync = asyncio.create_task(asyncio.to_thread(self._resync_ticket_status), name="status-resync")
        self.campaigns = CampaignRunner(self.app.state.db, self.settings.callbacks, self._campaign_ami,
                                        self.settings.async_redis())
        self.campaigns.start()
        if self.settings.recordings_host_dir:   # call recordings past site.yaml retention.call_recordings_days
            rules = [(Path(self.settings.recordings_host_dir), self.site.retention.call_recordings_days)]
            self._housekeeping = asyncio.create_task(housekeeping.run_periodically(rules), name="retention")

    async def _log_into_ami(self, settings: AmiSettings) -> None:
        """The desk's own AMI connection (for its actions only): tried until it works, then panoramisk reconnects
        by itself; while it is down ``TelephonyLink.connected`` is false and the phone controls answer 503."""
        while True:
            ami = AmiClient(settings.host, settings.port, settings.username, settings.secret)
            try:
                await ami.connect()
            except (TimeoutError, OSError, AmiError) as exc:
                ami.close()
                log.warning("desk: AMI login failed (%s); trying again in %.0f s", exc, AMI_RETRY)
                await asyncio.sleep(AMI_RETRY)
                continue
            ami.manager.on_disconnect = _mark_down
            self._ami = ami
            self.app.state.telephony = TelephonyLink(ami, self.plan, self.site)
            log.info("desk: logged into AMI for its phone actions")
            return

    def _log_into_nodes(self, nodes: dict[str, AmiSettings]) -> None:
        """One connection per node, each logged in (and retried) on its own; the link is there at once and says
        which nodes are up (``TelephonyLink.up``): a node that is away degrades only the actions that need it."""
        self.app.state.telephony = TelephonyLink(None, self.plan, self.site, nodes=self._nodes,
                                                 node_ids=tuple(nodes))
        for node_id, settings in nodes.items():
            self._spawn(self._log_into_node(node_id, settings), f"desk-ami-{node_id}")

    def _spawn(self, work: Any, name: str) -> None:
        task = asyncio.create_task(work, name=name)
        self._node_tasks.add(task)
        task.add_done_callback(self._node_tasks.discard)

    async def _log_into_node(self, node_id: str, settings: AmiSettings) -> None:
        """Tried until it works, then panoramisk reconnects by itself. Each later login of the node (it came back,
        or it was away when the desk started) re-applies the agents' state the other nodes have (``_returned``)."""
        attempts = 0
        while True:
            attempts += 1
            ami = NodeClient(node_id, settings.host, settings.port, settings.username, settings.secret, self._nodes)
            try:
                await ami.connect()
            except (TimeoutError, OSError, AmiError) as exc:
                ami.close()
                if attempts == 1 or attempts % 30 == 0:
                    log.warning("desk: AMI login to node %s failed (%s); trying again every %.0f s", node_id, exc,
                                AMI_RETRY)
                await asyncio.sleep(AMI_RETRY)
                continue
            ami.manager.on_disconnect = _mark_down
            ami.manager.on_login = lambda _manager: self._spawn(self._returned(node_id), f"desk-resync-{node_id}")
            self._nodes[node_id] = ami
            log.info("desk: logged into node %s's AMI for its phone actions", node_id)
            if attempts > 1:
                await self._returned(node_id)
            return

    async def _returned(self, node_id: str) -> None:
        """A node came back: make its agents' queue membership match the nodes that stayed up."""
        link = self.app.state.telephony
        node = self._nodes.get(node_id)
        if link is None or node is None:
            return
        try:
            if not await cluster.queues_ready(node):
                log.warning("desk: node %s is back but has no queue actions after a minute; agents not re-applied",
                            node_id)
                return
            # the record: the other nodes that are up and past their own start (an empty QueueStatus of a node
            # still loading app_queue would read as "nobody is logged in")
            others = {n: c for n, c in link.up().items() if n != node_id and await cluster.queues_ready(c, 0)}
            reference = {n: await agents.memberships(c) for n, c in others.items()}
            sent = await cluster.reconcile(node, reference, self.site.agents.extensions())
        except (TimeoutError, OSError, AmiError) as exc:
            log.warning("desk: re-applying the agents' state on node %s failed: %s", node_id, exc)
            return
        log.info("desk: node %s is back; %d agent action(s) re-applied from %s", node_id, sent,
                 ",".join(others) or "no other node")

    def _campaign_ami(self) -> AmiClient | None:
        link = self.app.state.telephony
        return link.ami if link is not None and link.connected else None

    def _resync_ticket_status(self) -> int:
        with self.app.state.db.session() as session:
            return StatusProjection(self.app.state.redis).rebuild(session)

    async def stop(self) -> None:
        if self.campaigns is not None:
            await self.campaigns.stop()
            if self.campaigns.redis is not None:
                await self.campaigns.redis.aclose()
            self.campaigns = None
        self.app.state.telephony = None
        if self._ami_login is not None:
            self._ami_login.cancel()
            await asyncio.gather(self._ami_login, return_exceptions=True)
            self._ami_login = None
        if self._ami is not None:
            self._ami.manager.on_disconnect = lambda *_: None   # a deliberate close is no outage
            self._ami.close()
            self._ami = None
        for node in self._nodes.values():   # no re-apply started by a reconnection while closing
            node.manager.on_disconnect = lambda *_: None
            node.manager.on_login = lambda *_: None
        tasks = list(self._node_tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for node in self._nodes.values():
            node.close()
        self._nodes.clear()
        if self._housekeeping is not None:
            self._housekeeping.cancel()
            self._housekeeping = None
        if self.listener is not None:
            await self.listener.stop()
            for client in (self.listener.tracker.redis, self.listener.redis):
                if client is not None:
                    await client.aclose()
        if self._resync is not None:
            await asyncio.gather(self._resync, return_exceptions=True)
            self._resync = None

    @contextlib.asynccontextmanager
    async def serving(self, host: str | None = None, port: int | None = None,
                      log_level: str = "warning") -> AsyncIterator[str]:
        """Serve the app under uvicorn in this event loop, then start the listener; yields the desk's base URL.
        Leaving stops the listener, then the server."""
        import uvicorn

        host = host if host is not None else self.site.desk_address
        port = port if port is not None else self.site.desk_port
        # proxy_headers off: which proxy to believe is the desk's setting (trusted_proxies), not uvicorn's default
        server = uvicorn.Server(uvicorn.Config(self.app, host=host, port=port, log_level=log_level, lifespan="on",
                                               proxy_headers=False))
        serving = asyncio.create_task(server.serve(), name="desk-http")
        try:
            while not server.started:
                if serving.done():
                    await serving   # re-raises why it did not start
                    raise RuntimeError(f"the desk did not start on {host}:{port}")
                await asyncio.sleep(0.05)
            await self.start()
            yield f"http://{host}:{port}"
        finally:
            try:
                await self.stop()
            finally:
                server.should_exit = True
                await asyncio.gather(serving, return_exceptions=True)


def _mark_down(manager: Any, _exc: Any) -> None:
    # panoramisk reconnects by itself but keeps saying "authenticated": desk actions must see it is down.
    manager.authenticated = False


def _settings(site: SiteConfig, plan: NumberPlan, secrets: SecretStore, recordings_host_dir: str | None,
              overrides: dict[str, Any]) -> DeskSettings:
    settings = desk_settings(site, plan, secrets)
    private_database(overrides.get("database_url", settings.database_url))
    if urlsplit(overrides.get("redis_url", "")).password:   # a URL that carries its password keeps it
        overrides.setdefault("redis_password", None)
    if "redis_password" in overrides:   # another Redis's credential: not the desk's ACL user name either
        overrides.setdefault("redis_username", None)
    recordings = recordings_dir(site)
    return dataclasses.replace(settings, recordings_dir=recordings,
                               recordings_host_dir=recordings_host_dir or recordings, **overrides)


def _listener(settings: DeskSettings, db: Database, site: SiteConfig, plan: NumberPlan, secrets: SecretStore,
              node: str = SINGLE_NODE, ami: AmiSettings | None = None) -> CallListener:
    """The listener of one Asterisk node (``SINGLE_NODE``: the center's one Asterisk, at ``ami_settings``)."""
    # A cluster node records under its own instance directory: the call row names the file where it really is.
    recordings = settings.recordings_dir if node == SINGLE_NODE else recordings_dir(site, node)
    tracker = CallTracker(db, settings.async_redis(), settings.line_names, settings.city_names, recordings)
    if recordings:   # watched where this machine reads them (a cluster node's may be on another machine)
        tracker.watch = RecordingWatch(
            recordings, host_directory(settings, recordings), settings.recording_stall_seconds,
            settings.recordings_low_bytes, settings.recordings_full_bytes, settings.recording_watch_interval, node)
    board = Wallboard.from_plan(plan, settings.service_level_seconds,
                                pause_reasons=site.agents.pause_reasons)   # 实时监控
    if node == SINGLE_NODE:
        return CallListener(tracker, ami or ami_settings(site, secrets), settings.async_redis(), board)
    assert site.cluster is not None and ami is not None   # build_listener checked the node
    nodes = [n.id for n in site.cluster.nodes]
    return CallListener(tracker, ami, settings.async_redis(), board, node=node, cluster_nodes=nodes,
                        system_name=site.node_system_name(node))


def build_desk(site: SiteConfig, plan: NumberPlan, secrets: SecretStore, *, telephony: bool = True,
               listener: bool = True, recordings_host_dir: str | None = None, **overrides: Any) -> DeskProcess:
    """The desk of this center. ``telephony=False``: no AMI at all (a desk without a phone system);
    ``listener=False``: the AMI listener runs in a process of its own (``build_listener``), this one logs into
    AMI for its actions only. ``recordings_host_dir``: where this process reads what Asterisk records (it
    differs when Asterisk runs in its chroot); ``overrides``: ``DeskSettings`` fields to replace (tests: their
    own database and Redis)."""
    settings = _settings(site, plan, secrets, recordings_host_dir, overrides)
    app = create_app(settings)
    own = _listener(settings, app.state.db, site, plan, secrets) if telephony and listener else None
    clustered = telephony and site.cluster is not None
    return DeskProcess(settings=settings, app=app, listener=own, plan=plan, site=site,
                       ami_settings=ami_settings(site, secrets) if telephony and not listener and not clustered
                       else None,
                       node_settings=node_ami_settings(site, secrets) if clustered else None)


@dataclass
class ListenerProcess:
    """The AMI listener as a process of its own (``hotline listener``): call records, live state, pops and the
    wallboard, from AMI events and the IVR's Redis channels. Killed and started again, it rebuilds the board
    from Asterisk on login (``CallListener``), takes the survey stream's pending entries first, and reads back
    the turns the database lacks; the calls already with an agent are found again in the call records.

    In a cluster it holds one listener per node it serves (all of the site's nodes, or the one ``--node``): each
    logs into its node on its own, so a node that is down delays no other node's listener."""

    listeners: list[CallListener]
    db: Database

    @property
    def listener(self) -> CallListener:
        """The first (on a single node: the only) listener."""
        return self.listeners[0]

    async def start(self, retry: float = AMI_RETRY) -> None:
        """Log every listener into its node's AMI, each trying again every ``retry`` seconds while its Asterisk
        is away (the supervisor need not restart a listener that is only waiting); returns when all are in."""
        await asyncio.gather(*(self._start(listener, retry) for listener in self.listeners))

    @staticmethod
    async def _start(listener: CallListener, retry: float) -> None:
        where = f"node {listener.node}: " if listener.node else ""
        while True:
            try:
                await listener.start()
                log.info("listener: %slogged into AMI at %s:%d", where, listener.ami_settings.host,
                         listener.ami_settings.port)
                return
            except (TimeoutError, OSError, AmiError) as exc:
                if listener.ami is not None:
                    listener.ami.manager.on_disconnect = lambda *_: None
                    listener.ami.close()
                log.warning("listener: %sAMI login failed (%s); trying again in %.0f s", where, exc, retry)
                await asyncio.sleep(retry)

    async def stop(self) -> None:
        for listener in self.listeners:
            await listener.stop()
            for client in (listener.tracker.redis, listener.redis):
                if client is not None:
                    await client.aclose()
        self.db.dispose()


def build_listener(site: SiteConfig, plan: NumberPlan, secrets: SecretStore, *, node: str | None = None,
                   recordings_host_dir: str | None = None, **overrides: Any) -> ListenerProcess:
    """The listener of this center, alone: the same tracker, wallboard and channels as inside ``build_desk``.
    It does not migrate the database (the desk and ``hotline install`` do). On a cluster site: one listener per
    node (``node=None``), or the one of ``node``; ``ValueError`` for a node the site does not name, or any node
    on a single-node site."""
    logins = node_ami_settings(site, secrets)
    if node is not None and node not in logins:
        known = ", ".join(n for n in logins if n) or "none: the site has no cluster section"
        raise ValueError(f"no node {node!r} in the site config (its nodes: {known})")
    settings = _settings(site, plan, secrets, recordings_host_dir, overrides)
    db = Database(settings.database_url)
    chosen = [node] if node is not None else list(logins)
    return ListenerProcess(listeners=[_listener(settings, db, site, plan, secrets, n, logins[n]) for n in chosen],
                           db=db)
