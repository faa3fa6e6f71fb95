"""多节点集群, started machine by machine (issue 15): ``hotline run --node ID`` on each Asterisk node's machine,
``hotline cluster proxy`` on the proxy's, ``hotline run --desk-only`` on the desk's.

Each is the single-node ``hotline run`` cut along the cluster's seams, with the same supervisor
(``launcher.supervisor``: a process that dies is started again with back-off):

- **a node** (``run_node``): that node's Asterisk, from the cluster rendering (``hotline.confgen.cluster``: its own
  address, ports and instance directory, the proxy as its carrier trunk), its media processes (FastAGI +
  AudioSocket, started before Asterisk so the first call finds them), its AMI listener (``hotline listener --node
  ID``: call records, pops and the wallboard from this node's events) and the site's local ASR workers. No Redis,
  no desk: those are the desk machine's, reached at the site's ``redis_url`` and ``database_url``.
- **the proxy** (``run_proxy``): Kamailio with the rendered ``kamailio.cfg`` and ``dispatcher.list`` in the site's
  ``cluster.proxy_dir``, in the foreground as a supervised child, restarted with back-off when it dies. Its state
  (registrations, dialogs) is in its memory: a restart loses the phones' registrations until they register again
  and the ``agent`` dialog profile (so, for a moment, the no-second-call guard); calls in progress carry on, their
  media never passed through it.
- **the desk** (``run_desk``): Redis (when the site's Redis is local) and the desk's web app. The desk holds no call
  state of its own (PostgreSQL and Redis do), so more desks may run on other machines with ``hotline desk serve
  --no-listener``.

Secrets are never generated here but on the node's or the proxy's machine: every machine must hold the same ones
(the carrier's, the agents', AMI's, Redis's), so they are made once by ``hotline install`` (the desk's machine) and
copied; a machine missing one refuses to start and names it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import shutil
import signal
import subprocess
from pathlib import Path

from agent_desk.bootstrap import database_url
from hotline import access
from hotline.confgen import cluster as cluster_conf
from hotline.contracts.processes import ProcessKind
from hotline.numberplan import NumberPlan
from hotline.paths import Paths
from hotline.private import private_dir
from hotline.secrets import SecretStore
from hotline.site import ClusterNode, SiteConfig
from launcher.asr_pool import asr_children, child_env
from launcher.asterisk import AsteriskInstance, RunnerError
from launcher.supervisor import Child, StatusBoard, Supervisor

PROXY_CHILD = "kamailio"


def cluster_node(site: SiteConfig, node_id: str) -> ClusterNode:
    """The site's node ``node_id``; ``RunnerError`` naming the known ones otherwise."""
    cluster = cluster_conf.cluster_of(site)
    for node in cluster.nodes:
        if node.id == node_id:
            return node
    raise RunnerError(f"cluster.nodes has no node {node_id!r} (it has {', '.join(n.id for n in cluster.nodes)})")


def require_secrets(secrets: SecretStore, names: list[str]) -> None:
    """Every secret a cluster machine needs must already be there: copied from the machine that ran ``hotline
    install``, never made up here (a node with its own carrier or agent secrets would refuse every call)."""
    missing = [name for name in names if not secrets.path(name).exists()]
    if missing:
        raise RunnerError(f"missing secrets in {secrets.directory}: {', '.join(missing)}; a cluster machine uses the "
                          "secrets `hotline install` made on the desk's machine: copy its secrets directory here")


def node_dir(paths: Paths, node_id: str) -> Path:
    """Where ``run_node`` installs the node's rendered Asterisk configuration."""
    return paths.home / "cluster" / node_id


def node_stack_json(paths: Paths, node_id: str) -> Path:
    """The node's connection details; next to ``stack.json``, so several roles may share one state home."""
    return paths.run / f"stack-{node_id}.json"


def proxy_stack_json(paths: Paths) -> Path:
    return paths.run / "stack-proxy.json"


