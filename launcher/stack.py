"""The whole service on one box: Asterisk, Redis, and the supervised processes (the FastAGI + AudioSocket media
server, the desk, the AMI listener, the ASR workers), plus ``stack.json``.

Each of the four is a process of its own (``launcher.supervisor``, issue 17): one that dies, whatever the reason,
is started again with back-off while the others carry on, and the wallboard's system status shows it. The media
server is ``media`` processes (``--media N``: ``media``, ``media-1``, ...) sharing the FastAGI port. The media
server starts before Asterisk (the first call finds it), the desk and the listener once Asterisk answers.

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
import socket
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from agent_desk.bootstrap import database_url
from agent_desk.telephony.recording import recordings_dir
from hotline import access
from hotline.contracts.processes import ProcessKind
from hotline.numberplan import NumberPlan
from hotline.paths import Paths
from hotline.secrets import SecretStore
from hotline.site import SiteConfig
from launcher.asr_pool import asr_children, child_env
from launcher.asterisk import AsteriskInstance, RunnerError
from hotline.private import private_dir
from launcher.redis import LocalRedis
from launcher.supervisor import Child, StatusBoard, Supervisor, set_nice

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


def hotline_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "launcher.cli", *args]


# Niceness of what is on every call's path (Asterisk and the media server): ahead of the desk, the listener and
# the box's other work, so that a busy box delays screens and reports before it delays a caller's AGI round trip
# (BENCHMARKS.md, "AGI under load": on a loaded box the round trip is the scheduler's, not Python's). The ASR
# workers run at +10 (launcher.asr_pool): transcription is what is shed first.
CALL_PATH_NICE = -5
# The media processes (FastAGI, AudioSocket) a step further ahead, of Asterisk's own threads too: with 200 callers
# waiting, Asterisk runs hundreds of media threads at CALL_PATH_NICE, and a new caller's entry route waited its
# turn among them (the AGI process's run delay was 4.6 ms a call, its p99 8 ms; at -10: 2.5 ms; BENCHMARKS.md,
# "200 concurrent calls"). A media process costs about 1.3 ms of CPU a call, so this takes little from the audio.
MEDIA_NICE = -10


MAX_DEFAULT_MEDIA = 4   # each media process holds its own Redis connection, and the menu flow's speech engine


def default_media_processes() -> int:
    """Media processes ``hotline run`` starts unless told: one per CPU (2 if unknown), at most ``MAX_DEFAULT_MEDIA``.

    One per core: a call's AGI round trip waits for a free event loop, and one loop runs on one core at a time.
    More than the cores only adds processes contending for them, and every one holds its own memory."""
    return min(os.cpu_count() or 2, MAX_DEFAULT_MEDIA)


def media_name(index: int) -> str:
    """``media`` for the first (the name one media process had before there were several), ``media-1`` ..."""
    return "media" if index == 0 else f"media-{index}"


def media_children(count: int) -> list[Child]:
    """``count`` media processes; several share the FastAGI port (``hotline agi serve --worker I``)."""
    if count == 1:
        return [Child("media", hotline_command("agi", "serve"), ProcessKind.MEDIA, nice=MEDIA_NICE)]
    return [Child(media_name(i), hotline_command("agi", "serve", "--worker", str(i)), ProcessKind.MEDIA,
                  nice=MEDIA_NICE) for i in range(count)]


def stack_children(site: SiteConfig, recordings_host_dir: str, media: int = 1) -> list[Child]:
    """The processes of one center, as ``hotline run`` supervises them."""
    return [
        *media_children(media),
        Child("desk", hotline_command("desk", "serve", "--no-listener", "--recordings-host-dir", recordings_host_dir),
              ProcessKind.DESK),
        # the listener watches the recordings of the calls being recorded (agent_desk.calls.recording_watch)
        Child("listener", hotline_command("listener", "--recordings-host-dir", recordings_host_dir),
              ProcessKind.LISTENER),
        *asr_children(site),   # site.speech.workers processes of `hotline asr worker`
    ]


def renice_threads(pid: int | None, nice: int) -> None:
    """Every thread of a running process (Asterisk starts its threads before we can set the process's niceness;
    the threads it starts later inherit from these)."""
    if not pid:
        return
    try:
        tasks = [int(task.name) for task in Path(f"/proc/{pid}/task").iterdir()]
    except OSError:
        return
    for task in tasks:
        if not set_nice(task, nice):
            return


def admin_redis(site: SiteConfig, secrets: SecretStore):
    """The launcher's own Redis connection (the ``default`` user): the process status board."""
    import redis.asyncio as aioredis

    return aioredis.from_url(site.redis_url, password=secrets.get(access.REDIS_ADMIN_SECRET), socket_timeout=2,
                             socket_connect_timeout=2)


