"""Setting the desk up on a box: settings from the site and the number plan, migrations, the first admin.

Used by ``hotline install`` (migrate, reference data, admin account with a generated password) and by
``agent_desk.process.build_desk`` (the desk app and its AMI listener, however the desk is started).
"""

from __future__ import annotations

import sys
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

from sqlalchemy import select

from agent_desk.auth.roles import Role
from agent_desk.auth.sessions import create_user
from agent_desk.callbacks.rules import policy_from_site
from agent_desk.calls.listener import AmiSettings
from agent_desk.db.migrate import upgrade
from agent_desk.db.models import User
from agent_desk.db.session import Database
from agent_desk.settings import DeskSettings
from agent_desk.supervision.warnings import site_rules
from agent_desk.telephony.softphone import BrowserPhones
from hotline import access
from hotline.numberplan import NumberPlan
from hotline.private import touch_private
from hotline.paths import PROJECT_ROOT
from hotline.secrets import SecretStore
from hotline.site import SiteConfig

ADMIN_SECRET = "desk-admin"
AMI_USER = access.AMI_DESK_USER   # manager.conf: no system/config/command class


def database_url(site: SiteConfig) -> str:
    """A relative SQLite path is relative to the checkout, whatever the working directory."""
    url = site.database_url
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/") and url != prefix + ":memory:":
        return prefix + str(PROJECT_ROOT / url[len(prefix):])
    return url


def private_database(url: str) -> None:
    """A SQLite database holds callers' numbers and tickets: create it 0600 before SQLite does (SQLite gives its
    journal and WAL files the database file's mode), in a directory others cannot list when it is the desk's own."""
    prefix = "sqlite:///"
    if not url.startswith(prefix) or url == prefix + ":memory:":
        return
    path = Path(url[len(prefix):])
    path.parent.mkdir(parents=True, exist_ok=True)
    touch_private(path)
    for extra in ("-journal", "-wal", "-shm"):
        companion = path.with_name(path.name + extra)
        if companion.exists():
            companion.chmod(0o600)


def with_password(url: str, password: str) -> str:
    """``url`` with ``password`` in its user info (the user name, if any, is kept)."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    user = quote(parts.username or "", safe="")
    return urlunsplit(parts._replace(netloc=f"{user}:{quote(password, safe='')}@{host}"))


def _secret_or_none(secrets: SecretStore, name: str) -> str | None:
    try:
        return secrets.get(name)
    except KeyError:
        return None


def desk_settings(site: SiteConfig, plan: NumberPlan, secrets: SecretStore) -> DeskSettings:
    """The site file never carries a password: a URL without one gets the generated secret (``redis``, and
    ``postgres`` where the install made one, as the Docker deployment's init does)."""
    db_url = database_url(site)
    postgres = _secret_or_none(secrets, "postgres")
    if db_url.startswith("postgresql") and postgres is not None and urlsplit(db_url).password is None:
        db_url = with_password(db_url, postgres)
    # Redis: the desk's own ACL user (hotline.access), never ``default``; a URL with its credentials keeps them.
    own = urlsplit(site.redis_url).password is None
    redis_password = _secret_or_none(secrets, access.REDIS_DESK_SECRET) if own else None
    return DeskSettings(
        database_url=db_url, redis_url=site.redis_url, redis_password=redis_password,
        redis_username=access.REDIS_DESK_USER if own and redis_password is not None else None,
        line_names={line.number: getattr(line, "name", "") for line in plan.lines},
        city_names={sp.code: sp.name for sp in plan.subplatforms},
        warning_rules=site_rules(site.warning_rules),
        pause_reasons=dict(site.agents.pause_reasons),
        trusted_proxies=tuple(site.trusted_proxies),
        softphone=BrowserPhones.for_site(site, secrets.directory) if site.agents.webrtc else None,
        callbacks=policy_from_site(site.callbacks, site.timezone),
    )


def ami_settings(site: SiteConfig, secrets: SecretStore) -> AmiSettings:
    return AmiSettings(host=site.ami_address, port=site.ami_port, username=AMI_USER,
                       secret=secrets.get(access.AMI_DESK_SECRET))


SINGLE_NODE = ""   # the node id of a center on one Asterisk (a site without a cluster section)


def node_ami_settings(site: SiteConfig, secrets: SecretStore) -> dict[str, AmiSettings]:
    """Every Asterisk node's AMI login for the desk, by node id: one entry (``SINGLE_NODE``) for a single-node site,
    one per ``cluster.nodes`` entry otherwise (each node's rendered manager.conf has the desk's user and secret)."""
    if site.cluster is None:
        return {SINGLE_NODE: ami_settings(site, secrets)}
    secret = secrets.get(access.AMI_DESK_SECRET)
    return {node.id: AmiSettings(host=node.address, port=node.ami_port, username=AMI_USER, secret=secret)
            for node in site.cluster.nodes}


def install(site: SiteConfig, secrets: SecretStore) -> None:
    """Migrate, load the reference data, and create ``admin`` (password: the generated desk-admin secret)."""
    url = database_url(site)
    private_database(url)
    print("[install] desk database: migrating", file=sys.stderr)
    upgrade(url)
    db = Database(url)
    try:
        with db.session() as session:
            from agent_desk.seed import load_reference_data
            counts = load_reference_data(session)
            print(f"[install] desk reference data: {counts}", file=sys.stderr)
            if session.scalar(select(User.id).where(User.username == "admin")) is None:
                create_user(session, "admin", secrets.get(ADMIN_SECRET), Role.ADMIN, display_name="系统管理员")
                print(f"[install] desk user 'admin' created; its password is in {secrets.path(ADMIN_SECRET)}",
                      file=sys.stderr)
    finally:
        db.dispose()