def write_json(path: Path, details: dict) -> None:
    private_dir(path.parent)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(details, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    os.chmod(tmp, 0o640)
    os.replace(tmp, path)


def node_children(site: SiteConfig, node_id: str, media: int) -> list[Child]:
    """A node's processes: ``media`` media processes (0, ``--no-media``: its calls' FastAGI is served by another
    machine or by another node's run on this one), its listener and the site's local ASR workers."""
    from launcher.stack import hotline_command, media_children

    return [
        *(media_children(media) if media else []),
        Child("listener", hotline_command("listener", "--node", node_id), ProcessKind.LISTENER),
        *asr_children(site),
    ]


def desk_children(recordings_host_dir: str | None) -> list[Child]:
    """The desk machine's process: the web app (no listener: the nodes run theirs)."""
    from launcher.stack import hotline_command

    argv = ["desk", "serve", "--no-listener"]
    if recordings_host_dir:
        argv += ["--recordings-host-dir", recordings_host_dir]
    return [Child("desk", hotline_command(*argv), ProcessKind.DESK)]


def kamailio_command(proxy_dir: Path) -> list[str]:
    """Kamailio in the foreground (-DD: the supervisor sees its death), logging to stderr (-E), its run files in
    ``proxy_dir/run``."""
    run = proxy_dir / "run"
    return [shutil.which("kamailio") or "kamailio", "-f", str(proxy_dir / "kamailio.cfg"), "-DD", "-E",
            "-Y", str(run), "-P", str(run / "kamailio.pid"), "-w", str(run)]


def proxy_child(proxy_dir: Path) -> Child:
    # Kamailio's own log is its stderr: the launcher's, as the other children's are. It is on every call's path.
    return Child(PROXY_CHILD, kamailio_command(proxy_dir), ProcessKind.MEDIA)


def proxy_answers(proxy_dir: Path) -> bool:
    """Whether Kamailio answers on its control socket (``kamcmd core.version``)."""
    try:
        proc = subprocess.run(["kamcmd", "-s", f"unix:{proxy_dir}/kamailio_ctl", "core.version"],
                              capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return proc.returncode == 0


async def until_stopped() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop


def install_node(paths: Paths, site: SiteConfig, plan: NumberPlan, secrets: SecretStore, node_id: str,
                 plan_text: str) -> tuple[SiteConfig, Path]:
    """Render the node's configuration into ``node_dir`` (nothing written unless every part renders); the site as
    the node sees it, and the directory."""
    node = cluster_node(site, node_id)
    try:
        rendered = cluster_conf.render_cluster(plan, site, secrets, plan_text)
    except ValueError as exc:
        raise RunnerError(str(exc)) from None
    out = node_dir(paths, node_id)
    rendered[node_id].write(out)
    return cluster_conf.node_site(site, node), out


async def run_node(paths: Paths, site: SiteConfig, plan: NumberPlan, secrets: SecretStore, node_id: str,
                   media: int = 1) -> None:
    """One node until SIGINT/SIGTERM: its Asterisk, media processes, listener and ASR workers; stopped cleanly."""
    from launcher.stack import (CALL_PATH_NICE, admin_redis, port_answers, renice_threads, wait_until)

    node = cluster_node(site, node_id)
    own, etc = install_node(paths, site, plan, secrets, node_id, paths.plan.read_text(encoding="utf-8"))
    asterisk = AsteriskInstance.create(
        instance_dir=own.instance_dir, etc_source=etc, sounds_source=paths.sounds,
        models_source=paths.home / "models", ami_host=node.address, ami_port=node.ami_port,
        ami_user=access.AMI_OPERATOR_USER, ami_secret=secrets.get(access.AMI_OPERATOR_SECRET))
    stop = await until_stopped()
    board = StatusBoard(admin_redis(site, secrets))   # the desk machine's Redis; its absence costs only the report
    processes = Supervisor(node_children(site, node_id, media), child_env(paths), status=board)
    details_path = node_stack_json(paths, node_id)
    try:
        await processes.start([c.name for c in processes.children if c.kind in (ProcessKind.MEDIA, ProcessKind.ASR)])
        if media:
            await wait_until(lambda: port_answers(site.agi_host, site.agi_port), "the FastAGI server", processes,
                             "media", 120)
        await asyncio.to_thread(asterisk.up)
        renice_threads(asterisk.pid(), CALL_PATH_NICE)
        await processes.start(["listener"])
        write_json(details_path, {
            "written_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "node": node_id,
            "ami": {"host": node.address, "port": node.ami_port, "username": access.AMI_OPERATOR_USER,
                    "secret_file": str(secrets.path(access.AMI_OPERATOR_SECRET))},
            "sip": {"host": node.address, "port": node.sip_port},
            "fastagi": {"host": site.agi_host, "port": site.agi_port, "media_processes": media},
            "proxy": {"host": cluster_conf.cluster_of(site).proxy, "port": cluster_conf.cluster_of(site).proxy_port},
            "asterisk": {**asterisk.status(), "config_dir": str(etc)},
        })
        print(f"[hotline] node {node_id} running on {node.address}. Connection details: {details_path}  "
              "(Ctrl-C stops it)", flush=True)
        await stop.wait()
    finally:
        print(f"[hotline] stopping node {node_id}", flush=True)
        try:
            details_path.unlink(missing_ok=True)
            await asyncio.to_thread(asterisk.down)
        finally:
            await processes.stop()
            await board.close()


def install_proxy(site: SiteConfig, secrets: SecretStore) -> Path:
    """Render Kamailio's files into the site's ``cluster.proxy_dir``; that directory."""
    cluster = cluster_conf.cluster_of(site)
    try:
        rendered = cluster_conf.render_proxy(site, secrets)
    except ValueError as exc:
        raise RunnerError(str(exc)) from None
    proxy_dir = Path(cluster.proxy_dir)
    rendered.write(proxy_dir)
    private_dir(proxy_dir / "run")   # its control socket: whoever reaches it can change the dispatcher
    return proxy_dir


async def run_proxy(paths: Paths, site: SiteConfig, secrets: SecretStore, *, restart_delay: float = 1.0,
                    max_delay: float = 30.0) -> None:
    """Kamailio until SIGINT/SIGTERM, started again with back-off (``restart_delay`` doubling up to ``max_delay``)
    whenever it dies."""
    from launcher.stack import wait_until

    if shutil.which("kamailio") is None:
        raise RunnerError("kamailio is not installed (scripts/setup.sh; Debian: apt-get install kamailio)")
    proxy_dir = install_proxy(site, secrets)
    stop = await until_stopped()
    # No status board: the proxy's machine may have no way to the desk's Redis, and the wallboard's process list is
    # the center's processes; the supervisor's restarts are in this launcher's log.
    proxy = Supervisor([proxy_child(proxy_dir)], child_env(paths), restart_delay=restart_delay, max_delay=max_delay)
    details_path = proxy_stack_json(paths)
    cluster = cluster_conf.cluster_of(site)
    try:
        await proxy.start()
        await wait_until(lambda: proxy_answers(proxy_dir), "Kamailio", proxy, PROXY_CHILD, 60)
        write_json(details_path, {
            "written_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "sip": {"host": cluster.proxy, "port": cluster.proxy_port},
            "control": f"unix:{proxy_dir}/kamailio_ctl",
            "config_dir": str(proxy_dir),
            "nodes": {node.id: f"sip:{node.address}:{node.sip_port}" for node in cluster.nodes},
            "pid": proxy.pid(PROXY_CHILD),
        })
        print(f"[hotline] proxy running on {cluster.proxy}:{cluster.proxy_port} (kamcmd -s "
              f"unix:{proxy_dir}/kamailio_ctl dispatcher.list). Details: {details_path}  (Ctrl-C stops it)",
              flush=True)
        await stop.wait()
    finally:
        print("[hotline] stopping the proxy", flush=True)
        details_path.unlink(missing_ok=True)
        await proxy.stop()


async def run_desk(paths: Paths, site: SiteConfig, secrets: SecretStore) -> None:
    """The desk machine until SIGINT/SIGTERM: Redis (when local) and the desk's web app."""
    from launcher.stack import admin_redis, desk_answers, local_redis, wait_until

    redis = local_redis(paths, site, secrets)
    stop = await until_stopped()
    redis.start()
    board = StatusBoard(admin_redis(site, secrets))
    # Recordings live on the nodes' machines; the desk reads them where the operator mounts them (not yet wired:
    # a cluster desk plays recordings only when the nodes' spools are shared at the single-node path).
    processes = Supervisor(desk_children(None), child_env(paths), status=board)
    desk_url = f"http://{site.desk_address}:{site.desk_port}"
    try:
        await processes.start()
        await wait_until(lambda: desk_answers(desk_url), "the desk", processes, "desk", 120)
        write_json(paths.stack_json, {
            "written_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "role": "desk",
            "desk": {"url": desk_url, "admin_user": "admin",
                     "admin_password_file": str(secrets.path("desk-admin"))},
            "redis": {"url": site.redis_url, "password_file": str(secrets.path(access.REDIS_ADMIN_SECRET))},
            "database": {"url": database_url(site)},
        })
        print(f"[hotline] desk running at {desk_url}. Connection details: {paths.stack_json}  (Ctrl-C stops it)",
              flush=True)
        await stop.wait()
    finally:
        print("[hotline] stopping the desk", flush=True)
        paths.stack_json.unlink(missing_ok=True)
        try:
            await processes.stop()
            await board.close()
        finally:
            redis.stop()
