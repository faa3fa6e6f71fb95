"""The whole service on one box: Asterisk, Redis, the FastAGI server and the desk, plus ``stack.json``.

``stack.json`` (``var/run/stack.json`` by default) is how operators and external checks find the
running stack: AMI host/port/user and the path of its secret, the FastAGI address, the desk URL,
Redis and the database. It is written when everything answers and removed on a clean stop.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import os
import shutil
import signal
import subprocess
import threading
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import urlsplit

from hotline.numberplan import NumberPlan
from hotline.paths import Paths
from hotline.runner import AsteriskInstance
from hotline.secrets import SecretStore
from hotline.site import SiteConfig

log = logging.getLogger(__name__)


def asterisk_instance(paths: Paths, site: SiteConfig, secrets: SecretStore) -> AsteriskInstance:
    return AsteriskInstance.create(
        instance_dir=site.instance_dir,
        etc_source=paths.asterisk_etc,
        sounds_source=paths.sounds,
        models_source=paths.home / "models",
        ami_host=site.bind if site.bind != "0.0.0.0" else "127.0.0.1",
        ami_port=site.ami_port,
        ami_user="hotline",
        ami_secret=secrets.get("ami"),
    )


def resync_ticket_status(app) -> int:
    from agent_desk.tickets.status import StatusProjection

    with app.state.db.session() as session:
        return StatusProjection(app.state.redis).rebuild(session)


def desk_database_url(site: SiteConfig) -> str:
    from agent_desk.bootstrap import database_url

    return database_url(site)


def connection_details(paths: Paths, site: SiteConfig, asterisk: AsteriskInstance, redis_url: str) -> dict:
    host = asterisk.ami_host
    return {
        "written_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "ami": {"host": host, "port": site.ami_port, "username": "hotline",
                "secret_file": str(paths.secrets / "ami")},
        "fastagi": {"host": site.agi_host, "port": site.agi_port, "url": f"agi://{site.agi_host}:{site.agi_port}"},
        "audiosocket": {"host": site.agi_host, "port": site.audiosocket_port},
        "sip": {"host": site.bind, "port": site.sip_port, "carrier_endpoint": site.carrier.username},
        "desk": {"url": f"http://{site.bind}:{site.desk_port}", "admin_user": "admin",
                 "admin_password_file": str(paths.secrets / "desk-admin")},
        "redis": {"url": redis_url, "password_file": str(paths.secrets / "redis")},
        "database": {"url": desk_database_url(site)},
        "asterisk": {**asterisk.status(), "config_dir": str(paths.asterisk_etc)},
    }


def write_details(paths: Paths, details: dict) -> None:
    paths.run.mkdir(parents=True, exist_ok=True)
    tmp = paths.stack_json.with_suffix(".tmp")
    tmp.write_text(json.dumps(details, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    os.chmod(tmp, 0o640)
    os.replace(tmp, paths.stack_json)


@dataclass
class LocalRedis:
    """A redis-server child on loopback with a generated password (when the site's Redis is local)."""

    url: str
    password: str
    data_dir: Path
    proc: subprocess.Popen | None = None

    def start(self) -> None:
        parts = urlsplit(self.url)
        if parts.hostname not in ("127.0.0.1", "localhost"):
            return  # a remote Redis is the site's to run
        if shutil.which("redis-server") is None:
            raise RuntimeError("redis-server is not installed (apt-get install redis-server)")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(self.dies_with_parent(
            ["redis-server", "--bind", parts.hostname, "--port", str(parts.port or 6379),
             "--requirepass", self.password, "--dir", str(self.data_dir), "--save", "60 1000",
             "--appendonly", "no", "--protected-mode", "yes", "--daemonize", "no", "--loglevel", "warning"]),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    @staticmethod
    def dies_with_parent(argv: list[str]) -> list[str]:
        """``argv`` run so that it gets SIGTERM if the process starting it dies without stopping it (SIGKILL,
        a crash): ``setpriv --pdeathsig`` sets the parent-death signal, then execs, so the pid stays the
        server's. The kernel ties that signal to the starting *thread*: only the main thread uses it."""
        setpriv = shutil.which("setpriv")
        if setpriv is None or threading.current_thread() is not threading.main_thread():
            return argv
        return [setpriv, "--pdeathsig", "TERM", "--", *argv]


async def run_stack(paths: Paths, site: SiteConfig, plan: NumberPlan, secrets: SecretStore) -> None:
    """Run everything until SIGINT/SIGTERM; stop it all cleanly."""
    import uvicorn

    from agent_desk.app import create_app
    from agent_desk.bootstrap import ami_settings, desk_settings
    from agent_desk.calls.listener import CallListener
    from agent_desk.calls.tracker import CallTracker
    from agent_desk.supervision.wallboard import Wallboard
    from agent_desk.telephony.link import TelephonyLink
    from agent_desk.telephony.recording import recordings_dir
    from agi_scripts.app import AgiApp

    asterisk = asterisk_instance(paths, site, secrets)
    redis = LocalRedis(site.redis_url, secrets.get("redis"), paths.home / "redis")
    agi = AgiApp.build(paths, site, plan, secrets)
    settings = replace(desk_settings(site, plan, secrets), recordings_dir=recordings_dir(site),
                       recordings_host_dir=str(asterisk.host_path(recordings_dir(site))))
    app = create_app(settings)
    listener: CallListener | None = None
    desk = uvicorn.Server(uvicorn.Config(
        app,
        host=site.bind, port=site.desk_port, log_level="warning", lifespan="on",
    ))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    desk_task: asyncio.Task | None = None
    resync: asyncio.Task | None = None
    try:
        redis.start()
        await agi.start()  # before Asterisk, so the first call finds it
        await asyncio.to_thread(asterisk.up)
        desk_task = asyncio.create_task(desk.serve())
        while not desk.started:
            if desk_task.done():
                await desk_task  # re-raises the desk's start-up error
            await asyncio.sleep(0.05)
        # The AMI's one owner: calls become records, live state and screen pops.
        listener = CallListener(CallTracker(app.state.db, settings.async_redis(), settings.line_names,
                                            settings.city_names, recordings_dir(site)),
                                ami_settings(site, secrets), settings.async_redis(),
                                Wallboard.from_plan(plan, settings.service_level_seconds,
                                                    pause_reasons=site.agents.pause_reasons))  # 实时监控
        await listener.start()
        app.state.telephony = TelephonyLink(listener.ami, plan, site)  # desk actions use the listener's AMI
        # Redis may have lost the IVR's ticket-status view (restart, outage): rewrite it in the background.
        resync = asyncio.create_task(asyncio.to_thread(resync_ticket_status, app))
        write_details(paths, connection_details(paths, site, asterisk, site.redis_url))
        print(f"[hotline] running. Connection details: {paths.stack_json}  (Ctrl-C stops everything)", flush=True)
        await stop.wait()
    finally:
        try:  # a start-up that failed half way (e.g. the AMI login) still stops what it started
            print("[hotline] stopping", flush=True)
            paths.stack_json.unlink(missing_ok=True)
            if listener is not None:
                await listener.stop()
            if resync is not None:
                await asyncio.gather(resync, return_exceptions=True)
            desk.should_exit = True
            if desk_task is not None:
                await asyncio.gather(desk_task, return_exceptions=True)
            await asyncio.to_thread(asterisk.down)
            await agi.stop()
        finally:
            redis.stop()
