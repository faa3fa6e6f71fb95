"""Setting the desk up on a box: settings from the site and the number plan, migrations, the first admin.

Used by ``hotline install`` (migrate, reference data, admin account with a generated password) and by
``agent_desk.process.build_desk`` (the desk app and its AMI listener, however the desk is started).
"""

from __future__ import annotations

import sys
from urllib.parse import quote, urlsplit, urlunsplit

from sqlalchemy import select

from agent_desk.auth.roles import Role
from agent_desk.auth.sessions import create_user
from agent_desk.calls.listener import AmiSettings
from agent_desk.db.migrate import upgrade
from agent_desk.db.models import User
from agent_desk.db.session import Database
from agent_desk.settings import DeskSettings
from agent_desk.supervision.warnings import site_rules
from agent_desk.telephony.softphone import BrowserPhones
from hotline.numberplan import NumberPlan
from hotline.paths import PROJECT_ROOT
from hotline.secrets import SecretStore
from hotline.site import SiteConfig

ADMIN_SECRET = "desk-admin"
AMI_USER = "hotline"


def database_url(site: SiteConfig) -> str:
    """A relative SQLite path is relative to the checkout, whatever the working directory."""
    url = site.database_url
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/") and url != prefix + ":memory:":
        return prefix + str(PROJECT_ROOT / url[len(prefix):])
    return url


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
    redis_password = None if urlsplit(site.redis_url).password else _secret_or_none(secrets, "redis")
    return DeskSettings(
        database_url=db_url, redis_url=site.redis_url, redis_password=redis_password,
        line_names={line.number: getattr(line, "name", "") for line in plan.lines},
        city_names={sp.code: sp.name for sp in plan.subplatforms},
        warning_rules=site_rules(site.warning_rules),
        pause_reasons=dict(site.agents.pause_reasons),
        trusted_proxies=tuple(site.trusted_proxies),
        softphone=BrowserPhones(site.http_port, site.https_port, secrets.directory) if site.agents.webrtc else None,
    )


def ami_settings(site: SiteConfig, secrets: SecretStore) -> AmiSettings:
    return AmiSettings(host=site.ami_address, port=site.ami_port, username=AMI_USER, secret=secrets.get("ami"))


def install(site: SiteConfig, secrets: SecretStore) -> None:
    """Migrate, load the reference data, and create ``admin`` (password: the generated desk-admin secret)."""
    url = database_url(site)
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
