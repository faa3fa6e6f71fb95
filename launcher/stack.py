"""The whole service on one box: Asterisk, Redis, the FastAGI server, the desk and the ASR workers, plus
``stack.json``.

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
import signal

from agent_desk.bootstrap import database_url
from agent_desk.process import build_desk
from agent_desk.telephony.recording import recordings_dir
from agi_scripts.app import AgiApp
from hotline import access
from hotline.numberplan import NumberPlan
from hotline.paths import Paths
from hotline.secrets import SecretStore
from hotline.site import SiteConfig
from launcher.asr_pool import asr_workers
from launcher.asterisk import AsteriskInstance
from hotline.private import private_dir
from launcher.redis import LocalRedis

log = logging.getLogger(__name__)


def asterisk_instance(paths: Paths, site: SiteConfig, secrets: SecretStore) -> AsteriskInstance:
    return AsteriskInstance.create(
        instance_dir=site.instance_dir,
        etc_source=paths.asterisk_etc,
        sounds_source=paths.sounds,
        models_source=paths.home / "models",
        ami_host=site.ami_address,
        ami_port=site.ami_port,
        ami_user=access.AMI_OPERATOR_USER,   # loopback only; the desk has its own, narrower user
        ami_secret=secrets.get(access.AMI_OPERATOR_SECRET),
    )


def connection_details(paths: Paths, site: SiteConfig, asterisk: AsteriskInstance, redis_url: str) -> dict:
    host = asterisk.ami_host
    return {
        "written_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "ami": {"host": host, "port": site.ami_port, "username": access.AMI_OPERATOR_USER,
                "secret_file": str(paths.secrets / access.AMI_OPERATOR_SECRET)},
        "fastagi": {"host": site.agi_host, "port": site.agi_port, "url": f"agi://{site.agi_host}:{site.agi_port}"},
        "audiosocket": {"host": site.agi_host, "port": site.audiosocket_port},
        "sip": {"host": site.bind, "port": site.sip_port, "carrier_endpoint": site.carrier.username},
        "desk": {"url": f"http://{site.desk_address}:{site.desk_port}", "admin_user": "admin",
                 "admin_password_file": str(paths.secrets / "desk-admin")},
        "redis": {"url": redis_url, "password_file": str(paths.secrets / access.REDIS_ADMIN_SECRET)},
        "database": {"url": database_url(site)},
        "asterisk": {**asterisk.status(), "config_dir": str(paths.asterisk_etc)},
    }


def local_redis(paths: Paths, site: SiteConfig, secrets: SecretStore) -> LocalRedis:
    acl = access.redis_acl({name: secrets.get(name) for name in access.REDIS_SECRETS})
    return LocalRedis(site.redis_url, acl, paths.home / "redis")


def write_details(paths: Paths, details: dict) -> None:
    private_dir(paths.run)
    tmp = paths.stack_json.with_suffix(".tmp")
    tmp.write_text(json.dumps(details, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    os.chmod(tmp, 0o640)
    os.replace(tmp, paths.stack_json)


async def run_stack(paths: Paths, site: SiteConfig, plan: NumberPlan, secrets: SecretStore) -> None:
    """Run everything until SIGINT/SIGTERM; stop it all cleanly."""
    asterisk = asterisk_instance(paths, site, secrets)
    redis = local_redis(paths, site, secrets)
    agi = AgiApp.build(paths, site, plan, secrets)
    desk = build_desk(site, plan, secrets, recordings_host_dir=str(asterisk.host_path(recordings_dir(site))),
                      suggest_models=str(paths.suggest_models))
    asr = asr_workers(paths, site)   # site.speech.workers processes of `hotline asr worker`, supervised
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        redis.start()
        await asr.start()
        await agi.start()  # before Asterisk, so the first call finds it
        await asyncio.to_thread(asterisk.up)
        async with desk.serving():
            write_details(paths, connection_details(paths, site, asterisk, site.redis_url))
            print(f"[hotline] running. Connection details: {paths.stack_json}  (Ctrl-C stops everything)", flush=True)
            await stop.wait()
    finally:
        print("[hotline] stopping", flush=True)
        try:  # a start-up that failed half way (e.g. the AMI login) still stops what it started
            paths.stack_json.unlink(missing_ok=True)
            await asyncio.to_thread(asterisk.down)
            await agi.stop()
        finally:
            await asr.stop()
            redis.stop()