def port_answers(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=1).close()
        return True
    except OSError:
        return False


def desk_answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/healthz", timeout=2) as response:
            return response.status == 200
    except (OSError, urllib.error.URLError):
        return False


async def wait_until(check, what: str, supervisor: Supervisor, name: str, timeout: float) -> None:
    """Poll ``check`` (blocking, in a thread) until it is true; ``RunnerError`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not await asyncio.to_thread(check):
        if time.monotonic() > deadline:
            raise RunnerError(f"{what} did not answer within {timeout:.0f} s (process {name}: "
                              f"{supervisor.records[supervisor.index(name)].state}, "
                              f"last exit {supervisor.records[supervisor.index(name)].last_exit or 'none'})")
        await asyncio.sleep(0.2)


async def serve_media_workers(paths: Paths, count: int) -> None:
    """``count`` media workers sharing the FastAGI port under a supervisor, until SIGINT/SIGTERM: ``hotline agi serve
    --processes N`` (the Docker deployment, where one container holds the FastAGI address). No status board: in
    Compose the container is the unit the operator sees; the workers' restarts are in its log."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    workers = Supervisor(media_children(count), child_env(paths))
    await workers.start()
    try:
        await stop.wait()
    finally:
        await workers.stop()


async def run_stack(paths: Paths, site: SiteConfig, plan: NumberPlan, secrets: SecretStore, media: int = 1) -> None:
    """Run everything until SIGINT/SIGTERM; stop it all cleanly. ``media``: media processes sharing the FastAGI
    port (the kernel spreads the calls; one killed leaves the others serving while it restarts)."""
    asterisk = asterisk_instance(paths, site, secrets)
    redis = local_redis(paths, site, secrets)
    host_recordings = str(asterisk.host_path(recordings_dir(site)))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    redis.start()
    board = StatusBoard(admin_redis(site, secrets))
    processes = Supervisor(stack_children(site, host_recordings, media), child_env(paths), status=board)
    desk_url = f"http://{site.desk_address}:{site.desk_port}"
    try:
        await processes.start([c.name for c in processes.children if c.kind in (ProcessKind.MEDIA, ProcessKind.ASR)])
        # Before Asterisk, so the first call finds it.
        await wait_until(lambda: port_answers(site.agi_host, site.agi_port), "the FastAGI server", processes,
                         "media", 120)
        await asyncio.to_thread(asterisk.up)
        renice_threads(asterisk.pid(), CALL_PATH_NICE)
        await processes.start(["desk", "listener"])
        await wait_until(lambda: desk_answers(desk_url), "the desk", processes, "desk", 120)
        write_details(paths, connection_details(paths, site, asterisk, site.redis_url))
        print(f"[hotline] running. Connection details: {paths.stack_json}  (Ctrl-C stops everything)", flush=True)
        await stop.wait()
    finally:
        print("[hotline] stopping", flush=True)
        try:  # a start-up that failed half way (e.g. Asterisk not coming up) still stops what it started
            paths.stack_json.unlink(missing_ok=True)
            await asyncio.to_thread(asterisk.down)
        finally:
            await processes.stop()
            await board.close()
            redis.stop()
