"""The desk as a running process: the web app, the AMI listener that feeds it, and the desk's phone link.

``build_desk`` is the one place that assembles it from the site, the number plan and the secrets. ``hotline
run``, ``hotline desk serve`` (the Docker deployment's desk) and the tests all build the desk here, so the
names, rules, listener, screen pops, wallboard and transfers are the same however the desk is started.

The listener is the one AMI client of the process (calls become records, live state, pops and the wallboard);
the desk's own actions (transfers, agent control) use its connection through ``app.state.telephony``.
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
from agent_desk.bootstrap import ami_settings, desk_settings, private_database
from agent_desk.calls.listener import CallListener
from agent_desk.calls.tracker import CallTracker
from agent_desk.settings import DeskSettings
from agent_desk.supervision.wallboard import Wallboard
from agent_desk.telephony.link import TelephonyLink
from agent_desk.telephony.recording import recordings_dir
from agent_desk.tickets.status import StatusProjection
from hotline import housekeeping
from hotline.numberplan import NumberPlan
from hotline.secrets import SecretStore
from hotline.site import SiteConfig

log = logging.getLogger(__name__)


@dataclass
class DeskProcess:
    settings: DeskSettings
    app: FastAPI
    listener: CallListener | None
    plan: NumberPlan
    site: SiteConfig
    _resync: asyncio.Task[int] | None = field(default=None, repr=False)
    _housekeeping: asyncio.Task[None] | None = field(default=None, repr=False)

    @property
    def tracker(self) -> CallTracker | None:
        return self.listener.tracker if self.listener is not None else None

    @property
    def wallboard(self) -> Wallboard | None:
        return self.listener.wallboard if self.listener is not None else None

    async def start(self) -> None:
        """Log the listener into AMI (the desk's phone link from then on) and rewrite the IVR's view of ticket
        states in the background (Redis may have lost it: a restart, an outage). Call after the app started."""
        if self.listener is not None:
            await self.listener.start()
            assert self.listener.ami is not None
            self.app.state.telephony = TelephonyLink(self.listener.ami, self.plan, self.site)
        self._resync = asyncio.create_task(asyncio.to_thread(self._resync_ticket_status), name="status-resync")
        if self.settings.recordings_host_dir:   # call recordings past site.yaml retention.call_recordings_days
            rules = [(Path(self.settings.recordings_host_dir), self.site.retention.call_recordings_days)]
            self._housekeeping = asyncio.create_task(housekeeping.run_periodically(rules), name="retention")

    def _resync_ticket_status(self) -> int:
        with self.app.state.db.session() as session:
            return StatusProjection(self.app.state.redis).rebuild(session)

    async def stop(self) -> None:
        self.app.state.telephony = None
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


def build_desk(site: SiteConfig, plan: NumberPlan, secrets: SecretStore, *, telephony: bool = True,
               recordings_host_dir: str | None = None, **overrides: Any) -> DeskProcess:
    """The desk of this center. ``telephony=False``: no AMI listener (a desk without a phone system).
    ``recordings_host_dir``: where this process reads what Asterisk records (it differs when Asterisk runs in
    its chroot); ``overrides``: ``DeskSettings`` fields to replace (tests: their own database and Redis)."""
    settings = desk_settings(site, plan, secrets)
    private_database(overrides.get("database_url", settings.database_url))
    if urlsplit(overrides.get("redis_url", "")).password:   # a URL that carries its password keeps it
        overrides.setdefault("redis_password", None)
    if "redis_password" in overrides:   # another Redis's credential: not the desk's ACL user name either
        overrides.setdefault("redis_username", None)
    recordings = recordings_dir(site)
    settings = dataclasses.replace(settings, recordings_dir=recordings,
                                   recordings_host_dir=recordings_host_dir or recordings, **overrides)
    app = create_app(settings)
    listener = None
    if telephony:
        tracker = CallTracker(app.state.db, settings.async_redis(), settings.line_names, settings.city_names,
                              recordings)
        board = Wallboard.from_plan(plan, settings.service_level_seconds,
                                    pause_reasons=site.agents.pause_reasons)   # 实时监控
        listener = CallListener(tracker, ami_settings(site, secrets), settings.async_redis(), board)
    return DeskProcess(settings=settings, app=app, listener=listener, plan=plan, site=site)
